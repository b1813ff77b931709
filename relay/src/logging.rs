//! The relay's log filter. `RUST_LOG` chooses what to log, but the libraries that see raw
//! requests, headers and WebSocket frames (client tokens in `?token=` or `Authorization`, Twitch
//! signatures) are capped at `info` by a second filter that every event must also pass, so no
//! directive, however specific (`hyper::proto::h1=trace`), can turn their tracing on.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;

/// Crates whose debug or trace output may contain request lines, headers or frames.
const CAPPED: &[&str] = &[
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

/// The filter `RUST_LOG` (or `-v`) asks for.
pub fn wanted(verbose: u8, rust_log: Option<&str>) -> EnvFilter {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    rust_log
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(level))
}

/// The cap every event must pass as well.
pub fn cap() -> Targets {
    CAPPED.iter().fold(
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
        let cap = cap();
        for target in [
            "hyper::proto::h1::role",
            "tungstenite::protocol",
            "reqwest::connect",
        ] {
            assert!(!cap.would_enable(target, &Level::DEBUG), "{target}");
            assert!(cap.would_enable(target, &Level::WARN), "{target}");
        }
        assert!(cap.would_enable("onair_relay::http::ws", &Level::TRACE));
    }
}
