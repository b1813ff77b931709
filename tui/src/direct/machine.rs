//! The direct session's logic without I/O: which socket is current, a `session_reconnect`
//! migration in flight, the seen-set shared across sockets, and what each frame or close means.
//! [`super::session`] owns the sockets, Helix calls and timers and does what the [`Step`]s say.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use onair_common::Event;
use onair_common::event::Origin;
use tokio::time::Instant;

use super::frame::Frame;

/// Which socket a frame came from (each socket of a session gets the next number).
pub type SockId = u64;

/// What a socket reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A parsed text frame (boxed: a notification is large, a close small).
    Frame(Box<Frame>),
    /// The socket ended: Twitch's close code (`twitch.md` E.5) if it sent one.
    Closed {
        /// The close code.
        code: Option<u16>,
        /// The close reason, or what broke.
        reason: String,
    },
}

/// What the session must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A fresh socket was welcomed: create the subscriptions on this session id.
    Subscribe(String),
    /// Hand this event on (each `message_id` once).
    Emit(Box<Event>),
    /// `session_reconnect`: open socket `sock` to `url`; its welcome finishes the move.
    Migrate {
        /// The new socket's number.
        sock: SockId,
        /// `reconnect_url`, exactly as given.
        url: String,
    },
    /// The move is done: close this old socket.
    Close(SockId),
    /// Twitch stopped a subscription.
    Revoked {
        /// The subscription type.
        kind: String,
        /// Why (`authorization_revoked`, `user_removed`, `version_removed`, ...).
        status: String,
    },
    /// The session is over: reconnect to the base URL and subscribe again.
    Lost(String),
}

/// One session's sockets.
#[derive(Debug)]
pub struct Machine {
    current: SockId,
    pending: Option<SockId>,
    next: SockId,
    welcomed: bool,
    keepalive: Option<Duration>,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    /// A session whose first socket is sock 0.
    pub fn new() -> Self {
        Self {
            current: 0,
            pending: None,
            next: 1,
            welcomed: false,
            keepalive: None,
        }
    }

    /// The keepalive window the current socket's welcome named (`None` before a welcome).
    pub fn keepalive(&self) -> Option<Duration> {
        self.keepalive
    }

    /// Applies one socket report. `received_at` stamps events; `now` ages the seen-set.
    pub fn on(
        &mut self,
        sock: SockId,
        input: Input,
        seen: &mut Seen,
        received_at: Timestamp,
        now: Instant,
    ) -> Vec<Step> {
        match input {
            Input::Frame(frame) => self.on_frame(sock, *frame, seen, received_at, now),
            Input::Closed { code, reason } => self.on_closed(sock, code, &reason),
        }
    }

    fn on_frame(
        &mut self,
        sock: SockId,
        frame: Frame,
        seen: &mut Seen,
        received_at: Timestamp,
        now: Instant,
    ) -> Vec<Step> {
        match frame {
            Frame::Welcome {
                session_id,
                keepalive,
            } => {
                if sock == self.current && !self.welcomed {
                    self.welcomed = true;
                    self.keepalive = Some(keepalive);
                    vec![Step::Subscribe(session_id)]
                } else if Some(sock) == self.pending {
                    // The new socket carries the subscriptions: no subscribing again.
                    let old = std::mem::replace(&mut self.current, sock);
                    self.pending = None;
                    self.keepalive = Some(keepalive);
                    vec![Step::Close(old)]
                } else {
                    Vec::new()
                }
            }
            Frame::Notification {
                message_id,
                timestamp,
                subscription,
                event,
            } => {
                if !seen.first(&message_id, now) {
                    return Vec::new();
                }
                let mut e =
                    Event::from_parts(&message_id, &timestamp, &subscription, event, received_at);
                e.origin = Origin::Direct;
                vec![Step::Emit(Box::new(e))]
            }
            Frame::Reconnect { url } if sock == self.current && self.pending.is_none() => {
                let sock = self.next;
                self.next += 1;
                self.pending = Some(sock);
                vec![Step::Migrate { sock, url }]
            }
            Frame::Revocation { subscription } => vec![Step::Revoked {
                kind: subscription.kind,
                status: subscription.status,
            }],
            Frame::Reconnect { .. } | Frame::Keepalive | Frame::Other(_) => Vec::new(),
        }
    }

    fn on_closed(&mut self, sock: SockId, code: Option<u16>, reason: &str) -> Vec<Step> {
        if Some(sock) == self.pending {
            self.pending = None;
            return vec![Step::Lost(format!(
                "could not move to Twitch's reconnect URL ({})",
                close_reason(code, reason)
            ))];
        }
        if sock != self.current || self.pending.is_some() {
            // An old socket, or the current one while its successor is on the way: the
            // successor's welcome (or the keepalive watchdog) decides.
            return Vec::new();
        }
        vec![Step::Lost(close_reason(code, reason))]
    }
}

/// Whether a close code means onair misbehaved (`twitch.md` E.5: 4001-4004).
pub fn is_client_bug(code: Option<u16>) -> bool {
    matches!(code, Some(4001..=4004))
}

/// What a close means, in words.
pub fn close_reason(code: Option<u16>, reason: &str) -> String {
    let what = match code {
        Some(4000) => "Twitch had an internal error (4000)",
        Some(4001) => "Twitch says onair sent it a message (4001), which is a bug in onair",
        Some(4002) => "Twitch says onair did not answer its ping (4002)",
        Some(4003) => "Twitch closed the unused connection: no subscription within 10 s (4003)",
        Some(4004) => "onair did not move to the reconnect URL in time (4004)",
        Some(4005) => "network timeout at Twitch (4005)",
        Some(4006) => "network error at Twitch (4006)",
        Some(4007) => "Twitch refused the reconnect URL (4007)",
        Some(_) | None if reason.is_empty() => "the EventSub connection dropped",
        Some(_) | None => return format!("the EventSub connection closed: {reason}"),
    };
    what.to_owned()
}

/// Message ids already handed on, kept for [`Seen::TTL`] (`twitch.md` E.6: 10 minutes or more),
/// across sockets and reconnects.
#[derive(Debug, Default)]
pub struct Seen {
    ids: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl Seen {
    /// How long an id is remembered.
    pub const TTL: Duration = Duration::from_secs(15 * 60);

    /// True the first time `id` is seen within [`Seen::TTL`].
    pub fn first(&mut self, id: &str, now: Instant) -> bool {
        while let Some((at, old)) = self.order.front() {
            if now.duration_since(*at) < Self::TTL {
                break;
            }
            self.ids.remove(old);
            self.order.pop_front();
        }
        if !self.ids.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back((now, id.to_owned()));
        true
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
