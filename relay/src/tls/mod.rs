//! HTTPS in the relay itself: certificates from ACME over TLS-ALPN-01 on the listen port
//! ([`acme`], cached by [`cache`]) or from PEM files re-read on SIGHUP ([`files`]), and the
//! handshake every connection goes through ([`Tls::accept`]). The accept loop in `net::server`
//! puts its deadline on the handshake; what is here knows nothing about sockets or time.

pub mod acme;
pub mod cache;
pub mod check;
pub mod files;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use onair_common::config::{TlsConfig, TlsMode};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{Acceptor, ResolvesServerCert};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// Why TLS could not be set up. Never carries key material: PEM parse errors are reduced to
/// what kind of file was expected.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key} {}: {source}", path.display())]
    Read {
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file was read but does not hold what it should.
    #[error("{key} {}: {what}", path.display())]
    Invalid {
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The ACME cache directory cannot be made private and writable.
    #[error("relay.tls_cache {}: {source}", path.display())]
    Cache {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The only protocol served: hyper here speaks HTTP/1.1 (with WebSocket upgrades).
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The handshake side of HTTPS; cheap to clone.
#[derive(Debug, Clone)]
pub struct Tls {
    server: Arc<ServerConfig>,
    /// ACME only: the config that answers a TLS-ALPN-01 validation.
    challenge: Option<Arc<ServerConfig>>,
}

impl Tls {
    /// Sets up what `relay.tls_*` asks for; `None` for plain HTTP. Background work (ordering
    /// and renewing certificates, the SIGHUP reload) stops when `shutdown` is cancelled.
    pub fn from_config(
        config: &TlsConfig,
        shutdown: &CancellationToken,
    ) -> Result<Option<Self>, TlsError> {
        let provider = provider();
        let tls = match config.mode() {
            TlsMode::Off => return Ok(None),
            TlsMode::Acme => {
                let acme = acme::start(config, provider.clone(), shutdown.clone())?;
                Self {
                    server: server_config(provider, acme.resolver)?,
                    challenge: Some(acme.challenge),
                }
            }
            TlsMode::Files => {
                let reloading = Arc::new(files::Reloading::open(config, &provider)?);
                files::reload_on_sighup(reloading.clone(), provider.clone(), shutdown.clone());
                Self {
                    server: server_config(provider, reloading)?,
                    challenge: None,
                }
            }
        };
        Ok(Some(tls))
    }

    /// A TLS server over `resolver`'s certificates, for tests and embedding.
    pub fn with_resolver(resolver: Arc<dyn ResolvesServerCert>) -> Result<Self, TlsError> {
        Ok(Self {
            server: server_config(provider(), resolver)?,
            challenge: None,
        })
    }

    /// The server side of one handshake. `None` when the peer was an ACME validation, which
    /// is answered and closed here; no HTTP follows it.
    pub async fn accept<IO>(&self, io: IO) -> io::Result<Option<TlsStream<IO>>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let start = LazyConfigAcceptor::new(Acceptor::default(), io).await?;
        if let Some(challenge) = &self.challenge
            && rustls_acme::is_tls_alpn_challenge(&start.client_hello())
        {
            let mut validation = start.into_stream(challenge.clone()).await?;
            validation.shutdown().await?;
            return Ok(None);
        }
        start.into_stream(self.server.clone()).await.map(Some)
    }
}

/// aws-lc-rs, the provider reqwest already brings: one crypto stack in the binary.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn server_config(
    provider: Arc<CryptoProvider>,
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}
