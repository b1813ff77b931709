//! `onair-relay subscriptions list|sync|delete` and `onair-relay authorize`.

use std::process::ExitCode;

use onair_common::config::Config;
use onair_common::twitch::oauth::OAuth;
use onair_common::wire::SubscriptionInfo;
use serde_json::json;

use crate::subs::{self, Sync};

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

fn config_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn print_info(s: &SubscriptionInfo, as_json: bool) {
    if as_json {
        // SubscriptionInfo serializes to exactly design.md's line: id, type, version, channel,
        // status, cost, created_at.
        println!("{}", serde_json::to_string(s).unwrap_or_default());
    } else {
        println!(
            "{:<36}  {:<52} v{:<2} {:<16} {:<40} cost {}",
            s.id, s.kind, s.version, s.channel, s.status, s.cost
        );
    }
}

pub async fn list(config: &Config, as_json: bool) -> ExitCode {
    let (helix, _, _) = match subs::from_config(config) {
        Ok(x) => x,
        Err(e) => return config_error(e),
    };
    match subs::list(&helix, &config.relay.channels).await {
        Ok(list) => {
            if list.is_empty() && !as_json {
                eprintln!(
                    "no subscriptions at Twitch: `onair-relay subscriptions sync` creates them"
                );
            }
            for s in &list {
                print_info(s, as_json);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub async fn sync(config: &Config, as_json: bool) -> ExitCode {
    let (helix, callback, secret) = match subs::from_config(config) {
        Ok(x) => x,
        Err(e) => return config_error(e),
    };
    if config.relay.channels.is_empty() {
        return config_error(config.missing("relay.channels", "to know whom to subscribe for"));
    }
    let sync = Sync {
        helix: &helix,
        callback,
        secret: &secret,
    };
    let report = match sync.run(&config.relay.channels, &config.relay.events).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if as_json {
        for s in &report.created {
            println!(
                "{}",
                json!({"action": "created", "id": s.id, "type": s.kind, "channel": s.channel, "status": s.status})
            );
        }
        for (s, why) in &report.deleted {
            println!(
                "{}",
                json!({"action": "deleted", "id": s.id, "type": s.kind, "channel": s.channel, "reason": why})
            );
        }
        for e in &report.existed {
            println!("{}", json!({"action": "existed", "what": e}));
        }
        for f in &report.failed {
            println!("{}", json!({"action": "failed", "error": f}));
        }
        println!(
            "{}",
            json!({"action": "summary", "kept": report.kept, "created": report.created.len(), "deleted": report.deleted.len(), "failed": report.failed.len()})
        );
    } else {
        for s in &report.created {
            println!("created  {} for {} ({})", s.kind, s.channel, s.status);
        }
        for (s, why) in &report.deleted {
            println!("deleted  {} for {}: {why}", s.kind, s.channel);
        }
        for e in &report.existed {
            println!("existed  {e} (Twitch answered 409)");
        }
        for f in &report.failed {
            println!("FAILED   {f}");
        }
        println!(
            "{} kept, {} created, {} deleted, {} failed",
            report.kept,
            report.created.len(),
            report.deleted.len(),
            report.failed.len()
        );
    }
    for c in &report.unknown_channels {
        eprintln!("warning: Twitch knows no channel {c:?} (relay.channels)");
    }
    if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub async fn delete(config: &Config, id: &str) -> ExitCode {
    let (helix, _, _) = match subs::from_config(config) {
        Ok(x) => x,
        Err(e) => return config_error(e),
    };
    match helix.delete(id).await {
        Ok(true) => {
            eprintln!("deleted subscription {id}");
            ExitCode::SUCCESS
        }
        Ok(false) => fail(format!(
            "Twitch has no subscription {id} (see `onair-relay subscriptions list`)"
        )),
        Err(e) => fail(e),
    }
}

/// Device flow for the relay's client id with the scopes the configured events need, so the
/// broadcaster grants them from any browser. The token itself is not kept: what matters to
/// Twitch is the grant, which lets the app token subscribe.
pub async fn authorize(config: &Config) -> ExitCode {
    let Some(client_id) = config.relay.client_id.clone() else {
        return config_error(config.missing("relay.client_id", "to authorize"));
    };
    let scopes = subs::scopes_for(&config.relay.events);
    if scopes.is_empty() {
        eprintln!("the configured events need no authorization");
        return ExitCode::SUCCESS;
    }
    let oauth = OAuth::new(config.twitch.auth_url.clone(), client_id);
    let device = match oauth.device(&scopes).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    println!("Open {}", device.verification_uri);
    println!("and enter the code {}", device.user_code);
    eprintln!(
        "Sign in as the broadcaster of {} and approve: {}",
        config.relay.channels.join(", "),
        scopes.join(" ")
    );
    let tokens = tokio::select! {
        t = oauth.wait_for_tokens(&device) => t,
        _ = tokio::signal::ctrl_c() => return fail("authorization cancelled"),
    };
    let tokens = match tokens {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let who = oauth
        .validate(&tokens.access_token)
        .await
        .ok()
        .and_then(|v| v.login)
        .unwrap_or_else(|| "the user".into());
    let missing: Vec<_> = scopes
        .iter()
        .filter(|s| !tokens.scopes.contains(s))
        .collect();
    eprintln!("Authorized by {who}; granted: {}", tokens.scopes.join(" "));
    if !missing.is_empty() {
        eprintln!(
            "warning: not granted: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        return ExitCode::FAILURE;
    }
    eprintln!("Next: `onair-relay subscriptions sync`.");
    ExitCode::SUCCESS
}
