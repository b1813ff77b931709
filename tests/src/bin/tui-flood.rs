//! B6: floods the terminal app's real loop (parse, update, coalesced draw) with chat and reports
//! CPU and memory; then measures idle. Headless: the same `drive` loop on a `TestBackend`.
//!
//! ```sh
//! cargo run --release -p onair-tests --bin tui-flood -- [RATE_PER_S] [SECONDS]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // A load script: panics report.

use onair_tests::bins::arg;
use std::time::{Duration, Instant};

use onair::app::run::drive;
use onair::app::{App, LoginView, Msg};
use onair::chat::connection::ChatEvent;
use onair::chat::read_line;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

const CORPUS: &str = include_str!("../../../tui/tests/data/twitch-irc-nymn-800.txt");

/// (user+system CPU seconds, RSS KiB) of this process, from /proc.
fn usage() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, rss)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rate = arg(1, 2000);
    let seconds = arg(2, 30);
    let lines: Vec<&str> = CORPUS.lines().collect();
    let (tx, mut rx) = mpsc::channel::<Msg>(65536);
    // Keeps the loop alive through the idle phase.
    let keep_open = tx.clone();
    let mut app = App::new("nymn".into(), 10_000, LoginView::Anonymous, false);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();

    // The generator: `rate` lines a second in 10 ms slices, parsed as the connection would.
    let generator = tokio::spawn(async move {
        let per_tick = (rate / 100).max(1) as usize;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut i = 0usize;
        let start = Instant::now();
        let mut rss = Vec::new();
        while start.elapsed() < Duration::from_secs(seconds) {
            tick.tick().await;
            for _ in 0..per_tick {
                let msg = Msg::Chat(ChatEvent::Incoming(
                    read_line(lines[i % lines.len()]).unwrap(),
                ));
                i += 1;
                if tx.send(msg).await.is_err() {
                    return (i, rss);
                }
            }
            if i % (rate as usize * 5) < per_tick {
                rss.push(usage().1);
            }
        }
        // Idle: the clock only.
        (i, rss)
    });

    let (cpu0, rss0) = usage();
    let wall = Instant::now();
    let flood = tokio::spawn(async move {
        drive(&mut terminal, &mut app, &mut rx, |_| true)
            .await
            .unwrap();
    });
    let (sent, rss_samples) = generator.await.unwrap();
    let flood_wall = wall.elapsed().as_secs_f64();
    let (cpu1, rss1) = usage();
    println!(
        "== flood: {sent} chat lines in {flood_wall:.1} s ({:.0}/s), 160x48 headless terminal",
        sent as f64 / flood_wall
    );
    println!(
        "CPU: {:.1}% of one core (parse + update + draw at most every 33 ms)",
        (cpu1 - cpu0) / flood_wall * 100.0
    );
    println!(
        "RSS: start {} KiB, every 5 s {:?} KiB, end {} KiB",
        rss0, rss_samples, rss1
    );

    // Idle: nothing arrives for 10 s.
    let (cpu2, _) = usage();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (cpu3, rss3) = usage();
    println!(
        "== idle 10 s (loop running, nothing arriving): CPU {:.2}% of one core, RSS {} KiB",
        (cpu3 - cpu2) / 10.0 * 100.0,
        rss3
    );
    drop(keep_open);
    flood.await.unwrap();
}
