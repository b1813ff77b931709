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
mod tests;
