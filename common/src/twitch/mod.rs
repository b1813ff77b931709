//! Clients for Twitch's HTTP APIs, shared by the terminal app and the relay. Every base URL comes
//! from config, so local fakes (and `twitch-cli mock-api`) can stand in.

pub mod oauth;

use std::time::Duration;

/// How long one HTTP request to Twitch may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// An HTTP client with onair's user agent and timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("onair/", env!("CARGO_PKG_VERSION")))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// A network failure described without the request's body (which may hold a token).
pub fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    match e.url() {
        Some(u) => format!("{what}: {}{}", u.origin().ascii_serialization(), u.path()),
        None => what.to_owned(),
    }
}
