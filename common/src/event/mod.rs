//! The one event shape onair uses everywhere (relay store, wire, `events --json`), and how it is
//! built from a Twitch EventSub notification.

mod summary;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::eventsub::{Envelope, Subscription};
use crate::{catalog, time};
pub use summary::summary;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// An EventSub notification through the relay.
    Twitch,
    /// Derived by the terminal app from a chat USERNOTICE.
    Irc,
    /// From the terminal's own EventSub WebSocket (no relay); `id` is Twitch's `message_id`.
    Direct,
}

/// The broadcaster an event is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Twitch user id.
    pub id: String,
    /// Lower-case login, without `#`.
    pub login: String,
    /// Display name.
    pub name: String,
}

/// One event, as `design.md` "EVENT" describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The relay's increasing number; `None` for events the client derived itself.
    pub seq: Option<u64>,
    /// Twitch's message id (`Twitch-Eventsub-Message-Id`), or a derived id for chat-borne events.
    pub id: String,
    /// Subscription type, e.g. `channel.follow`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Subscription version, e.g. `"2"`.
    pub version: String,
    /// The broadcaster the subscription is for (for raids, the raided channel).
    pub channel: Channel,
    /// When it happened (RFC 3339, UTC, ms).
    pub occurred_at: String,
    /// When the relay received it.
    pub received_at: String,
    /// Where it came from.
    pub origin: Origin,
    /// One human line, e.g. `Cool_User followed`.
    pub summary: String,
    /// Twitch's event object, verbatim.
    pub data: Value,
}

/// Why a notification could not become an event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    /// A notification body without an `event` object.
    #[error("notification body has no `event` object")]
    MissingEvent,
}

impl Event {
    /// Builds an event from a notification's headers and parsed body. Only the envelope is
    /// required; every payload field is optional, so a new Twitch field or a missing optional one
    /// (anonymous cheers, Prime tiers) never loses an event.
    pub fn from_notification(
        message_id: &str,
        message_timestamp: &str,
        envelope: &Envelope,
        received_at: Timestamp,
    ) -> Result<Self, EventError> {
        let data = envelope.event.clone().ok_or(EventError::MissingEvent)?;
        Ok(Self::from_parts(
            message_id,
            message_timestamp,
            &envelope.subscription,
            data,
            received_at,
        ))
    }

    /// [`Event::from_notification`] for a caller that owns the event object (no copy of it).
    pub fn from_parts(
        message_id: &str,
        message_timestamp: &str,
        sub: &Subscription,
        data: Value,
        received_at: Timestamp,
    ) -> Self {
        let occurred_at = catalog::lookup(&sub.kind)
            .and_then(|t| t.occurred_at)
            .and_then(|field| data.get(field).and_then(Value::as_str))
            .and_then(time::normalize)
            .or_else(|| time::normalize(message_timestamp))
            .unwrap_or_else(|| time::format(received_at));
        Self {
            seq: None,
            id: message_id.to_owned(),
            summary: summary(&sub.kind, &data),
            channel: channel_of(&sub.kind, &data, sub.condition_broadcaster_id()),
            kind: sub.kind.clone(),
            version: sub.version.clone(),
            occurred_at,
            received_at: time::format(received_at),
            origin: Origin::Twitch,
            data,
        }
    }
}

/// The channel an event belongs to: the raided side for raids, else the broadcaster fields, else
/// whatever id the condition names.
fn channel_of(kind: &str, data: &Value, condition_id: Option<&str>) -> Channel {
    let prefix = if kind == "channel.raid" {
        "to_broadcaster_user"
    } else {
        "broadcaster_user"
    };
    let field = |suffix: &str| {
        data.get(format!("{prefix}_{suffix}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut id = field("id");
    if id.is_empty() {
        id = condition_id.unwrap_or_default().to_owned();
    }
    Channel {
        id,
        login: field("login").to_lowercase(),
        name: field("name"),
    }
}
