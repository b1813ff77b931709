//! Certificates from ACME for `relay.tls_domains`, validated over TLS-ALPN-01 on the relay's
//! own listen port: rustls-acme orders at start (or loads the cached certificate), renews
//! before expiry, and backs off after failures; this file wires it to the config and to the
//! relay's logs and shutdown.

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use onair_common::config::TlsConfig;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_acme::{AcmeConfig, AcmeState, EventOk, ResolvesServerCertAcme};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_util::sync::CancellationToken;

use super::TlsError;
use super::cache::PrivateDir;

/// What the handshake needs from a running ACME client.
#[derive(Debug)]
pub struct Acme {
    /// Serves the certificate once one is deployed (until then handshakes fail).
    pub resolver: Arc<ResolvesServerCertAcme>,
    /// Answers TLS-ALPN-01 validations.
    pub challenge: Arc<ServerConfig>,
}

/// Prepares the cache and starts ordering; the work runs in a task until `shutdown`.
pub fn start(
    config: &TlsConfig,
    provider: Arc<CryptoProvider>,
    shutdown: CancellationToken,
) -> Result<Acme, TlsError> {
    let cache = PrivateDir::prepare(&config.cache).map_err(|source| TlsError::Cache {
        path: config.cache.clone(),
        source,
    })?;
    let client = client_config(config.acme_ca.as_deref(), provider.clone())?;
    let contact = config.email.iter().map(|e| format!("mailto:{e}"));
    let state = AcmeConfig::new_with_client_config(&config.domains, client)
        .directory(config.acme_directory.as_str())
        .contact(contact)
        .cache(cache)
        .state();
    let acme = Acme {
        resolver: state.resolver(),
        challenge: state.challenge_rustls_config_with_provider(provider),
    };
    tracing::info!(
        domains = ?config.domains,
        directory = %config.acme_directory,
        cache = %config.cache.display(),
        "ACME: getting a certificate (TLS-ALPN-01 on the listen port)"
    );
    tokio::spawn(drive(state, shutdown));
    Ok(acme)
}

/// Polls the ACME state machine (it only makes progress while polled) and logs each step.
async fn drive(mut state: AcmeState<std::io::Error>, shutdown: CancellationToken) {
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            e = state.next() => e,
        };
        match event {
            Some(Ok(EventOk::DeployedCachedCert)) => {
                tracing::info!("ACME: serving the cached certificate");
            }
            Some(Ok(EventOk::DeployedNewCert)) => tracing::info!("ACME: new certificate deployed"),
            Some(Ok(EventOk::CertCacheStore)) => tracing::info!("ACME: certificate cached"),
            Some(Ok(EventOk::AccountCacheStore)) => tracing::info!("ACME: account cached"),
            // rustls-acme retries with backoff by itself; the error is the CA's answer or an
            // I/O error, never key material.
            Some(Err(e)) => tracing::warn!(error = %e, "ACME: will retry"),
            None => return,
        }
    }
}

/// Who the ACME client trusts for the directory: the public web roots, plus `relay.acme_ca`.
fn client_config(
    extra_ca: Option<&Path>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca {
        for cert in read_ca(path)? {
            roots.add(cert).map_err(|e| TlsError::Invalid {
                key: "relay.acme_ca",
                path: path.to_owned(),
                what: format!("is not a usable CA certificate: {e}"),
            })?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM file of CAs.
pub fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let invalid = |what: &str| TlsError::Invalid {
        key: "relay.acme_ca",
        path: path.to_owned(),
        what: what.to_owned(),
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| match e {
            rustls_pki_types::pem::Error::Io(source) => TlsError::Read {
                key: "relay.acme_ca",
                path: path.to_owned(),
                source,
            },
            _ => invalid("is not valid PEM"),
        })?
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("is not valid PEM"))?;
    if certs.is_empty() {
        return Err(invalid("holds no CERTIFICATE block"));
    }
    Ok(certs)
}
