//! What the store promises clients: contiguous seqs (a redelivery burns none), pruning in
//! chunks through the writer while webhooks keep getting 204, `first_seq`/`epoch` in the
//! welcome and a `gap` frame for pruned history, case-insensitive channel filters in replay,
//! `/healthz` 503 while commits fail (and a failed webhook's retry is stored), and a database
//! only its owner can read.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::{Duration, Instant};

use onair_common::wire::{ServerFrame, Subscribe};
use onair_relay::metrics::Outcome;
use onair_tests::eventsub::Delivery;
use onair_tests::relay::{TestRelay, WsClient};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn after(seq: u64) -> Subscribe {
    Subscribe {
        after: Some(seq),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_redelivery_takes_no_seq_and_unknown_types_are_not_counted_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("t");
    let twitch = relay.twitch();
    let a = Delivery::fixture("channel.follow");
    assert_eq!(twitch.send(&a).await.status(), 204);
    assert_eq!(twitch.send(&a.redelivery()).await.status(), 204);
    assert_eq!(relay.post("channel.cheer").await, 204);
    let mut ws = WsClient::connect(&relay, &token).await;
    assert_eq!(ws.welcome_seq, 2, "last_seq is the highest stored seq");
    ws.subscribe(after(0)).await;
    assert_eq!(ws.next_event().await.seq, Some(1));
    assert_eq!(
        ws.next_event().await.seq,
        Some(2),
        "no hole after a redelivery"
    );

    // A signed message of a type Twitch may add one day: acknowledged, not stored.
    let mut other = Delivery::fixture("channel.follow");
    other.message_type = "future_message_kind".into();
    assert_eq!(twitch.send(&other).await.status(), 204);
    let m = relay.state.metrics();
    assert_eq!(m.webhooks(Outcome::Ignored), 1);
    assert_eq!(m.webhooks(Outcome::Ok), 2);
    let text = relay
        .get("/metrics", Some(&token))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("onair_events_stored_total 2\n"), "{text}");
    relay.stop().await;
}

#[tokio::test]
async fn replay_filters_channels_without_case_as_live_does() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("t");
    let d = Delivery::fixture("channel.follow");
    assert_eq!(relay.twitch().send(&d).await.status(), 204);
    let login = relay
        .state
        .store()
        .events(onair_relay::store::Query {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .events[0]
        .channel
        .login
        .clone();
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe {
        channels: vec![login.to_uppercase()],
        after: Some(0),
        ..Default::default()
    })
    .await;
    assert_eq!(ws.next_event().await.channel.login, login);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_a_large_history_runs_in_chunks_while_webhooks_get_204() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("t");
    const OLD: usize = 60_000;
    relay
        .seed(OLD, "channel.follow", now_ms() - 40 * DAY_MS)
        .await;
    relay.seed(5, "channel.cheer", now_ms()).await;

    let store = relay.state.store().clone();
    let prune = tokio::spawn(async move { store.prune(now_ms() - 30 * DAY_MS).await });
    let mut slowest = Duration::ZERO;
    let mut posted = 0;
    while !prune.is_finished() || posted < 5 {
        let sent = Instant::now();
        assert_eq!(relay.post("channel.follow").await, 204);
        slowest = slowest.max(sent.elapsed());
        posted += 1;
    }
    let pruned = prune.await.unwrap().unwrap();
    eprintln!("figure: pruned {pruned} rows while {posted} webhooks got 204, slowest {slowest:?}");
    assert_eq!(pruned, OLD);
    assert!(posted >= 5);
    assert!(
        slowest < Duration::from_secs(2),
        "slowest webhook during the prune (a prune holding the lock would take the 5 s busy timeout): {slowest:?}"
    );

    // What was pruned is named as a gap; what is left replays in full.
    let last = OLD as u64 + 5 + posted;
    let mut ws = WsClient::connect(&relay, &token).await;
    assert_eq!(ws.first_seq, OLD as u64 + 1);
    assert_eq!(ws.welcome_seq, last);
    ws.subscribe(after(10)).await;
    match ws.next_frame().await {
        Some(ServerFrame::Gap { from, to }) => assert_eq!((from, to), (11, OLD as u64)),
        other => panic!("expected a gap, got {other:?}"),
    }
    for seq in OLD as u64 + 1..=last {
        assert_eq!(ws.next_event().await.seq, Some(seq));
    }
    // A client already past the pruned range gets no gap.
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(after(last - 1)).await;
    assert_eq!(ws.next_event().await.seq, Some(last));
    relay.stop().await;
}

