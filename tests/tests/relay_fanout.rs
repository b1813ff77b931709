//! `GET /ws` and `/api` end to end: every supported type reaches a real WebSocket client, resume
//! with `after`, restarts lose nothing, filters, slow clients, limits, removal and shutdown.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use futures_util::StreamExt;
use onair_common::catalog;
use onair_common::wire::{ServerFrame, Subscribe};
use onair_tests::eventsub::Delivery;
use onair_tests::relay::{TestRelay, WsClient};
use serde_json::Value;

fn all() -> Subscribe {
    Subscribe::default()
}

fn after(seq: u64) -> Subscribe {
    Subscribe {
        after: Some(seq),
        ..Default::default()
    }
}

async fn post(relay: &TestRelay, d: &Delivery) {
    assert_eq!(relay.twitch().send(d).await.status(), 204, "{}", d.sub_type);
}

#[tokio::test]
async fn every_supported_type_reaches_a_websocket_client() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect(&relay, &token).await;
    assert_eq!(ws.welcome_seq, 0);
    ws.subscribe(all()).await;
    for (i, kind) in catalog::names().enumerate() {
        let d = Delivery::fixture(kind);
        post(&relay, &d).await;
        let ev = ws.next_event().await;
        assert_eq!(ev.kind, kind);
        assert_eq!(ev.id, d.id);
        assert_eq!(ev.seq, Some(i as u64 + 1), "seq increases by one");
        assert_eq!(ev.channel.login, "quillstream");
        let sent: Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(ev.data, sent["event"], "data verbatim");
        assert!(!ev.summary.is_empty());
    }
    relay.stop().await;
}

#[tokio::test]
async fn resume_with_after_replays_exactly_what_was_missed() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(all()).await;
    post(&relay, &Delivery::fixture("channel.follow")).await;
    let last = ws.next_event().await.seq.unwrap();
    drop(ws);

    // Missed while disconnected.
    for kind in ["channel.cheer", "channel.raid", "stream.online"] {
        post(&relay, &Delivery::fixture(kind)).await;
    }
    let mut ws = WsClient::connect(&relay, &token).await;
    assert_eq!(ws.welcome_seq, last + 3);
    ws.subscribe(after(last)).await;
    let mut kinds = Vec::new();
    for _ in 0..3 {
        kinds.push(ws.next_event().await.kind);
    }
    assert_eq!(kinds, ["channel.cheer", "channel.raid", "stream.online"]);
    // Then live, with the next seq.
    post(&relay, &Delivery::fixture("stream.offline")).await;
    assert_eq!(ws.next_event().await.seq, Some(last + 4));
    ws.expect_silence(Duration::from_millis(200)).await;
    relay.stop().await;
}

#[tokio::test]
async fn replay_and_live_have_no_gap_and_no_repeat_while_events_keep_arriving() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    for _ in 0..200 {
        post(&relay, &Delivery::fixture("channel.follow")).await;
    }
    // More events arrive while the client replays the first 200.
    let twitch = relay.twitch();
    let writer = tokio::spawn(async move {
        for _ in 0..300 {
            assert_eq!(
                twitch
                    .send(&Delivery::fixture("channel.follow"))
                    .await
                    .status(),
                204
            );
        }
    });
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(after(0)).await;
    for expected in 1..=500u64 {
        assert_eq!(ws.next_event().await.seq, Some(expected));
    }
    writer.await.unwrap();
    ws.expect_silence(Duration::from_millis(200)).await;
    relay.stop().await;
}

#[tokio::test]
async fn restart_on_the_same_database_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    let token = relay.add_client("laptop");
    let mut ids = Vec::new();
    for kind in catalog::names().take(5) {
        let d = Delivery::fixture(kind);
        post(&relay, &d).await;
        ids.push(d.id);
    }
    relay.stop().await;

    let relay = TestRelay::start(&db).await;
    let mut ws = WsClient::connect(&relay, &token).await;
    assert_eq!(
        ws.welcome_seq, 5,
        "welcome names the stored head after a restart"
    );
    ws.subscribe(after(0)).await;
    for id in &ids {
        assert_eq!(&ws.next_event().await.id, id);
    }
    let d = Delivery::fixture("channel.ban");
    post(&relay, &d).await;
    assert_eq!(
        ws.next_event().await.seq,
        Some(6),
        "seq continues after a restart"
    );
    relay.stop().await;
}

