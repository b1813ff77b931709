//! Durability, pipelined with the writer. The writer commits without waiting for the disk
//! (`synchronous = NORMAL` on its connection); this thread then makes what was committed durable
//! with one `fdatasync` of the WAL for every batch committed meanwhile, and only after that
//! answers the requests, moves the durable watermark readers stop at, and hands the events to
//! the feed. So the next batch's inserts run while the previous one's sync waits on the disk,
//! and a 204 still means "on disk", across a power cut too.
//!
//! Why this is as safe as `synchronous = FULL`: FULL does exactly one sync of the WAL after a
//! commit's frames are written; here that sync comes a little later, from another descriptor of
//! the same file (a sync covers the file, not the descriptor), and nobody learns of the commit
//! before it: not the sender (no answer yet), not live clients (not published yet), not readers
//! (they stop at the watermark). A power cut can take commits nobody was told about; SQLite's
//! WAL rolls them back cleanly and Twitch re-delivers them.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use tokio::sync::oneshot;

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
/// engine's readers and the sync thread that moves it.
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

/// The sync thread's state.
pub(super) struct Syncer {
    pub(super) wal: DiskFile,
    pub(super) feed: Arc<dyn Feed>,
    pub(super) failing: Arc<AtomicBool>,
    pub(super) durable: Watermark,
}

impl Syncer {
    /// Until the writer hangs up: take every batch committed so far, sync once, answer them.
    pub(super) fn run(mut self, rx: mpsc::Receiver<Vec<Done>>) {
        while let Ok(first) = rx.recv() {
            let mut batches = vec![first];
            batches.extend(rx.try_iter());
            // SQLite creates the WAL with the first commit, so it is opened on first use.
            match self.wal.sync_data() {
                Ok(()) => {
                    self.failing.store(false, Ordering::Relaxed);
                    for done in batches {
                        self.answer(done);
                    }
                }
                Err(e) => {
                    // The rows are committed, so they are published and readable as SQLite
                    // shows them; but no one is told they are safe: each request answers 500
                    // and Twitch re-delivers (a duplicate then, acknowledged once synced).
                    self.failing.store(true, Ordering::Relaxed);
                    tracing::error!(error = %e, "syncing the database to disk failed");
                    for done in batches {
                        self.publish_only(done);
                    }
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

/// A file synced from a thread of its own: opened on first use, and opened again after a failed
/// sync, since a descriptor may stay broken once the kernel has reported a write error on it.
#[derive(Debug)]
pub(super) struct DiskFile {
    path: PathBuf,
    file: Option<File>,
}

impl DiskFile {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    /// `fdatasync`: what was written to the file, by any descriptor, is on disk.
    pub(super) fn sync_data(&mut self) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(std::fs::OpenOptions::new().write(true).open(&self.path)?),
        };
        let synced = file.sync_data();
        if synced.is_err() {
            self.file = None;
        }
        synced
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Mutex;

    /// Records what reached the feed, and what the watermark said when it did.
    #[derive(Debug, Default)]
    struct Seen {
        events: Mutex<Vec<u64>>,
    }

    impl Feed for Seen {
        fn event(&self, stored: Arc<Stored>) {
            self.events.lock().unwrap().push(stored.seq);
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

    /// Runs a sync thread over `wal` for two committed batches; returns the answers, what the
    /// feed got, the watermark and the failing flag.
    fn run(wal: PathBuf) -> (Vec<Result<Appended, StoreError>>, Vec<u64>, u64, bool) {
        let feed = Arc::new(Seen::default());
        let failing = Arc::new(AtomicBool::new(false));
        let durable = Watermark::at(0);
        let syncer = Syncer {
            wal: DiskFile::new(wal),
            feed: feed.clone(),
            failing: failing.clone(),
            durable: durable.clone(),
        };
        let (tx, rx) = mpsc::channel();
        let mut answers = Vec::new();
        for batch in [vec![1, 2], vec![3]] {
            let mut done = Vec::new();
            for seq in batch {
                let (reply, answer) = oneshot::channel();
                done.push(Done::Event(reply, Some(stored(seq))));
                answers.push(answer);
            }
            tx.send(done).unwrap();
        }
        let (reply, answer) = oneshot::channel();
        tx.send(vec![Done::Event(reply, None)]).unwrap();
        answers.push(answer);
        drop(tx);
        syncer.run(rx);
        let answers = answers
            .into_iter()
            .map(|a| a.blocking_recv().unwrap_or(Err(StoreError::Closed)))
            .collect();
        let events = feed.events.lock().unwrap().clone();
        (
            answers,
            events,
            durable.get(),
            failing.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn a_synced_batch_is_answered_published_in_order_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("relay.sqlite3-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let (answers, events, durable, failing) = run(wal);
        let seqs: Vec<_> = answers
            .iter()
            .map(|a| match a {
                Ok(Appended::Stored(seq)) => Some(*seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, [Some(1), Some(2), Some(3), None]);
        assert!(matches!(answers[3], Ok(Appended::Duplicate)));
        assert_eq!(events, [1, 2, 3]);
        assert_eq!(durable, 3);
        assert!(!failing);
    }

    #[test]
    fn a_failed_sync_answers_errors_so_twitch_retries() {
        let dir = tempfile::tempdir().unwrap();
        // No WAL to sync: the sync fails.
        let (answers, events, durable, failing) = run(dir.path().join("missing-wal"));
        assert!(
            answers.iter().all(Result::is_err),
            "nobody is told it is safe"
        );
        assert_eq!(
            events,
            [1, 2, 3],
            "committed rows still reach live clients in order"
        );
        assert_eq!(durable, 3);
        assert!(failing, "/healthz reports it");
    }
}
