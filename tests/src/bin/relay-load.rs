//! Load script for the relay (not a test: run it in release and read the figures).
//!
//! ```sh
//! cargo run --release -p onair-tests --bin relay-load -- [SECONDS] [CONCURRENCY] [CLIENTS] [ROUNDS]
//! ```
//!
//! 1. Intake: signed webhooks per second through verify + store (committed) + fan-out, against a
//!    bare axum endpoint that only reads the body, driven by the same loader in the same run.
//! 2. Fan-out: one event to CLIENTS connected WebSockets, ROUNDS times: the time from posting it
//!    to the last client's receipt (p50/p99/max).

#![allow(clippy::unwrap_used, clippy::expect_used)] // A load script: panics report.

use onair_tests::bins::arg;
use onair_tests::load::blast;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use onair_common::wire::Subscribe;
use onair_tests::eventsub::Delivery;
use onair_tests::relay::{TestRelay, WsClient};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    let seconds = arg(1, 10);
    let concurrency = arg(2, 64);
    let clients = arg(3, 1000);
    let rounds = arg(4, 200);
    let dir = tempfile::tempdir().unwrap();

    println!(
        "== intake: {seconds} s each, {concurrency} concurrent senders, 2 cores shared with the loader"
    );
    let bare = bare_endpoint().await;
    let bare_rate = blast(&[bare], seconds, concurrency).await;
    println!("bare axum endpoint (reads body, 204):      {bare_rate:>9.0} req/s");
    let relay = TestRelay::start(&dir.path().join("intake.sqlite3")).await;
    let relay_rate = blast(std::slice::from_ref(&relay.base), seconds, concurrency).await;
    println!("relay (verify + commit + fan-out, 204):    {relay_rate:>9.0} req/s");
    println!(
        "ratio relay / bare:                        {:>9.2}",
        relay_rate / bare_rate
    );
    let token = relay.add_client("check");
    let page: serde_json::Value = relay
        .get("/api/events?after=0&limit=1", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    println!("events stored: {}", page["last_seq"]);
    relay.stop().await;

    println!("== fan-out: one event to {clients} WebSockets, {rounds} rounds");
    fan_out(&dir.path().join("fanout.sqlite3"), clients, rounds).await;
}

async fn bare_endpoint() -> String {
    let app = axum::Router::new().route(
        "/eventsub",
        axum::routing::post(|_body: Bytes| async { StatusCode::NO_CONTENT }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn fan_out(db: &std::path::Path, clients: u64, rounds: u64) {
    let relay = TestRelay::start_with(db, |s| s.max_connections_per_client = 1000).await;
    let token = relay.add_client("load");
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    let connect_start = Instant::now();
    for _ in 0..clients {
        let mut ws = WsClient::connect(&relay, &token).await;
        ws.subscribe(Subscribe::default()).await;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(frame)) = ws.next_frame_within(Duration::from_secs(3600)).await {
                if let onair_common::wire::ServerFrame::Event { event } = frame {
                    let _ = tx.send((event.seq.unwrap_or(0), Instant::now()));
                }
            }
        });
    }
    println!(
        "connected {clients} clients in {:?}",
        connect_start.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let twitch = relay.twitch();
    let (mut from_post, mut from_ack) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let sent = Instant::now();
        let resp = twitch.send(&Delivery::fixture("channel.raid")).await;
        let acked = Instant::now();
        assert_eq!(resp.status(), 204);
        let mut last = sent;
        for _ in 0..clients {
            let (_, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap()
                .unwrap();
            last = last.max(at);
        }
        from_post.push(last - sent);
        from_ack.push(last.saturating_duration_since(acked));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    report("post sent -> last client received", &mut from_post);
    report("204 received -> last client received", &mut from_ack);
    relay.stop().await;
}

fn report(what: &str, v: &mut [Duration]) {
    v.sort();
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3
    );
}
