//! Memory bound (reliability case "stalled uploads"): 1,024 connections each declare a 1 MiB
//! webhook body, send most of it and stall, while Twitch keeps posting. The relay admits
//! uploads only within its body budget (64 MiB) and sheds the rest before reading them, so its
//! resident memory stays under a fixed figure. Where this machine lets us (root with a writable
//! memory cgroup, v1 or v2), the relay runs inside a cgroup capped at that figure and must not be
//! killed.
//!
//! ```sh
//! cargo build -p onair-relay -p onair-tests && target/debug/relay-memory [LIMIT_MIB]
//! ```
//! Exits non-zero when a webhook is not answered 204, the relay dies, or its peak RSS passes
//! the limit (default 128 MiB).

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test script: panics report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use onair_tests::eventsub::{Delivery, twitch_timestamp};
use onair_tests::relay_process::{Options, RelayProcess};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

const UPLOADS: usize = 1024;
const SOURCES: usize = 16;
const DECLARED: usize = 1024 * 1024;
const SENT: usize = DECLARED - 4096;
const HOLD: Duration = Duration::from_secs(10);

/// A memory cgroup capped at `limit` bytes, if this machine lets us make one.
struct Cgroup {
    dir: PathBuf,
    v1: bool,
}

impl Cgroup {
    fn create(limit: u64) -> Option<Self> {
        let name = format!("onair-relay-memory-{}", std::process::id());
        for (root, file, v1) in [
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes", true),
            ("/sys/fs/cgroup/unified", "memory.max", false),
            ("/sys/fs/cgroup", "memory.max", false),
        ] {
            let dir = PathBuf::from(root).join(&name);
            if std::fs::create_dir(&dir).is_ok() {
                if std::fs::write(dir.join(file), limit.to_string()).is_ok() {
                    if v1 {
                        // No swap to hide in.
                        let _ = std::fs::write(
                            dir.join("memory.memsw.limit_in_bytes"),
                            limit.to_string(),
                        );
                    }
                    return Some(Self { dir, v1 });
                }
                let _ = std::fs::remove_dir(&dir);
            }
        }
        None
    }

    fn add(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }

    fn oom_kills(&self) -> u64 {
        let (file, key) = if self.v1 {
            ("memory.oom_control", "oom_kill ")
        } else {
            ("memory.events", "oom_kill ")
        };
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

async fn stalled_upload(port: u16, source: usize, n: usize) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket
        .bind(format!("127.0.0.{}:0", 10 + source).parse().unwrap())
        .ok()?;
    let mut tcp = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .ok()?;
    let ts = twitch_timestamp(jiff::Timestamp::now());
    let head = format!(
        "POST /eventsub HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: {DECLARED}\r\n\
         Twitch-Eventsub-Message-Id: upload-{n}\r\nTwitch-Eventsub-Message-Timestamp: {ts}\r\n\
         Twitch-Eventsub-Message-Type: notification\r\n\
         Twitch-Eventsub-Message-Signature: sha256={}\r\n\r\n",
        "cd".repeat(32)
    );
    tcp.write_all(head.as_bytes()).await.ok()?;
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < SENT {
        let n = chunk.len().min(SENT - sent);
        // A shed upload is answered 503 and closed: writing on fails, which is the point.
        if tcp.write_all(&chunk[..n]).await.is_err() {
            return None;
        }
        sent += n;
    }
    Some(tcp)
}

#[tokio::main]
async fn main() {
    let limit_mib = onair_tests::bins::arg(1, 128);
    onair_relay::net::nofile::fit(UPLOADS * 2 + 256);
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start(dir.path(), Options::default()).await;
    let cgroup = Cgroup::create(limit_mib * 1024 * 1024);
    match &cgroup {
        Some(c) => {
            c.add(relay.pid());
            println!(
                "relay in cgroup {} capped at {limit_mib} MiB",
                c.dir.display()
            );
        }
        None => println!(
            "no writable memory cgroup here: measuring peak RSS against {limit_mib} MiB only"
        ),
    }
    let baseline = relay.peak_rss_kib();
    let token = relay.add_client("memory");
    let twitch = relay.twitch_from("127.0.0.2");

    let started = Instant::now();
    let port = relay.port;
    let uploads = tokio::spawn(async move {
        join_all((0..UPLOADS).map(|n| stalled_upload(port, n % SOURCES, n))).await
    });
    let (mut answered, mut slowest) = (0, Duration::ZERO);
    while started.elapsed() < HOLD {
        let sent = Instant::now();
        let status = twitch
            .send(&Delivery::fixture("channel.cheer"))
            .await
            .status();
        assert_eq!(status, 204, "Twitch's webhook during the uploads");
        answered += 1;
        slowest = slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = relay.peak_rss_kib();
    drop(uploads.await.unwrap());
    let oom = cgroup.as_ref().map_or(0, Cgroup::oom_kills);
    println!(
        "{UPLOADS} uploads of {DECLARED} bytes declared, {SENT} sent, then stalled: {} shed with 503 before \
         their body, {} cut off as slow; {answered} webhooks answered 204 meanwhile, slowest {slowest:?}",
        relay.webhooks(&token, "overloaded").await,
        relay.webhooks(&token, "slow_body").await
    );
    println!(
        "relay RSS: {} MiB at start, {} MiB peak (limit {limit_mib} MiB); OOM kills: {oom}",
        baseline / 1024,
        peak / 1024
    );
    assert!(relay.alive(), "the relay survived");
    assert_eq!(oom, 0);
    assert!(
        peak < limit_mib * 1024,
        "peak RSS {peak} KiB over {limit_mib} MiB"
    );
    println!("relay-memory: 1 passed, 0 failed");
}
