//! The chat connection: one task owns the WebSocket to `twitch.irc_url`, logs in (or reads
//! anonymously as `justinfanNNNNN`), joins one channel, answers PINGs, sends its own PING and
//! treats a missing PONG as a dead link, and reconnects with backoff after RECONNECT or any drop.
//! Every state change and every typed message reaches the owner over a channel; sends come in
//! through a [`ChatHandle`] and are held back by the rate limiter, never dropped.

use std::time::Duration;

use onair_common::Secret;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::message::Incoming;
use super::outbox::{Outbox, SendError};
use super::ratelimit::Limits;
use super::session::{End, Session};
use crate::auth::TokenHandle;
use crate::backoff::Backoff;

/// Consecutive refused logins, each with a token the owner handed out after the previous
/// refusal, before chat gives up: Twitch would not take a fresh token either.
const MAX_REFUSED_LOGINS: u32 = 3;

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

/// A cloneable handle to send messages.
#[derive(Debug, Clone)]
pub struct ChatHandle {
    tx: mpsc::Sender<super::outbox::Request>,
}

impl ChatHandle {
    /// Sends a message (optionally as a reply) and waits until Twitch accepted it; returns the
    /// message id from Twitch's USERSTATE.
    pub async fn send(&self, text: String, reply_to: Option<String>) -> Result<String, SendError> {
        super::ratelimit::check_length(&text).map_err(SendError::Invalid)?;
        let (done, rx) = oneshot::channel();
        let req = super::outbox::Request {
            text,
            reply_to,
            done,
        };
        self.tx.send(req).await.map_err(|_| SendError::Closed)?;
        rx.await.map_err(|_| SendError::Closed)?
    }
}

/// Starts the connection task. It runs until `shutdown`, or a refused login.
pub fn spawn(
    config: ChatConfig,
    events: mpsc::Sender<ChatEvent>,
    shutdown: CancellationToken,
) -> (ChatHandle, tokio::task::JoinHandle<Result<(), ChatError>>) {
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(run(config, events, rx, shutdown));
    (ChatHandle { tx }, task)
}

async fn run(
    mut config: ChatConfig,
    events: mpsc::Sender<ChatEvent>,
    mut requests: mpsc::Receiver<super::outbox::Request>,
    shutdown: CancellationToken,
) -> Result<(), ChatError> {
    let mut outbox = Outbox::new(
        config.limits,
        config.login.is_some() || config.tokens.is_some(),
    );
    let mut backoff = Backoff::new(config.backoff.0, config.backoff.1);
    let mut refused = 0u32;
    loop {
        let _ = events.send(ChatEvent::State(ChatState::Connecting)).await;
        if let Some(tokens) = &config.tokens {
            // Every connect asks: another task or process may have rotated the pair since.
            match tokens.current().await {
                Ok(t) => config.login = Some((t.login, t.access_token)),
                Err(e) => return Err(give_up(&mut outbox, e.to_string())),
            }
        }
        let mut session = Session {
            config: &config,
            events: &events,
            outbox: &mut outbox,
            joined: false,
        };
        let end = session.run(&mut requests, &shutdown).await;
        let joined = session.joined;
        outbox.connection_lost();
        if joined {
            backoff.reset();
            refused = 0;
        }
        let (reason, at_once) = match end {
            End::Shutdown => return Ok(()),
            End::AuthFailed(text) => {
                refused += 1;
                let (Some(tokens), Some((_, access))) = (&config.tokens, &config.login) else {
                    return Err(give_up(&mut outbox, text));
                };
                if refused >= MAX_REFUSED_LOGINS {
                    return Err(give_up(&mut outbox, text));
                }
                // The owner refreshes (once, whoever else reports the same token) or hands
                // over the pair another process stored; the next connect asks it again.
                if let Err(e) = tokens.refused(access).await {
                    return Err(give_up(&mut outbox, e.to_string()));
                }
                tracing::info!("chat refused the login; retrying with the owner's token");
                continue;
            }
            End::Retry { reason, at_once } => (reason, at_once),
        };
        let wait = if at_once {
            Duration::ZERO
        } else {
            backoff.next_delay()
        };
        tracing::info!(%reason, ?wait, "chat connection lost; reconnecting");
        let _ = events
            .send(ChatEvent::State(ChatState::Backoff {
                retry_in: wait,
                reason,
            }))
            .await;
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Fails every queued send and ends the connection: the login is not accepted.
fn give_up(outbox: &mut Outbox, why: String) -> ChatError {
    outbox.fail_all(SendError::Rejected(why.clone()));
    ChatError::AuthFailed(why)
}
