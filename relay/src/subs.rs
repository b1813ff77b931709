//! EventSub subscriptions for `relay.channels` x `relay.events`: the wanted set, a pure plan
//! against what exists at Twitch, and the sync that carries the plan out. Idempotent: a second
//! run finds nothing to do.

use std::collections::HashMap;

use onair_common::Secret;
use onair_common::catalog::{self, Condition};
use onair_common::config::Config;
use onair_common::eventsub::Subscription;
use onair_common::wire::SubscriptionInfo;
use serde::Serialize;
use serde_json::{Value, json};

use crate::helix::{Created, Helix, HelixError};

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

/// What a sync did, for `subscriptions sync` and the logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Created (type, channel, status).
    pub created: Vec<SubscriptionInfo>,
    /// Existed already (409).
    pub existed: Vec<String>,
    /// Deleted, with why.
    pub deleted: Vec<(SubscriptionInfo, String)>,
    /// Left alone.
    pub kept: usize,
    /// Failed creates or deletes, with Helix's reason.
    pub failed: Vec<String>,
    /// Channels Helix does not know.
    pub unknown_channels: Vec<String>,
}

/// Everything a sync needs.
#[derive(Debug)]
pub struct Sync<'a> {
    /// Helix with the app token.
    pub helix: &'a Helix,
    /// `<public_url>/eventsub`.
    pub callback: String,
    /// The webhook secret.
    pub secret: &'a Secret,
}

/// The Helix client and callback for a config, or what is missing.
pub fn from_config(config: &Config) -> Result<(Helix, String, Secret), String> {
    let r = &config.relay;
    let (Some(id), Some(secret)) = (r.client_id.clone(), r.client_secret.clone()) else {
        return Err(config
            .missing(
                "relay.client_id and relay.client_secret",
                "to manage subscriptions",
            )
            .to_string());
    };
    let Some(public) = &r.public_url else {
        return Err(config
            .missing(
                "relay.public_url",
                "to subscribe (Twitch calls <public_url>/eventsub)",
            )
            .to_string());
    };
    let Some(webhook) = r.webhook_secret.clone() else {
        return Err(config
            .missing("relay.webhook_secret", "to subscribe")
            .to_string());
    };
    let helix = Helix::new(
        config.twitch.helix_url.clone(),
        config.twitch.auth_url.clone(),
        id,
        secret,
    );
    Ok((
        helix,
        format!("{}/eventsub", public.as_str().trim_end_matches('/')),
        webhook,
    ))
}

impl Sync<'_> {
    /// Resolves channels, plans, deletes what is wrong, creates what is missing.
    pub async fn run(&self, channels: &[String], events: &[String]) -> Result<Report, HelixError> {
        let mut report = Report::default();
        let users = self.helix.users(channels).await?;
        let ids: Vec<(String, String)> = users
            .iter()
            .map(|u| (u.login.to_lowercase(), u.id.clone()))
            .collect();
        report.unknown_channels = channels
            .iter()
            .filter(|c| !ids.iter().any(|(l, _)| l == *c))
            .cloned()
            .collect();
        let names: HashMap<String, String> =
            ids.iter().map(|(l, id)| (id.clone(), l.clone())).collect();
        let existing = self.helix.subscriptions().await?;
        let plan = plan(&wanted(&ids, events), &existing, &self.callback);
        report.kept = plan.keep.len();
        for (sub, why) in plan.delete {
            match self.helix.delete(&sub.id).await {
                Ok(_) => report.deleted.push((info(&sub, &names), why)),
                Err(e) => report
                    .failed
                    .push(format!("delete {} {}: {e}", sub.kind, sub.id)),
            }
        }
        for w in plan.create {
            match self
                .helix
                .create(
                    &w.kind,
                    &w.version,
                    &w.condition,
                    &self.callback,
                    self.secret,
                )
                .await
            {
                Ok(Created::New(sub)) => report.created.push(info(&sub, &names)),
                Ok(Created::Exists) => report.existed.push(format!("{} for {}", w.kind, w.channel)),
                Err(e) => report
                    .failed
                    .push(format!("create {} for {}: {e}", w.kind, w.channel)),
            }
        }
        Ok(report)
    }
}

/// Every subscription with its channel named by login where known.
pub async fn list(helix: &Helix, channels: &[String]) -> Result<Vec<SubscriptionInfo>, HelixError> {
    let users = helix.users(channels).await.unwrap_or_default();
    let names: HashMap<String, String> = users.into_iter().map(|u| (u.id, u.login)).collect();
    Ok(helix
        .subscriptions()
        .await?
        .iter()
        .map(|s| info(s, &names))
        .collect())
}

fn info(s: &Subscription, names: &HashMap<String, String>) -> SubscriptionInfo {
    let id = s.condition_broadcaster_id().unwrap_or_default();
    SubscriptionInfo {
        id: s.id.clone(),
        kind: s.kind.clone(),
        version: s.version.clone(),
        channel: names.get(id).cloned().unwrap_or_else(|| id.to_owned()),
        status: s.status.clone(),
        cost: s.cost,
        created_at: s.created_at.clone(),
    }
}

/// The scopes the broadcaster must grant for these events: the first listed for each type.
pub fn scopes_for(events: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in events.iter().filter_map(|e| catalog::lookup(e)) {
        if let Some(s) = t.scopes.first()
            && !out.iter().any(|o| o == s)
        {
            out.push((*s).to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
