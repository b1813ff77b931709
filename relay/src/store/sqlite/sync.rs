//! Durability, pipelined with the writer. The writer commits without waiting for the disk
//! (`synchronous = NORMAL` on its connection); each committed batch is then made durable with an
//! `fdatasync` of the WAL, and only after that are its requests answered. So a 204 still means
//! "on disk", across a power cut too.
//!
//! Live clients and readers may hear of a batch sooner: as soon as it is committed, when its
//! seqs are within the reservation already durable ([`super::reserve`]) and no earlier batch
//! still waits to be published. A commit the kernel holds survives the relay being killed; a
//! power cut can take it, and Twitch, never answered, re-delivers the event, which clients then
//! see again under a new seq: no seq given twice (while the disk syncs; see [`Syncer`]), no
//! event lost. A batch beyond the
//! durable reservation (the first after a start, a burst past it) is published after its sync.
//!
//! Where the sync runs depends on what waits. Under load the sync thread does it, once for every
//! batch committed meanwhile, while the writer already commits the next batch. With nothing to
//! overlap (no request queued, no batch on the sync thread) the writer syncs the batch itself,
//! one thread hand-off less on the way to its answer.
//!
//! Why this is as safe as `synchronous = FULL` for what is acknowledged: FULL does exactly one
//! sync of the WAL after a commit's frames are written; here that sync comes a little later,
//! from another descriptor of the same file (a sync covers the file, not the descriptor), and
//! the sender hears of the commit only after it.

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

/// The highest seq readers may see: everything at or below it was published to live clients.
/// Shared by the engine's readers and the [`Outlet`] that moves it.
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

/// A committed batch on its way to disk.
pub(super) struct Batch {
    pub(super) done: Vec<Done>,
    /// The seq reservation its commit wrote, durable once the batch is.
    pub(super) reserved: Option<u64>,
    /// Its events reached the feed already, before the sync.
    published: bool,
}

impl Batch {
    pub(super) fn new(done: Vec<Done>) -> Self {
        Self {
            done,
            reserved: None,
            published: false,
        }
    }

    /// The events it stored.
    fn stored(&self) -> impl Iterator<Item = &Arc<Stored>> {
        self.done.iter().filter_map(|d| match d {
            Done::Event(_, Some(stored)) => Some(stored),
            _ => None,
        })
    }

    /// The highest seq it stored (0 when it stored none).
    pub(super) fn last_seq(&self) -> u64 {
        self.stored().map(|s| s.seq).max().unwrap_or(0)
    }
}

/// Where committed events go: the watermark readers stop at, then the feed.
#[derive(Clone)]
pub(super) struct Outlet {
    pub(super) feed: Arc<dyn Feed>,
    pub(super) published: Watermark,
}

impl Outlet {
    /// Publishes the batch's events, in seq order, unless it went out already. Readable first,
    /// then live: a client resuming from a live seq finds it in the store.
    fn publish(&self, batch: &mut Batch) {
        if batch.published {
            return;
        }
        for stored in batch.stored() {
            self.published.set(stored.seq);
            self.feed.event(stored.clone());
        }
        batch.published = true;
    }
}

/// The writer's side of durability: publishes each committed batch when it may before its
/// sync, and hands it to be synced and answered, on the sync thread or, when nothing would
/// overlap the sync, on the writer's own thread.
pub(super) struct Durability {
    syncer: Arc<Mutex<Syncer>>,
    counts: Arc<Counts>,
    outlet: Outlet,
    to_thread: mpsc::Sender<Batch>,
}

/// What the writer counts up and the sync thread counts down (and raises).
struct Counts {
    /// Batches on their way to the sync thread or on it, not yet answered. Only the writer
    /// adds to it, so when it reads 0 no earlier batch can still be published after its own.
    handed: AtomicUsize,
    /// Of those, the ones whose events wait for their sync to be published. Only the writer
    /// adds to it: at 0, publishing a batch now keeps the seq order.
    unpublished: AtomicUsize,
    /// The highest seq reserved durably: what may be published before its own sync.
    reserved: AtomicU64,
}

