//! EventSub WebSocket frames exactly as `twitch.md` E.3 shows them: compact JSON, keys in
//! Twitch's order, nanosecond timestamps, `subscription_type`/`_version` only on notification
//! and revocation.

use serde_json::{Value, json};

use crate::eventsub::{message_id, twitch_timestamp};

fn now() -> String {
    twitch_timestamp(jiff::Timestamp::now())
}

fn metadata(id: &str, kind: &str) -> Value {
    json!({"message_id": id, "message_type": kind, "message_timestamp": now()})
}

fn metadata_for(id: &str, kind: &str, sub: &Value) -> Value {
    json!({"message_id": id, "message_type": kind, "message_timestamp": now(),
           "subscription_type": sub["type"], "subscription_version": sub["version"]})
}

/// `session_welcome`.
pub fn welcome(session_id: &str, connected_at: &str, keepalive_s: u64) -> String {
    json!({"metadata": metadata(&message_id(), "session_welcome"),
           "payload": {"session": {"id": session_id, "status": "connected", "connected_at": connected_at,
                                   "keepalive_timeout_seconds": keepalive_s, "reconnect_url": null}}})
    .to_string()
}

/// `session_keepalive`.
pub fn keepalive() -> String {
    json!({"metadata": metadata(&message_id(), "session_keepalive"), "payload": {}}).to_string()
}

/// `notification` with message id `id`.
pub fn notification(id: &str, sub: &Value, event: &Value) -> String {
    json!({"metadata": metadata_for(id, "notification", sub),
           "payload": {"subscription": sub, "event": event}})
    .to_string()
}

/// `session_reconnect` pointing at `url`.
pub fn reconnect(session_id: &str, connected_at: &str, url: &str) -> String {
    json!({"metadata": metadata(&message_id(), "session_reconnect"),
           "payload": {"session": {"id": session_id, "status": "reconnecting", "keepalive_timeout_seconds": null,
                                   "reconnect_url": url, "connected_at": connected_at}}})
    .to_string()
}

/// `revocation` of `sub` (its status already set to the reason).
pub fn revocation(sub: &Value) -> String {
    json!({"metadata": metadata_for(&message_id(), "revocation", sub),
           "payload": {"subscription": sub}})
    .to_string()
}

/// An enabled subscription object as E.3 orders it, created now.
pub fn subscription(
    id: &str,
    kind: &str,
    version: &str,
    cost: u64,
    condition: &Value,
    session_id: &str,
) -> Value {
    json!({"id": id, "status": "enabled", "type": kind, "version": version, "cost": cost,
           "condition": condition, "transport": {"method": "websocket", "session_id": session_id},
           "created_at": now()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_twitchs_key_order() {
        let w = welcome("S", "2023-07-19T14:56:51.616329898Z", 10);
        assert!(w.starts_with(r#"{"metadata":{"message_id":""#), "{w}");
        assert!(
            w.contains(r#""message_type":"session_welcome","message_timestamp":""#),
            "{w}"
        );
        assert!(w.ends_with(r#""payload":{"session":{"id":"S","status":"connected","connected_at":"2023-07-19T14:56:51.616329898Z","keepalive_timeout_seconds":10,"reconnect_url":null}}}"#), "{w}");
        let mut sub = subscription(
            "i",
            "channel.follow",
            "2",
            0,
            &json!({"broadcaster_user_id": "1"}),
            "S",
        );
        sub["created_at"] = json!("t");
        assert_eq!(
            sub.to_string(),
            r#"{"id":"i","status":"enabled","type":"channel.follow","version":"2","cost":0,"condition":{"broadcaster_user_id":"1"},"transport":{"method":"websocket","session_id":"S"},"created_at":"t"}"#
        );
        let n = notification("m", &sub, &json!({"a": 1}));
        assert!(
            n.contains(r#""message_type":"notification","message_timestamp":""#),
            "{n}"
        );
        assert!(n.contains(r#""subscription_type":"channel.follow","subscription_version":"2"},"payload":{"subscription":{"id":"i""#), "{n}");
        assert!(keepalive().ends_with(r#""payload":{}}"#));
    }
}
