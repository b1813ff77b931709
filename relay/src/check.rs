//! `onair-relay check`: every problem with the config and database at once, each with its fix.

use std::process::ExitCode;

use onair_common::config::{Config, Problem};

use crate::store::{Store, StoreError};

/// Checks what `serve` needs; prints each problem; exit 2 if any.
pub fn run(config: &Config) -> ExitCode {
    let problems = problems(config);
    match &config.file {
        Some(f) => eprintln!("config: {}", f.display()),
        None => eprintln!("config: no file; defaults and ONAIR_* environment only"),
    }
    for n in notes(config) {
        println!("note: {n}");
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

/// What would stop `serve`, as messages.
pub fn problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if config.relay.webhook_secret.is_none() {
        let p: Problem =
            config.missing("relay.webhook_secret", "to serve (10-100 ASCII characters)");
        out.push(p.to_string());
    }
    if let Err(e) = database_writable(config) {
        out.push(format!("relay.database: {e}; make the file and its directory writable or point relay.database elsewhere"));
    }
    let r = &config.relay;
    match &r.public_url {
        None => out.push(config.missing("relay.public_url", "to subscribe at Twitch (the https address Twitch calls)").to_string()),
        Some(u) if u.scheme() != "https" || u.port_or_known_default() != Some(443) => out.push(format!(
            "relay.public_url {u} must be https on port 443: Twitch calls nothing else; put the relay behind a TLS proxy on 443"
        )),
        Some(_) => {}
    }
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

/// What the broadcaster must grant, for the configured events.
pub fn notes(config: &Config) -> Vec<String> {
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

fn database_writable(config: &Config) -> Result<(), StoreError> {
    let store = Store::open(&config.relay.database)?;
    store.with_conn(|c| {
        c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
        Ok(())
    })
}
