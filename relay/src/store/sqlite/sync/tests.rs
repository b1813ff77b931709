//! The durability hand-offs against a real file: order, answers, the watermark, and which
//! thread syncs.

#![allow(clippy::unwrap_used)]

use super::*;
use std::path::PathBuf;
use std::thread::ThreadId;
use std::time::Duration;

/// Records what reached the feed and on which thread; can hold the thread that publishes
/// seq 1 until the test lets it go.
#[derive(Debug, Default)]
struct Seen {
    events: Mutex<Vec<(u64, ThreadId)>>,
    hold: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
}

impl Seen {
    fn seqs(&self) -> Vec<u64> {
        self.events.lock().unwrap().iter().map(|e| e.0).collect()
    }
}

impl Feed for Seen {
    fn event(&self, stored: Arc<Stored>) {
        self.events
            .lock()
            .unwrap()
            .push((stored.seq, std::thread::current().id()));
        if stored.seq == 1
            && let Some((entered, release)) = self.hold.lock().unwrap().take()
        {
            entered.send(()).unwrap();
            release.recv().unwrap();
        }
    }
    fn status(&self, _frame: String) {}
    fn reset(&self) {}
}

fn stored(seq: u64) -> Arc<Stored> {
    Arc::new(Stored {
        seq,
        kind: "channel.follow".into(),
        channel: "c".into(),
        body: String::new(),
    })
}

type Answer = oneshot::Receiver<Result<Appended, StoreError>>;

/// A committed batch of these seqs (`None`: a duplicate), and its answers to come.
fn batch(seqs: &[Option<u64>]) -> (Batch, Vec<Answer>) {
    let (done, answers) = seqs
        .iter()
        .map(|seq| {
            let (reply, answer) = oneshot::channel();
            (Done::Event(reply, seq.map(stored)), answer)
        })
        .unzip();
    (Batch::new(done), answers)
}

struct Rig {
    durability: Durability,
    thread: JoinHandle<()>,
    feed: Arc<Seen>,
    failing: Arc<AtomicBool>,
    published: Watermark,
}

/// Durability over `wal`, its sync thread started, no seq reserved yet: every batch waits for
/// its sync to be published.
fn rig(wal: PathBuf) -> Rig {
    rig_reserved(wal, 0)
}

/// The same with seqs up to `reserved` reserved durably.
fn rig_reserved(wal: PathBuf, reserved: u64) -> Rig {
    let feed = Arc::new(Seen::default());
    let failing = Arc::new(AtomicBool::new(false));
    let published = Watermark::at(0);
    let syncer = Syncer {
        wal: DiskFile::new(wal),
        outlet: Outlet {
            feed: feed.clone(),
            published: published.clone(),
        },
        failing: failing.clone(),
        failed_once: false,
    };
    let (durability, thread) =
        Durability::start(syncer, reserved, |f| std::thread::Builder::new().spawn(f)).unwrap();
    Rig {
        durability,
        thread,
        feed,
        failing,
        published,
    }
}

/// Two batches and a duplicate handed to the sync thread (requests queued behind each);
/// returns the answers once it is done.
fn through_the_thread(rig: Rig) -> (Vec<Result<Appended, StoreError>>, Rig) {
    let mut answers = Vec::new();
    for seqs in [&[Some(1), Some(2)][..], &[Some(3)], &[None]] {
        let (done, a) = batch(seqs);
        rig.durability.settle(done, true);
        answers.extend(a);
    }
    let answers = answers
        .into_iter()
        .map(|a| a.blocking_recv().unwrap_or(Err(StoreError::Closed)))
        .collect();
    (answers, rig)
}

/// Hands seq 1 to the sync thread and returns once that thread is held publishing it:
/// seq 1's answers, and the sender that lets the thread go on.
fn hold_seq_one(rig: &Rig) -> (Vec<Answer>, mpsc::Sender<()>) {
    let (entered, held) = mpsc::channel();
    let (release, released) = mpsc::channel();
    *rig.feed.hold.lock().unwrap() = Some((entered, released));
    let (done, answers) = batch(&[Some(1)]);
    rig.durability.settle(done, true);
    held.recv_timeout(Duration::from_secs(10)).unwrap();
    (answers, release)
}

