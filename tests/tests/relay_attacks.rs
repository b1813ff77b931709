//! The relay on the public internet, attacked without any secret (reliability cases in
//! `docs/reliability.md`): half-sent requests, trickled bodies, and a relay started with the
//! common 1024 open-file limit. Each test runs the real `onair-relay` process on loopback; the
//! attacker connects from 127.0.0.1 and "Twitch" from 127.0.0.2, as they would from different
//! hosts.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use onair_tests::eventsub::Delivery;
use onair_tests::relay_process::{Options, RelayProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ATTACKERS: usize = 1100;

/// The test process itself needs more than 1024 descriptors to attack with 1100 sockets.
fn room_for_attackers() {
    let fitted = onair_relay::net::nofile::fit(ATTACKERS * 2 + 200);
    assert!(
        fitted.max_connections >= ATTACKERS + 100,
        "this machine's hard open-file limit ({}) is too low for the test",
        fitted.hard
    );
}

async fn connect_all(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for chunk in 0..n.div_ceil(100) {
        let batch = (chunk * 100..n.min(chunk * 100 + 100)).map(|_| TcpStream::connect(addr));
        for s in join_all(batch).await {
            out.push(s.unwrap());
        }
    }
    out
}

/// Reads until the relay closes the socket; returns when, or `None` if it stayed open.
async fn closed_within(mut s: TcpStream, wait: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(wait.saturating_sub(start.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue, // a 408 or similar on the way out
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_neither_starve_webhooks_nor_stay_open() {
    room_for_attackers();
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(
        dir.path(),
        Options {
            soft_nofile: Some(1024),
            ..Options::default()
        },
    )
    .await;
    assert!(
        relay.soft_nofile() >= 10_000,
        "the relay raised its soft limit to fit relay.max_connections: {}",
        relay.soft_nofile()
    );
    assert!(
        relay.log().contains("raised the open-file limit"),
        "{}",
        relay.log()
    );

    let addr = format!("127.0.0.1:{}", relay.port);
    let mut attackers = connect_all(&addr, ATTACKERS).await;
    for (i, s) in attackers.iter_mut().enumerate() {
        // Half a request line, or a request line and half the headers, then nothing.
        let partial: &[u8] = if i % 2 == 0 {
            b"POST /eventsub HT"
        } else {
            b"POST /eventsub HTTP/1.1\r\nHost: relay\r\nTwitch-Eventsub-Mess"
        };
        s.write_all(partial).await.unwrap();
    }
    let attacked = Instant::now();

    let twitch = relay.twitch_from("127.0.0.2");
    let sent = Instant::now();
    let answer = twitch.send(&Delivery::fixture("channel.follow")).await;
    assert_eq!(answer.status(), 204);
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "a signed webhook is answered within 2 s beside 1,100 half-open requests: {:?}",
        sent.elapsed()
    );

    eprintln!(
        "figure: signed webhook beside {ATTACKERS} half-sent requests answered in {:?}",
        sent.elapsed()
    );
    let closes = join_all(
        attackers
            .into_iter()
            .map(|s| closed_within(s, Duration::from_secs(30))),
    )
    .await;
    let still_open = closes.iter().filter(|c| c.is_none()).count();
    assert_eq!(
        still_open, 0,
        "every half-sent request is closed within 30 s"
    );
    let slowest = attacked.elapsed();
    let latest = closes.iter().flatten().max().copied().unwrap_or_default();
    eprintln!(
        "figure: every half-sent request closed, the last {latest:?} after it stopped sending"
    );
    assert!(slowest < Duration::from_secs(30), "{slowest:?}");
    // And the descriptors went back: only the listener, SQLite's files and the runtime's remain.
    let deadline = Instant::now() + Duration::from_secs(5);
    while relay.open_fds() > 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(relay.open_fds() <= 100, "fds left: {}", relay.open_fds());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_bodies_with_and_without_twitch_headers_cannot_starve_intake() {
    room_for_attackers();
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start(
        dir.path(),
        Options {
            soft_nofile: Some(1024),
            ..Options::default()
        },
    )
    .await;
    let token = relay.add_client("ops");
    let addr = format!("127.0.0.1:{}", relay.port);
    let mut attackers = connect_all(&addr, ATTACKERS).await;
    for (i, s) in attackers.iter_mut().enumerate() {
        let head = if i % 2 == 0 {
            // Twitch's headers with a fresh timestamp and a well-formed (wrong) signature: it
            // cannot be refused before its body, so it must not be able to hold intake either.
            let ts = onair_tests::eventsub::twitch_timestamp(jiff::Timestamp::now());
            format!(
                "POST /eventsub HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\
                 Twitch-Eventsub-Message-Id: attack-{i}\r\nTwitch-Eventsub-Message-Timestamp: {ts}\r\n\
                 Twitch-Eventsub-Message-Type: notification\r\n\
                 Twitch-Eventsub-Message-Signature: sha256={}\r\n\r\n",
                "ab".repeat(32)
            )
        } else {
            "POST /eventsub HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n".to_owned()
        };
        s.write_all(head.as_bytes()).await.unwrap();
    }
    // Every attacker trickles one byte a second.
    let trickle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for _ in 0..12 {
            tick.tick().await;
            for s in attackers.iter_mut() {
                let _ = s.write_all(b"{").await;
            }
        }
        attackers
    });

    let twitch = relay.twitch_from("127.0.0.2");
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let sent = Instant::now();
        let answer = twitch.send(&Delivery::fixture("channel.cheer")).await;
        assert_eq!(answer.status(), 204);
        slowest = slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(
        slowest < Duration::from_secs(2),
        "slowest answer {slowest:?}"
    );
    eprintln!("figure: 20 signed webhooks beside {ATTACKERS} trickled bodies, slowest {slowest:?}");
    drop(trickle.await.unwrap());

    let (ok, malformed, overloaded, slow) = (
        relay.webhooks(&token, "ok").await,
        relay.webhooks(&token, "malformed").await,
        relay.webhooks(&token, "overloaded").await,
        relay.webhooks(&token, "slow_body").await,
    );
    assert_eq!(ok, 20);
    assert_eq!(malformed, 550, "headerless ones refused before the body");
    assert!(overloaded > 0, "one address cannot take every slot");
    assert!(slow > 0, "trickles that got in were cut off");
    eprintln!("figure: malformed {malformed} overloaded {overloaded} slow_body {slow}");
    assert!(relay.alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_cannot_turn_on_logging_that_prints_tokens_or_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(
        dir.path(),
        Options {
            rust_log: Some(
                "trace,hyper=trace,hyper::proto::h1=trace,tungstenite=trace,tokio_tungstenite=trace,axum=trace"
                    .into(),
            ),
            ..Options::default()
        },
    )
    .await;
    let token = relay.add_client("laptop");
    let d = Delivery::fixture("channel.follow");
    let signature = d
        .headers(onair_tests::relay::SECRET)
        .into_iter()
        .find(|(k, _)| *k == "Twitch-Eventsub-Message-Signature")
        .unwrap()
        .1;
    assert_eq!(relay.twitch_from("127.0.0.2").send(&d).await.status(), 204);
    let url = format!("ws://127.0.0.1:{}/ws?token={token}", relay.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"subscribe","after":0}"#,
    ))
    .await
    .unwrap();
    let _welcome = ws.next().await;
    let _event = ws.next().await;
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", relay.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = relay.log();
    // The checks below mean something only if verbose logging is on: our own code logs each
    // stored event at debug (it has nothing at trace).
    assert!(
        log.lines()
            .any(|l| l.contains("DEBUG onair_relay") && l.contains("stored event")),
        "debug logging is on for our own code: {log}"
    );
    assert!(!log.contains(&token), "client token in the log");
    let hex = signature.trim_start_matches("sha256=");
    assert!(!log.contains(hex), "webhook signature in the log");
    assert!(
        !log.contains(onair_tests::relay::SECRET),
        "webhook secret in the log"
    );
    for noisy in ["hyper::proto", "tungstenite::protocol"] {
        assert!(
            !log.lines()
                .any(|l| l.contains(noisy) && (l.contains("TRACE") || l.contains("DEBUG"))),
            "{noisy} traced"
        );
    }
}
