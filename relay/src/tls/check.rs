//! What `onair-relay check` says about `relay.tls_*`: everything that would make HTTPS fail
//! after `serve` started, found before (unreadable or mismatched files, a cache the relay cannot
//! write, a port ACME cannot validate on).

use std::net::SocketAddr;
use std::path::Path;

use onair_common::config::{TlsConfig, TlsMode};
use url::Url;

use super::cache::PrivateDir;
use super::{acme, files, provider};

/// The port TLS-ALPN-01 is validated on by public CAs (RFC 8737).
pub const ACME_PORT: u16 = 443;

/// Problems (serve would fail or never get a certificate) and notes (worth knowing).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Would stop HTTPS.
    pub problems: Vec<String>,
    /// Worth knowing; not fatal.
    pub notes: Vec<String>,
}

/// Checks the TLS keys against the files and directories they name.
pub fn check(tls: &TlsConfig, listen: SocketAddr, public_url: Option<&Url>) -> Findings {
    let mut f = Findings::default();
    match tls.mode() {
        TlsMode::Off => {}
        TlsMode::Acme => acme_mode(tls, listen, public_url, &mut f),
        TlsMode::Files => files_mode(tls, &mut f),
    }
    f
}

fn acme_mode(tls: &TlsConfig, listen: SocketAddr, public_url: Option<&Url>, f: &mut Findings) {
    if listen.port() != ACME_PORT {
        let msg = format!(
            "relay.listen {listen} is not port 443: the CA validates TLS-ALPN-01 by connecting to port 443 of each relay.tls_domains name"
        );
        if tls.acme_ca.is_some() {
            // A private or test CA (pebble) may validate on another port.
            f.notes.push(format!(
                "{msg}; fine if your relay.acme_ca validates on {}",
                listen.port()
            ));
        } else {
            f.problems.push(format!("{msg}; set relay.listen = \"0.0.0.0:443\" (the systemd unit in deploy/ grants the capability to bind it)"));
        }
    }
    match PrivateDir::prepare(&tls.cache).and_then(|c| c.probe()) {
        Ok(()) => {}
        Err(e) => f.problems.push(format!(
            "relay.tls_cache {}: {e}; the relay keeps its ACME account and certificates there: make it writable or point relay.tls_cache elsewhere",
            tls.cache.display()
        )),
    }
    if let Some(ca) = &tls.acme_ca
        && let Err(e) = acme::read_ca(ca)
    {
        f.problems.push(e.to_string());
    }
    if let Some(host) = public_url.and_then(Url::host_str)
        && !tls.domains.iter().any(|d| d == host)
    {
        f.problems.push(format!(
            "relay.public_url host {host} is not in relay.tls_domains {:?}: Twitch would get a certificate for another name",
            tls.domains
        ));
    }
    if tls.email.is_none() {
        f.notes.push("relay.tls_email is not set: the CA cannot warn you about a certificate that failed to renew".into());
    }
}

fn files_mode(tls: &TlsConfig, f: &mut Findings) {
    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return; // The config already reports the missing half.
    };
    if let Err(e) = files::load(cert, key, &provider()) {
        f.problems.push(e.to_string());
    }
    if let Some(mode) = loose_mode(key) {
        f.notes.push(format!(
            "relay.tls_key {} is readable by others (mode {mode:o}): `chmod 600` it",
            key.display()
        ));
    }
}

/// The mode of a file others than its owner may read.
fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn acme_config(cache: PathBuf) -> TlsConfig {
        TlsConfig {
            domains: vec!["relay.example.com".into()],
            email: Some("me@example.com".into()),
            acme_directory: Url::parse(onair_common::config::tls::LETS_ENCRYPT).unwrap(),
            acme_ca: None,
            cache,
            cert: None,
            key: None,
        }
    }

    #[test]
    fn acme_needs_port_443_a_writable_cache_and_the_public_name() {
        let dir = tempfile::tempdir().unwrap();
        let tls = acme_config(dir.path().join("acme"));
        let url = Url::parse("https://relay.example.com").unwrap();
        let ok = check(&tls, "0.0.0.0:443".parse().unwrap(), Some(&url));
        assert_eq!(ok, Findings::default());

        let other = Url::parse("https://other.example.com").unwrap();
        let bad = check(&tls, "0.0.0.0:8080".parse().unwrap(), Some(&other));
        assert_eq!(bad.problems.len(), 2, "{bad:?}");
        assert!(bad.problems[0].contains("not port 443"), "{bad:?}");
        assert!(
            bad.problems[1].contains("not in relay.tls_domains"),
            "{bad:?}"
        );

        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let blocked = check(
            &acme_config(file.join("acme")),
            "0.0.0.0:443".parse().unwrap(),
            None,
        );
        assert!(
            blocked.problems[0].starts_with("relay.tls_cache"),
            "{blocked:?}"
        );
    }

    #[test]
    fn files_must_exist_and_match() {
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsConfig {
            domains: Vec::new(),
            cert: Some(dir.path().join("missing.pem")),
            key: Some(dir.path().join("key.pem")),
            ..acme_config(dir.path().join("acme"))
        };
        let f = check(&tls, "0.0.0.0:443".parse().unwrap(), None);
        assert!(f.problems[0].starts_with("relay.tls_cert"), "{f:?}");
        assert!(f.problems[0].contains("missing.pem"), "{f:?}");
    }
}
