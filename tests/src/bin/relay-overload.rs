//! Overload (reliability case 2), against the real `onair-relay` binary in its own process:
//!
//! - sockets: 3,000 idle sockets and 200 slow readers that never read, beside 100 active
//!   clients: their delivery latency, and memory per socket;
//! - the maximum intake with a closed-loop loader;
//! - twice that offered for SECONDS: the relay sheds with 503 instead of timing out and its
//!   memory stays bounded;
//! - right after, answers are fast again.
//!
//! ```sh
//! cargo build --release -p onair-relay -p onair-tests && target/release/relay-overload [SECONDS] [IDLE]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // A load script: panics report.

use onair_tests::bins::arg;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair_common::wire::{ClientFrame, Subscribe};
use onair_tests::bins;
use onair_tests::eventsub::{Delivery, Sender};
use onair_tests::relay::SECRET;
use tokio_tungstenite::tungstenite::Message;

/// Receipts of event seqs by the active clients.
type Seen = Arc<Mutex<Vec<(u64, Instant)>>>;

struct Relay {
    child: Child,
    base: String,
    port: u16,
    tokens: Vec<String>,
}

impl Relay {
    fn start(dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cmd = |args: &[&str]| {
            let mut c = Command::new(bins::path("onair-relay"));
            c.args(args)
                .env_clear()
                .env("HOME", dir)
                .env("ONAIR_RELAY_DATABASE", dir.join("relay.sqlite3"))
                .env("ONAIR_RELAY_LISTEN", format!("127.0.0.1:{port}"))
                .env("ONAIR_RELAY_WEBHOOK_SECRET", SECRET)
                .env("ONAIR_RELAY_MAX_CONNECTIONS_PER_CLIENT", "1000")
                .env("RUST_LOG", "error");
            c
        };
        let tokens = (0..5)
            .map(|i| {
                let out = cmd(&["client", "add", &format!("load-{i}")])
                    .output()
                    .unwrap();
                String::from_utf8(out.stdout).unwrap().trim().to_owned()
            })
            .collect();
        let child = cmd(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            tokens,
        }
    }

