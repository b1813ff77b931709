//! The relay against the least a server must do for the same job (`bench-baseline`), both the
//! real binaries in their own processes, driven by the same loader in one run, so every figure
//! comes with its ratio. Not a test: run it in release on a quiet machine and read the figures.
//!
//! ```sh
//! cargo build --release -p onair-relay -p onair-tests --bin onair-relay --bin bench-baseline --bin relay-bench
//! target/release/relay-bench [SECONDS] [ROUNDS] [intake|fanout|calibrate] [CLIENTS,...]
//! ```
//!
//! `calibrate` runs the fan-out with a second baseline in the relay's place: how far apart two
//! identical servers land on this machine, which is as close as a ratio can be read.
//!
//! 1. Intake at 32, 64 and 128 concurrent senders: signed webhooks per second through verify,
//!    dedupe and a durable commit (then 204), against an endpoint that reads the body and
//!    answers 204.
//! 2. Fan-out at 1,000 and 10,000 clients: one event, from the POST to the last client's
//!    receipt (p50, p99, max over ROUNDS), against a plain axum + tokio broadcast server; and
//!    the medians of the POST's answer and the first receipt, which tell the server's path to
//!    the broadcast from the fan-out itself. Both servers keep their clients and take rounds in
//!    turns, so the machine's slow minutes fall on both; when this process may not open both
//!    sets of sockets (`ulimit -n` under twice the clients), one server goes after the other.
//! 3. Memory per idle socket: each server's RSS growth while the last nine tenths of those
//!    clients connect, divided by their number (the first tenth warms up what a server sets up
//!    once, such as thread stacks and caches, which is not a socket's cost).

#![allow(clippy::unwrap_used, clippy::expect_used)] // A load script: panics report.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onair_tests::bins::{self, arg};
use onair_tests::eventsub::fixture;
use onair_tests::load::blast;
use onair_tests::procstat::usage;
use onair_tests::relay_process::{Options, RelayProcess, free_port};

use fleet::{Fleet, Target};

mod fleet;

#[tokio::main]
async fn main() {
    let seconds = arg(1, 5);
    let rounds = arg(2, 100);
    let only = std::env::args().nth(3).unwrap_or_default();
    if only != "fanout" && only != "calibrate" {
        intake(seconds).await;
    }
    if only != "intake" {
        // Which fan-outs: 1,000 and 10,000 clients unless listed.
        let sizes: Vec<u64> = std::env::args().nth(4).map_or(vec![1_000, 10_000], |list| {
            list.split(',')
                .map(|n| n.parse().expect("CLIENTS: numbers"))
                .collect()
        });
        fan_outs(rounds, &sizes, only == "calibrate").await;
    }
}

async fn intake(seconds: u64) {
    println!("== intake: {seconds} s per run, 2 cores shared by the loader and the server");
    println!("(CPU: the server's own, and this loader's, in microseconds per answered request)");
    println!(
        "senders   baseline req/s   relay req/s   relay/baseline   CPU us/req: baseline relay   loader"
    );
    for senders in [32, 64, 128] {
        let base = Baseline::start();
        let (bare, bare_cpu, bare_loader) =
            measured(base.child.id(), &base.base, seconds, senders).await;
        drop(base);
        let dir = tempfile::tempdir().unwrap();
        let relay = start_relay(dir.path()).await;
        let (ours, our_cpu, our_loader) =
            measured(relay.pid(), &relay.base, seconds, senders).await;
        drop(relay);
        println!(
            "{senders:>7}   {bare:>14.0}   {ours:>11.0}   {:>14.2}   {bare_cpu:>17.1} {our_cpu:>5.1}   {:>4.1}/{:.1}",
            ours / bare,
            bare_loader,
            our_loader,
        );
    }
}

