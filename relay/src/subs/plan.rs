//! The pure part of a sync: which subscriptions are wanted, and what to keep, create and
//! delete given what exists at Twitch.

use onair_common::catalog::{self, Condition};
use onair_common::eventsub::Subscription;
use serde_json::{Value, json};

/// Statuses a subscription can recover from by itself: keep it.
const HEALTHY: &[&str] = &["enabled", "webhook_callback_verification_pending"];

/// One subscription we want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Type.
    pub kind: String,
    /// Version.
    pub version: String,
    /// Channel login (for messages).
    pub channel: String,
    /// The exact condition.
    pub condition: Value,
}

/// What a sync will do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// To create.
    pub create: Vec<Wanted>,
    /// To delete, with why.
    pub delete: Vec<(Subscription, String)>,
    /// Already right.
    pub keep: Vec<Subscription>,
}

/// The condition a type needs for a broadcaster id (`twitch.md` B.6).
pub fn condition(kind: Condition, id: &str) -> Value {
    match kind {
        Condition::Broadcaster => json!({"broadcaster_user_id": id}),
        Condition::BroadcasterAndModerator => {
            json!({"broadcaster_user_id": id, "moderator_user_id": id})
        }
        Condition::ToBroadcaster => json!({"to_broadcaster_user_id": id}),
    }
}

/// Every (channel, event) pair, with its version and condition.
pub fn wanted(channels: &[(String, String)], events: &[String]) -> Vec<Wanted> {
    let mut out = Vec::new();
    for (login, id) in channels {
        for name in events {
            if let Some(t) = catalog::lookup(name) {
                out.push(Wanted {
                    kind: t.name.into(),
                    version: t.version.into(),
                    channel: login.clone(),
                    condition: condition(t.condition, id),
                });
            }
        }
    }
    out
}

/// Conditions are equal when every non-empty value matches (Twitch may echo unset keys as "").
fn same_condition(a: &Value, b: &Value) -> bool {
    let set = |v: &Value| -> Vec<(String, String)> {
        let mut pairs: Vec<_> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                v.as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| (k.clone(), s.to_owned()))
            })
            .collect();
        pairs.sort();
        pairs
    };
    set(a) == set(b)
}

/// Compares the wanted set with what exists; `callback` is ours.
pub fn plan(wanted: &[Wanted], existing: &[Subscription], callback: &str) -> Plan {
    let mut plan = Plan::default();
    let mut covered = vec![false; wanted.len()];
    for sub in existing {
        if sub.transport.get("method").and_then(Value::as_str) != Some("webhook") {
            continue; // websocket or conduit subscriptions are not ours to manage
        }
        let their_callback = sub
            .transport
            .get("callback")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let matched = wanted.iter().enumerate().find(|(i, w)| {
            !covered[*i]
                && w.kind == sub.kind
                && w.version == sub.version
                && same_condition(&w.condition, &sub.condition)
        });
        let reason = if their_callback != callback {
            Some(format!("points at another callback ({their_callback})"))
        } else if !HEALTHY.contains(&sub.status.as_str()) {
            Some(format!("is {}", sub.status))
        } else if matched.is_none() {
            Some("is no longer wanted (relay.channels / relay.events)".to_owned())
        } else {
            None
        };
        match (reason, matched) {
            (None, Some((i, _))) => {
                covered[i] = true;
                plan.keep.push(sub.clone());
            }
            (Some(why), _) => plan.delete.push((sub.clone(), why)),
            (None, None) => {}
        }
    }
    plan.create = wanted
        .iter()
        .zip(covered)
        .filter(|(_, c)| !c)
        .map(|(w, _)| w.clone())
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subs::scopes_for;

    fn sub(
        id: &str,
        kind: &str,
        version: &str,
        cond: Value,
        status: &str,
        callback: &str,
    ) -> Subscription {
        serde_json::from_value(json!({"id": id, "status": status, "type": kind, "version": version, "condition": cond,
            "transport": {"method": "webhook", "callback": callback}, "created_at": "2025-12-31T09:15:42Z", "cost": 0})).unwrap()
    }

    const CB: &str = "https://relay.example.test/eventsub";

    #[test]
    fn wanted_uses_current_versions_and_exact_conditions() {
        let w = wanted(
            &[("quillstream".into(), "90010001".into())],
            &["channel.follow".into(), "channel.raid".into()],
        );
        assert_eq!(w[0].version, "2");
        assert_eq!(
            w[0].condition,
            json!({"broadcaster_user_id": "90010001", "moderator_user_id": "90010001"})
        );
        assert_eq!(
            w[1].condition,
            json!({"to_broadcaster_user_id": "90010001"})
        );
    }

    #[test]
    fn plan_keeps_creates_and_deletes() {
        let w = wanted(
            &[("q".into(), "1".into())],
            &[
                "channel.follow".into(),
                "stream.online".into(),
                "channel.raid".into(),
            ],
        );
        let existing = vec![
            sub(
                "a",
                "channel.follow",
                "2",
                json!({"broadcaster_user_id": "1", "moderator_user_id": "1"}),
                "enabled",
                CB,
            ),
            sub(
                "b",
                "stream.online",
                "1",
                json!({"broadcaster_user_id": "1"}),
                "authorization_revoked",
                CB,
            ),
            sub(
                "c",
                "channel.cheer",
                "1",
                json!({"broadcaster_user_id": "1"}),
                "enabled",
                CB,
            ),
            sub(
                "d",
                "channel.raid",
                "1",
                json!({"to_broadcaster_user_id": "1", "from_broadcaster_user_id": ""}),
                "enabled",
                "https://old.example/eventsub",
            ),
        ];
        let p = plan(&w, &existing, CB);
        assert_eq!(
            p.keep.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        let deleted: Vec<_> = p
            .delete
            .iter()
            .map(|(s, why)| (s.id.as_str(), why.as_str()))
            .collect();
        assert_eq!(
            deleted,
            [
                ("b", "is authorization_revoked"),
                ("c", "is no longer wanted (relay.channels / relay.events)"),
                (
                    "d",
                    "points at another callback (https://old.example/eventsub)"
                )
            ]
        );
        assert_eq!(
            p.create.iter().map(|w| w.kind.as_str()).collect::<Vec<_>>(),
            ["stream.online", "channel.raid"]
        );
        // Once applied, the plan is empty.
        let after = vec![
            existing[0].clone(),
            sub(
                "e",
                "stream.online",
                "1",
                json!({"broadcaster_user_id": "1"}),
                "webhook_callback_verification_pending",
                CB,
            ),
            sub(
                "f",
                "channel.raid",
                "1",
                json!({"to_broadcaster_user_id": "1", "from_broadcaster_user_id": ""}),
                "enabled",
                CB,
            ),
        ];
        let p = plan(&w, &after, CB);
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.keep.len(), 3);
    }

    #[test]
    fn scopes_per_event_type() {
        let s = scopes_for(&[
            "channel.follow".into(),
            "channel.subscribe".into(),
            "channel.subscription.gift".into(),
            "stream.online".into(),
        ]);
        assert_eq!(
            s,
            ["moderator:read:followers", "channel:read:subscriptions"]
        );
    }
}
