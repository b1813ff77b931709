//! What a chat connection is given and what it reports: its settings, its states, its events and
//! why it ended. Shared by the connection actor and its sessions, so neither imports the other.

use std::time::Duration;

use onair_common::Secret;
use url::Url;

use super::message::Incoming;
use super::ratelimit::Limits;
use crate::auth::TokenHandle;

/// How a connection is set up.
#[derive(Clone)]
pub struct ChatConfig {
    /// `wss://irc-ws.chat.twitch.tv:443` or a fake.
    pub url: Url,
    /// Login and access token; `None` reads anonymously. With [`ChatConfig::tokens`] set, it is
    /// replaced by the owner's current token on every connect.
    pub login: Option<(String, Secret)>,
    /// Channel login to join.
    pub channel: String,
    /// Our PING period.
    pub ping_interval: Duration,
    /// How long to wait for the PONG.
    pub pong_timeout: Duration,
    /// First and longest reconnect delay.
    pub backoff: (Duration, Duration),
    /// Chat rate limits.
    pub limits: Limits,
    /// The process's token owner: asked for the token on every connect, told when Twitch
    /// refuses it.
    pub tokens: Option<TokenHandle>,
}

impl std::fmt::Debug for ChatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatConfig")
            .field("url", &self.url)
            .field("login", &self.login.as_ref().map(|(l, _)| l))
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl ChatConfig {
    /// Production timings (twitch-irc-rs's: PING every 30 s, PONG within 5 s).
    pub fn new(url: Url, login: Option<(String, Secret)>, channel: String) -> Self {
        Self {
            url,
            login,
            channel,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(5),
            backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            limits: Limits::default(),
            tokens: None,
        }
    }
}

/// The connection's state, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatState {
    /// Opening the socket and logging in.
    Connecting,
    /// Joined the channel.
    Joined,
    /// Waiting before the next attempt.
    Backoff {
        /// Until the next attempt.
        retry_in: Duration,
        /// What went wrong.
        reason: String,
    },
}

/// What the connection reports.
// Nearly every event is `Incoming`; boxing it would add an allocation per chat message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A state change.
    State(ChatState),
    /// A message from Twitch.
    Incoming(Incoming),
}

/// Why the connection task ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// Twitch refused the login (`Login authentication failed`).
    #[error("Twitch refused the chat login: {0}")]
    AuthFailed(String),
}