#[tokio::test]
async fn two_clients_with_different_filters() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    let mut follows = WsClient::connect(&relay, &token).await;
    follows
        .subscribe(Subscribe {
            types: vec!["channel.follow".into()],
            ..Default::default()
        })
        .await;
    let mut other_channel = WsClient::connect(&relay, &token).await;
    other_channel
        .subscribe(Subscribe {
            channels: vec!["someone_else".into()],
            ..Default::default()
        })
        .await;
    let mut raids = WsClient::connect(&relay, &token).await;
    raids
        .subscribe(Subscribe {
            channels: vec!["QuillStream".into()],
            types: vec!["channel.raid".into(), "channel.cheer".into()],
            after: None,
        })
        .await;
    for kind in [
        "channel.cheer",
        "channel.follow",
        "channel.raid",
        "stream.online",
    ] {
        post(&relay, &Delivery::fixture(kind)).await;
    }
    assert_eq!(follows.next_event().await.kind, "channel.follow");
    assert_eq!(raids.next_event().await.kind, "channel.cheer");
    assert_eq!(raids.next_event().await.kind, "channel.raid");
    for ws in [&mut follows, &mut other_channel, &mut raids] {
        ws.expect_silence(Duration::from_millis(200)).await;
    }
    relay.stop().await;
}

#[tokio::test]
async fn a_slow_client_is_caught_up_from_the_store_without_slowing_others() {
    let dir = tempfile::tempdir().unwrap();
    let relay =
        TestRelay::start_with(&dir.path().join("relay.sqlite3"), |s| s.live_buffer = 8).await;
    let token = relay.add_client("laptop");
    let mut slow = WsClient::connect(&relay, &token).await;
    slow.subscribe(all()).await;
    let mut fast = WsClient::connect(&relay, &token).await;
    fast.subscribe(all()).await;
    // The fast client reads each event as it comes; the slow one reads nothing yet. A burst
    // bigger than the live buffer makes the slow one lag.
    let twitch = relay.twitch();
    let burst = tokio::spawn(async move {
        let sends = (0..400).map(|_| {
            let t = twitch.clone();
            async move { t.send(&Delivery::fixture("channel.follow")).await.status() }
        });
        // A hundred at a time: the relay sheds (503) beyond 128 in flight from one address, and
        // on a loaded machine 400 at once got there, losing the events the clients wait for.
        futures_util::stream::iter(sends)
            .buffer_unordered(100)
            .collect::<Vec<_>>()
            .await
    });
    for expected in 1..=400u64 {
        assert_eq!(fast.next_event().await.seq, Some(expected));
    }
    assert!(burst.await.unwrap().iter().all(|s| *s == 204));
    for expected in 1..=400u64 {
        assert_eq!(
            slow.next_event().await.seq,
            Some(expected),
            "no event skipped"
        );
    }
    slow.expect_silence(Duration::from_millis(200)).await;
    let metrics = relay
        .get("/metrics", Some(&token))
        .await
        .text()
        .await
        .unwrap();
    let resyncs: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("onair_resyncs_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(resyncs >= 1, "the slow client was resynced: {metrics}");
    relay.stop().await;
}

#[tokio::test]
async fn unauthorized_and_over_limit_clients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start_with(&dir.path().join("relay.sqlite3"), |s| {
        s.max_connections_per_client = 2
    })
    .await;
    let token = relay.add_client("laptop");
    assert_eq!(
        WsClient::try_connect(&relay, "onair_nope")
            .await
            .unwrap_err(),
        401
    );
    assert_eq!(WsClient::try_connect(&relay, "").await.unwrap_err(), 401);
    let a = WsClient::connect(&relay, &token).await;
    let _b = WsClient::connect(&relay, &token).await;
    assert_eq!(
        WsClient::try_connect(&relay, &token).await.unwrap_err(),
        429
    );
    // Another client has its own allowance.
    let other = relay.add_client("phone");
    let _c = WsClient::connect(&relay, &other).await;
    drop(a);
    // The freed slot is usable once the relay notices the close.
    let mut ok = false;
    for _ in 0..50 {
        if WsClient::try_connect(&relay, &token).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "a closed socket frees its slot");
    relay.stop().await;
}

