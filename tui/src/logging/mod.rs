//! Logs go to a file in the state dir, never over the screen. The file is written by a worker
//! thread (the UI thread only queues a line, and drops it if the queue is full rather than wait),
//! rotated by size with a bounded number of old files, and created 0600. Libraries that see
//! tokens or raw chat lines on the wire (HTTP, TLS, WebSocket: `PASS oauth:...` is a frame) are
//! capped at `info` by a filter that `RUST_LOG` cannot widen.

mod rotate;

use std::path::PathBuf;

use onair_common::logging;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use rotate::RotatingFile;

/// Rotate once the file would pass this size.
pub const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;
/// Old files kept (`onair.log.1` ... `onair.log.4`): at most 50 MiB of logs in all.
pub const KEEP_LOG_FILES: usize = 4;
/// Besides the HTTP, TLS and WebSocket crates every binary caps
/// ([`onair_common::logging::WIRE_CRATES`]), the keyring crates: they handle the tokens.
pub const CAPPED: &[&str] = &[
    "keyring_core",
    "dbus_secret_service_keyring_store",
    "linux_keyutils_keyring_store",
];

/// `<state dir>/onair/onair.log`.
pub fn log_path() -> PathBuf {
    onair_common::config::state_dir().join("onair.log")
}

/// The caps, as a filter of their own: it is combined with the `RUST_LOG` filter, so both must
/// let an event through.
pub fn caps() -> Targets {
    logging::caps(CAPPED)
}

/// Starts logging to [`log_path`]; `verbose` is the count of `-v`. Keep the guard until exit: it
/// flushes the queue. A log that cannot be opened only costs the log.
pub fn init(verbose: u8) -> Option<WorkerGuard> {
    let filter = logging::wanted(verbose);
    let file = RotatingFile::open(log_path(), MAX_LOG_BYTES, KEEP_LOG_FILES).ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    tracing_subscriber::registry()
        .with(filter)
        .with(caps())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false),
        )
        .try_init()
        .ok()?;
    Some(guard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn capped_crates_stop_at_info_everything_else_passes() {
        let caps = caps();
        for target in [
            "tungstenite::protocol",
            "hyper",
            "reqwest::connect",
            "tokio_tungstenite",
        ] {
            assert!(caps.would_enable(target, &Level::INFO), "{target}");
            assert!(!caps.would_enable(target, &Level::DEBUG), "{target}");
            assert!(!caps.would_enable(target, &Level::TRACE), "{target}");
        }
        assert!(caps.would_enable("onair::chat", &Level::TRACE));
    }
}
