//! Crash test (reliability case 1): while a load generator posts signed webhooks, `kill -9` the
//! relay at random moments, restart it on the same database, and check that every webhook that
//! got a 2xx is stored exactly once and reaches a client that resumes with `after`. Like
//! Twitch, the loader sends a webhook again until it is acknowledged, so a retry of one that was
//! committed but never answered must be recognised by the restarted relay.
//!
//! ```sh
//! cargo build -p onair-relay && cargo run -p onair-tests --bin relay-crash -- [KILLS]
//! ```
//! Exits non-zero on any lost or doubled event.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test script: panics report.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair_common::wire::Subscribe;
use onair_tests::bins;
use onair_tests::eventsub::{Delivery, Sender};
use onair_tests::relay::SECRET;
use rand::Rng;

struct Relay {
    dir: std::path::PathBuf,
    port: u16,
}

impl Relay {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bins::path("onair-relay"));
        c.args(args)
            .env_clear()
            .env("HOME", &self.dir)
            .env("ONAIR_RELAY_DATABASE", self.dir.join("relay.sqlite3"))
            .env("ONAIR_RELAY_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("ONAIR_RELAY_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "warn");
        c
    }

    fn start(&self) -> Child {
        self.command(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn wait_healthy(base: &str) {
    let http = reqwest::Client::new();
    for _ in 0..500 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("relay did not come up");
}

#[tokio::main]
async fn main() {
    let kills = u32::try_from(onair_tests::bins::arg(1, 20)).unwrap_or(u32::MAX);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = Relay {
        dir: dir.path().to_owned(),
        port,
    };
    let out = relay
        .command(&["client", "add", "crash-check"])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let attempts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let retries = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut child = relay.start();
    wait_healthy(&relay.base()).await;
    let loaders: Vec<_> = (0..16)
        .map(|_| {
            let (acked, stop) = (acked.clone(), stop.clone());
            let (attempts, retries) = (attempts.clone(), retries.clone());
            let sender = Sender::new(&relay.base(), SECRET);
            tokio::spawn(async move {
                // As Twitch does: a webhook not acknowledged is sent again, same id, until it
                // is. A retry of one that was committed before a kill meets a new process,
                // which must know the id from the database.
                let mut d = Delivery::fixture("channel.follow");
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // A refused connection while the relay is down is expected: not acknowledged.
                    if let Ok(Ok(r)) =
                        tokio::time::timeout(Duration::from_secs(5), sender.try_send(&d)).await
                        && r.status().is_success()
                    {
                        acked.lock().unwrap().insert(d.id);
                        d = Delivery::fixture("channel.follow");
                    } else {
                        retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        d = d.redelivery();
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    for i in 0..kills {
        let wait = rand::rng().random_range(100..600);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        // SIGKILL: no shutdown code runs.
        child.kill().unwrap();
        child.wait().unwrap();
        let acked_so_far = acked.lock().unwrap().len();
        eprintln!(
            "kill {} at {:.1}s ({} acknowledged so far)",
            i + 1,
            started.elapsed().as_secs_f64(),
            acked_so_far
        );
        child = relay.start();
        wait_healthy(&relay.base()).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in loaders {
        l.await.unwrap();
    }

    // What the store holds, through the API.
    let stored = onair_tests::relay::stored_events(&relay.base(), &token).await;

    // And what a client resuming from the start receives over /ws.
    let url = format!("ws://127.0.0.1:{}/ws?token={token}", relay.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    let _welcome = ws.next().await;
    let sub = onair_common::wire::ClientFrame::Subscribe(Subscribe {
        after: Some(0),
        ..Default::default()
    });
    ws.send(tokio_tungstenite::tungstenite::Message::text(sub.to_json()))
        .await
        .unwrap();
    let mut delivered: Vec<String> = Vec::new();
    while delivered.len() < stored.len() {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("delivery stalled")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg
            && let Ok(onair_common::wire::ServerFrame::Event { event }) =
                onair_common::wire::ServerFrame::parse(&t)
        {
            delivered.push(event.id);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let acked = acked.lock().unwrap();
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for (_, id) in &stored {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    let doubled = counts.values().filter(|n| **n > 1).count();
    let ordered = stored.windows(2).all(|w| w[0].0 < w[1].0);
    let delivered_ok = delivered == stored.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>();
    println!(
        "kills: {kills}, posts attempted: {} (of them redeliveries: {}), acknowledged (2xx): {}, stored: {} (unacknowledged but committed: {})",
        attempts.load(std::sync::atomic::Ordering::Relaxed),
        retries.load(std::sync::atomic::Ordering::Relaxed),
        acked.len(),
        stored.len(),
        stored.len() - (acked.len() - lost.len())
    );
    println!(
        "lost: {}, duplicated: {doubled}, seq ascending: {ordered}, resumed client got all stored, in order, once: {delivered_ok}",
        lost.len()
    );
    if !lost.is_empty() || doubled > 0 || !ordered || !delivered_ok {
        eprintln!("FAILED");
        std::process::exit(1);
    }
    println!("1 passed, 0 failed");
}
