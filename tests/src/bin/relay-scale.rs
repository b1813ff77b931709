//! Scaling figures for docs/scaling.md (a load script, not a test: run it in release and read
//! the ratios, all measured in one run on one machine).
//!
//! ```sh
//! cargo build --release -p onair-relay -p onair-tests --bin onair-relay --bin relay-scale
//! target/release/relay-scale [SECONDS] [CONCURRENCY] [CLIENTS] [ROUNDS]
//! ```
//!
//! 1. Intake: signed webhooks per second at CONCURRENCY senders into one SQLite relay, and into
//!    1, 2 and 3 relay processes on one Redis (`appendfsync always`), senders spread round robin.
//! 2. Fan-out: one event to CLIENTS WebSockets, ROUNDS times, post to last receipt: all clients
//!    on one SQLite relay, on one Redis relay, and spread over three Redis relays.
//!
//! Relays, Redis and the load generator share this machine's cores, so more instances cannot
//! show more capacity here; what the figures show is what the shared store costs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A load script: panics report.

use std::time::{Duration, Instant};

use onair_common::wire::{ServerFrame, Subscribe};
use onair_tests::bins::arg;
use onair_tests::eventsub::{Delivery, Sender};
use onair_tests::load::{arrivals, blast};
use onair_tests::redis_server::RedisServer;
use onair_tests::relay::{SECRET, WsClient};
use onair_tests::relay_process::{Options, RelayProcess};
use tokio::sync::mpsc;

struct Deployment {
    relays: Vec<RelayProcess>,
    _redis: Option<RedisServer>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Deployment {
    async fn start(instances: usize, redis: bool) -> Self {
        let server = if redis {
            Some(RedisServer::start().await)
        } else {
            None
        };
        let mut env = vec![(
            "ONAIR_RELAY_MAX_CONNECTIONS_PER_CLIENT".to_owned(),
            "1000".to_owned(),
        )];
        if let Some(s) = &server {
            env.push(("ONAIR_RELAY_REDIS_URL".to_owned(), s.url()));
        }
        let mut relays = Vec::new();
        let mut dirs = Vec::new();
        for _ in 0..instances {
            let dir = tempfile::tempdir().unwrap();
            let options = Options {
                env: env.clone(),
                rust_log: Some("warn".into()),
                ..Options::default()
            };
            relays.push(RelayProcess::start(dir.path(), options).await);
            dirs.push(dir);
        }
        Self {
            relays,
            _redis: server,
            _dirs: dirs,
        }
    }

    fn bases(&self) -> Vec<String> {
        self.relays.iter().map(|r| r.base.clone()).collect()
    }
}

#[tokio::main]
async fn main() {
    let seconds = arg(1, 8);
    let concurrency = arg(2, 32);
    let clients = arg(3, 1000);
    let rounds = arg(4, 100);

    println!("== intake: {seconds} s each, {concurrency} senders, round robin over instances");
    let sqlite = Deployment::start(1, false).await;
    let base_rate = blast(&sqlite.bases(), seconds, concurrency).await;
    drop(sqlite);
    println!("1 relay, SQLite:          {base_rate:>8.0} webhooks/s  (baseline)");
    for n in 1..=3 {
        let d = Deployment::start(n, true).await;
        let redis = d._redis.as_ref().unwrap();
        let cpu_before = redis.cpu_time();
        let started = Instant::now();
        let rate = blast(&d.bases(), seconds, concurrency).await;
        let redis_cpu =
            (redis.cpu_time() - cpu_before).as_secs_f64() / started.elapsed().as_secs_f64();
        println!(
            "{n} relay(s), one Redis:   {rate:>8.0} webhooks/s  {:.2}x  (redis-server used {:.0}% of a core: about {:.0} webhooks/s per core)",
            rate / base_rate,
            redis_cpu * 100.0,
            rate / redis_cpu.max(0.001)
        );
    }

    println!(
        "== fan-out: one event to {clients} WebSockets, {rounds} rounds, post -> last receipt"
    );
    let sqlite = Deployment::start(1, false).await;
    let base = fan_out(&sqlite, clients, rounds).await;
    drop(sqlite);
    report("1 relay, SQLite", &base, &base);
    let one = Deployment::start(1, true).await;
    let on_one = fan_out(&one, clients, rounds).await;
    drop(one);
    report("1 relay, Redis", &on_one, &base);
    let three = Deployment::start(3, true).await;
    let spread = fan_out(&three, clients, rounds).await;
    report("3 relays, Redis", &spread, &base);
}

/// Connects `clients` sockets spread over the deployment's instances, then times `rounds`
/// events from the POST to the last socket's receipt.
async fn fan_out(d: &Deployment, clients: u64, rounds: u64) -> Vec<Duration> {
    let bases = d.bases();
    let token = d.relays[0].add_client("load");
    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    for i in 0..clients as usize {
        let mut ws = WsClient::connect_to(&bases[i % bases.len()], &token).await;
        ws.subscribe(Subscribe::default()).await;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(frame)) = ws.next_frame_within(Duration::from_secs(3600)).await {
                if let ServerFrame::Event { .. } = frame {
                    let _ = tx.send(Instant::now());
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let twitch = Sender::new(&bases[0], SECRET);
    let mut took = Vec::new();
    for _ in 0..rounds {
        let sent = Instant::now();
        assert_eq!(
            twitch
                .send(&Delivery::fixture("channel.raid"))
                .await
                .status(),
            204
        );
        took.push(
            arrivals(&mut rx, clients, sent, Duration::from_secs(10))
                .await
                .last,
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    took.sort();
    took
}

fn report(what: &str, v: &[Duration], base: &[Duration]) {
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<18} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  p99 {:.2}x",
        ms(pct(v, 0.5)),
        ms(pct(v, 0.99)),
        ms(v[v.len() - 1]),
        pct(v, 0.99).as_secs_f64() / pct(base, 0.99).as_secs_f64()
    );
}
