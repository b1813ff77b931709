//! Durability, pipelined with the writer. The writer commits without waiting for the disk
//! (`synchronous = NORMAL` on its connection); each committed batch is then made durable with an
//! `fdatasync` of the WAL, and only after that are its requests answered, the durable watermark
//! readers stop at moved, and its events handed to the feed. So a 204 still means "on disk",
//! across a power cut too.
//!
//! Where the sync runs depends on what waits. Under load the sync thread does it, once for every
//! batch committed meanwhile, while the writer already commits the next batch. With nothing to
//! overlap (no request queued, no batch on the sync thread) the writer syncs the batch itself:
//! a lone webhook, which is what a broadcast to live clients waits on, then skips one thread
//! hand-off on its way to its answer and the broadcast.
//!
//! Why this is as safe as `synchronous = FULL`: FULL does exactly one sync of the WAL after a
//! commit's frames are written; here that sync comes a little later, from another descriptor of
//! the same file (a sync covers the file, not the descriptor), and nobody learns of the commit
//! before it: not the sender (no answer yet), not live clients (not published yet), not readers
//! (they stop at the watermark). A power cut can take commits nobody was told about; SQLite's
//! WAL rolls them back cleanly and Twitch re-delivers them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::disk_file::DiskFile;

use crate::store::{Appended, Feed, StoreError, Stored};

/// What one job of a committed batch did, answered once it is durable.
pub(super) enum Done {
    /// An event: stored (and to be published) or a duplicate.
    Event(
        oneshot::Sender<Result<Appended, StoreError>>,
        Option<Arc<Stored>>,
    ),
    /// A revocation: whether it was new.
    Revocation(oneshot::Sender<Result<bool, StoreError>>, bool),
}

/// The highest seq readers may see: everything at or below it is durable. Shared by the
/// engine's readers and the [`Syncer`] that moves it.
#[derive(Debug, Clone)]
pub(super) struct Watermark(Arc<AtomicU64>);

impl Watermark {
    /// Everything in the file counts (no writer in this process, or what a restart found).
    pub(super) fn at(seq: u64) -> Self {
        Self(Arc::new(AtomicU64::new(seq)))
    }

    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub(super) fn set(&self, seq: u64) {
        self.0.store(seq, Ordering::Release);
    }
}

/// The writer's side of durability: hands each committed batch to be synced and answered, on
/// the sync thread or, when nothing would overlap the sync, on the writer's own thread.
pub(super) struct Durability {
    syncer: Arc<Mutex<Syncer>>,
    /// Batches on their way to the sync thread or on it, not yet answered. Only the writer
    /// adds to it, so when it reads 0 no earlier batch can still be published after its own.
    handed: Arc<AtomicUsize>,
    to_thread: mpsc::Sender<Vec<Done>>,
}

impl Durability {
    /// Starts the sync thread (`spawn` names and starts it); it ends once this is dropped,
    /// after answering what it was handed.
    pub(super) fn start<E>(
        syncer: Syncer,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> Result<JoinHandle<()>, E>,
    ) -> Result<(Self, JoinHandle<()>), E> {
        let syncer = Arc::new(Mutex::new(syncer));
        let handed = Arc::new(AtomicUsize::new(0));
        let (to_thread, rx) = mpsc::channel();
        let thread = {
            let (syncer, handed) = (syncer.clone(), handed.clone());
            spawn(Box::new(move || run(&syncer, &handed, rx)))?
        };
        Ok((
            Self {
                syncer,
                handed,
                to_thread,
            },
            thread,
        ))
    }

    /// Makes a committed batch durable and answers it. `queued`: whether more requests wait
    /// for the writer, whose next commit the sync thread's work would overlap.
    pub(super) fn settle(&self, done: Vec<Done>, queued: bool) {
        if !queued && self.handed.load(Ordering::Acquire) == 0 {
            lock(&self.syncer).settle(vec![done]);
            return;
        }
        self.handed.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::SendError(done)) = self.to_thread.send(done) {
            // The sync thread is gone (a panic took it, and the batches it held answered 500):
            // settle here rather than leave this batch and every later one unanswered.
            lock(&self.syncer).settle(vec![done]);
        }
    }
}

