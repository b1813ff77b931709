//! Pruning a large history while Twitch keeps posting (reliability case "prune"): seed ROWS
//! events older than the retention, then prune them through the writer while 8 senders post
//! signed webhooks; every webhook must get 204. Prints the prune's duration and the webhooks'
//! answer times during it.
//!
//! ```sh
//! cargo build --release -p onair-tests --bin relay-prune && target/release/relay-prune [ROWS]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test script: panics report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair_tests::eventsub::{Delivery, Sender};
use onair_tests::relay::{SECRET, TestRelay};

const DAY_MS: i64 = 86_400_000;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let rows = usize::try_from(onair_tests::bins::arg(1, 1_000_000)).unwrap_or(usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let now = jiff::Timestamp::now().as_millisecond();
    let seeding = Instant::now();
    relay.seed(rows, "channel.follow", now - 40 * DAY_MS).await;
    println!("seeded {rows} old events in {:.1?}", seeding.elapsed());

    let done = Arc::new(AtomicBool::new(false));
    let lat: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let (done, lat) = (done.clone(), lat.clone());
            let s = Sender::pooled(&relay.base, SECRET, i);
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let status = s.send(&Delivery::fixture("channel.cheer")).await.status();
                    assert_eq!(status, 204, "a webhook during the prune");
                    lat.lock().unwrap().push(t.elapsed());
                }
            })
        })
        .collect();
    // The same senders without a prune, for the baseline in the same run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base_from = lat.lock().unwrap().len();
    let base_time = Duration::from_secs(5);
    tokio::time::sleep(base_time).await;
    let mut baseline = lat.lock().unwrap()[base_from..].to_vec();
    let base_rate = baseline.len() as f64 / base_time.as_secs_f64();
    println!(
        "baseline, no prune: {base_rate:.0} webhooks/s, p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        pct(&mut baseline, 0.5),
        pct(&mut baseline, 0.99),
        pct(&mut baseline, 1.0)
    );
    let before = lat.lock().unwrap().len();
    let pruning = Instant::now();
    let pruned = relay.state.store().prune(now - 30 * DAY_MS).await.unwrap();
    let took = pruning.elapsed();
    let mut during = lat.lock().unwrap()[before..].to_vec();
    done.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let n = during.len();
    let rate = n as f64 / took.as_secs_f64();
    println!(
        "pruned {pruned} events in {took:.1?}; meanwhile {n} webhooks ({rate:.0}/s, {:.2} of the \
         baseline) all answered 204: p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        rate / base_rate,
        pct(&mut during, 0.5),
        pct(&mut during, 0.99),
        pct(&mut during, 1.0)
    );
    // (The relay's own prune at start may have taken the first seeded batch already.)
    let head = relay.state.store().head().await.unwrap();
    assert_eq!(
        head.first_seq,
        rows as u64 + 1,
        "every old event is gone, nothing newer"
    );
    relay.stop().await;
}
