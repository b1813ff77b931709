//! EventSub subscriptions for `relay.channels` x `relay.events`: the wanted set, a pure plan
//! against what exists at Twitch, and the sync that carries the plan out. Idempotent: a second
//! run finds nothing to do.

mod plan;

use std::collections::HashMap;

use onair_common::Secret;
use onair_common::catalog;
use onair_common::config::Config;
use onair_common::eventsub::Subscription;
use onair_common::wire::SubscriptionInfo;
use serde::Serialize;

pub use plan::{Plan, Wanted, condition, plan, wanted};

use crate::helix::{Created, Helix, HelixError};

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