/// Answered requests per second, with the server's and the loader's CPU per request: whether a
/// figure is bound by the server's work, by the loader, or by waiting (the durable commit).
async fn measured(pid: u32, base: &str, seconds: u64, senders: u64) -> (f64, f64, f64) {
    let me = std::process::id();
    let (server0, loader0) = (usage(pid).cpu_s, usage(me).cpu_s);
    let rate = blast(&[base.to_owned()], seconds, senders).await;
    let (server1, loader1) = (usage(pid).cpu_s, usage(me).cpu_s);
    let requests = rate * seconds as f64;
    let per = |cpu: f64| cpu / requests * 1e6;
    (rate, per(server1 - server0), per(loader1 - loader0))
}

/// The fan-outs, each against the relay, or with `calibrate` against a second baseline.
async fn fan_outs(rounds: u64, sizes: &[u64], calibrate: bool) {
    for &clients in sizes {
        let rounds = if clients > 1_000 { rounds / 3 } else { rounds };
        // Both servers' clients at once need twice the sockets in this process.
        let together = open_files_allowed() >= 2 * clients + 1_000;
        println!(
            "== fan-out: one event to {clients} idle-then-woken sockets, {rounds} rounds, {}",
            if together {
                "the two servers' rounds interleaved"
            } else {
                "one server after the other (too few open files for both: raise ulimit -n)"
            }
        );
        let base = Baseline::start();
        // The frame the relay would send for the same event, near enough in size.
        let frame = format!(
            "{{\"type\":\"event\",\"event\":{}}}",
            fixture("channel.raid")
        );
        let baseline = Target::Baseline(&base, frame.clone());
        let dir = tempfile::tempdir().unwrap();
        let (relay, second) = if calibrate {
            (None, Some(Baseline::start()))
        } else {
            (Some(start_relay(dir.path()).await), None)
        };
        // A client token takes at most 1,000 sockets.
        let tokens: Vec<String> = match &relay {
            Some(relay) => (0..clients.div_ceil(1_000))
                .map(|i| relay.add_client(&format!("bench-{i}")))
                .collect(),
            None => Vec::new(),
        };
        let ours = match (&relay, &second) {
            (Some(relay), _) => Target::Relay(relay, &tokens, relay.twitch_from("127.0.0.1")),
            (None, Some(second)) => Target::Baseline(second, frame),
            (None, None) => unreachable!("one of the two was started"),
        };
        let http = reqwest::Client::new();
        let (b, r) = if together {
            // Round by round, in turns (ABBA), so a slow minute of the machine or the disk
            // falls on both alike.
            let mut b = Fleet::connect(baseline, clients).await;
            let mut r = Fleet::connect(ours, clients).await;
            for i in 0..rounds {
                if i % 2 == 0 {
                    b.round(&http).await;
                    r.round(&http).await;
                } else {
                    r.round(&http).await;
                    b.round(&http).await;
                }
            }
            (b.figures(), r.figures())
        } else {
            let mut b = Fleet::connect(baseline, clients).await;
            for _ in 0..rounds {
                b.round(&http).await;
            }
            let b = b.figures();
            drop(base);
            let mut r = Fleet::connect(ours, clients).await;
            for _ in 0..rounds {
                r.round(&http).await;
            }
            (b, r.figures())
        };
        drop(relay);
        fleet::print(&b, &r, if calibrate { "baseline 2" } else { "relay" });
    }
}

/// This process's soft limit of open files.
fn open_files_allowed() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(1_024)
}

async fn start_relay(dir: &std::path::Path) -> RelayProcess {
    let options = Options {
        rust_log: Some("error".into()),
        soft_nofile: Some(20_000),
        env: vec![
            (
                "ONAIR_RELAY_MAX_CONNECTIONS_PER_CLIENT".into(),
                "1000".into(),
            ),
            ("ONAIR_RELAY_MAX_CONNECTIONS".into(), "20000".into()),
        ],
        ..Options::default()
    };
    RelayProcess::start(dir, options).await
}

/// `bench-baseline` on a free port; killed when dropped.
struct Baseline {
    child: Child,
    base: String,
}

impl Baseline {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new(bins::path("bench-baseline"))
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "bench-baseline did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
