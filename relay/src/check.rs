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
    out
}

fn database_writable(config: &Config) -> Result<(), StoreError> {
    let store = Store::open(&config.relay.database)?;
    store.with_conn(|c| {
        c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
        Ok(())
    })
}
