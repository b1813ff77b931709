//! `POST /eventsub` end to end, with a fake Twitch that signs exactly like Twitch: challenge, bad
//! signatures, replay window, duplicates (also across a restart), revocations, size limit.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use onair_common::wire::{ServerFrame, Subscribe};
use onair_relay::metrics::Outcome;
use onair_tests::eventsub::{Delivery, sign};
use onair_tests::relay::{SECRET, TestRelay, WsClient};
use serde_json::Value;

async fn stored(relay: &TestRelay, token: &str) -> Vec<Value> {
    let page: Value = relay
        .get("/api/events?limit=1000", Some(token))
        .await
        .json()
        .await
        .unwrap();
    page["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn challenge_is_echoed_as_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let d = Delivery::verification("pogchamp-kappa-360noscope-vohiyo", "channel.follow", "2");
    let resp = relay.twitch().send(&d).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(
        resp.text().await.unwrap(),
        "pogchamp-kappa-360noscope-vohiyo"
    );
    assert_eq!(relay.state.metrics().webhooks(Outcome::Challenge), 1);
    relay.stop().await;
}

#[tokio::test]
async fn twitch_test_vector_v3_is_accepted_byte_for_byte() {
    // twitch.md A.3 V3: exact bytes and the signature Twitch would send, within the window.
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let body = onair_tests::eventsub::fixture("stream.online");
    let mut d = Delivery::fixture("stream.online");
    d.body = body;
    let resp = relay.twitch().send(&d).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        sign(
            SECRET,
            "7f3c2b1a-0d4e-4f5a-9b6c-1d2e3f4a5b6c",
            "2026-01-01T12:00:00.123456789Z",
            r#"{"subscription":{"id":"5a1f0c3e-8b2d-4e6f-a7c9-0d1e2f3a4b5c","status":"enabled","type":"stream.online","version":"1","condition":{"broadcaster_user_id":"90010001"},"transport":{"method":"webhook","callback":"https://relay.example.test/eventsub"},"created_at":"2025-12-31T09:15:42.987654321Z","cost":0},"event":{"id":"41234567890","broadcaster_user_id":"90010001","broadcaster_user_login":"quillstream","broadcaster_user_name":"QuillStream","type":"live","started_at":"2026-01-01T11:59:58Z"}}"#
        ),
        "sha256=3142b9c5b2d1da1d5ff742bd8b2e134916aef500eb15a2548c20aa9e29b49412",
        "the fake signs exactly like Twitch"
    );
    relay.stop().await;
}

#[tokio::test]
async fn forged_and_malformed_requests_are_refused_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("t");
    let twitch = relay.twitch();
    let d = Delivery::fixture("channel.follow");

    // Signed with another secret.
    assert_eq!(
        twitch
            .send_signed_with(&d, "another-secret-0123")
            .await
            .status(),
        403
    );
    // Body changed after signing.
    let mut headers = d.headers(SECRET);
    let tampered = d.body.replace("mossy_fern", "evil_fern");
    assert_eq!(
        twitch.send_raw(headers.clone(), tampered).await.status(),
        403
    );
    // Signature of the wrong length or without its prefix.
    for bad in [
        "sha256=abcd",
        "3142b9c5b2d1da1d5ff742bd8b2e134916aef500eb15a2548c20aa9e29b49412",
        "",
    ] {
        let h: Vec<_> = headers
            .iter()
            .cloned()
            .map(|(k, v)| {
                if k == "Twitch-Eventsub-Message-Signature" {
                    (k, bad.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        let status = twitch.send_raw(h, d.body.clone()).await.status();
        assert_eq!(status, 403, "{bad:?}: an empty signature is a bad one too");
    }
    // No signature at all: 403 as well (design.md), before the body is read.
    let unsigned: Vec<_> = headers
        .iter()
        .filter(|(k, _)| *k != "Twitch-Eventsub-Message-Signature")
        .cloned()
        .collect();
    assert_eq!(
        twitch.send_raw(unsigned, d.body.clone()).await.status(),
        403
    );
    // A missing header.
    headers.retain(|(k, _)| *k != "Twitch-Eventsub-Message-Timestamp");
    assert_eq!(twitch.send_raw(headers, d.body.clone()).await.status(), 400);
    // A valid signature over a body that is not JSON.
    let mut junk = d.clone();
    junk.body = "not json at all".into();
    assert_eq!(twitch.send(&junk).await.status(), 400);

    assert!(
        stored(&relay, &token).await.is_empty(),
        "nothing refused is stored"
    );
    assert_eq!(relay.state.metrics().webhooks(Outcome::BadSignature), 6);
    // The missing timestamp and the non-JSON body.
    assert_eq!(relay.state.metrics().webhooks(Outcome::Malformed), 2);
    relay.stop().await;
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("t");
    let twitch = relay.twitch();
    let now = Timestamp::now();
    let old = Delivery::fixture("channel.follow").at(now - SignedDuration::from_secs(11 * 60));
    assert_eq!(twitch.send(&old).await.status(), 403);
    let ahead = Delivery::fixture("channel.follow").at(now + SignedDuration::from_secs(5 * 60));
    assert_eq!(twitch.send(&ahead).await.status(), 403);
    let recent = Delivery::fixture("channel.follow").at(now - SignedDuration::from_secs(9 * 60));
    assert_eq!(twitch.send(&recent).await.status(), 204);
    assert_eq!(stored(&relay, &token).await.len(), 1);
    assert_eq!(relay.state.metrics().webhooks(Outcome::Stale), 2);
    relay.stop().await;
}

#[tokio::test]
async fn duplicates_are_acknowledged_but_not_stored_or_sent_again_even_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    let token = relay.add_client("t");
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe::default()).await;

    let d = Delivery::fixture("channel.cheer");
    assert_eq!(relay.twitch().send(&d).await.status(), 204);
    assert_eq!(ws.next_event().await.id, d.id);
    let again = d.redelivery();
    assert_eq!(relay.twitch().send(&again).await.status(), 204);
    ws.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(relay.state.metrics().webhooks(Outcome::Duplicate), 1);
    relay.stop().await;

    let relay = TestRelay::start(&db).await;
    assert_eq!(relay.twitch().send(&again.redelivery()).await.status(), 204);
    assert_eq!(relay.state.metrics().webhooks(Outcome::Duplicate), 1);
    assert_eq!(stored(&relay, &token).await.len(), 1);
    relay.stop().await;
}

#[tokio::test]
async fn revocation_is_recorded_and_announced() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("t");
    // A stored event teaches the relay the channel's login.
    assert_eq!(
        relay
            .twitch()
            .send(&Delivery::fixture("channel.follow"))
            .await
            .status(),
        204
    );
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe::default()).await;

    let d = Delivery::revocation("channel.subscribe", "1", "authorization_revoked");
    assert_eq!(relay.twitch().send(&d).await.status(), 204);
    match ws.next_frame().await {
        Some(ServerFrame::Status { subscriptions }) => {
            assert_eq!(subscriptions.len(), 1);
            let s = &subscriptions[0];
            assert_eq!(
                (s.kind.as_str(), s.status.as_str()),
                ("channel.subscribe", "authorization_revoked")
            );
            assert_eq!(s.channel, "quillstream");
        }
        other => panic!("expected status, got {other:?}"),
    }
    // The same revocation again is a duplicate: acknowledged, not announced twice.
    assert_eq!(relay.twitch().send(&d.redelivery()).await.status(), 204);
    ws.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(relay.state.metrics().webhooks(Outcome::Revocation), 1);
    relay.stop().await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let mut d = Delivery::fixture("channel.cheer");
    d.body = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    assert_eq!(relay.twitch().send(&d).await.status(), 413);
    assert_eq!(relay.state.metrics().webhooks(Outcome::TooLarge), 1);
    relay.stop().await;
}

