//! `onair-relay subscriptions sync|list|delete`, `authorize`, and `serve`'s own sync, against a
//! fake Helix and id.twitch.tv that answer as Twitch does, with the fake delivering verification
//! challenges to a real relay.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Output;

use onair_common::Secret;
use onair_common::wire::{ServerFrame, Subscribe};
use onair_relay::app::SyncSettings;
use onair_relay::helix::Helix;
use onair_tests::bins;
use onair_tests::eventsub::Delivery;
use onair_tests::helix::FakeHelix;
use onair_tests::relay::{SECRET, TestRelay, WsClient};
use onair_tests::twitch_auth::{APP_CLIENT_ID, APP_CLIENT_SECRET, FakeAuth};
use serde_json::{Value, json};

const CALLBACK: &str = "https://relay.example.test/eventsub";

struct Env {
    dir: tempfile::TempDir,
    auth: FakeAuth,
    helix: FakeHelix,
    relay: TestRelay,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let auth = FakeAuth::start().await;
        auth.with(|s| s.pending_polls = 0);
        let helix = FakeHelix::start(auth.clone()).await;
        let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
        helix.with(|s| s.deliver_to = Some(relay.base.clone()));
        Self {
            dir,
            auth,
            helix,
            relay,
        }
    }

    async fn run(&self, args: &[&str], events: &str) -> Output {
        let mut cmd = std::process::Command::new(bins::path("onair-relay"));
        cmd.args(args)
            .env_clear()
            .env("HOME", self.dir.path())
            .env("ONAIR_RELAY_DATABASE", self.dir.path().join("cli.sqlite3"))
            .env("ONAIR_TWITCH_AUTH_URL", &self.auth.base)
            .env("ONAIR_TWITCH_HELIX_URL", &self.helix.base)
            .env("ONAIR_RELAY_CLIENT_ID", APP_CLIENT_ID)
            .env("ONAIR_RELAY_CLIENT_SECRET", APP_CLIENT_SECRET)
            .env("ONAIR_RELAY_PUBLIC_URL", "https://relay.example.test")
            .env("ONAIR_RELAY_WEBHOOK_SECRET", SECRET)
            .env("ONAIR_RELAY_CHANNELS", "quillstream")
            .env("ONAIR_RELAY_EVENTS", events)
            .env("RUST_LOG", "trace");
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const EVENTS: &str = "channel.follow,stream.online,channel.raid";

async fn wait_enabled(helix: &FakeHelix, n: usize) {
    for _ in 0..200 {
        if helix
            .statuses()
            .iter()
            .filter(|(_, s)| s == "enabled")
            .count()
            == n
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("not enabled: {:?}", helix.statuses());
}

#[tokio::test]
async fn sync_from_scratch_then_idempotent_then_list() {
    let env = Env::new().await;
    let o = env.run(&["subscriptions", "sync"], EVENTS).await;
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "created  channel.follow for quillstream (webhook_callback_verification_pending)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("0 kept, 3 created, 0 deleted, 0 failed\n"),
        "{stdout}"
    );
    // Twitch's verification reached the relay, which answered the challenge.
    wait_enabled(&env.helix, 3).await;
    let creates: Vec<_> = env.helix.with(|s| {
        s.requests
            .iter()
            .filter(|r| r.starts_with("POST"))
            .cloned()
            .collect()
    });
    assert_eq!(creates.len(), 3);

    let o = env.run(&["subscriptions", "sync"], EVENTS).await;
    assert!(
        out(&o)
            .0
            .ends_with("3 kept, 0 created, 0 deleted, 0 failed\n"),
        "{:?}",
        out(&o)
    );

    let o = env.run(&["subscriptions", "list", "--json"], EVENTS).await;
    let rows: Vec<Value> = out(&o)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    let keys: Vec<_> = rows[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "id",
            "type",
            "version",
            "channel",
            "status",
            "cost",
            "created_at"
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r["channel"] == "quillstream" && r["status"] == "enabled")
    );
    let follow = rows.iter().find(|r| r["type"] == "channel.follow").unwrap();
    assert_eq!(follow["version"], "2");
}

#[tokio::test]
async fn stale_subscriptions_are_removed_and_conflicts_tolerated() {
    let env = Env::new().await;
    let h = &env.helix;
    h.with(|s| s.page_size = 1); // every page boundary is crossed
    let keep = h.add(
        "stream.online",
        "1",
        json!({"broadcaster_user_id": "90010001"}),
        "enabled",
        CALLBACK,
    );
    let revoked = h.add(
        "channel.follow",
        "2",
        json!({"broadcaster_user_id": "90010001", "moderator_user_id": "90010001"}),
        "authorization_revoked",
        CALLBACK,
    );
    let elsewhere = h.add(
        "channel.raid",
        "1",
        json!({"to_broadcaster_user_id": "90010001"}),
        "enabled",
        "https://old-relay.example/eventsub",
    );
    let unwanted = h.add(
        "channel.cheer",
        "1",
        json!({"broadcaster_user_id": "90010001"}),
        "enabled",
        CALLBACK,
    );
    h.with(|s| s.conflict_types = vec!["channel.raid".into()]);

    let o = env.run(&["subscriptions", "sync", "--json"], EVENTS).await;
    let lines: Vec<Value> = out(&o)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(o.status.success(), "{:?}", out(&o));
    let deleted: Vec<&str> = lines
        .iter()
        .filter(|l| l["action"] == "deleted")
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        deleted,
        [revoked.as_str(), elsewhere.as_str(), unwanted.as_str()]
    );
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "existed" && l["what"] == "channel.raid for quillstream"),
        "409 is not an error"
    );
    assert_eq!(
        lines.last().unwrap(),
        &json!({"action": "summary", "kept": 1, "created": 1, "deleted": 3, "failed": 0})
    );
    assert!(h.with(|s| s.subs.iter().any(|v| v["id"] == keep.as_str())));
}

