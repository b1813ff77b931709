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
fn batch(seqs: &[Option<u64>]) -> (Vec<Done>, Vec<Answer>) {
    seqs.iter()
        .map(|seq| {
            let (reply, answer) = oneshot::channel();
            (Done::Event(reply, seq.map(stored)), answer)
        })
        .unzip()
}

struct Rig {
    durability: Durability,
    thread: JoinHandle<()>,
    feed: Arc<Seen>,
    failing: Arc<AtomicBool>,
    durable: Watermark,
}

/// Durability over `wal`, its sync thread started.
fn rig(wal: PathBuf) -> Rig {
    let feed = Arc::new(Seen::default());
    let failing = Arc::new(AtomicBool::new(false));
    let durable = Watermark::at(0);
    let syncer = Syncer {
        wal: DiskFile::new(wal),
        feed: feed.clone(),
        failing: failing.clone(),
        durable: durable.clone(),
    };
    let (durability, thread) =
        Durability::start(syncer, |f| std::thread::Builder::new().spawn(f)).unwrap();
    Rig {
        durability,
        thread,
        feed,
        failing,
        durable,
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
    assert_eq!(rig.durable.get(), 3);
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
    assert_eq!(rig.durable.get(), 3);
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
    assert_eq!(rig.durable.get(), 1);
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
    while rig.durability.handed.load(Ordering::Acquire) != 0 {
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
