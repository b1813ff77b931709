//! Long run (reliability case 5): the terminal app's real loop, headless, fed chat at a steady
//! rate while a real relay receives webhooks and is restarted every DROP_EVERY seconds. Checks
//! that memory stays flat, every stored event reaches the app exactly once, and the status bar
//! showed each reconnect.
//!
//! ```sh
//! cargo run --release -p onair-tests --bin app-soak -- [MINUTES] [DROP_EVERY_S] [CHAT_PER_S] [SCROLLBACK]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test script: panics report.

use onair_tests::bins::arg;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use onair::app::run::drive;
use onair::app::{App, EventRow, LoginView, Msg};
use onair::chat::connection::ChatEvent;
use onair::chat::read_line;
use onair::relay::{self, RelayConfig};
use onair_common::Secret;
use onair_common::wire::Subscribe;
use onair_tests::eventsub::Delivery;
use onair_tests::relay::TestRelay;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const CORPUS: &str = include_str!("../../../tui/tests/data/twitch-irc-nymn-800.txt");

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let minutes = arg(1, 10);
    let drop_every = Duration::from_secs(arg(2, 60));
    let chat_rate = arg(3, 200);
    let scrollback = arg(4, 10_000) as usize;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let mut relay = TestRelay::start(&db).await;
    let addr = relay.addr;
    let token = relay.add_client("soak");

    let (tx, mut rx) = mpsc::channel::<Msg>(65536);
    let shutdown = CancellationToken::new();
    // The relay client, as the app runs it, forwarding into the app's queue.
    let (rtx, mut rrx) = mpsc::channel(1024);
    let mut cfg = RelayConfig::new(
        relay.base.parse().unwrap(),
        Secret::new(token),
        Subscribe::default(),
        None,
    );
    cfg.backoff = (Duration::from_millis(500), Duration::from_secs(2));
    tokio::spawn(relay::run(cfg, rtx, shutdown.clone()));
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let fwd = tx.clone();
    tokio::spawn(async move {
        while let Some(ev) = rrx.recv().await {
            let _ = seen_tx.send(ev.clone());
            if fwd.send(Msg::Relay(ev)).await.is_err() {
                return;
            }
        }
    });
    // Chat at a steady rate.
    let chat_tx = tx.clone();
    let chat_stop = shutdown.clone();
    tokio::spawn(async move {
        let lines: Vec<&str> = CORPUS.lines().collect();
        let per_tick = (chat_rate / 10).max(1) as usize;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut i = 0;
        while !chat_stop.is_cancelled() {
            tick.tick().await;
            for _ in 0..per_tick {
                let m = Msg::Chat(ChatEvent::Incoming(
                    read_line(lines[i % lines.len()]).unwrap(),
                ));
                i += 1;
                let _ = chat_tx.send(m).await;
            }
        }
    });
    // The app's real loop on a headless terminal; it owns the model until the end.
    let app = App::new("nymn".into(), scrollback, LoginView::Anonymous, true);
    let ui = tokio::spawn(async move {
        let mut app = app;
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        drive(&mut terminal, &mut app, &mut rx, |_| true)
            .await
            .unwrap();
        (app, terminal)
    });

    let start = Instant::now();
    let end = start + Duration::from_secs(minutes * 60);
    let mut next_drop = start + drop_every;
    let mut posted = 0u64;
    let mut drops = 0;
    let mut rss = vec![rss_kib()];
    let mut states: Vec<String> = Vec::new();
    let mut seqs: HashMap<u64, u32> = HashMap::new();
    let mut replayed_total = 0;
    while Instant::now() < end {
        if Instant::now() >= next_drop {
            relay.stop().await;
            drops += 1;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            relay = TestRelay::start_at(&db, addr, |_| {}).await;
            next_drop += drop_every;
            rss.push(rss_kib());
            eprintln!(
                "{:>4}s: relay dropped and restored ({drops}), {posted} events posted, RSS {} KiB",
                start.elapsed().as_secs(),
                rss.last().unwrap()
            );
        }
        // A few webhooks a second, every one acknowledged.
        let d = Delivery::fixture(
            ["channel.follow", "channel.cheer", "channel.raid"][(posted % 3) as usize],
        );
        if relay
            .twitch()
            .try_send(&d)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            posted += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(ev) = seen_rx.try_recv() {
            match ev {
                relay::RelayEvent::Event(e) => *seqs.entry(e.seq.unwrap_or(0)).or_default() += 1,
                relay::RelayEvent::State(s) => states.push(format!("{s:?}")),
                relay::RelayEvent::Replayed(n) => replayed_total += n,
                other => states.push(format!("{other:?}")),
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Ok(ev) = seen_rx.try_recv() {
        match ev {
            relay::RelayEvent::Event(e) => *seqs.entry(e.seq.unwrap_or(0)).or_default() += 1,
            relay::RelayEvent::Replayed(n) => replayed_total += n,
            relay::RelayEvent::State(s) => states.push(format!("{s:?}")),
            other => states.push(format!("{other:?}")),
        }
    }
    shutdown.cancel();
    drop(tx);
    relay.stop().await;
    let (app, terminal) = ui.await.unwrap();
    let shown: Vec<u64> = app
        .events
        .iter()
        .filter_map(|r| match r {
            EventRow::Event { event, .. } => event.seq,
            EventRow::Marker(_) => None,
        })
        .collect();
    let doubled = seqs.values().filter(|n| **n > 1).count();
    let missing = (1..=posted).filter(|s| !seqs.contains_key(s)).count();
    let reconnects = states.iter().filter(|s| s.starts_with("Backoff")).count();
    let markers = app
        .events
        .iter()
        .filter(|r| matches!(r, EventRow::Marker(_)))
        .count();
    let status_line: String = {
        let buf = terminal.backend().buffer();
        (0..160).map(|x| buf[(x, 47)].symbol().to_owned()).collect()
    };
    println!(
        "ran {} min, relay dropped {drops} times, {posted} webhooks acknowledged, chat {chat_rate}/s",
        minutes
    );
    println!(
        "events delivered to the app: {} distinct, missing {missing}, doubled {doubled}; {replayed_total} replayed after gaps, {markers} replay markers shown",
        seqs.len()
    );
    println!(
        "reconnects reported to the status bar: {reconnects}; events rows kept: {} (scrollback {scrollback}); last status: {}",
        shown.len(),
        status_line.trim()
    );
    println!("RSS KiB at start and after each drop: {rss:?}");
    let ok = missing == 0 && doubled == 0 && reconnects >= drops;
    println!("{} passed, {} failed", u8::from(ok), u8::from(!ok));
    if !ok {
        std::process::exit(1);
    }
}