#[tokio::test]
async fn a_429_is_retried_after_the_reset() {
    let env = Env::new().await;
    env.helix.with(|s| s.fail_429 = 1);
    let o = env.run(&["subscriptions", "sync"], "stream.online").await;
    assert!(o.status.success(), "{:?}", out(&o));
    let requests = env.helix.with(|s| s.requests.clone());
    assert_eq!(
        requests[0], requests[1],
        "the refused request was sent again: {requests:?}"
    );
}

#[tokio::test]
async fn delete_by_id_and_unknown_id() {
    let env = Env::new().await;
    let id = env.helix.add(
        "stream.online",
        "1",
        json!({"broadcaster_user_id": "90010001"}),
        "enabled",
        CALLBACK,
    );
    assert!(
        env.run(&["subscriptions", "delete", &id], EVENTS)
            .await
            .status
            .success()
    );
    assert!(env.helix.statuses().is_empty());
    let o = env.run(&["subscriptions", "delete", &id], EVENTS).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).1.contains("Twitch has no subscription"));
}

#[tokio::test]
async fn authorize_asks_for_exactly_the_scopes_the_events_need() {
    let env = Env::new().await;
    let o = env
        .run(
            &["authorize"],
            "channel.follow,channel.subscribe,channel.subscription.gift,stream.online",
        )
        .await;
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Open https://www.twitch.tv/activate"),
        "{stdout}"
    );
    assert!(stderr.contains("Authorized by quillstream; granted: moderator:read:followers channel:read:subscriptions"), "{stderr}");
}

#[tokio::test]
async fn no_secret_in_output_or_logs() {
    let env = Env::new().await;
    let mut all = String::new();
    for args in [
        &["subscriptions", "sync"][..],
        &["subscriptions", "list"],
        &["check"],
    ] {
        let (o, e) = out(&env.run(args, EVENTS).await);
        all.push_str(&o);
        all.push_str(&e);
    }
    assert!(
        all.contains("TRACE") || all.contains("DEBUG") || all.contains("INFO"),
        "logs were captured: {all}"
    );
    let mut secrets = env.auth.issued_secrets();
    secrets.extend([APP_CLIENT_SECRET.to_owned(), SECRET.to_owned()]);
    for s in secrets {
        assert!(!all.contains(&s), "secret leaked: {all}");
    }
}

#[tokio::test]
async fn serve_syncs_at_start_and_after_a_revocation() {
    let env = Env::new().await;
    let sync = SyncSettings {
        helix: Helix::new(
            env.helix.base.parse().unwrap(),
            env.auth.base.parse().unwrap(),
            APP_CLIENT_ID.into(),
            Secret::new(APP_CLIENT_SECRET),
        ),
        callback: CALLBACK.into(),
        secret: Secret::new(SECRET),
        channels: vec!["quillstream".into()],
        events: vec!["stream.online".into(), "channel.subscribe".into()],
    };
    let db = env.dir.path().join("synced.sqlite3");
    let relay = TestRelay::start_synced(&db, sync).await;
    env.helix.with(|s| s.deliver_to = Some(relay.base.clone()));
    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe::default()).await;
    // The start-up sync is announced with the subscriptions' state.
    match ws.next_frame().await {
        Some(ServerFrame::Status { subscriptions }) => assert_eq!(subscriptions.len(), 2),
        other => panic!("expected status, got {other:?}"),
    }
    // Twitch revokes one; the relay records it, tells clients, and syncs again.
    let revoked_id = env.helix.with(|s| {
        let v = s
            .subs
            .iter_mut()
            .find(|v| v["type"] == "channel.subscribe")
            .unwrap();
        v["status"] = json!("authorization_revoked");
        v["id"].as_str().unwrap().to_owned()
    });
    let mut d = Delivery::revocation("channel.subscribe", "1", "authorization_revoked");
    let body = json!({"subscription": {"id": revoked_id, "status": "authorization_revoked", "type": "channel.subscribe", "version": "1", "condition": {"broadcaster_user_id": "90010001"}, "transport": {"method": "webhook", "callback": CALLBACK}, "created_at": "2025-12-31T09:15:42Z", "cost": 0}});
    d.body = body.to_string();
    assert_eq!(relay.twitch().send(&d).await.status(), 204);
    let mut creates_after = 0;
    for _ in 0..400 {
        creates_after = env.helix.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.starts_with("POST /helix/eventsub/subscriptions channel.subscribe"))
                .count()
        });
        if creates_after == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        creates_after, 2,
        "the revoked subscription was deleted and created anew"
    );
    assert!(
        !env.helix
            .with(|s| s.subs.iter().any(|v| v["id"] == revoked_id.as_str()))
    );
    relay.stop().await;
    env.relay.stop().await;
}
