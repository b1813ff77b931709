//! The chat connection: one task owns the WebSocket to `twitch.irc_url`, logs in (or reads
//! anonymously as `justinfanNNNNN`), joins one channel, answers PINGs, sends its own PING and
//! treats a missing PONG as a dead link, and reconnects with backoff after RECONNECT or any drop.
//! Every state change and every typed message reaches the owner over a channel; sends come in
//! through a [`ChatHandle`] and are held back by the rate limiter, never dropped.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use super::config::{ChatConfig, ChatError, ChatEvent, ChatState};
use super::outbox::{Outbox, SendError};
use super::session::{End, Session};
use crate::backoff::Backoff;

/// Consecutive refused logins, each with a token the owner handed out after the previous
/// refusal, before chat gives up: Twitch would not take a fresh token either.
const MAX_REFUSED_LOGINS: u32 = 3;

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
