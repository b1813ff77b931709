//! `relay.tls_*` / `relay.acme_*` keys and secrets from systemd's `$CREDENTIALS_DIRECTORY`.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;

use onair_common::config::{Config, ConfigError, Env, TlsMode};

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(dir: &Path, text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load_with(Some(&path), &env(vars))
}

fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    match load(dir.path(), text, vars) {
        Err(ConfigError::Invalid(list)) => list.iter().map(ToString::to_string).collect(),
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn tls_is_off_by_default_with_lets_encrypt_and_a_data_dir_cache() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(dir.path(), "", &[]).unwrap();
    let t = &c.relay.tls;
    assert_eq!(t.mode(), TlsMode::Off);
    assert_eq!(
        t.acme_directory.as_str(),
        "https://acme-v02.api.letsencrypt.org/directory"
    );
    assert!(t.cache.ends_with("onair/acme"), "{}", t.cache.display());
    assert_eq!((t.email.as_deref(), t.acme_ca.as_deref()), (None, None));
}

#[test]
fn acme_and_file_modes() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[relay]\ntls_domains = [\"Relay.Example.com\"]\ntls_email = \"me@example.com\"\n\
                acme_directory = \"https://127.0.0.1:14000/dir\"\ntls_cache = \"/var/lib/onair/acme\"\n";
    let c = load(dir.path(), text, &[]).unwrap();
    assert_eq!(c.relay.tls.mode(), TlsMode::Acme);
    assert_eq!(c.relay.tls.domains, ["relay.example.com"]);
    assert_eq!(c.relay.tls.email.as_deref(), Some("me@example.com"));
    assert_eq!(c.relay.tls.cache, Path::new("/var/lib/onair/acme"));

    let vars = [
        ("ONAIR_RELAY_TLS_CERT", "/etc/onair/cert.pem"),
        ("ONAIR_RELAY_TLS_KEY", "/etc/onair/key.pem"),
    ];
    let c = load(dir.path(), "", &vars).unwrap();
    assert_eq!(c.relay.tls.mode(), TlsMode::Files);
}

#[test]
fn conflicting_or_half_set_tls_keys_are_problems() {
    let p = problems(
        "[relay]\ntls_domains = [\"relay.example.com\"]\ntls_cert = \"/c.pem\"\n",
        &[],
    );
    assert!(
        p.iter()
            .any(|p| p.contains("choose ACME or your own files")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|p| p.contains("relay.tls_key is required")),
        "{p:?}"
    );
    let p = problems("[relay]\ntls_domains = [\"*.example.com\"]\n", &[]);
    assert!(p[0].contains("wildcard"), "{p:?}");
    let p = problems("[relay]\ntls_email = \"nobody\"\n", &[]);
    assert!(p[0].contains("e-mail"), "{p:?}");
}

#[test]
fn secrets_come_from_the_credentials_directory_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(
        creds.join("relay.webhook_secret"),
        "from-credential-0123456789\n",
    )
    .unwrap();
    std::fs::write(creds.join("relay.client_secret"), "client-secret-cred").unwrap();
    // Not a secret key: a credential cannot move the relay.
    std::fs::write(creds.join("relay.listen"), "0.0.0.0:1").unwrap();
    let text = "[relay]\nwebhook_secret = \"from-the-file-0123456789\"\n";
    let credentials = creds.to_str().unwrap();
    let c = load(dir.path(), text, &[("CREDENTIALS_DIRECTORY", credentials)]).unwrap();
    let secret = c.relay.webhook_secret.as_ref().unwrap().expose();
    assert_eq!(
        secret, "from-credential-0123456789",
        "over the file, newline dropped"
    );
    assert_eq!(
        c.relay.client_secret.as_ref().unwrap().expose(),
        "client-secret-cred"
    );
    assert_eq!(c.relay.listen.to_string(), "0.0.0.0:8080");

    let vars = [
        ("CREDENTIALS_DIRECTORY", credentials),
        ("ONAIR_RELAY_WEBHOOK_SECRET", "from-environment-0123456789"),
    ];
    let c = load(dir.path(), text, &vars).unwrap();
    let secret = c.relay.webhook_secret.as_ref().unwrap().expose();
    assert_eq!(secret, "from-environment-0123456789");

    std::fs::write(creds.join("relay.webhook_secret"), "short").unwrap();
    let p = problems(text, &[("CREDENTIALS_DIRECTORY", credentials)]);
    assert!(
        p[0].contains("creds/relay.webhook_secret"),
        "names the file: {p:?}"
    );
    assert!(
        !p[0].contains(": short") && !p[0].contains("\"short\""),
        "{p:?}"
    );
}