#[tokio::test]
async fn a_declared_50_mb_body_is_refused_before_100_continue() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let d = Delivery::fixture("channel.cheer");
    let mut head = String::from("POST /eventsub HTTP/1.1\r\nHost: x\r\n");
    for (k, v) in d.headers(onair_tests::relay::SECRET) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n");
    let mut tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut answer))
        .await
        .expect("answered at once")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    assert_eq!(relay.state.metrics().webhooks(Outcome::TooLarge), 1);
    relay.stop().await;
}

#[tokio::test]
async fn slow_bodies_wrong_methods_and_huge_headers_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    // Without Twitch's headers: refused at once, before a body byte is read.
    let mut tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    tcp.write_all(b"POST /eventsub HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"sub").await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut answer))
        .await
        .expect("refused at once")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // Slowloris with Twitch's headers: a body that never finishes is cut off with 408 once its
    // deadline (a few seconds plus its length at the minimum rate) has passed.
    let mut tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let head = "POST /eventsub HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\
        Twitch-Eventsub-Message-Id: m-slow\r\nTwitch-Eventsub-Message-Timestamp: 2026-01-01T00:00:00Z\r\n\
        Twitch-Eventsub-Message-Type: notification\r\n\
        Twitch-Eventsub-Message-Signature: sha256=0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n{\"sub";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut answer))
        .await
        .expect("cut off in time")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    assert_eq!(relay.state.metrics().webhooks(Outcome::SlowBody), 1);
    assert_eq!(relay.state.metrics().webhooks(Outcome::Malformed), 1);

    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/eventsub", relay.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = http
        .put(format!("{}/eventsub", relay.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let huge = "x".repeat(512 * 1024);
    let r = http
        .post(format!("{}/eventsub", relay.base))
        .header("Twitch-Eventsub-Message-Id", huge)
        .body("{}")
        .send()
        .await;
    assert!(
        r.map(|r| !r.status().is_success()).unwrap_or(true),
        "huge headers are not accepted"
    );
    // The relay is fine afterwards.
    assert_eq!(
        relay
            .twitch()
            .send(&Delivery::fixture("channel.follow"))
            .await
            .status(),
        204
    );
    relay.stop().await;
}

#[tokio::test]
async fn the_database_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    let token = relay.add_client("laptop");
    for kind in ["channel.follow", "channel.cheer"] {
        assert_eq!(
            relay.twitch().send(&Delivery::fixture(kind)).await.status(),
            204
        );
    }
    relay.stop().await;
    let mut bytes = std::fs::read(&db).unwrap();
    for extra in ["-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{extra}", db.display())) {
            bytes.extend(b);
        }
    }
    for secret in [SECRET, token.as_str()] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is in the database"
        );
    }
}
