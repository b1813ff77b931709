//! `relay.tls_*` and `relay.acme_*`: how the relay serves HTTPS itself, with certificates from
//! ACME or from PEM files, or not at all (plain HTTP behind a proxy).

use std::path::PathBuf;

use url::Url;

use super::error::{Origin, Problem};

/// Let's Encrypt's production directory, the default for `relay.acme_directory`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The TLS keys of `[relay]`, as set.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    /// `relay.tls_domains`: names to get certificates for over ACME; empty means no ACME.
    pub domains: Vec<String>,
    /// `relay.tls_email`: the ACME account's contact.
    pub email: Option<String>,
    /// `relay.acme_directory`.
    pub acme_directory: Url,
    /// `relay.acme_ca`: an extra CA (PEM) to trust for the ACME directory.
    pub acme_ca: Option<PathBuf>,
    /// `relay.tls_cache`: ACME account and certificates (0700 directory, 0600 files).
    pub cache: PathBuf,
    /// `relay.tls_cert`: a PEM certificate chain to serve instead of ACME.
    pub cert: Option<PathBuf>,
    /// `relay.tls_key`: its private key (PEM).
    pub key: Option<PathBuf>,
}

/// What the relay does about TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP (a proxy in front terminates TLS).
    Off,
    /// Certificates from ACME for `tls_domains`.
    Acme,
    /// `tls_cert` and `tls_key`.
    Files,
}

impl TlsConfig {
    /// Which mode the keys select. A conflicting mix is reported by [`TlsConfig::conflicts`]
    /// and never reaches here from a loaded config.
    pub fn mode(&self) -> TlsMode {
        if self.cert.is_some() {
            TlsMode::Files
        } else if !self.domains.is_empty() {
            TlsMode::Acme
        } else {
            TlsMode::Off
        }
    }

    /// Problems between keys that are each valid alone: both modes at once, or a certificate
    /// without its key (or the reverse).
    pub fn conflicts(&self, file: Option<&PathBuf>) -> Vec<Problem> {
        let problem = |key: &str, message: &str| Problem {
            key: key.to_owned(),
            origin: Origin::Unset(file.cloned()),
            message: message.to_owned(),
        };
        let mut out = Vec::new();
        if !self.domains.is_empty() && (self.cert.is_some() || self.key.is_some()) {
            out.push(problem(
                "relay.tls_domains",
                "cannot be set together with relay.tls_cert/relay.tls_key: choose ACME or your own files",
            ));
        }
        match (&self.cert, &self.key) {
            (Some(_), None) => out.push(problem(
                "relay.tls_key",
                "is required with relay.tls_cert (the certificate's private key, PEM)",
            )),
            (None, Some(_)) => out.push(problem(
                "relay.tls_cert",
                "is required with relay.tls_key (the certificate chain, PEM)",
            )),
            _ => {}
        }
        out
    }
}

/// A DNS name ACME can issue for: letters, digits, `-` and `.`, no wildcard (TLS-ALPN-01
/// cannot validate one), no trailing dot, lower-cased.
pub fn domain(s: &str) -> Result<String, String> {
    let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if d.len() <= 253 && d.contains('.') && d.split('.').all(label_ok) {
        Ok(d)
    } else if d.starts_with("*.") {
        Err(format!(
            "cannot hold a wildcard ({s:?}): TLS-ALPN-01 validates each name on this server"
        ))
    } else {
        Err(format!(
            "must be a list of DNS names such as [\"relay.example.com\"], not {s:?}"
        ))
    }
}

/// An ACME contact: an e-mail address (stored as given, `mailto:` added when the account is made).
pub fn email(s: &str) -> Result<String, String> {
    let e = s.trim().trim_start_matches("mailto:");
    match e.split_once('@') {
        Some((user, host)) if !user.is_empty() && host.contains('.') && !e.contains(' ') => {
            Ok(e.to_owned())
        }
        _ => Err(format!("must be an e-mail address, not {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_dns_names() {
        assert_eq!(domain("Relay.Example.com.").unwrap(), "relay.example.com");
        assert!(domain("localhost").is_err(), "ACME issues for public names");
        assert!(domain("*.example.com").unwrap_err().contains("wildcard"));
        assert!(domain("bad_name.example.com").is_err());
        assert!(domain("-a.example.com").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email("mailto:me@example.com").unwrap(), "me@example.com");
        assert!(email("me").is_err());
        assert!(email("@example.com").is_err());
    }
}
