//! The relay client: `GET /ws` with the client token, `subscribe` with the filters and `after` =
//! the last seq seen, events in order, and a count of what was replayed after a disconnect. It
//! notices a dead link (connect and welcome timeouts, and a read deadline: the relay pings every
//! 30 s, so silence for [`READ_DEADLINE`] means dead), reconnects with jittered backoff and
//! resumes. A `gap` frame and a new store epoch are reported. An event is never handed on twice.

mod session;

use std::time::Duration;

use onair_common::wire::{Subscribe, SubscriptionInfo};
use onair_common::{Event, Secret};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::backoff::Backoff;
use session::{Outcome, session};

/// Opening the TCP, TLS and WebSocket handshake, at most.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// From the handshake to the relay's `welcome`, at most.
pub const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// No frame, not even the relay's 30 s ping, for this long: the link is dead (a suspended
/// laptop, a NAT that forgot us), however open the socket looks.
pub const READ_DEADLINE: Duration = Duration::from_secs(75);

/// How to reach the relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `tui.relay_url`, e.g. `https://relay.example.com`.
    pub base: Url,
    /// `tui.relay_token`.
    pub token: Secret,
    /// Channel and type filters (`after` is managed here).
    pub filter: Subscribe,
    /// Resume after this seq; `None` starts live.
    pub after: Option<u64>,
    /// First and longest reconnect delay.
    pub backoff: (Duration, Duration),
    /// When starting without `after`, also show up to this many seqs before the relay's head.
    pub backlog: u64,
    /// [`CONNECT_TIMEOUT`], [`WELCOME_TIMEOUT`] and [`READ_DEADLINE`] (shorter in tests).
    pub deadlines: Deadlines,
}

/// How long each step may take before the link counts as dead.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// Connect and WebSocket handshake.
    pub connect: Duration,
    /// Handshake to `welcome`.
    pub welcome: Duration,
    /// Longest silence (no frame, no ping) on a live link.
    pub read: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            connect: CONNECT_TIMEOUT,
            welcome: WELCOME_TIMEOUT,
            read: READ_DEADLINE,
        }
    }
}

impl RelayConfig {
    /// Production backoff.
    pub fn new(base: Url, token: Secret, filter: Subscribe, after: Option<u64>) -> Self {
        Self {
            base,
            token,
            filter,
            after,
            backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            backlog: 0,
            deadlines: Deadlines::default(),
        }
    }
}

/// The link's state, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayState {
    /// Connecting.
    Connecting,
    /// Receiving; the relay's head when we connected.
    Live,
    /// Waiting before the next attempt.
    Backoff {
        /// Until the next attempt.
        retry_in: Duration,
        /// What went wrong.
        reason: String,
    },
    /// The relay refused the token: no retry.
    Refused(String),
}

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayEvent {
    /// A state change.
    State(RelayState),
    /// An event, in seq order, each once.
    Event(Box<Event>),
    /// A reconnect replayed this many missed events.
    Replayed(u64),
    /// Subscriptions' state after a revocation or a sync.
    Status(Vec<SubscriptionInfo>),
    /// Events `from..=to` were pruned at the relay (retention) and cannot be replayed.
    Gap {
        /// First seq that is gone.
        from: u64,
        /// Last seq that is gone.
        to: u64,
    },
    /// The relay's store was created anew (a new epoch): old seqs mean nothing there, so the
    /// link starts over from the beginning of the new store.
    NewEpoch,
}

/// The `/ws` URL for a relay base URL (`https` → `wss`).
pub fn ws_url(base: &Url) -> Result<Url, String> {
    let mut u = base.clone();
    let scheme = match base.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        other => return Err(format!("relay URL scheme {other:?} is not http(s)")),
    };
    u.set_scheme(scheme)
        .map_err(|()| "cannot build the relay WebSocket URL".to_owned())?;
    let path = format!("{}/ws", u.path().trim_end_matches('/'));
    u.set_path(&path);
    Ok(u)
}

/// What the link carries from one connection to the next.
#[derive(Debug, Default)]
struct Resume {
    /// The last seq handed on (`None`: start from the relay's head minus the backlog).
    last_seq: Option<u64>,
    /// The store epoch of the first welcome that named one.
    epoch: Option<String>,
}

/// Runs the client until `shutdown`, or until the relay refuses the token.
pub async fn run(config: RelayConfig, tx: mpsc::Sender<RelayEvent>, shutdown: CancellationToken) {
    let mut resume = Resume {
        last_seq: config.after,
        epoch: None,
    };
    let mut backoff = Backoff::new(config.backoff.0, config.backoff.1);
    loop {
        let _ = tx.send(RelayEvent::State(RelayState::Connecting)).await;
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            o = session(&config, &mut resume, &tx) => o,
        };
        let reason = match outcome {
            Outcome::Refused(why) => {
                let _ = tx.send(RelayEvent::State(RelayState::Refused(why))).await;
                return;
            }
            Outcome::Closed => return,
            Outcome::Lost { reason, was_live } => {
                if was_live {
                    backoff.reset();
                }
                reason
            }
        };
        let wait = backoff.next_delay();
        tracing::info!(%reason, ?wait, "relay link lost; reconnecting");
        let _ = tx
            .send(RelayEvent::State(RelayState::Backoff {
                retry_in: wait,
                reason,
            }))
            .await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_follows_the_scheme_and_path() {
        let u = |s: &str| ws_url(&s.parse().unwrap()).unwrap().to_string();
        assert_eq!(u("https://relay.example.com"), "wss://relay.example.com/ws");
        assert_eq!(u("http://127.0.0.1:8080/"), "ws://127.0.0.1:8080/ws");
        assert_eq!(u("https://example.com/onair"), "wss://example.com/onair/ws");
    }
}
