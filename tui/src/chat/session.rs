//! One open session: its socket, its keepalive state, and what each incoming line does to it
//! (PONG, RECONNECT, a refused login, joined, a message confirmed or refused). The connection
//! actor owns the session and calls [`on_lines`] from its `select!`.

use onair_common::Secret;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::{ChatConfig, ChatEvent, ChatState};
use super::message::{ChatLine, Incoming};
use super::outbox::Outbox;
use super::transport::Transport;

/// An open socket and its keepalive.
pub(super) struct Session {
    pub ws: Transport,
    /// The login and token it logged in with; `None` when anonymous.
    pub login: Option<(String, Secret)>,
    /// Twitch confirmed the JOIN.
    pub joined: bool,
    /// When we PING next.
    pub next_ping: Instant,
    /// When the PONG to our PING is overdue.
    pub pong_due: Option<Instant>,
}

/// How a session ends.
pub(super) enum End {
    /// Our receiver is gone.
    Shutdown,
    /// Twitch refused the login.
    AuthFailed(String),
    /// Reconnect: after `RECONNECT` at once, after a failure with backoff.
    Retry { reason: String, at_once: bool },
}

/// A failure that ends the session: reconnect after a backoff.
pub(super) fn retry(reason: String) -> End {
    End::Retry {
        reason,
        at_once: false,
    }
}

/// Handles the lines of one frame, then hands each to the owner.
pub(super) async fn on_lines(
    s: &mut Session,
    lines: Vec<Incoming>,
    config: &ChatConfig,
    outbox: &mut Outbox,
    events: &mpsc::Sender<ChatEvent>,
) -> Result<(), End> {
    for incoming in lines {
        match &incoming {
            Incoming::Ping(arg) => s.ws.send(&format!("PONG :{arg}")).await.map_err(retry)?,
            Incoming::Pong => s.pong_due = None,
            Incoming::Reconnect => {
                return Err(End::Retry {
                    reason: "Twitch asked us to reconnect".into(),
                    at_once: true,
                });
            }
            Incoming::Line(ChatLine::Server {
                msg_id: None, text, ..
            }) if text.contains("Login authentication failed")
                || text.contains("Improperly formatted auth") =>
            {
                return Err(End::AuthFailed(text.clone()));
            }
            Incoming::UserState {
                channel,
                sent_id,
                privileged,
            } if *channel == config.channel => {
                outbox.set_privileged(*privileged);
                if !s.joined {
                    s.joined = true;
                    let _ = events.send(ChatEvent::State(ChatState::Joined)).await;
                }
                if let Some(id) = sent_id {
                    outbox.confirmed(id.clone());
                }
            }
            Incoming::Join { channel, .. }
                if *channel == config.channel && s.login.is_none() && !s.joined =>
            {
                // Anonymous logins get no USERSTATE: our own JOIN echo means joined.
                s.joined = true;
                let _ = events.send(ChatEvent::State(ChatState::Joined)).await;
            }
            Incoming::Line(ChatLine::Server {
                channel,
                msg_id: Some(id),
                text,
            }) if channel.as_deref() == Some(&config.channel) => {
                outbox.refused(id, text);
            }
            _ => {}
        }
        if events.send(ChatEvent::Incoming(incoming)).await.is_err() {
            return Err(End::Shutdown);
        }
    }
    Ok(())
}
