//! The log filter both binaries use. `RUST_LOG` (or `-v`) chooses what to log, but the libraries
//! that see raw requests, headers and WebSocket frames (client tokens in `?token=` or
//! `Authorization`, Twitch signatures, a chat `PASS oauth:...` line) are capped at `info` by a
//! second filter that every event must also pass, so no directive, however specific
//! (`hyper::proto::h1=trace`), can turn their tracing on.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;

/// Crates whose debug or trace output may contain request lines, headers or frames.
pub const WIRE_CRATES: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tungstenite",
    "tokio_tungstenite",
    "axum::serve",
    "tower",
];

/// The filter `RUST_LOG` asks for, else the level `-v` counts to (info, debug, trace).
pub fn wanted(verbose: u8) -> EnvFilter {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level))
}

/// The cap every event must pass as well: [`WIRE_CRATES`] and `extra` stop at `info`.
pub fn caps(extra: &[&str]) -> Targets {
    WIRE_CRATES.iter().chain(extra).fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::INFO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn no_directive_turns_on_library_tracing() {
        let caps = caps(&["keyring_core"]);
        for target in [
            "hyper::proto::h1::role",
            "tungstenite::protocol",
            "reqwest::connect",
            "keyring_core",
        ] {
            assert!(!caps.would_enable(target, &Level::DEBUG), "{target}");
            assert!(caps.would_enable(target, &Level::WARN), "{target}");
        }
        assert!(caps.would_enable("onair_relay::http::ws", &Level::TRACE));
    }
}