fn wal_in(dir: &tempfile::TempDir) -> PathBuf {
    let wal = dir.path().join("relay.sqlite3-wal");
    std::fs::write(&wal, b"frames").unwrap();
    wal
}

#[test]
fn a_synced_batch_is_answered_published_in_order_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (answers, rig) = through_the_thread(rig(wal_in(&dir)));
    let seqs: Vec<_> = answers
        .iter()
        .map(|a| match a {
            Ok(Appended::Stored(seq)) => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3), None]);
    assert!(matches!(answers[3], Ok(Appended::Duplicate)));
    assert_eq!(rig.feed.seqs(), [1, 2, 3]);
    assert_eq!(rig.published.get(), 3);
    assert!(!rig.failing.load(Ordering::Relaxed));
    drop(rig.durability);
    rig.thread.join().unwrap();
}

#[test]
fn a_failed_sync_answers_errors_so_twitch_retries() {
    let dir = tempfile::tempdir().unwrap();
    // No WAL to sync: the sync fails.
    let (answers, rig) = through_the_thread(rig(dir.path().join("missing-wal")));
    assert!(
        answers.iter().all(Result::is_err),
        "nobody is told it is safe"
    );
    assert_eq!(
        rig.feed.seqs(),
        [1, 2, 3],
        "committed rows still reach live clients in order"
    );
    assert_eq!(rig.published.get(), 3);
    assert!(rig.failing.load(Ordering::Relaxed), "/healthz reports it");
}

#[test]
fn a_lone_batch_is_synced_and_answered_on_the_writers_own_thread() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(wal_in(&dir));
    let (done, mut answers) = batch(&[Some(1)]);
    rig.durability.settle(done, false);
    assert!(
        matches!(answers[0].try_recv(), Ok(Ok(Appended::Stored(1)))),
        "answered before settle returned"
    );
    let events = rig.feed.events.lock().unwrap().clone();
    assert_eq!(events, [(1, std::thread::current().id())]);
    assert_eq!(rig.published.get(), 1);
}

#[test]
fn a_batch_behind_one_on_the_sync_thread_waits_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(wal_in(&dir));
    // Seq 1 goes to the sync thread, which is held while publishing it.
    let (_first, release) = hold_seq_one(&rig);
    // Nothing queued now, but seq 1 is not answered yet: seq 2 must not be synced and
    // published here, ahead of it; it is handed over, so settling returns at once.
    let (done, second) = batch(&[Some(2)]);
    let (returned, settled) = mpsc::channel();
    let Rig {
        durability, feed, ..
    } = rig;
    let writer = std::thread::spawn(move || {
        durability.settle(done, false);
        returned.send(()).unwrap();
        durability
    });
    let handed_over = settled.recv_timeout(Duration::from_secs(10)).is_ok();
    release.send(()).unwrap();
    assert!(
        handed_over,
        "seq 2 waited on the held sync instead of queueing"
    );
    let durability = writer.join().unwrap();
    let second = second.into_iter().next().unwrap().blocking_recv().unwrap();
    assert!(matches!(second, Ok(Appended::Stored(2))));
    assert_eq!(feed.seqs(), [1, 2]);
    drop(durability);
}

#[test]
fn once_the_sync_thread_has_answered_all_it_was_handed_the_writer_syncs_again() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(wal_in(&dir));
    let (mut answers, release) = hold_seq_one(&rig);
    // Two more queue up behind the held one; the thread then takes both in one round.
    for seq in [2, 3] {
        let (done, a) = batch(&[Some(seq)]);
        rig.durability.settle(done, true);
        answers.extend(a);
    }
    release.send(()).unwrap();
    for a in answers {
        assert!(matches!(a.blocking_recv(), Ok(Ok(Appended::Stored(_)))));
    }
    // The count drops just after the answers, once the thread lets go of the syncer.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rig.durability.counts.handed.load(Ordering::Acquire) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync thread still counts batches it answered"
        );
        std::thread::yield_now();
    }
    let (done, mut lone) = batch(&[Some(4)]);
    rig.durability.settle(done, false);
    assert!(matches!(lone[0].try_recv(), Ok(Ok(Appended::Stored(4)))));
    assert_eq!(rig.feed.seqs(), [1, 2, 3, 4]);
}

