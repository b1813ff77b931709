//! Which subscriptions a direct session creates (`twitch.md` E.2, B.6): every supported type on
//! the user's own channel; on another channel only the types Twitch allows without that
//! broadcaster's grant. Conditions follow the catalog, with `moderator_user_id` = the token's
//! user. Also the one note telling the user which scopes a new `onair login` would add.

use onair_common::catalog::{self, Condition, EventType};
use serde_json::{Value, json};

/// One subscription to create.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The catalog entry.
    pub kind: &'static EventType,
    /// The condition object Helix gets.
    pub condition: Value,
}

/// The subscriptions for `channel_id` seen by `user_id`, limited to `types` (empty: all).
pub fn plan(channel_id: &str, user_id: &str, types: &[String]) -> Vec<Planned> {
    let own = channel_id == user_id;
    catalog::SUPPORTED
        .iter()
        .filter(|t| own || t.scopes.is_empty())
        .filter(|t| types.is_empty() || types.iter().any(|w| w == t.name))
        .map(|t| Planned {
            kind: t,
            condition: condition(t.condition, channel_id, user_id),
        })
        .collect()
}

fn condition(c: Condition, channel_id: &str, user_id: &str) -> Value {
    match c {
        Condition::Broadcaster => json!({"broadcaster_user_id": channel_id}),
        Condition::BroadcasterAndModerator => {
            json!({"broadcaster_user_id": channel_id, "moderator_user_id": user_id})
        }
        Condition::ToBroadcaster => json!({"to_broadcaster_user_id": channel_id}),
    }
}

/// The Helix request body for one planned subscription on a WebSocket session.
pub fn request(p: &Planned, session_id: &str) -> Value {
    json!({"type": p.kind.name, "version": p.kind.version, "condition": p.condition,
           "transport": {"method": "websocket", "session_id": session_id}})
}

/// One line naming the types Twitch refused for a missing scope and the scope each needs, e.g.
/// `direct events without channel.cheer (needs bits:read): run onair login again to grant them`.
pub fn missing_note(skipped: &[&EventType]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let parts: Vec<String> = skipped
        .iter()
        .map(|t| format!("{} (needs {})", t.name, t.scopes.first().unwrap_or(&"?")))
        .collect();
    Some(format!(
        "direct events without {}: your login lacks the scope; run `onair login` again to grant it",
        parts.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_channel_gets_every_type_with_the_catalog_conditions() {
        let p = plan("90010001", "90010001", &[]);
        assert_eq!(p.len(), catalog::SUPPORTED.len());
        let follow = p.iter().find(|p| p.kind.name == "channel.follow").unwrap();
        assert_eq!(
            follow.condition,
            json!({"broadcaster_user_id": "90010001", "moderator_user_id": "90010001"})
        );
        let raid = p.iter().find(|p| p.kind.name == "channel.raid").unwrap();
        assert_eq!(
            raid.condition,
            json!({"to_broadcaster_user_id": "90010001"})
        );
        assert_eq!(
            request(follow, "S1").to_string(),
            r#"{"type":"channel.follow","version":"2","condition":{"broadcaster_user_id":"90010001","moderator_user_id":"90010001"},"transport":{"method":"websocket","session_id":"S1"}}"#
        );
    }

    #[test]
    fn another_channel_gets_only_types_without_a_grant() {
        let names: Vec<_> = plan("90040004", "90010001", &[])
            .iter()
            .map(|p| p.kind.name)
            .collect();
        assert_eq!(
            names,
            [
                "channel.raid",
                "stream.online",
                "stream.offline",
                "channel.update"
            ]
        );
    }

    #[test]
    fn a_type_filter_narrows_the_plan() {
        let types = vec!["channel.cheer".to_owned(), "no.such".to_owned()];
        let p = plan("1", "1", &types);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind.name, "channel.cheer");
    }

    #[test]
    fn the_note_names_types_and_scopes() {
        assert_eq!(missing_note(&[]), None);
        let cheer = catalog::lookup("channel.cheer").unwrap();
        let note = missing_note(&[cheer]).unwrap();
        assert!(note.contains("channel.cheer (needs bits:read)"), "{note}");
        assert!(note.contains("onair login"), "{note}");
    }
}