impl Durability {
    /// Starts the sync thread (`spawn` names and starts it); it ends once this is dropped,
    /// after answering what it was handed. `reserved`: the reservation durable at the start.
    pub(super) fn start<E>(
        syncer: Syncer,
        reserved: u64,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> Result<JoinHandle<()>, E>,
    ) -> Result<(Self, JoinHandle<()>), E> {
        let outlet = syncer.outlet.clone();
        let counts = Arc::new(Counts {
            handed: AtomicUsize::new(0),
            unpublished: AtomicUsize::new(0),
            reserved: AtomicU64::new(reserved),
        });
        let syncer = Arc::new(Mutex::new(syncer));
        let (to_thread, rx) = mpsc::channel();
        let thread = {
            let (syncer, counts) = (syncer.clone(), counts.clone());
            spawn(Box::new(move || run(&syncer, &counts, rx)))?
        };
        Ok((
            Self {
                syncer,
                counts,
                outlet,
                to_thread,
            },
            thread,
        ))
    }

    /// Makes a committed batch durable and answers it, publishing it first when it may.
    /// `queued`: whether more requests wait for the writer, whose next commit the sync thread's
    /// work would overlap.
    pub(super) fn settle(&self, mut batch: Batch, queued: bool) {
        let counts = &*self.counts;
        if counts.unpublished.load(Ordering::Acquire) == 0
            && batch.last_seq() <= counts.reserved.load(Ordering::Acquire)
        {
            self.outlet.publish(&mut batch);
        }
        if !queued && counts.handed.load(Ordering::Acquire) == 0 {
            lock(&self.syncer).settle(vec![batch], &counts.reserved);
            return;
        }
        let waits = !batch.published;
        counts.handed.fetch_add(1, Ordering::AcqRel);
        if waits {
            counts.unpublished.fetch_add(1, Ordering::AcqRel);
        }
        if let Err(mpsc::SendError(batch)) = self.to_thread.send(batch) {
            // The sync thread is gone (a panic took it, and the batches it held answered 500):
            // settle here rather than leave this batch and every later one unanswered.
            lock(&self.syncer).settle(vec![batch], &counts.reserved);
            counts.handed.fetch_sub(1, Ordering::AcqRel);
            if waits {
                counts.unpublished.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// The sync thread: until the writer hangs up, takes every batch handed so far, syncs once,
/// answers them.
fn run(syncer: &Mutex<Syncer>, counts: &Counts, rx: mpsc::Receiver<Batch>) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        batches.extend(rx.try_iter());
        let n = batches.len();
        let waited = batches.iter().filter(|b| !b.published).count();
        lock(syncer).settle(batches, &counts.reserved);
        // Only once they are answered and published: the writer may then publish or sync on
        // its own again.
        counts.unpublished.fetch_sub(waited, Ordering::AcqRel);
        counts.handed.fetch_sub(n, Ordering::AcqRel);
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
    pub(super) outlet: Outlet,
    pub(super) failing: Arc<AtomicBool>,
    /// A sync failed once: a later one that passes does not prove the pages written before it
    /// reached the disk (the kernel reports a write error once), so no reservation counts from
    /// then on, and events go out early only within the last one proved.
    pub(super) failed_once: bool,
}

impl Syncer {
    /// One sync for these committed batches, then their answers, in order; the reservations
    /// they wrote count once synced.
    fn settle(&mut self, batches: Vec<Batch>, reserved: &AtomicU64) {
        // SQLite creates the WAL with the first commit, so it is opened on first use.
        match self.wal.sync_data() {
            Ok(()) => {
                self.failing.store(false, Ordering::Relaxed);
                if let Some(r) = batches.iter().filter_map(|b| b.reserved).max()
                    && !self.failed_once
                {
                    reserved.fetch_max(r, Ordering::AcqRel);
                }
                for mut batch in batches {
                    self.outlet.publish(&mut batch);
                    answer(batch);
                }
            }
            Err(e) => {
                // The rows are committed, so they are published and readable as SQLite shows
                // them; but no one is told they are safe: each request answers 500 and Twitch
                // re-delivers (a duplicate then, acknowledged once synced). Should the machine
                // then go down, seqs beyond the reservation may be given again: the one case
                // where a seq can mean two events, on a disk that already fails.
                self.failing.store(true, Ordering::Relaxed);
                self.failed_once = true;
                tracing::error!(error = %e, "syncing the database to disk failed");
                // Dropping the replies answers 500.
                for mut batch in batches {
                    self.outlet.publish(&mut batch);
                }
            }
        }
    }
}

/// Answers a published batch: each request learns what its job did.
fn answer(batch: Batch) {
    for d in batch.done {
        match d {
            Done::Event(reply, Some(stored)) => {
                let _ = reply.send(Ok(Appended::Stored(stored.seq)));
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

#[cfg(test)]
mod tests;
