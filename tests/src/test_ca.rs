//! A throw-away CA and a certificate it signed for `localhost` and 127.0.0.1, as PEM files: what
//! the local servers that speak TLS in tests present (pebble's HTTPS, Redis for `rediss://`),
//! and what the client under test is told to trust.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// Where [`write`] put the files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The CA's certificate: the one root to trust.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

/// Makes a new CA and server certificate for `server` and writes `{server}-ca.pem`,
/// `{server}-cert.pem` and `{server}-key.pem` in `dir`.
pub fn write(dir: &Path, server: &str) -> CertFiles {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("onair test: {server}'s CA"));
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let files = CertFiles {
        ca: dir.join(format!("{server}-ca.pem")),
        cert: dir.join(format!("{server}-cert.pem")),
        key: dir.join(format!("{server}-key.pem")),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::write(&files.ca, ca_cert.pem()).unwrap();
    files
}
