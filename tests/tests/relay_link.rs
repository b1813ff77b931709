//! The relay link notices death and says what happened: a TCP proxy that blackholes a live link
//! (a suspended laptop, a NAT that forgot us) between the real `onair events tail` and a real
//! relay; and, in-process against a small scripted relay, the welcome and read deadlines, `gap`
//! frames, and a new store epoch starting the link over from seq 0.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair::relay::{self, Deadlines, RelayConfig, RelayEvent, RelayState};
use onair_common::Secret;
use onair_common::wire::{ClientFrame, Subscribe};
use onair_tests::bins;
use onair_tests::eventsub::Delivery;
use onair_tests::relay::TestRelay;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Forwards TCP both ways until [`Proxy::blackhole`]: from then on the open connections carry
/// nothing in either direction, not even a close, while new connections pass normally.
struct Proxy {
    addr: std::net::SocketAddr,
    holes: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

impl Proxy {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let holes: Arc<Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
        let h = holes.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(upstream).await.unwrap();
                let hole = Arc::new(AtomicBool::new(false));
                h.lock().unwrap().push(hole.clone());
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(cr, sw, hole.clone()));
                tokio::spawn(pipe(sr, cw, hole));
            }
        });
        Self { addr, holes }
    }

    fn blackhole(&self) {
        for h in self.holes.lock().unwrap().iter() {
            h.store(true, Ordering::SeqCst);
        }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    hole: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        if hole.load(Ordering::SeqCst) {
            if n == 0 {
                // Keep both sockets open and silent: a blackhole sends no FIN either.
                std::future::pending::<()>().await;
            }
            continue;
        }
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            let _ = to.shutdown().await;
            return;
        }
    }
}

#[tokio::test]
async fn a_blackholed_link_is_noticed_and_the_next_event_arrives_within_90_s() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("link");
    let twitch = relay.twitch();
    assert_eq!(
        twitch
            .send(&Delivery::fixture("channel.follow"))
            .await
            .status(),
        204
    );
    let proxy = Proxy::start(relay.addr).await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::from(bins::onair(home.path()));
    cmd.args(["events", "tail", "--after", "0", "--json"])
        .env("ONAIR_TUI_RELAY_URL", format!("http://{}", proxy.addr))
        .env("ONAIR_TUI_RELAY_TOKEN", &token)
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&out.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["seq"], 1);
    // Subscribed and replayed: now the link goes dark both ways.
    proxy.blackhole();
    let cut = Instant::now();
    assert_eq!(
        twitch
            .send(&Delivery::fixture("channel.follow"))
            .await
            .status(),
        204
    );
    let line = tokio::time::timeout(Duration::from_secs(90), out.next_line())
        .await
        .expect("the event posted after the blackhole was not printed within 90 s")
        .unwrap()
        .unwrap();
    let second: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(second["seq"], 2, "resumed after seq 1: no repeat, no gap");
    let took = cut.elapsed();
    eprintln!("the event posted after the cut was printed {took:?} later");
    assert!(
        took >= Duration::from_secs(70),
        "noticed by the read deadline: {took:?}"
    );
    child.kill().await.unwrap();
    let mut stderr = Vec::new();
    while let Ok(Some(l)) = err.next_line().await {
        stderr.push(l);
    }
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("nothing from the relay for 75 s")),
        "{stderr:?}"
    );
    relay.stop().await;
}

/// A scripted relay: each connection gets the next script, which sees the client's subscribe.
type Script = Box<dyn FnOnce(Subscribe) -> Vec<Step> + Send>;

enum Step {
    Send(Value),
    /// Say nothing more, keep the socket open.
    Silence,
}

async fn scripted(
    scripts: Vec<(Value, Option<Script>)>,
) -> (String, mpsc::UnboundedReceiver<Subscribe>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (subs_tx, subs) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for (welcome, script) in scripts {
            let (tcp, _) = listener.accept().await.unwrap();
            let subs_tx = subs_tx.clone();
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let Some(script) = script else {
                    // Never welcome.
                    std::future::pending::<()>().await;
                    return;
                };
                ws.send(Message::text(welcome.to_string())).await.unwrap();
                let sub = loop {
                    if let Some(Ok(Message::Text(t))) = ws.next().await
                        && let Ok(ClientFrame::Subscribe(s)) = ClientFrame::parse(&t)
                    {
                        break s;
                    }
                };
                subs_tx.send(sub.clone()).unwrap();
                for step in script(sub) {
                    match step {
                        Step::Send(v) => ws.send(Message::text(v.to_string())).await.unwrap(),
                        Step::Silence => {
                            // Hold the socket, read nothing: pings go unanswered too.
                            std::future::pending::<()>().await;
                        }
                    }
                }
                let _ = ws.close(None).await;
            });
        }
        std::future::pending::<()>().await;
    });
    (base, subs)
}

fn welcome(last_seq: u64, first_seq: u64, epoch: &str) -> Value {
    json!({"type": "welcome", "protocol": 1, "last_seq": last_seq, "first_seq": first_seq, "epoch": epoch})
}

