//! Twitch's EventSub webhook envelope (`twitch.md` A.4, A.8): the JSON body of every POST to
//! `/eventsub`, whichever of the three message types it is.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The value of the `Twitch-Eventsub-Message-Type` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageType {
    /// An event happened.
    Notification,
    /// Twitch checks that we own the callback: answer with the challenge.
    Verification,
    /// Twitch stopped a subscription; `subscription.status` says why.
    Revocation,
    /// A type Twitch may add later; answered 2XX and ignored.
    Other(String),
}

impl MessageType {
    /// Reads the header value.
    pub fn parse(s: &str) -> Self {
        match s {
            "notification" => Self::Notification,
            "webhook_callback_verification" => Self::Verification,
            "revocation" => Self::Revocation,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A webhook body: `subscription` always, plus `event` (notification) or `challenge` (verification).
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// The subscription this message is for.
    pub subscription: Subscription,
    /// The event object of a notification, verbatim.
    #[serde(default)]
    pub event: Option<Value>,
    /// The string to echo back for a verification request.
    #[serde(default)]
    pub challenge: Option<String>,
}

/// An EventSub subscription as Twitch shows it in bodies and Helix answers. Field order varies
/// between Twitch's examples and `cost` is sometimes missing, so nothing here depends on either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Twitch's subscription id.
    pub id: String,
    /// `enabled`, `webhook_callback_verification_pending`, `authorization_revoked`, ...: opaque.
    pub status: String,
    /// The subscription type, e.g. `channel.follow`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The version, a string such as `"2"`.
    pub version: String,
    /// The condition object, verbatim.
    #[serde(default)]
    pub condition: Value,
    /// `{"method", "callback"}`; Twitch never echoes the secret.
    #[serde(default)]
    pub transport: Value,
    /// When it was created (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// Its cost against `max_total_cost`.
    #[serde(default)]
    pub cost: u64,
}

impl Subscription {
    /// The broadcaster id the condition names, whichever key carries it.
    pub fn condition_broadcaster_id(&self) -> Option<&str> {
        [
            "broadcaster_user_id",
            "to_broadcaster_user_id",
            "from_broadcaster_user_id",
        ]
        .iter()
        .filter_map(|k| self.condition.get(*k).and_then(Value::as_str))
        .find(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B3: &str = r#"{"subscription":{"id":"5a1f0c3e-8b2d-4e6f-a7c9-0d1e2f3a4b5c","status":"enabled","type":"stream.online","version":"1","condition":{"broadcaster_user_id":"90010001"},"transport":{"method":"webhook","callback":"https://relay.example.test/eventsub"},"created_at":"2025-12-31T09:15:42.987654321Z","cost":0},"event":{"id":"41234567890","broadcaster_user_id":"90010001","broadcaster_user_login":"quillstream","broadcaster_user_name":"QuillStream","type":"live","started_at":"2026-01-01T11:59:58Z"}}"#;
    const B2: &str = r#"{"challenge":"11535768-497e-14ec-8197-ba2cb5341a01","subscription":{"id":"8d8fa82b-9792-79da-4e11-a6fa58a7a582","status":"webhook_callback_verification_pending","type":"channel.subscribe","version":"1","condition":{"broadcaster_user_id":"88525095"},"transport":{"method":"webhook","callback":"http://localhost:80/twitch/eventsub"},"created_at":"2022-02-06T04:03:24.2706497Z","cost":0}}"#;

    #[test]
    fn parses_notification_and_verification_bodies() {
        let n: Envelope = serde_json::from_str(B3).unwrap();
        assert_eq!(n.subscription.kind, "stream.online");
        assert_eq!(n.subscription.condition_broadcaster_id(), Some("90010001"));
        assert!(n.event.is_some() && n.challenge.is_none());

        let v: Envelope = serde_json::from_str(B2).unwrap();
        assert_eq!(
            v.challenge.as_deref(),
            Some("11535768-497e-14ec-8197-ba2cb5341a01")
        );
        assert!(v.event.is_none());
    }

    #[test]
    fn raid_condition_with_empty_other_side() {
        let s: Subscription = serde_json::from_str(
            r#"{"id":"x","status":"enabled","type":"channel.raid","version":"1",
                "condition":{"from_broadcaster_user_id":"","to_broadcaster_user_id":"90010001"}}"#,
        )
        .unwrap();
        assert_eq!(s.condition_broadcaster_id(), Some("90010001"));
        assert_eq!(s.cost, 0);
    }

    #[test]
    fn message_types() {
        assert_eq!(
            MessageType::parse("notification"),
            MessageType::Notification
        );
        assert_eq!(
            MessageType::parse("webhook_callback_verification"),
            MessageType::Verification
        );
        assert_eq!(MessageType::parse("revocation"), MessageType::Revocation);
        assert_eq!(MessageType::parse("x"), MessageType::Other("x".into()));
    }
}