#[tokio::test]
async fn the_epoch_stays_with_the_database_and_changes_with_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    let token = relay.add_client("t");
    let first = WsClient::connect(&relay, &token).await.epoch;
    assert_eq!(first.len(), 32);
    relay.stop().await;
    let relay = TestRelay::start(&db).await;
    assert_eq!(
        WsClient::connect(&relay, &token).await.epoch,
        first,
        "same history"
    );
    relay.stop().await;

    let other = TestRelay::start(&dir.path().join("new.sqlite3")).await;
    let token = other.add_client("t");
    let ws = WsClient::connect(&other, &token).await;
    assert_ne!(ws.epoch, first, "a new database is a new epoch");
    assert_eq!(
        (ws.first_seq, ws.welcome_seq),
        (1, 0),
        "empty: first_seq is last_seq + 1"
    );
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_while_commits_fail_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    assert_eq!(relay.get("/healthz", None).await.status(), 200);
    // Another process holds the write lock past the writer's busy timeout.
    let (locked_tx, locked) = tokio::sync::oneshot::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        let _ = release_rx.recv();
        c.execute_batch("ROLLBACK").unwrap();
    });
    locked.await.unwrap();
    assert_eq!(relay.post("channel.follow").await, 500);
    assert_eq!(relay.get("/healthz", None).await.status(), 503);
    release.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(relay.post("channel.follow").await, 204);
    assert_eq!(relay.get("/healthz", None).await.status(), 200);
    relay.stop().await;
}

/// The writer dedupes in memory; an id joins that memory only with a commit that held it, so
/// Twitch's retry of a webhook answered 500 is stored rather than taken for a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_of_a_failed_commit_is_stored_not_deduped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    let token = relay.add_client("t");
    let other = rusqlite::Connection::open(&db).unwrap();
    // Fails the insert itself, inside the writer's transaction, after the id was checked.
    other
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON events
             BEGIN SELECT RAISE(ABORT, 'disk trouble'); END;",
        )
        .unwrap();
    let d = Delivery::fixture("channel.cheer");
    assert_eq!(relay.twitch().send(&d).await.status(), 500);
    other.execute_batch("DROP TRIGGER refuse").unwrap();
    assert_eq!(relay.twitch().send(&d.redelivery()).await.status(), 204);
    assert_eq!(relay.state.metrics().webhooks(Outcome::Duplicate), 0);
    assert_eq!(relay.state.metrics().webhooks(Outcome::Ok), 1);
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(after(0)).await;
    assert_eq!(ws.next_event().await.id, d.id);
    // And from then on it is a duplicate.
    assert_eq!(relay.twitch().send(&d.redelivery()).await.status(), 204);
    assert_eq!(relay.state.metrics().webhooks(Outcome::Duplicate), 1);
    relay.stop().await;
}

/// A database from before the in-memory dedupe (a UNIQUE index on `message_id`) is rebuilt
/// once when the relay starts on it: its events, their seqs and what they dedupe all carry over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    let token = relay.add_client("t");
    let first = Delivery::fixture("channel.follow");
    assert_eq!(relay.twitch().send(&first).await.status(), 204);
    assert_eq!(relay.post("channel.cheer").await, 204);
    relay.stop().await;
    // Back to the old shape, as the previous version left it: today's table, with
    // `message_id` UNIQUE.
    let old = rusqlite::Connection::open(&db).unwrap();
    let table: String = old
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let column = "message_id    TEXT    NOT NULL,";
    assert!(table.contains(column), "{table}");
    let table = table
        .replacen("events", "old_events", 1)
        .replace(column, "message_id    TEXT    NOT NULL UNIQUE,");
    old.execute_batch(&format!(
        "BEGIN;
         {table};
         INSERT INTO old_events SELECT * FROM events;
         DROP TABLE events;
         ALTER TABLE old_events RENAME TO events;
         CREATE INDEX events_received ON events(received_ms);
         CREATE INDEX events_channel ON events(channel_login, received_ms);
         COMMIT;"
    ))
    .unwrap();
    drop(old);

    let relay = TestRelay::start(&db).await;
    let (unique, free): (i64, i64) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM pragma_index_list('events') WHERE origin = 'u'),
                    (SELECT freelist_count FROM pragma_freelist_count)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(unique, 0, "the message-id index is gone");
    assert_eq!(
        free, 0,
        "and the old table's pages with it: the file is compacted"
    );
    assert_eq!(relay.twitch().send(&first.redelivery()).await.status(), 204);
    assert_eq!(relay.state.metrics().webhooks(Outcome::Duplicate), 1);
    assert_eq!(relay.post("channel.raid").await, 204);
    let stored = onair_tests::relay::stored_events(&relay.base, &token).await;
    let seqs: Vec<u64> = stored.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(stored[0].1, first.id);
    relay.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/relay.sqlite3");
    let relay = TestRelay::start(&db).await;
    relay.add_client("t");
    assert_eq!(
        relay
            .twitch()
            .send(&Delivery::fixture("channel.follow"))
            .await
            .status(),
        204
    );
    for name in ["relay.sqlite3", "relay.sqlite3-wal", "relay.sqlite3-shm"] {
        let mode = std::fs::metadata(dir.path().join("data").join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
    let dmode = std::fs::metadata(dir.path().join("data"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dmode & 0o777, 0o700);
    relay.stop().await;
}

#[tokio::test]
async fn a_resume_point_past_the_head_resumes_from_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("t");
    assert_eq!(relay.post("channel.follow").await, 204);
    // Seqs from another store, or garbage: no panic, no silent skipping of what comes next.
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(after(u64::MAX)).await;
    ws.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(relay.post("channel.cheer").await, 204);
    assert_eq!(ws.next_event().await.seq, Some(2));
    relay.stop().await;
}
