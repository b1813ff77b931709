//! Reservations against a real database file: what the next seq is after the relay or the
//! machine restarted.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::store::sqlite::schema;

/// Commits `n` events, writing a reservation as the writer does; returns the seqs given.
fn commit_events(conn: &mut Connection, n: u64, written: &mut u64) -> Vec<u64> {
    let tx = conn.transaction().unwrap();
    let mut seqs = Vec::new();
    for _ in 0..n {
        tx.execute(
            "INSERT INTO events (message_id, type, channel_id, channel_login, received_ms, body)
             VALUES (lower(hex(randomblob(8))), 'channel.follow', '1', 'a', 0, '{}')",
            [],
        )
        .unwrap();
        seqs.push(tx.last_insert_rowid() as u64);
    }
    if let Some(r) = ahead(&tx, seqs.last().copied().unwrap_or(0), *written).unwrap() {
        *written = r;
    }
    tx.commit().unwrap();
    seqs
}

/// The database in `dir`, opened as the writer does on `boot`: the connection, and the
/// reservation `open` found durable.
fn start(dir: &tempfile::TempDir, boot: Option<&str>) -> (Connection, u64) {
    let path = dir.path().join("relay.sqlite3");
    let mut conn = schema::open(&path).unwrap();
    schema::migrate(&conn, &path).unwrap();
    let reserved = open(&mut conn, &path, boot).unwrap();
    (conn, reserved)
}

#[test]
fn a_relay_restarted_on_the_same_boot_goes_on_from_the_last_seq() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, reserved) = start(&dir, Some("boot-a"));
    assert_eq!(reserved, 0, "a new database has nothing reserved");
    let mut written = reserved;
    assert_eq!(commit_events(&mut conn, 3, &mut written), [1, 2, 3]);
    assert_eq!(written, 3 + AHEAD);
    drop(conn); // killed: no release
    let (mut conn, reserved) = start(&dir, Some("boot-a"));
    assert_eq!(
        reserved,
        3 + AHEAD,
        "the reservation is durable from the start"
    );
    let mut written = reserved;
    assert_eq!(
        commit_events(&mut conn, 1, &mut written),
        [4],
        "the kernel kept every commit: no gap"
    );
}

#[test]
fn after_the_machine_restarted_no_reserved_seq_is_given_again() {
    for later_boot in [Some("boot-b"), None] {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, mut written) = start(&dir, Some("boot-a"));
        commit_events(&mut conn, 3, &mut written);
        drop(conn); // the machine went down: seqs 4 and on may have reached clients
        let (mut conn, reserved) = start(&dir, later_boot);
        let mut written = reserved;
        assert_eq!(
            commit_events(&mut conn, 1, &mut written),
            [3 + AHEAD + 1],
            "boot {later_boot:?}"
        );
    }
}

#[test]
fn a_clean_stop_leaves_no_gap_after_the_machine_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, mut written) = start(&dir, Some("boot-a"));
    commit_events(&mut conn, 3, &mut written);
    release(&conn).unwrap();
    drop(conn);
    let (mut conn, reserved) = start(&dir, Some("boot-b"));
    assert_eq!(reserved, 3);
    let mut written = reserved;
    assert_eq!(commit_events(&mut conn, 1, &mut written), [4]);
}

#[test]
fn a_reservation_is_renewed_once_half_of_it_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, _) = start(&dir, Some("boot-a"));
    let tx = conn.transaction().unwrap();
    assert_eq!(
        ahead(&tx, 0, 0).unwrap(),
        None,
        "no seq given, none to reserve"
    );
    assert_eq!(ahead(&tx, 1, 0).unwrap(), Some(1 + AHEAD));
    let written = 1 + AHEAD;
    assert_eq!(ahead(&tx, 1 + AHEAD / 2, written).unwrap(), None);
    assert_eq!(
        ahead(&tx, 2 + AHEAD / 2, written).unwrap(),
        Some(2 + AHEAD / 2 + AHEAD)
    );
}

/// An event an export would carry under `seq`.
fn exported(seq: u64) -> onair_common::Event {
    let body = include_str!("../../../../../common/tests/fixtures/channel.follow.json");
    let envelope: onair_common::eventsub::Envelope = serde_json::from_str(body).unwrap();
    let now = jiff::Timestamp::now();
    let mut event = onair_common::Event::from_notification(
        &format!("imported-{seq}"),
        "2026-12-03T00:00:00Z",
        &envelope,
        now,
    )
    .unwrap();
    event.seq = Some(seq);
    event
}

#[test]
fn an_import_after_the_machine_restarted_stays_above_the_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, mut written) = start(&dir, Some("an-earlier-boot"));
    commit_events(&mut conn, 3, &mut written);
    // The machine went down and the relay has not started since: seqs 4 to the reservation
    // may be on screens.
    let refused = crate::store::sqlite::insert::with_seqs(&mut conn, vec![(exported(4), 0)]);
    let Err(crate::store::StoreError::Import(why)) = refused else {
        panic!("an import took a seq clients may hold: {refused:?}");
    };
    assert!(
        why.contains(&format!("seq {}", 3 + AHEAD)) && why.contains("machine restarted"),
        "says which seqs and why: {why}"
    );
    crate::store::sqlite::insert::with_seqs(&mut conn, vec![(exported(3 + AHEAD + 1), 0)]).unwrap();
    // Once the relay started on this boot and went past the reservation, only the store's own
    // last seq counts.
    if let Some(now) = boot_id() {
        drop(conn);
        let (conn, _) = start(&dir, Some(&now));
        assert_eq!(floor(&conn).unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_reserves_as_it_commits_and_comes_down_to_its_last_seq_at_a_clean_stop() {
    use crate::store::sqlite::insert::NewRow;
    use crate::store::sqlite::test_writer::{event, start, stop};
    let dir = tempfile::tempdir().unwrap();
    let (path, writer, thread) = start(dir.path());
    let reserved = || meta(&schema::open(&path).unwrap(), "seq_reserved").unwrap();
    for n in 0..2 {
        writer.append(NewRow::of(event(n)), 0).await.unwrap();
    }
    assert_eq!(
        reserved(),
        Some((1 + AHEAD).to_string()),
        "written with seq 1"
    );
    stop(writer, thread).await;
    assert_eq!(reserved(), Some("2".into()));
    let conn = schema::open(&path).unwrap();
    assert_eq!(meta(&conn, "boot_id").unwrap(), boot_id());
}