#[tokio::test]
async fn removing_a_client_refuses_its_token_and_closes_its_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    let keep = relay.add_client("phone");
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(all()).await;
    let mut kept = WsClient::connect(&relay, &keep).await;
    kept.subscribe(all()).await;
    relay.remove_client("laptop");
    assert_eq!(relay.get("/api/events", Some(&token)).await.status(), 401);
    let (code, reason) = ws.close_reason().await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1008, "client token removed"));
    assert_eq!(
        WsClient::try_connect(&relay, &token).await.unwrap_err(),
        401
    );
    post(&relay, &Delivery::fixture("channel.follow")).await;
    assert_eq!(kept.next_event().await.kind, "channel.follow");
    relay.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start_with(&dir.path().join("relay.sqlite3"), |s| {
        s.ping_interval = Duration::from_millis(100)
    })
    .await;
    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect(&relay, &token).await;
    // Not reading means not answering pings.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (code, reason) = ws.close_reason().await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1001, "no answer to pings"));
    relay.stop().await;
}

#[tokio::test]
async fn bad_client_frames_get_an_error_then_close() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.send_text(r#"{"type":"unsubscribe"}"#.into()).await;
    match ws.next_frame().await {
        Some(ServerFrame::Error { message }) => {
            assert_eq!(message, "unknown frame type `unsubscribe`")
        }
        other => panic!("expected error, got {other:?}"),
    }
    assert_eq!(ws.close_reason().await.map(|c| c.0), Some(1008));
    relay.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_a_close_frame() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(all()).await;
    let stopping = tokio::spawn(relay.stop());
    let (code, reason) = ws.close_reason().await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1001, "relay shutting down"));
    stopping.await.unwrap();
}

#[tokio::test]
async fn api_events_stats_metrics_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("laptop");
    for kind in [
        "channel.follow",
        "channel.follow",
        "channel.cheer",
        "channel.raid",
    ] {
        post(&relay, &Delivery::fixture(kind)).await;
    }
    assert_eq!(relay.get("/healthz", None).await.status(), 200);
    for path in ["/api/events", "/api/stats", "/metrics"] {
        assert_eq!(relay.get(path, None).await.status(), 401, "{path}");
    }

    let page: Value = relay
        .get("/api/events?limit=2", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let seqs: Vec<_> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!((seqs, page["last_seq"].as_u64()), (vec![1, 2], Some(4)));
    let page: Value = relay
        .get("/api/events?after=2", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    let page: Value = relay
        .get(
            "/api/events?type=channel.follow&channel=QuillStream",
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    let page: Value = relay
        .get("/api/events?channel=nobody", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            page["events"].as_array().unwrap().len(),
            page["last_seq"].as_u64()
        ),
        (0, Some(4))
    );

    let stats: Value = relay
        .get("/api/stats?channel=quillstream", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        serde_json::json!({"counts": {"channel.follow": 2, "channel.cheer": 1, "channel.raid": 1}})
    );
    let stats: Value = relay
        .get("/api/stats?since=2999-01-01T00:00:00Z", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats, serde_json::json!({"counts": {}}));
    assert_eq!(
        relay
            .get("/api/stats?since=yesterday", Some(&token))
            .await
            .status(),
        400
    );

    let _ws = WsClient::connect(&relay, &token).await;
    let metrics = relay
        .get("/metrics", Some(&token))
        .await
        .text()
        .await
        .unwrap();
    for line in [
        "onair_webhooks_total{outcome=\"ok\"} 4",
        "onair_events_stored_total 4",
        "onair_ws_clients 1",
        "onair_resyncs_total 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    relay.stop().await;
}
