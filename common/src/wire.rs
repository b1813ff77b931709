//! The relay's WebSocket protocol (`design.md` "WebSocket protocol"): JSON text frames tagged by
//! `type`. The server speaks first with `welcome`; the client sends `subscribe`; the server sends
//! `event`, `status` and, before closing on a bad client frame, `error`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;

/// The protocol version in `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// A frame the relay sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Welcome {
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// The highest seq the relay has stored (0 when empty).
        last_seq: u64,
        /// The oldest seq still stored (`last_seq + 1` when empty). Older seqs were pruned.
        /// (Absent from relays before it existed: read as 0, "nothing pruned".)
        #[serde(default)]
        first_seq: u64,
        /// Names the store's history: it changes when the store is created anew, and a client
        /// holding seqs from another epoch starts over from 0. (Empty from older relays.)
        #[serde(default)]
        epoch: String,
    },
    /// Sent before a replay when events `from..=to` that the client asked for were pruned and
    /// cannot be replayed.
    Gap {
        /// The first seq that is gone.
        from: u64,
        /// The last seq that is gone.
        to: u64,
    },
    /// One event, replayed or live.
    Event {
        /// The event.
        event: Box<Event>,
    },
    /// The EventSub subscriptions' state, after a revocation or a sync.
    Status {
        /// Each subscription, as `subscriptions list --json` prints it.
        subscriptions: Vec<SubscriptionInfo>,
    },
    /// Why the relay is about to close the connection.
    Error {
        /// A human explanation.
        message: String,
    },
}

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Start (or restart) the feed.
    Subscribe(Subscribe),
}

/// What a client wants: filters and a resume point. Every field is optional; an empty list
/// means "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Channel logins to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Subscription types to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Replay stored events with `seq > after` before the live feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
}

impl Subscribe {
    /// Whether an event passes the channel and type filters.
    pub fn matches(&self, event: &Event) -> bool {
        self.accepts(&event.channel.login, &event.kind)
    }

    /// Whether an event of this channel login and type passes the filters.
    pub fn accepts(&self, channel: &str, kind: &str) -> bool {
        (self.channels.is_empty()
            || self
                .channels
                .iter()
                .any(|c| c.eq_ignore_ascii_case(channel)))
            && (self.types.is_empty() || self.types.iter().any(|t| t == kind))
    }
}

/// One EventSub subscription as clients and scripts see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionInfo {
    /// Twitch's subscription id.
    pub id: String,
    /// Subscription type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Version string.
    pub version: String,
    /// Channel login (or id when the login is unknown).
    pub channel: String,
    /// `enabled`, `authorization_revoked`, ...
    pub status: String,
    /// Cost against the budget.
    pub cost: u64,
    /// RFC 3339.
    pub created_at: String,
}

/// A frame that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// Not JSON, or not an object with a string `type`.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A `type` this side does not know.
    #[error("unknown frame type `{0}`")]
    UnknownType(String),
    /// A known type with missing or wrong fields.
    #[error("invalid `{kind}` frame: {reason}")]
    Invalid {
        /// The frame type.
        kind: String,
        /// What serde said.
        reason: String,
    },
}

impl ServerFrame {
    const TYPES: &[&str] = &["welcome", "gap", "event", "status", "error"];

    /// Reads a text frame from the relay.
    pub fn parse(text: &str) -> Result<Self, WireError> {
        parse_tagged(text, Self::TYPES)
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

impl ClientFrame {
    const TYPES: &[&str] = &["subscribe"];

    /// Reads a text frame from a client.
    pub fn parse(text: &str) -> Result<Self, WireError> {
        parse_tagged(text, Self::TYPES)
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

fn to_json(frame: &impl Serialize) -> String {
    // Serializing these plain structs cannot fail: every map key is a string.
    serde_json::to_string(frame).unwrap_or_default()
}

fn parse_tagged<T: DeserializeOwned>(text: &str, known: &[&str]) -> Result<T, WireError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| WireError::Malformed(e.to_string()))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| WireError::Malformed("expected an object with a string `type`".into()))?
        .to_owned();
    if !known.contains(&kind.as_str()) {
        return Err(WireError::UnknownType(kind));
    }
    serde_json::from_value(value).map_err(|e| WireError::Invalid {
        kind,
        reason: e.to_string(),
    })
}