    /// The relay process's resident memory, KiB.
    fn rss(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// Closed loop: `conc` senders as fast as answers come, for `secs`; returns 2xx per second.
async fn max_intake(base: &str, conc: usize, secs: u64) -> f64 {
    let ok = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..conc)
        .map(|i| {
            let (ok, s) = (ok.clone(), Sender::pooled(base, SECRET, i));
            tokio::spawn(async move {
                while Instant::now() < end {
                    if s.try_send(&Delivery::fixture("channel.follow"))
                        .await
                        .is_ok_and(|r| r.status().is_success())
                    {
                        ok.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    ok.load(Relaxed) as f64 / secs as f64
}

/// Open loop at `rate` per second for `secs`.
async fn overload(relay: &Relay, rate: f64, secs: u64) {
    let (ok, shed, failed, skipped) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let lat: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let inflight = Arc::new(AtomicU64::new(0));
    // Twitch delivers from many hosts; so does the loader (the per-address limit is for one).
    let senders: Vec<_> = (0..64)
        .map(|i| Sender::pooled(&relay.base, SECRET, i))
        .collect();
    let mut next = 0usize;
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = (rate / 100.0).round() as u64;
    let mut peak_rss = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        peak_rss = peak_rss.max(relay.rss());
        for _ in 0..per_tick {
            if inflight.load(Relaxed) > 8192 {
                skipped.fetch_add(1, Relaxed);
                continue;
            }
            inflight.fetch_add(1, Relaxed);
            next = next.wrapping_add(1);
            let (s, ok, shed, failed, lat, inflight) = (
                senders[next % senders.len()].clone(),
                ok.clone(),
                shed.clone(),
                failed.clone(),
                lat.clone(),
                inflight.clone(),
            );
            tokio::spawn(async move {
                let t = Instant::now();
                match s.try_send(&Delivery::fixture("channel.follow")).await {
                    Ok(r) if r.status().is_success() => ok.fetch_add(1, Relaxed),
                    Ok(r) if r.status() == 503 => shed.fetch_add(1, Relaxed),
                    _ => failed.fetch_add(1, Relaxed),
                };
                lat.lock().unwrap().push(t.elapsed());
                inflight.fetch_sub(1, Relaxed);
            });
        }
    }
    while inflight.load(Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let wall = start.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    println!(
        "offered {:.0}/s for {secs} s: stored {:.0}/s, shed with 503 {:.0}/s, failed/timed out {}, not sent (loader cap) {}",
        rate,
        ok.load(Relaxed) as f64 / wall,
        shed.load(Relaxed) as f64 / wall,
        failed.load(Relaxed),
        skipped.load(Relaxed)
    );
    println!(
        "answer latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; relay peak RSS {} KiB",
        pct(&mut l, 0.5),
        pct(&mut l, 0.99),
        pct(&mut l, 1.0),
        peak_rss
    );
}

/// A socket: `subscribe` asks for every event; `read` false never reads (a slow reader).
async fn subscriber(relay: &Relay, token: &str, subscribe: bool, read: bool, seen: Option<Seen>) {
    let url = format!("ws://127.0.0.1:{}/ws?token={token}", relay.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let _ = ws.next().await;
    if subscribe {
        ws.send(Message::text(
            ClientFrame::Subscribe(Subscribe::default()).to_json(),
        ))
        .await
        .unwrap();
    }
    tokio::spawn(async move {
        if !read {
            // A slow reader: holds the socket and never reads.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(ws);
            return;
        }
        while let Some(Ok(m)) = ws.next().await {
            if let (Message::Text(t), Some(seen)) = (m, &seen)
                && let Ok(onair_common::wire::ServerFrame::Event { event }) =
                    onair_common::wire::ServerFrame::parse(&t)
            {
                seen.lock()
                    .unwrap()
                    .push((event.seq.unwrap_or(0), Instant::now()));
            }
        }
    });
}

/// Delivery latency from POST to each of `active` clients, `rounds` times.
async fn delivery(relay: &Relay, seen: &Seen, active: usize, rounds: usize) -> Vec<Duration> {
    let sender = Sender::new(&relay.base, SECRET);
    let mut out = Vec::new();
    for _ in 0..rounds {
        seen.lock().unwrap().clear();
        let t = Instant::now();
        assert!(
            sender
                .try_send(&Delivery::fixture("channel.raid"))
                .await
                .unwrap()
                .status()
                .is_success()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().len() < active && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let last = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, at)| *at)
            .max()
            .unwrap_or(t);
        out.push(last - t);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    out
}

async fn sockets(relay: &Relay, idle: usize) {
    println!(
        "== 0. sockets: 100 active clients, then {idle} idle sockets and 200 slow readers that never read"
    );
    let seen: Seen = Arc::default();
    for i in 0..100 {
        subscriber(relay, &relay.tokens[i % 5], true, true, Some(seen.clone())).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut base_lat = delivery(relay, &seen, 100, 50).await;
    let rss_before = relay.rss();
    for i in 0..idle {
        subscriber(relay, &relay.tokens[i % 5], false, true, None).await;
    }
    for i in 0..200 {
        subscriber(relay, &relay.tokens[i % 5], true, false, None).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = relay.rss();
    // Enough traffic to fill the slow readers' socket buffers.
    let burst = Sender::new(&relay.base, SECRET);
    for _ in 0..2000 {
        let _ = burst.try_send(&Delivery::fixture("channel.cheer")).await;
    }
    let mut loaded_lat = delivery(relay, &seen, 100, 50).await;
    println!(
        "last-delivery latency to the 100 active clients: alone p50 {:.2} / p99 {:.2} ms; with {} more sockets p50 {:.2} / p99 {:.2} ms",
        pct(&mut base_lat, 0.5),
        pct(&mut base_lat, 0.99),
        idle + 200,
        pct(&mut loaded_lat, 0.5),
        pct(&mut loaded_lat, 0.99)
    );
    println!(
        "relay RSS {} KiB -> {} KiB for {} sockets: {:.1} KiB per socket",
        rss_before,
        rss_after,
        idle + 200,
        (rss_after.saturating_sub(rss_before)) as f64 / (idle + 200) as f64
    );
}

#[tokio::main]
async fn main() {
    let secs = arg(1, 60);
    let idle = arg(2, 3000) as usize;
    let dir = tempfile::tempdir().unwrap();
    // Sockets first, on a relay of their own (their readers would load the intake runs).
    {
        let sockets_dir = tempfile::tempdir().unwrap();
        let mut r = Relay::start(sockets_dir.path());
        tokio::time::sleep(Duration::from_millis(500)).await;
        sockets(&r, idle).await;
        r.child.kill().unwrap();
        r.child.wait().unwrap();
    }
    let mut relay = Relay::start(dir.path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("== 1. maximum intake (64 closed-loop senders, 10 s)");
    let max = max_intake(&relay.base, 64, 10).await;
    println!(
        "max intake: {max:.0} stored webhooks/s; relay RSS {} KiB",
        relay.rss()
    );
    println!("== 2. overload: twice the maximum, open loop");
    overload(&relay, 2.0 * max, secs).await;
    println!("== 3. recovery: 200 requests one at a time, right after");
    let s = Sender::new(&relay.base, SECRET);
    let mut l = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        assert!(
            s.try_send(&Delivery::fixture("channel.follow"))
                .await
                .unwrap()
                .status()
                .is_success()
        );
        l.push(t.elapsed());
    }
    println!(
        "all 200 stored; latency p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut l, 0.5),
        pct(&mut l, 0.99)
    );

    relay.child.kill().unwrap();
    relay.child.wait().unwrap();
}