#[test]
fn a_batch_within_the_durable_reservation_reaches_clients_before_its_sync() {
    let dir = tempfile::tempdir().unwrap();
    // No WAL to sync: the sync fails, and still the event went out when it was committed.
    let rig = rig_reserved(dir.path().join("missing-wal"), 100);
    let (b, answers) = batch(&[Some(1)]);
    rig.durability.settle(b, true);
    let events = rig.feed.events.lock().unwrap().clone();
    assert_eq!(
        events,
        [(1, std::thread::current().id())],
        "published by the writer as it handed the batch on"
    );
    assert_eq!(rig.published.get(), 1, "and readable");
    let answer = answers.into_iter().next().unwrap().blocking_recv();
    assert!(
        !matches!(answer, Ok(Ok(_))),
        "the sender is told only once it is on disk"
    );
    assert_eq!(rig.feed.seqs(), [1], "published once");
}

#[test]
fn a_batch_beyond_the_reservation_waits_for_its_sync_which_makes_its_reservation_count() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(wal_in(&dir));
    let (mut b, answers) = batch(&[Some(1)]);
    b.reserved = Some(4097);
    rig.durability.settle(b, true);
    let answer = answers.into_iter().next().unwrap().blocking_recv();
    assert!(matches!(answer, Ok(Ok(Appended::Stored(1)))));
    let events = rig.feed.events.lock().unwrap().clone();
    assert_ne!(
        events[0].1,
        std::thread::current().id(),
        "published by the sync thread, after the sync"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rig.durability.counts.handed.load(Ordering::Acquire) != 0 {
        assert!(std::time::Instant::now() < deadline, "never counted down");
        std::thread::yield_now();
    }
    // Its reservation is durable now: the next batch goes out as it is handed on.
    let (b, _answers) = batch(&[Some(2)]);
    rig.durability.settle(b, true);
    let events = rig.feed.events.lock().unwrap().clone();
    assert_eq!(events[1], (2, std::thread::current().id()));
}

#[test]
fn a_reserved_batch_is_not_published_ahead_of_one_waiting_for_its_sync() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(wal_in(&dir));
    // Seq 1 was beyond the reservation: the sync thread publishes it, and is held there.
    let (_first, release) = hold_seq_one(&rig);
    // Meanwhile a reservation became durable (say a batch on that same thread wrote it).
    rig.durability.counts.reserved.store(100, Ordering::Release);
    let (b, second) = batch(&[Some(2)]);
    rig.durability.settle(b, true);
    assert_eq!(rig.feed.seqs(), [1], "seq 2 must wait for seq 1 to be out");
    release.send(()).unwrap();
    let second = second.into_iter().next().unwrap().blocking_recv().unwrap();
    assert!(matches!(second, Ok(Appended::Stored(2))));
    assert_eq!(rig.feed.seqs(), [1, 2]);
}

#[test]
fn after_a_failed_sync_no_reservation_counts_even_once_syncs_pass_again() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("relay.sqlite3-wal");
    let rig = rig(wal.clone());
    let (mut b, _failed) = batch(&[Some(1)]);
    b.reserved = Some(4097);
    rig.durability.settle(b, false);
    assert!(rig.failing.load(Ordering::Relaxed));
    std::fs::write(&wal, b"frames").unwrap();
    let (mut b, mut passed) = batch(&[Some(2)]);
    b.reserved = Some(4098);
    rig.durability.settle(b, false);
    assert!(matches!(passed[0].try_recv(), Ok(Ok(Appended::Stored(2)))));
    assert_eq!(
        rig.durability.counts.reserved.load(Ordering::Acquire),
        0,
        "a sync that passes after one failed proves nothing about the pages before it"
    );
}
