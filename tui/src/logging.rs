//! Logs go to a file in the state dir, never over the screen. Dependencies are capped at `info`
//! whatever the filter says, so no HTTP library can trace a request that carries a token.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// `<state dir>/onair/onair.log`.
pub fn log_path() -> PathBuf {
    onair_common::config::state_dir().join("onair.log")
}

/// Starts logging to [`log_path`]; `verbose` is the count of `-v`. A log that cannot be opened
/// only costs the log.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let base = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned());
    let filter = EnvFilter::new(format!(
        "{base},hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info,tungstenite=info,tokio_tungstenite=info"
    ));
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = OpenOptions::new().create(true).append(true).open(&path) else {
        return;
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .init();
}
