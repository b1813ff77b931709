//! The terminal app's relay side end to end: a signed webhook reaches the app's state and
//! `events tail --json`; a dropped and restored relay link replays the missed events once.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Stdio;
use std::time::Duration;

use onair::app::{App, EventRow, LoginView, Msg};
use onair::relay::{self, RelayConfig, RelayEvent};
use onair_common::Secret;
use onair_common::wire::Subscribe;
use onair_tests::bins;
use onair_tests::eventsub::Delivery;
use onair_tests::relay::TestRelay;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

async fn post(relay: &TestRelay, kind: &str) -> String {
    let d = Delivery::fixture(kind);
    assert_eq!(relay.twitch().send(&d).await.status(), 204);
    d.id
}

async fn next(rx: &mut mpsc::Receiver<RelayEvent>) -> RelayEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("relay client silent")
        .unwrap()
}

/// Feeds relay events into the app until `until` holds.
async fn feed(app: &mut App, rx: &mut mpsc::Receiver<RelayEvent>, until: impl Fn(&App) -> bool) {
    while !until(app) {
        app.update(Msg::Relay(next(rx).await));
    }
}

fn seqs(app: &App) -> Vec<u64> {
    let mut v: Vec<u64> = app
        .events
        .iter()
        .filter_map(|r| match r {
            EventRow::Event { event, .. } => event.seq,
            EventRow::Marker(_) => None,
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_webhook_reaches_the_app_and_events_tail_json() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");

    // The binary, as a script would run it.
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::from(bins::onair(home.path()));
    cmd.args([
        "events",
        "tail",
        "--json",
        "--count",
        "2",
        "--after",
        "0",
        "--type",
        "channel.follow,channel.raid",
    ])
    .env("ONAIR_TUI_RELAY_URL", &relay.base)
    .env("ONAIR_TUI_RELAY_TOKEN", &token)
    .stdout(Stdio::piped());
    let child = cmd.spawn().unwrap();

    // The app, through the same client the full-screen app runs.
    let (tx, mut rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let cfg = RelayConfig::new(
        relay.base.parse().unwrap(),
        Secret::new(token.clone()),
        Subscribe::default(),
        None,
    );
    tokio::spawn(relay::run(cfg, tx, shutdown.clone()));
    let mut app = App::new("quillstream".into(), 100, LoginView::Anonymous, true);
    feed(&mut app, &mut rx, |a| {
        a.relay_state.as_deref() == Some("live")
    })
    .await;
    // Let the CLI connect too before anything is posted (it starts from the relay's head).
    let mut waited = 0;
    while relay.state.hub().open_sockets() < 2 {
        assert!(waited < 1000, "the CLI never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    let follow = post(&relay, "channel.follow").await;
    post(&relay, "channel.cheer").await;
    let raid = post(&relay, "channel.raid").await;
    feed(&mut app, &mut rx, |a| a.events.len() == 3).await;
    assert_eq!(seqs(&app), [1, 2, 3]);
    assert_eq!(app.last_seq, Some(3));
    assert!(
        matches!(&app.events[0], EventRow::Event { event, .. } if event.summary == "NightOwlGames raided with 128 viewers")
    );

    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["id"].as_str(), lines[0]["seq"].as_u64()),
        (Some(follow.as_str()), Some(1))
    );
    assert_eq!(
        (lines[1]["id"].as_str(), lines[1]["type"].as_str()),
        (Some(raid.as_str()), Some("channel.raid"))
    );
    assert_eq!(lines[1]["channel"]["login"], "quillstream");

    // events list: the most recent, oldest first.
    let mut list = bins::onair(home.path());
    list.args(["events", "list", "--json", "--limit", "2"])
        .env("ONAIR_TUI_RELAY_URL", &relay.base)
        .env("ONAIR_TUI_RELAY_TOKEN", &token);
    // Blocking wait off the runtime: the relay answering it runs on this runtime.
    let o = tokio::task::spawn_blocking(move || list.output().unwrap())
        .await
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed: Vec<u64> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(listed, [2, 3]);
    shutdown.cancel();
    relay.stop().await;
}

#[tokio::test]
async fn a_dropped_relay_link_replays_missed_events_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    let addr = relay.addr;
    let token = relay.add_client("laptop");
    let (tx, mut rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let mut cfg = RelayConfig::new(
        relay.base.parse().unwrap(),
        Secret::new(token),
        Subscribe::default(),
        None,
    );
    cfg.backoff = (Duration::from_millis(700), Duration::from_millis(700));
    tokio::spawn(relay::run(cfg, tx, shutdown.clone()));
    let mut app = App::new("quillstream".into(), 100, LoginView::Anonymous, true);
    feed(&mut app, &mut rx, |a| {
        a.relay_state.as_deref() == Some("live")
    })
    .await;
    post(&relay, "channel.follow").await;
    post(&relay, "channel.cheer").await;
    feed(&mut app, &mut rx, |a| a.events.len() == 2).await;

    // The relay goes away; the app shows it and keeps retrying.
    relay.stop().await;
    feed(&mut app, &mut rx, |a| {
        a.relay_state
            .as_deref()
            .is_some_and(|s| s.starts_with("retry"))
    })
    .await;
    // It comes back on the same database and port; events arrive before the app reconnects.
    let relay = TestRelay::start_at(&db, addr, |_| {}).await;
    for kind in ["channel.raid", "stream.online", "channel.ban"] {
        post(&relay, kind).await;
    }
    feed(&mut app, &mut rx, |a| {
        a.events.iter().any(|r| matches!(r, EventRow::Marker(_)))
    })
    .await;
    assert_eq!(
        app.events[0],
        EventRow::Marker("replayed 3 missed events".into())
    );
    assert_eq!(
        seqs(&app),
        [1, 2, 3, 4, 5],
        "each missed event once, none twice"
    );
    // And live again afterwards.
    post(&relay, "stream.offline").await;
    feed(&mut app, &mut rx, |a| a.last_seq == Some(6)).await;
    assert_eq!(seqs(&app), [1, 2, 3, 4, 5, 6]);
    shutdown.cancel();
    relay.stop().await;
}

#[tokio::test]
async fn the_app_opens_with_the_recent_events() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    for kind in ["channel.follow", "channel.cheer", "channel.raid"] {
        post(&relay, kind).await;
    }
    let (tx, mut rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let mut cfg = RelayConfig::new(
        relay.base.parse().unwrap(),
        Secret::new(token),
        Subscribe::default(),
        None,
    );
    cfg.backlog = 2;
    tokio::spawn(relay::run(cfg, tx, shutdown.clone()));
    let mut app = App::new("quillstream".into(), 100, LoginView::Anonymous, true);
    feed(&mut app, &mut rx, |a| a.events.len() == 2).await;
    assert_eq!(
        seqs(&app),
        [2, 3],
        "the last two, and no replay marker at start"
    );
    post(&relay, "stream.online").await;
    feed(&mut app, &mut rx, |a| a.last_seq == Some(4)).await;
    shutdown.cancel();
    relay.stop().await;
}

#[tokio::test]
async fn events_list_looks_back_past_other_types() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    for _ in 0..3 {
        post(&relay, "channel.follow").await;
    }
    for _ in 0..20 {
        post(&relay, "channel.cheer").await;
    }
    let home = tempfile::tempdir().unwrap();
    let mut list = bins::onair(home.path());
    list.args([
        "events",
        "list",
        "--json",
        "--limit",
        "2",
        "--type",
        "channel.follow",
    ])
    .env("ONAIR_TUI_RELAY_URL", &relay.base)
    .env("ONAIR_TUI_RELAY_TOKEN", &token);
    let o = tokio::task::spawn_blocking(move || list.output().unwrap())
        .await
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let seqs: Vec<u64> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [2, 3]);
    relay.stop().await;
}
