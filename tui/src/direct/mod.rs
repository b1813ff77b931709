//! Direct events: the terminal's own EventSub WebSocket (`twitch.md` E), with the user's token
//! and no relay. On each welcome it creates one subscription per supported type (the plan), skips
//! a type Twitch refuses for a missing scope and says once which scope `onair login` would add,
//! watches the keepalive window, follows `session_reconnect` without losing or repeating
//! anything, and after any other loss reconnects to the base URL with jittered backoff,
//! subscribes again and reports the gap. Events are EVENTs with `origin: direct`, `seq: null`.

mod frame;

pub mod machine;
pub mod plan;
mod session;
mod socket;

use std::collections::HashSet;
use std::time::Duration;

use onair_common::Event;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::auth::TokenHandle;
use crate::backoff::Backoff;
use crate::error::Error;
pub use crate::helix::{Helix, HelixError};
pub use frame::{Frame, FrameError};
use session::{Ctx, Keep, Outcome};

/// Silence allowed beyond the session's keepalive window before the socket counts as dead.
pub const KEEPALIVE_GRACE: Duration = Duration::from_secs(3);
/// Connect and WebSocket handshake, and the wait for the welcome, at most.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach Twitch and what to subscribe to.
#[derive(Debug, Clone)]
pub struct DirectConfig {
    /// `twitch.eventsub_url`.
    pub url: Url,
    /// `twitch.helix_url`.
    pub helix: Url,
    /// `twitch.client_id` (the login's client).
    pub client_id: String,
    /// The channel's login.
    pub channel: String,
    /// Only these types (empty: every supported one).
    pub types: Vec<String>,
    /// First and longest reconnect delay.
    pub backoff: (Duration, Duration),
    /// [`KEEPALIVE_GRACE`] (shorter in tests).
    pub grace: Duration,
    /// [`CONNECT_TIMEOUT`].
    pub connect: Duration,
}

impl DirectConfig {
    /// Production timings.
    pub fn new(url: Url, helix: Url, client_id: String, channel: String) -> Self {
        Self {
            url,
            helix,
            client_id,
            channel,
            types: Vec::new(),
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            grace: KEEPALIVE_GRACE,
            connect: CONNECT_TIMEOUT,
        }
    }
}

/// The direct link's state, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectState {
    /// Connecting and subscribing.
    Connecting,
    /// Subscribed; events flow.
    Live,
    /// Waiting before the next attempt.
    Backoff {
        /// Until the next attempt.
        retry_in: Duration,
        /// What went wrong.
        reason: String,
    },
    /// Given up: the login was refused, or no type could be subscribed.
    Stopped(String),
}

/// What the direct client reports.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectEvent {
    /// A state change.
    State(DirectState),
    /// An event, each `message_id` once.
    Event(Box<Event>),
    /// Live again after a plain reconnect: events between these Unix ms may be missing.
    Gap {
        /// When the old connection was lost.
        from_ms: i64,
        /// When the new one was subscribed.
        to_ms: i64,
    },
    /// Subscribed to this many types (after each welcome on a fresh socket).
    Subscribed(usize),
    /// Once per run: the types skipped for a missing scope, and how to get it.
    MissingScopes(String),
    /// Twitch stopped a type's subscription; it is not subscribed again.
    Revoked {
        /// The type.
        kind: String,
        /// Twitch's reason.
        status: String,
    },
}

/// Runs the client until `shutdown`, or until it has to give up.
pub async fn run(
    config: DirectConfig,
    tokens: TokenHandle,
    tx: mpsc::Sender<DirectEvent>,
    shutdown: CancellationToken,
) {
    let helix = Helix::new(config.helix.clone(), config.client_id.clone());
    let mut backoff = Backoff::new(config.backoff.0, config.backoff.1);
    let mut keep = Keep {
        seen: Default::default(),
        dropped: HashSet::new(),
        noted: false,
        lost_at: None,
    };
    let mut plan = None;
    loop {
        let _ = tx.send(DirectEvent::State(DirectState::Connecting)).await;
        let planned = match plan.clone() {
            Some(p) => Ok(p),
            None => session::plan_for(&config, &helix, &tokens).await,
        };
        let outcome = match planned {
            Ok(p) => {
                plan = Some(p.clone());
                let ctx = Ctx {
                    config: &config,
                    helix: &helix,
                    tokens: &tokens,
                    plan: p,
                };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    o = session::session(&ctx, &mut keep, &tx, &shutdown) => o,
                }
            }
            Err(Error::Rejected(why)) => Outcome::Stopped(format!(
                "Twitch no longer accepts your login ({why}): run `onair login`"
            )),
            Err(e @ Error::Usage(_)) => Outcome::Stopped(e.to_string()),
            Err(e) => Outcome::Lost {
                reason: e.to_string(),
                was_live: false,
            },
        };
        let reason = match outcome {
            Outcome::Stopped(why) => {
                tracing::warn!(%why, "direct events stopped");
                let _ = tx.send(DirectEvent::State(DirectState::Stopped(why))).await;
                return;
            }
            Outcome::Closed => return,
            Outcome::Lost { reason, was_live } => {
                if was_live {
                    backoff.reset();
                    keep.lost_at.get_or_insert_with(jiff::Timestamp::now);
                }
                reason
            }
        };
        let wait = backoff.next_delay();
        tracing::info!(%reason, ?wait, "EventSub connection lost; reconnecting");
        let state = DirectState::Backoff {
            retry_in: wait,
            reason,
        };
        let _ = tx.send(DirectEvent::State(state)).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
