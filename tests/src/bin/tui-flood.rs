//! B6: the real `onair` binary in a pseudo-terminal (160x48, output read and discarded), fed
//! chat by the local fake Twitch IRC server at fixed rates: the app process's CPU (utime + stime
//! from /proc over each window) and RSS, idle before and after. The baseline, in the same run
//! through the same terminal, is `onair chat tail` on the same chat: receiving and parsing
//! every line and printing it, with no full-screen drawing.
//!
//! ```sh
//! cargo build --release -p onair -p onair-tests
//! target/release/tui-flood [FLOOD_SECONDS] [IDLE_SECONDS] [RATE_PER_S]...
//! ```
//! Defaults: 20 s per rate, 20 s idle, rates 2000 and 10000.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A load script: panics report.

use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use onair_tests::bins::{self, arg};
use onair_tests::irc::FakeIrc;
use onair_tests::procstat::{Usage, usage};
use onair_tests::pty::Pty;

const CORPUS: &str = include_str!("../../../tui/tests/data/twitch-irc-nymn-800.txt");
const CHANNEL: &str = "nymn";
/// Twitch batches a busy chat into multi-line frames; the fake sends one frame per tick.
const TICK: Duration = Duration::from_millis(10);
const RSS_EVERY: Duration = Duration::from_secs(5);

/// One measured window of one program.
struct Window {
    label: String,
    lines_per_s: f64,
    cpu_pct: f64,
    rss_kib: Vec<u64>,
    out_kib_per_s: f64,
}

#[tokio::main]
async fn main() {
    let flood_s = arg(1, 20);
    let idle_s = arg(2, 20);
    let mut rates: Vec<u64> = std::env::args()
        .skip(3)
        .filter_map(|r| r.parse().ok())
        .collect();
    if rates.is_empty() {
        rates = vec![2000, 10_000];
    }
    let irc = FakeIrc::start(Arc::new(|_: &str, _: &str| true)).await;
    let lines: Vec<&str> = CORPUS.lines().collect();
    let mut results = Vec::new();
    for (program, args) in [
        ("onair (app)", vec!["--channel", CHANNEL]),
        ("onair chat tail", vec!["chat", "tail", CHANNEL]),
    ] {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = bins::onair(home.path());
        cmd.args(&args)
            .env("ONAIR_TWITCH_IRC_URL", &irc.url)
            .env("ONAIR_TUI_TOKEN_STORE", "file");
        let (mut child, mut pty) = Pty::spawn(&cmd, 160, 48).unwrap();
        wait_joined(&irc, &mut child).await;
        // Let start-up settle (first draws, log file) before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let pid = child.id();
        let mut windows = vec![idle(pid, &pty, "idle, joined", idle_s).await];
        for &rate in &rates {
            windows.push(flood(&irc, &lines, pid, &pty, rate, flood_s).await);
        }
        windows.push(idle(pid, &pty, "idle after the flood", idle_s).await);
        pty.type_bytes(b"\x03").unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(10)).await;
        pty.finish();
        println!("== {program} {args:?}: exit {status}");
        for w in &windows {
            print_window(w);
        }
        results.push(windows);
    }
    println!("== ratio app / chat tail, same windows (CPU)");
    for (a, b) in results[0].iter().zip(&results[1]) {
        // Idle windows may measure zero ticks: no ratio then.
        let ratio = if b.cpu_pct > 0.0 {
            format!("{:.2}x", a.cpu_pct / b.cpu_pct)
        } else {
            "n/a".into()
        };
        println!(
            "{:<24} {:>6.2}% / {:>6.2}% = {ratio}",
            a.label, a.cpu_pct, b.cpu_pct
        );
    }
}

async fn wait_joined(irc: &FakeIrc, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while irc.joined(CHANNEL) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "onair exited before joining"
        );
        assert!(Instant::now() < deadline, "onair never joined #{CHANNEL}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_exit(child: &mut Child, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return s.to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    format!("none after {limit:?}: killed")
}

/// Nothing arrives for `seconds`.
async fn idle(pid: u32, pty: &Pty, label: &str, seconds: u64) -> Window {
    let (u0, out0, t0) = (usage(pid), pty.output_bytes(), Instant::now());
    let mut rss = vec![u0.rss_kib];
    while t0.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(RSS_EVERY.min(Duration::from_secs(seconds))).await;
        rss.push(usage(pid).rss_kib);
    }
    window(
        label.into(),
        0,
        u0,
        usage(pid),
        rss,
        pty.output_bytes() - out0,
        t0,
    )
}

/// `rate` corpus lines a second for `seconds`, in one frame per [`TICK`].
async fn flood(
    irc: &FakeIrc,
    lines: &[&str],
    pid: u32,
    pty: &Pty,
    rate: u64,
    seconds: u64,
) -> Window {
    let per_tick = (rate as usize * TICK.as_millis() as usize / 1000).max(1);
    let mut tick = tokio::time::interval(TICK);
    let (u0, out0, t0) = (usage(pid), pty.output_bytes(), Instant::now());
    let mut rss = vec![u0.rss_kib];
    let mut next_rss = t0 + RSS_EVERY;
    let mut sent = 0usize;
    let mut frame = String::new();
    while t0.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        frame.clear();
        for _ in 0..per_tick {
            frame.push_str(lines[sent % lines.len()]);
            frame.push_str("\r\n");
            sent += 1;
        }
        irc.broadcast(CHANNEL, &frame);
        if Instant::now() >= next_rss {
            rss.push(usage(pid).rss_kib);
            next_rss += RSS_EVERY;
        }
    }
    let label = format!("flood {rate}/s");
    window(
        label,
        sent,
        u0,
        usage(pid),
        rss,
        pty.output_bytes() - out0,
        t0,
    )
}

fn window(
    label: String,
    sent: usize,
    u0: Usage,
    u1: Usage,
    mut rss_kib: Vec<u64>,
    out: u64,
    t0: Instant,
) -> Window {
    let wall = t0.elapsed().as_secs_f64();
    rss_kib.push(u1.rss_kib);
    Window {
        label,
        lines_per_s: sent as f64 / wall,
        cpu_pct: (u1.cpu_s - u0.cpu_s) / wall * 100.0,
        rss_kib,
        out_kib_per_s: out as f64 / 1024.0 / wall,
    }
}

fn print_window(w: &Window) {
    println!(
        "{:<24} {:>7.0} lines/s  CPU {:>6.2}% of one core  terminal output {:>7.1} KiB/s  RSS KiB every {}s {:?}",
        w.label,
        w.lines_per_s,
        w.cpu_pct,
        w.out_kib_per_s,
        RSS_EVERY.as_secs(),
        w.rss_kib
    );
}