fn event(seq: u64) -> Value {
    json!({"type": "event", "event": {
        "seq": seq, "id": format!("id-{seq}"), "type": "channel.follow", "version": "2",
        "channel": {"id": "1", "login": "quillstream", "name": "QuillStream"},
        "occurred_at": "2026-11-24T20:01:02.123Z", "received_at": "2026-11-24T20:01:02.150Z",
        "origin": "twitch", "summary": format!("follower {seq}"), "data": {}
    }})
}

fn config(base: &str, after: Option<u64>) -> RelayConfig {
    let mut c = RelayConfig::new(
        base.parse().unwrap(),
        Secret::new("client-token"),
        Subscribe::default(),
        after,
    );
    c.backoff = (Duration::from_millis(20), Duration::from_millis(40));
    c.deadlines = Deadlines {
        connect: Duration::from_secs(2),
        welcome: Duration::from_millis(500),
        read: Duration::from_millis(800),
    };
    c
}

/// Collects what the link reports until `want` says stop.
async fn until(
    rx: &mut mpsc::Receiver<RelayEvent>,
    mut want: impl FnMut(&RelayEvent) -> bool,
) -> Vec<RelayEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the link reported nothing in time")
            .unwrap();
        let stop = want(&ev);
        seen.push(ev);
        if stop {
            return seen;
        }
    }
}

fn start(cfg: RelayConfig) -> (mpsc::Receiver<RelayEvent>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    tokio::spawn(relay::run(cfg, tx, shutdown.clone()));
    (rx, shutdown)
}

fn backoff_reason(seen: &[RelayEvent]) -> Option<String> {
    seen.iter().find_map(|e| match e {
        RelayEvent::State(RelayState::Backoff { reason, .. }) => Some(reason.clone()),
        _ => None,
    })
}

#[tokio::test]
async fn welcome_and_read_deadlines_end_dead_links_and_the_link_resumes_after_the_last_seq() {
    let (base, mut subs) = scripted(vec![
        // 1: accepts the socket, never welcomes.
        (json!(null), None),
        // 2: one event, then silence (a dead link).
        (
            welcome(1, 1, "e1"),
            Some(Box::new(|_| vec![Step::Send(event(1)), Step::Silence])),
        ),
        // 3: resumes.
        (
            welcome(2, 1, "e1"),
            Some(Box::new(|_| vec![Step::Send(event(2)), Step::Silence])),
        ),
    ])
    .await;
    let (mut rx, shutdown) = start(config(&base, Some(0)));
    let seen = until(&mut rx, |e| {
        matches!(e, RelayEvent::State(RelayState::Live))
    })
    .await;
    assert_eq!(
        backoff_reason(&seen).as_deref(),
        Some("no welcome from the relay within 0.5 s")
    );
    let seen = until(&mut rx, |e| {
        matches!(e, RelayEvent::State(RelayState::Backoff { .. }))
    })
    .await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, RelayEvent::Event(ev) if ev.seq == Some(1)))
    );
    assert!(
        backoff_reason(&seen)
            .unwrap()
            .contains("nothing from the relay")
    );
    let seen = until(&mut rx, |e| matches!(e, RelayEvent::Event(_))).await;
    assert!(matches!(seen.last(), Some(RelayEvent::Event(ev)) if ev.seq == Some(2)));
    assert_eq!(subs.recv().await.unwrap().after, Some(0));
    assert_eq!(
        subs.recv().await.unwrap().after,
        Some(1),
        "resumes after the last seq seen"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn a_gap_is_reported_and_a_new_epoch_starts_over_from_zero() {
    let (base, mut subs) = scripted(vec![
        (
            welcome(12, 8, "epoch-a"),
            Some(Box::new(|_| {
                vec![
                    Step::Send(json!({"type": "gap", "from": 3, "to": 7})),
                    Step::Send(event(8)),
                    Step::Send(event(12)),
                ]
            })),
        ),
        // The relay's store was recreated: seqs start again at 1.
        (
            welcome(2, 1, "epoch-b"),
            Some(Box::new(|_| {
                vec![Step::Send(event(1)), Step::Send(event(2)), Step::Silence]
            })),
        ),
    ])
    .await;
    let (mut rx, shutdown) = start(config(&base, Some(2)));
    let seen = until(
        &mut rx,
        |e| matches!(e, RelayEvent::Event(ev) if ev.seq == Some(2)),
    )
    .await;
    let gap = seen
        .iter()
        .position(|e| *e == RelayEvent::Gap { from: 3, to: 7 });
    let eight = seen
        .iter()
        .position(|e| matches!(e, RelayEvent::Event(ev) if ev.seq == Some(8)));
    assert!(
        gap.is_some() && gap < eight,
        "the gap comes before the replay: {seen:?}"
    );
    let new_epoch = seen.iter().position(|e| *e == RelayEvent::NewEpoch);
    let one = seen
        .iter()
        .position(|e| matches!(e, RelayEvent::Event(ev) if ev.seq == Some(1)));
    assert!(
        new_epoch.is_some() && new_epoch < one,
        "seq 1 of the new store is shown, not skipped as old: {seen:?}"
    );
    assert_eq!(subs.recv().await.unwrap().after, Some(2));
    assert_eq!(
        subs.recv().await.unwrap().after,
        Some(0),
        "a new epoch starts over from 0"
    );
    shutdown.cancel();
}
