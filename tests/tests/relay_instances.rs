//! Three real relay processes on one real Redis, as a user who outgrew one machine runs them
//! behind a load balancer: webhooks land on any instance (and Twitch's redeliveries on another),
//! yet every client on every instance sees every event exactly once, in one global order; a
//! client resumes on another instance than it left; and neither `kill -9` of an instance nor a
//! restart of Redis itself, both under load, loses or doubles an acknowledged event.

#![allow(clippy::unwrap_used)] // A test: a panic is the report.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair_common::wire::{ServerFrame, Subscribe};
use onair_tests::eventsub::{Delivery, Sender};
use onair_tests::redis_server::RedisServer;
use onair_tests::relay::{SECRET, WsClient, stored_events};
use onair_tests::relay_process::{Options, RelayProcess};

/// What one client saw: `(seq, message id)` in arrival order.
type Seen = Arc<Mutex<Vec<(u64, String)>>>;

/// A client that reads from `bases[start]` and, when its relay goes away, resumes on the next
/// one with `after` = the last seq it got, as `onair` does.
fn client(bases: Vec<String>, start: usize, token: String, stop: Arc<AtomicBool>) -> Seen {
    let seen: Seen = Arc::default();
    let out = seen.clone();
    tokio::spawn(async move {
        let mut at = start;
        let mut after = 0;
        let mut hops = 0;
        while !stop.load(Ordering::Relaxed) {
            let Ok(mut ws) = WsClient::try_connect_to(&bases[at], &token).await else {
                at = (at + 1) % bases.len();
                hops += 1;
                assert!(hops < 100, "no relay to resume on");
                continue;
            };
            ws.subscribe(Subscribe {
                after: Some(after),
                ..Subscribe::default()
            })
            .await;
            loop {
                match ws.next_frame_within(Duration::from_millis(200)).await {
                    Ok(Some(ServerFrame::Event { event })) => {
                        after = event.seq.unwrap();
                        out.lock().unwrap().push((after, event.id));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break, // closed: resume elsewhere
                    Err(()) if stop.load(Ordering::Relaxed) => return,
                    Err(()) => {}
                }
            }
            at = (at + 1) % bases.len();
        }
    });
    seen
}

/// Sends one new message until some instance acknowledges it, the way Twitch retries: the same
/// id each time, to the next instance after a failure. Then delivers it once more, to another
/// instance, as Twitch sometimes does. Returns its id.
async fn deliver(senders: &[Sender], first: usize, deadline: Instant) -> String {
    let d = Delivery::fixture("channel.follow");
    let mut at = first;
    let mut attempt = d.clone();
    loop {
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(5), senders[at].try_send(&attempt)).await,
            Ok(Ok(r)) if r.status() == 204
        );
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "no instance took {}", d.id);
        at = (at + 1) % senders.len();
        attempt = attempt.redelivery();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let twin = &senders[(at + 1) % senders.len()];
    // A failure here is fine (that instance may be down): the message is acknowledged already.
    let _ =
        tokio::time::timeout(Duration::from_secs(5), twin.try_send(&attempt.redelivery())).await;
    d.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_one_order_nothing_lost() {
    let mut redis = RedisServer::start().await;
    let env = vec![("ONAIR_RELAY_REDIS_URL".to_owned(), redis.url())];
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut relays = Vec::new();
    for d in &dirs {
        let options = Options {
            env: env.clone(),
            rust_log: Some("warn".into()),
            ..Options::default()
        };
        relays.push(RelayProcess::start(d.path(), options).await);
    }
    // A client added through one machine's CLI works on every instance.
    let token = relays[0].add_client("everywhere");
    let bases: Vec<String> = relays.iter().map(|r| r.base.clone()).collect();
    let senders: Vec<Sender> = bases.iter().map(|b| Sender::new(b, SECRET)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<Seen> = (0..3)
        .map(|i| client(bases.clone(), i, token.clone(), stop.clone()))
        .collect();

    // Round robin, each id delivered twice to two instances.
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..30 {
        let id = deliver(&senders, i % 3, deadline).await;
        acked.lock().unwrap().insert(id);
    }

    // Under load: kill -9 one instance, then restart Redis itself.
    let loading = Arc::new(AtomicBool::new(true));
    let loaders: Vec<_> = (0..6)
        .map(|i| {
            let (senders, acked, loading) = (senders.clone(), acked.clone(), loading.clone());
            tokio::spawn(async move {
                let mut n = i;
                while loading.load(Ordering::Relaxed) {
                    let id = deliver(&senders, n % 3, deadline).await;
                    acked.lock().unwrap().insert(id);
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    relays[1].kill();
    let at_kill = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart().await;
    let at_restart = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    loading.store(false, Ordering::Relaxed);
    for l in loaders {
        l.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "figure: {} acknowledged ({at_kill} before the kill, {at_restart} before Redis came back)",
        acked.len()
    );
    assert!(
        acked.len() > at_restart,
        "intake resumed after the Redis restart"
    );

    // What the store holds: every acknowledged id once, under seqs 1..=N without holes.
    let stored = stored_events(&bases[2], &token).await;
    let n = stored.len() as u64;
    assert_eq!(
        stored.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>(),
        "seqs are contiguous"
    );
    let stored_ids: BTreeSet<String> = stored.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(stored_ids.len() as u64, n, "no message id stored twice");
    assert_eq!(
        stored_ids, acked,
        "every acknowledged event stored, nothing else"
    );

    // Every client, including the one whose instance was killed, saw all of it once, in order.
    let wait = Instant::now() + Duration::from_secs(20);
    for (i, seen) in clients.iter().enumerate() {
        while seen.lock().unwrap().len() < stored.len() && Instant::now() < wait {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            *seen.lock().unwrap(),
            stored,
            "client {i} saw every event exactly once, in seq order"
        );
    }
    stop.store(true, Ordering::Relaxed);

    // `client remove` on one machine closes that client's sockets on every instance.
    let mut on_first = WsClient::connect_to(&bases[0], &token).await;
    let mut on_last = WsClient::connect_to(&bases[2], &token).await;
    let asked = Instant::now();
    let out = relays[2].cli(&["client", "remove", "everywhere"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(on_first.close_reason().await.is_some());
    assert!(on_last.close_reason().await.is_some());
    let took = asked.elapsed();
    eprintln!("figure: a removed client's sockets on two instances closed in {took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(
        WsClient::try_connect_to(&bases[0], &token).await.err(),
        Some(401)
    );
}
