//! `onair-relay check`: every problem with the config and database at once, each with its fix.
//! A bad value does not hide the rest: the config is read leniently and its problems are listed
//! with the ones found here.

use std::path::Path;
use std::process::ExitCode;

use onair_common::config::{Config, Problem, TlsMode};
use onair_common::guide;

use crate::store::{Store, StoreError};

/// The secret the README shows; anyone who copied it shares it with every reader.
const README_EXAMPLE_SECRET: &str = "change-me-to-a-long-random-string";
/// Shorter secrets are accepted (Twitch allows 10) but flagged.
const STRONG_SECRET_CHARS: usize = 32;

/// Checks what `serve` needs; prints each problem; exit 2 if any.
pub async fn run(config_path: Option<&Path>) -> ExitCode {
    let (config, config_problems) = match Config::load_lenient(config_path) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("problem: {e}");
            println!("check: the config file cannot be read; fix it and run check again");
            return ExitCode::from(2);
        }
    };
    let problems = problems(&config, &config_problems).await;
    match &config.file {
        Some(f) => eprintln!("config: {}", f.display()),
        None => eprintln!("config: no file; defaults and ONAIR_* environment only"),
    }
    if let Some(weak) = config
        .relay
        .webhook_secret
        .as_ref()
        .and_then(|s| weak_secret(s.expose()))
    {
        println!(
            "warning: relay.webhook_secret is weak: {weak}; use 32 or more random characters, e.g. `openssl rand -hex 32` (serve accepts it)"
        );
    }
    for n in notes(&config) {
        println!("note: {n}");
    }
    if problems.iter().any(|p| p.contains("relay.client_")) {
        println!(
            "note: the relay needs a confidential Twitch app; {} shows how to register one",
            guide::TWITCH_SETUP
        );
    }
    if problems.is_empty() {
        println!("ok: the relay is ready to serve on {}", config.relay.listen);
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        println!("problem: {p}");
    }
    println!("{} problem(s) found", problems.len());
    ExitCode::from(2)
}

/// What would stop `serve`, as messages: the config's own `invalid` values first, then what is
/// missing or unusable.
pub async fn problems(config: &Config, invalid: &[Problem]) -> Vec<String> {
    let mut out: Vec<String> = invalid.iter().map(ToString::to_string).collect();
    // A secret set to a bad value is reported as such, not also as missing.
    let secret_invalid = invalid.iter().any(|p| p.key == "relay.webhook_secret");
    if config.relay.webhook_secret.is_none() && !secret_invalid {
        let p: Problem =
            config.missing("relay.webhook_secret", "to serve (10-100 ASCII characters)");
        out.push(p.to_string());
    }
    let redis_invalid = invalid.iter().any(|p| p.key == "relay.redis_url");
    match (&config.relay.redis_url, store_usable(config).await) {
        (_, Ok(())) => {}
        (Some(_), Err(e)) => out.push(format!(
            "relay.redis_url: {e}; start the server or fix the URL (docs/scaling.md)"
        )),
        (None, Err(_)) if redis_invalid => {}
        (None, Err(e)) => out.push(format!("relay.database: {e}; make the file and its directory writable or point relay.database elsewhere")),
    }
    let r = &config.relay;
    match &r.public_url {
        None => out.push(config.missing("relay.public_url", "to subscribe at Twitch (the https address Twitch calls)").to_string()),
        Some(u) if u.scheme() != "https" || u.port_or_known_default() != Some(443) => out.push(format!(
            "relay.public_url {u} must be https on port 443: Twitch calls nothing else; set relay.tls_domains to serve HTTPS on 443 yourself, or put the relay behind a TLS proxy on 443"
        )),
        Some(_) => {}
    }
    out.extend(crate::tls::check::check(&r.tls, r.listen, r.public_url.as_ref()).problems);
    for (key, missing) in [
        ("relay.client_id", r.client_id.is_none()),
        ("relay.client_secret", r.client_secret.is_none()),
    ] {
        if missing {
            out.push(
                config
                    .missing(
                        key,
                        "for the app access token (a confidential app in the Twitch console)",
                    )
                    .to_string(),
            );
        }
    }
    if r.channels.is_empty() {
        out.push("relay.channels is empty: add the broadcaster logins to subscribe for, e.g. channels = [\"yourlogin\"]".to_owned());
    }
    out
}

/// What is worth knowing but stops nothing: TLS remarks, and what the broadcaster must grant
/// for the configured events.
pub fn notes(config: &Config) -> Vec<String> {
    let r = &config.relay;
    let mut out = crate::tls::check::check(&r.tls, r.listen, r.public_url.as_ref()).notes;
    match r.tls.mode() {
        TlsMode::Acme => out.push(format!(
            "HTTPS with ACME certificates for {} from {}",
            r.tls.domains.join(", "),
            r.tls.acme_directory
        )),
        TlsMode::Files => {
            out.push("HTTPS with relay.tls_cert and relay.tls_key (SIGHUP re-reads them)".into())
        }
        TlsMode::Off => {}
    }
    out.extend(grants(config));
    out
}

fn grants(config: &Config) -> Vec<String> {
    let needing: Vec<String> = config
        .relay
        .events
        .iter()
        .filter_map(|e| onair_common::catalog::lookup(e))
        .filter(|t| !t.scopes.is_empty())
        .map(|t| format!("{} ({})", t.name, t.scopes.join(" or ")))
        .collect();
    if needing.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "these events need the broadcaster's grant: {}; run `onair-relay authorize` once as the broadcaster",
        needing.join(", ")
    )]
}

/// Why a webhook secret is weak, if it is. Never quotes the secret.
pub fn weak_secret(secret: &str) -> Option<&'static str> {
    if secret == README_EXAMPLE_SECRET {
        return Some("it is the example from the README");
    }
    if secret.chars().count() < STRONG_SECRET_CHARS {
        return Some("it is shorter than 32 characters");
    }
    let classes = [
        secret.chars().any(|c| c.is_ascii_lowercase()),
        secret.chars().any(|c| c.is_ascii_uppercase()),
        secret.chars().any(|c| c.is_ascii_digit()),
        secret.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|&&c| c).count() < 2 {
        return Some("it uses one kind of character only");
    }
    None
}

/// Opens the configured store and tries a write that changes nothing.
async fn store_usable(config: &Config) -> Result<(), StoreError> {
    Store::from_config(config).await?.probe().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_secrets_are_named_without_quoting_them() {
        assert!(weak_secret(README_EXAMPLE_SECRET).is_some());
        assert_eq!(
            weak_secret("short-secret-1234"),
            Some("it is shorter than 32 characters")
        );
        assert_eq!(
            weak_secret(&"a".repeat(40)),
            Some("it uses one kind of character only")
        );
        assert_eq!(
            weak_secret("0123456789012345678901234567890123"),
            Some("it uses one kind of character only")
        );
        assert_eq!(
            weak_secret("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
            None
        );
    }
}