/// The sync thread: until the writer hangs up, takes every batch handed so far, syncs once,
/// answers them.
fn run(syncer: &Mutex<Syncer>, handed: &AtomicUsize, rx: mpsc::Receiver<Vec<Done>>) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        batches.extend(rx.try_iter());
        let n = batches.len();
        lock(syncer).settle(batches);
        // Only once they are answered and published: the writer may then sync on its own.
        handed.fetch_sub(n, Ordering::AcqRel);
    }
}

/// A panic while settling (in the feed, say) dropped the replies it held: those requests answer
/// 500 and Twitch retries them. What the lock guards (the file, the flags, the watermark) stays
/// sound, so the next batch may take it and sync again.
fn lock(syncer: &Mutex<Syncer>) -> MutexGuard<'_, Syncer> {
    syncer.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What makes committed batches durable, and then tells everyone.
pub(super) struct Syncer {
    pub(super) wal: DiskFile,
    pub(super) feed: Arc<dyn Feed>,
    pub(super) failing: Arc<AtomicBool>,
    pub(super) durable: Watermark,
}

impl Syncer {
    /// One sync for these committed batches, then their answers, in order.
    fn settle(&mut self, batches: Vec<Vec<Done>>) {
        // SQLite creates the WAL with the first commit, so it is opened on first use.
        match self.wal.sync_data() {
            Ok(()) => {
                self.failing.store(false, Ordering::Relaxed);
                for done in batches {
                    self.answer(done);
                }
            }
            Err(e) => {
                // The rows are committed, so they are published and readable as SQLite shows
                // them; but no one is told they are safe: each request answers 500 and Twitch
                // re-delivers (a duplicate then, acknowledged once synced).
                self.failing.store(true, Ordering::Relaxed);
                tracing::error!(error = %e, "syncing the database to disk failed");
                for done in batches {
                    self.publish_only(done);
                }
            }
        }
    }

    fn answer(&self, done: Vec<Done>) {
        for d in done {
            match d {
                Done::Event(reply, Some(stored)) => {
                    let seq = self.publish(stored);
                    let _ = reply.send(Ok(Appended::Stored(seq)));
                }
                Done::Event(reply, None) => {
                    let _ = reply.send(Ok(Appended::Duplicate));
                }
                Done::Revocation(reply, new) => {
                    let _ = reply.send(Ok(new));
                }
            }
        }
    }

    /// Publishes what a failed sync left committed; dropping the replies answers 500.
    fn publish_only(&self, done: Vec<Done>) {
        for d in done {
            if let Done::Event(_, Some(stored)) = d {
                self.publish(stored);
            }
        }
    }

    /// Readable first, then live: a client resuming from a live seq finds it in the store.
    fn publish(&self, stored: Arc<Stored>) -> u64 {
        let seq = stored.seq;
        self.durable.set(seq);
        self.feed.event(stored);
        seq
    }
}

#[cfg(test)]
mod tests {
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
        let (entered, held) = mpsc::channel();
        let (release, released) = mpsc::channel();
        *rig.feed.hold.lock().unwrap() = Some((entered, released));
        // Seq 1 goes to the sync thread, which is held while publishing it.
        let (done, _first) = batch(&[Some(1)]);
        rig.durability.settle(done, true);
        held.recv_timeout(Duration::from_secs(10)).unwrap();
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
        let (entered, held) = mpsc::channel();
        let (release, released) = mpsc::channel();
        *rig.feed.hold.lock().unwrap() = Some((entered, released));
        let mut answers = Vec::new();
        let (done, a) = batch(&[Some(1)]);
        rig.durability.settle(done, true);
        answers.extend(a);
        held.recv_timeout(Duration::from_secs(10)).unwrap();
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
}
