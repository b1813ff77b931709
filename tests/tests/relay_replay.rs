//! A long catch-up is sent from inside the socket's one loop: pings still go out, a slow but
//! reading client is not dropped for "no answer to pings", and client removal and shutdown take
//! effect at once, in the middle of a 20,000-event replay.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::{Duration, Instant};

use onair_common::wire::{ServerFrame, Subscribe};
use onair_tests::relay::{TestRelay, WsClient};
use tokio_tungstenite::tungstenite::Message;

const HISTORY: usize = 20_000;

fn from_start() -> Subscribe {
    Subscribe {
        after: Some(0),
        ..Default::default()
    }
}

async fn relay_with_history(dir: &std::path::Path) -> TestRelay {
    let relay = TestRelay::start_with(&dir.join("relay.sqlite3"), |s| {
        s.ping_interval = Duration::from_millis(250);
    })
    .await;
    let now = jiff::Timestamp::now().as_millisecond();
    relay.seed(HISTORY, "channel.follow", now).await;
    relay
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_all_of_a_long_catch_up_with_pings_and_is_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_history(dir.path()).await;
    let token = relay.add_client("slow");
    let mut ws = WsClient::connect_small_buffer(&relay, &token).await;
    ws.subscribe(from_start()).await;
    // Reads in bursts with pauses longer than two ping periods: the socket buffers fill, so
    // the ping waits behind megabytes of events and its answer comes late. The relay sees the
    // client drain what it sends, and keeps it.
    let started = Instant::now();
    let (mut next, mut pings) = (1u64, 0);
    while next <= HISTORY as u64 {
        for _ in 0..250 {
            match ws.next_message().await {
                Some(Message::Text(t)) => match ServerFrame::parse(&t).unwrap() {
                    ServerFrame::Event { event } => {
                        assert_eq!(event.seq, Some(next), "in order, none missing");
                        next += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                },
                Some(Message::Ping(_)) => pings += 1,
                Some(Message::Close(f)) => panic!("dropped at seq {next}: {f:?}"),
                other => panic!("unexpected {other:?} at seq {next}"),
            }
            if next > HISTORY as u64 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    eprintln!(
        "figure: {HISTORY} events to a slow reader in {:?}, {pings} pings seen on the way",
        started.elapsed()
    );
    assert!(pings > 0, "pings went out during the catch-up");
    assert_eq!(relay.state.hub().open_sockets(), 1, "still connected");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_and_shutdown_act_in_the_middle_of_a_catch_up_to_a_stalled_reader() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_history(dir.path()).await;
    let removed = relay.add_client("removed");
    let kept = relay.add_client("kept");
    let mut a = WsClient::connect(&relay, &removed).await;
    let mut b = WsClient::connect(&relay, &kept).await;
    a.subscribe(from_start()).await;
    b.subscribe(from_start()).await;
    // Both read a little, then stop reading: the relay is mid-replay with full buffers.
    for ws in [&mut a, &mut b] {
        for _ in 0..10 {
            ws.next_event().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(relay.state.hub().open_sockets(), 2);

    let removed_at = Instant::now();
    relay.remove_client("removed");
    while relay.state.hub().open_sockets() > 1 {
        assert!(
            removed_at.elapsed() < Duration::from_millis(2500),
            "the removed client's socket closes within the 1 s poll plus 1 s to close"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    eprintln!(
        "figure: removed client's socket closed {:?} after the removal",
        removed_at.elapsed()
    );
    let stopping = Instant::now();
    relay.stop().await;
    eprintln!("figure: shutdown mid-replay took {:?}", stopping.elapsed());
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "shutdown does not wait for a replay to a stalled reader: {:?}",
        stopping.elapsed()
    );
}
