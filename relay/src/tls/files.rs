//! `relay.tls_cert` / `relay.tls_key`: a certificate chain and key from PEM files, swapped in
//! place on SIGHUP. Established connections keep the session they negotiated; only handshakes
//! after the swap see the new certificate, so a renewal (certbot's deploy hook, say) drops
//! nothing. A reload that fails keeps serving the old certificate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use onair_common::config::TlsConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

use super::TlsError;

/// The certificate to serve, replaceable while serving.
#[derive(Debug)]
pub struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    // A std lock: held only to clone or swap an `Arc`, never across an await.
    current: RwLock<Arc<CertifiedKey>>,
}

impl Reloading {
    /// Loads the files named by `relay.tls_cert` and `relay.tls_key`.
    pub fn open(config: &TlsConfig, provider: &CryptoProvider) -> Result<Self, TlsError> {
        let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
            return Err(TlsError::Invalid {
                key: "relay.tls_cert",
                path: PathBuf::new(),
                what: "needs relay.tls_key as well".into(),
            });
        };
        let loaded = load(cert, key, provider)?;
        Ok(Self {
            cert: cert.clone(),
            key: key.clone(),
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// Reads the files again and serves what they hold from the next handshake on.
    pub fn reload(&self, provider: &CryptoProvider) -> Result<(), TlsError> {
        let fresh = Arc::new(load(&self.cert, &self.key, provider)?);
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = fresh;
        Ok(())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A chain and its key, checked to belong together.
pub fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(cert)?;
    let private = read_key(key)?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| TlsError::Invalid {
        key: "relay.tls_key",
        path: key.to_owned(),
        what: match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "is not the private key of the certificate in relay.tls_cert {}",
                cert.display()
            ),
            // Names the key type at most; never the key.
            other => format!("cannot be used: {other}"),
        },
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let invalid = |what: &str| TlsError::Invalid {
        key: "relay.tls_cert",
        path: path.to_owned(),
        what: what.to_owned(),
    };
    let chain: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error("relay.tls_cert", path, e))?
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("is not valid PEM"))?;
    if chain.is_empty() {
        return Err(invalid(
            "holds no CERTIFICATE block (expected the PEM chain, leaf first)",
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::Io(source) => TlsError::Read {
            key: "relay.tls_key",
            path: path.to_owned(),
            source,
        },
        // Other PEM errors can quote a line of the file: of a key file, say nothing of it.
        _ => TlsError::Invalid {
            key: "relay.tls_key",
            path: path.to_owned(),
            what: "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
        },
    })
}

fn pem_error(key: &'static str, path: &Path, e: pem::Error) -> TlsError {
    match e {
        pem::Error::Io(source) => TlsError::Read {
            key,
            path: path.to_owned(),
            source,
        },
        _ => TlsError::Invalid {
            key,
            path: path.to_owned(),
            what: "is not valid PEM".into(),
        },
    }
}

/// Re-reads the files on each SIGHUP until `shutdown`.
pub fn reload_on_sighup(
    certs: Arc<Reloading>,
    provider: Arc<CryptoProvider>,
    shutdown: CancellationToken,
) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGHUP; TLS files are read once");
                return;
            }
        };
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                got = hup.recv() => if got.is_none() { return },
            }
            match certs.reload(&provider) {
                Ok(()) => tracing::info!("SIGHUP: reloaded relay.tls_cert and relay.tls_key"),
                Err(e) => {
                    tracing::warn!(error = %e, "SIGHUP: reload failed; still serving the old certificate");
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (certs, provider, shutdown);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let ck = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn loads_swaps_and_keeps_the_old_one_on_a_bad_reload() {
        let dir = tempfile::tempdir().unwrap();
        let provider = super::super::provider();
        let (cert, key) = self_signed(dir.path(), "a.example.com");
        let config = TlsConfig {
            cert: Some(cert.clone()),
            key: Some(key.clone()),
            ..test_config()
        };
        let certs = Reloading::open(&config, &provider).unwrap();
        let first = certs.current().cert[0].clone();
        self_signed(dir.path(), "b.example.com");
        certs.reload(&provider).unwrap();
        let second = certs.current().cert[0].clone();
        assert_ne!(first, second, "the new file is served");
        std::fs::write(&key, "not a key").unwrap();
        let err = certs.reload(&provider).unwrap_err().to_string();
        assert!(err.contains("holds no PEM private key"), "{err}");
        assert_eq!(certs.current().cert[0], second, "the old one stays");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (cert, _) = self_signed(a.path(), "a.example.com");
        let (_, key) = self_signed(b.path(), "b.example.com");
        let err = load(&cert, &key, &super::super::provider()).unwrap_err();
        assert!(err.to_string().starts_with("relay.tls_key"), "{err}");
        assert!(
            err.to_string().contains("is not the private key of"),
            "{err}"
        );
    }

    fn test_config() -> TlsConfig {
        TlsConfig {
            domains: Vec::new(),
            email: None,
            acme_directory: url::Url::parse("https://acme.invalid/dir").unwrap(),
            acme_ca: None,
            cache: PathBuf::from("/nonexistent"),
            cert: None,
            key: None,
        }
    }
}
