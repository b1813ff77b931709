//! Reconnect backoff on a paused clock: chat and the relay link, with nothing listening, wait
//! doubling, jittered delays up to their ceiling, and really wait them; no wall-clock sleeps.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use onair::chat::connection::{self, ChatConfig, ChatEvent, ChatState};
use onair::relay::{self, RelayConfig, RelayEvent, RelayState};
use onair_common::Secret;
use onair_common::wire::Subscribe;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const S: Duration = Duration::from_secs(1);
/// Ceilings for a 1 s first delay and an 8 s longest: doubling, then flat.
const CEILINGS: [u32; 6] = [1, 2, 4, 8, 8, 8];

fn check(waits: &[Duration], started: Instant) {
    for (w, c) in waits.iter().zip(CEILINGS) {
        assert!(
            *w >= S * c / 2 && *w <= S * c,
            "{w:?} not within {c} s: {waits:?}"
        );
    }
    let spread: std::collections::BTreeSet<_> = waits.iter().collect();
    assert!(spread.len() > 1, "no jitter: {waits:?}");
    let slept: Duration = waits[..waits.len() - 1].iter().sum();
    assert!(
        started.elapsed() >= slept,
        "the waits were announced, not waited"
    );
}

#[tokio::test(start_paused = true)]
async fn chat_backs_off_doubling_with_jitter() {
    // Nothing listens on port 9 of loopback.
    let mut c = ChatConfig::new("ws://127.0.0.1:9".parse().unwrap(), None, "x".into());
    c.backoff = (S, S * 8);
    let (tx, mut rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let (_handle, task) = connection::spawn(c, tx, shutdown.clone());
    let started = Instant::now();
    let mut waits = Vec::new();
    while waits.len() < CEILINGS.len() {
        if let ChatEvent::State(ChatState::Backoff { retry_in, .. }) = rx.recv().await.unwrap() {
            waits.push(retry_in);
        }
    }
    check(&waits, started);
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_relay_link_backs_off_doubling_with_jitter() {
    let mut c = RelayConfig::new(
        "http://127.0.0.1:9".parse().unwrap(),
        Secret::new("t"),
        Subscribe::default(),
        None,
    );
    c.backoff = (S, S * 8);
    let (tx, mut rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay::run(c, tx, shutdown.clone()));
    let started = Instant::now();
    let mut waits = Vec::new();
    while waits.len() < CEILINGS.len() {
        if let RelayEvent::State(RelayState::Backoff { retry_in, .. }) = rx.recv().await.unwrap() {
            waits.push(retry_in);
        }
    }
    check(&waits, started);
    shutdown.cancel();
    task.await.unwrap();
}
