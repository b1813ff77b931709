//! The single writer: one thread owns the write connection and commits whatever requests are
//! queued in one transaction (group commit), so intake is not one fsync per webhook. A committed
//! batch is answered only once it is on disk ([`super::sync`]): that is what lets `/eventsub`
//! promise that a 204 means "on disk". What it stored goes to the feed in seq order, before the
//! sync when its seqs are reserved durably ([`super::reserve`]). Under load the sync thread
//! syncs while this thread already commits the next batch.
//! Retention deletes run here too, in bounded chunks between batches, so a prune of millions of
//! rows never holds the write lock long enough to turn intake into errors. Checkpoints do not:
//! a thread of their own copies the WAL back ([`super::checkpoint`]), and this thread only
//! finishes what that left, between two commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use onair_common::wire::SubscriptionInfo;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::{self, Checkpointer, WalState};
use super::disk_file::{DiskFile, wal_of};
use super::insert::{NewRow, insert_event, insert_revocation};
use super::prune::{self, Pruning};
use super::seen::{self, Seen};
use super::sync::{Batch, Done, Durability, Outlet, Syncer, Watermark};
use super::{open_error, reserve, schema};
use crate::store::{Appended, Feed, StoreError};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;
/// Requests that may wait for the writer. Beyond this the relay is over capacity and sheds new
/// notifications with 503 (Twitch retries them) rather than letting every answer get slow.
const QUEUE_DEPTH: usize = 4096;

enum Job {
    /// Delete events and revocations received before this (ms), a chunk at a time.
    Prune(i64, oneshot::Sender<Result<usize, StoreError>>),
    /// Commit what came before, then end the thread.
    Stop,
    Event(
        Box<NewRow>,
        i64,
        oneshot::Sender<Result<Appended, StoreError>>,
    ),
    Revocation(
        String,
        SubscriptionInfo,
        i64,
        oneshot::Sender<Result<bool, StoreError>>,
    ),
}

/// Cloneable handle to the writer thread. The thread ends on [`Writer::stop`] (or when every
/// handle is dropped), after committing what was queued before.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Job>,
    // Set when the last commit failed, cleared by the next that succeeds (`/healthz`).
    failing: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the writer on its own connection, and the sync thread behind it: committed events
    /// go to `feed` in seq order, and `published` follows them.
    pub(super) fn start(
        path: &std::path::Path,
        feed: Arc<dyn Feed>,
        published: Watermark,
    ) -> Result<(Self, JoinHandle<()>), StoreError> {
        let mut conn = schema::open(path)?;
        // Only the relay that is about to write changes the table's shape: an admin command
        // run beside a relay of the previous version leaves its database as it is.
        schema::upgrade(&mut conn).map_err(|e| {
            open_error(
                path,
                format!(
                    "rebuilding the events table without its message-id index failed, and the \
                     database is as it was: {e} (the rebuild needs free disk of about four \
                     times the database's size)"
                ),
            )
        })?;
        let reserved = reserve::open(&mut conn, path, reserve::boot_id().as_deref())
            .map_err(|e| open_error(path, e))?;
        // Each commit is made durable before its sender hears of it (`sync.rs`: here when
        // nothing waits, else on the sync thread, beside the next commit), and the checkpoint thread
        // copies the WAL back: commits wait for no sync of their own, only for the short finish
        // this thread runs between batches when the WAL is long.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
            .map_err(|e| open_error(path, e))?;
        // How long the WAL is after each commit, for the checkpoint thread. Set after the
        // PRAGMA above, which clears this same hook (SQLite's automatic checkpoint is one); with
        // it cleared the count would stay put and the WAL would never be copied back.
        let wal = Arc::new(WalState::new());
        {
            let wal = wal.clone();
            conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames| {
                wal.committed(i64::from(frames));
                Ok(())
            }))
            .map_err(|e| open_error(path, e))?;
        }
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let seen = Seen::load(&conn, now_ms, Instant::now(), seen::LIMITS)
            .map_err(|e| open_error(path, e))?;
        let checkpointer = Checkpointer::open(path, wal.clone())?;
        let (stop_checkpoints, checkpoints_stopped) = std_mpsc::channel::<()>();
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let failing = Arc::new(AtomicBool::new(false));
        let syncer = Syncer {
            wal: DiskFile::new(wal_of(path)),
            outlet: Outlet { feed, published },
            failing: failing.clone(),
            failed_once: false,
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| open_error(path, e))
        };
        let (durability, sync_thread) =
            Durability::start(syncer, reserved, |f| spawn("store-sync", f))?;
        let checkpoint_thread = spawn(
            "store-checkpoint",
            Box::new(move || checkpointer.run(checkpoints_stopped, checkpoint::EVERY)),
        )?;
        let thread = {
            let failing = failing.clone();
            spawn(
                "store-writer",
                Box::new(move || {
                    Thread::new(conn, seen, durability, failing, wal, reserved).run(rx);
                    // The writer dropped its side: the sync thread answers what is left and ends.
                    let _ = sync_thread.join();
                    drop(stop_checkpoints);
                    let _ = checkpoint_thread.join();
                }),
            )?
        };
        Ok((Self { tx, failing }, thread))
    }

    /// Whether the last commit failed (and none succeeded since).
    pub(super) fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Deletes events and revocations received before `cutoff_ms`, in chunks between intake
    /// batches; returns how many events went.
    pub(super) async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Prune(cutoff_ms, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores an event (received at `received_ms`); returns once it is committed.
    pub(super) async fn append(
        &self,
        row: NewRow,
        received_ms: i64,
    ) -> Result<Appended, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Event(Box::new(row), received_ms, reply), rx)
            .await
    }

    /// Records a revocation; `false` when its message id was seen before.
    pub(super) async fn revoke(
        &self,
        message_id: String,
        info: SubscriptionInfo,
        received_ms: i64,
    ) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Revocation(message_id, info, received_ms, reply), rx)
            .await
    }

    /// Commits everything queued so far, then ends the thread; later writes fail with `Closed`.
    pub(super) async fn stop(&self) {
        // Waits for room: everything queued before the stop is committed.
        let _ = self.tx.send(Job::Stop).await;
    }

    async fn submit<T>(
        &self,
        job: Job,
        rx: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writer thread's state.
struct Thread {
    conn: Connection,
    /// The message ids committed in the last hour.
    seen: Seen,
    /// Makes committed batches durable and answers them.
    durability: Durability,
    failing: Arc<AtomicBool>,
    pruning: Option<Pruning>,
    /// Whether the checkpoint thread wants this thread to start the WAL over.
    wal: Arc<WalState>,
    /// Whether the last checkpoint this thread ran failed.
    checkpoint_failing: bool,
    /// The last seq reservation written, durable or not.
    reserved: u64,
}

impl Thread {
    fn new(
        conn: Connection,
        seen: Seen,
        durability: Durability,
        failing: Arc<AtomicBool>,
        wal: Arc<WalState>,
        reserved: u64,
    ) -> Self {
        Self {
            conn,
            seen,
            durability,
            failing,
            pruning: None,
            wal,
            checkpoint_failing: false,
            reserved,
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            // While a prune is under way, intake goes first and a chunk runs whenever the
            // queue is empty; otherwise sleep until there is work.
            let first = if self.pruning.is_some() {
                match rx.try_recv() {
                    Ok(job) => Some(job),
                    Err(mpsc::error::TryRecvError::Empty) => None,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            } else {
                match rx.blocking_recv() {
                    Some(job) => Some(job),
                    None => return,
                }
            };
            let mut stop = false;
            if let Some(first) = first {
                self.take(first, &mut batch, &mut stop);
                while !stop && batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => self.take(job, &mut batch, &mut stop),
                        Err(_) => break,
                    }
                }
            }
            if !batch.is_empty() {
                if let Some(done) = self.commit(&mut batch) {
                    self.durability.settle(done, !rx.is_empty());
                }
            } else if self.pruning.is_some() {
                self.prune_chunk();
            }
            if self.wal.take_finish() {
                self.finish_checkpoint();
            }
            if stop {
                // A clean stop: every seq given is on disk once this is, so a restart of the
                // machine has no reason to leave a gap in the seqs.
                if let Err(e) = reserve::release(&self.conn) {
                    tracing::warn!(error = %e, "could not record the last seq at stop");
                }
                return;
            }
        }
    }

    /// Sorts one job into the batch, the prune slot, or the stop flag.
    fn take(&mut self, job: Job, batch: &mut Vec<Job>, stop: &mut bool) {
        match job {
            Job::Stop => *stop = true,
            Job::Prune(cutoff_ms, reply) => {
                if let Some(p) = self.pruning.take() {
                    // A newer cutoff covers the older one; answer the older with what it got.
                    let _ = p.reply.send(Ok(p.deleted));
                }
                self.pruning = Some(Pruning {
                    cutoff_ms,
                    upto: None,
                    deleted: 0,
                    reply,
                });
            }
            job => batch.push(job),
        }
    }

    /// The checkpoint thread's request: said once when it starts failing and once when it passes
    /// again, not at every commit.
    fn finish_checkpoint(&mut self) {
        let result = checkpoint::finish(&self.conn);
        match (&result, self.checkpoint_failing) {
            (Ok(()), true) => tracing::info!("checkpoints pass again"),
            (Err(e), false) => {
                tracing::warn!(error = %e, "a checkpoint failed; the WAL grows until one passes");
            }
            _ => {}
        }
        self.checkpoint_failing = result.is_err();
    }

    fn prune_chunk(&mut self) {
        let Some(p) = self.pruning.as_mut() else {
            return;
        };
        match prune::chunk(&mut self.conn, p) {
            Ok(false) => {}
            Ok(true) => {
                if let Some(p) = self.pruning.take() {
                    let _ = p.reply.send(Ok(p.deleted));
                }
            }
            Err(e) => {
                if let Some(p) = self.pruning.take() {
                    let _ = p.reply.send(Err(e.into()));
                }
            }
        }
    }

    /// Commits the batch; returns what each job did, to be answered once durable.
    fn commit(&mut self, batch: &mut Vec<Job>) -> Option<Batch> {
        // This batch's new ids: checked beside `seen` (Twitch may send one twice within a
        // batch) and recorded there only once the commit succeeds, so a failed batch's retry
        // is stored rather than taken for a duplicate.
        let mut fresh = std::collections::HashSet::new();
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut done = Vec::with_capacity(batch.len());
            for job in batch.drain(..) {
                done.push(match job {
                    Job::Stop | Job::Prune(..) => continue,
                    Job::Event(row, ms, reply) => {
                        let id = &row.message_id;
                        if self.seen.contains(id) || fresh.contains(id) {
                            Done::Event(reply, None)
                        } else {
                            fresh.insert(id.clone());
                            Done::Event(reply, Some(insert_event(&tx, *row, ms)?))
                        }
                    }
                    Job::Revocation(id, info, ms, reply) => {
                        Done::Revocation(reply, insert_revocation(&tx, &id, &info, ms)?)
                    }
                });
            }
            let mut committed = Batch::new(done);
            committed.reserved = reserve::ahead(&tx, committed.last_seq(), self.reserved)?;
            tx.commit()?;
            Ok::<_, rusqlite::Error>(committed)
        })();
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                self.failing.store(true, Ordering::Relaxed);
                tracing::error!(error = %e, "store commit failed; the batch is answered with errors");
                // Dropping the jobs drops their reply senders: each waiting request sees
                // `Closed` and answers 500, and Twitch retries. (A failure before the drain
                // would otherwise leave them queued and retried forever, unanswered.)
                batch.clear();
                return None;
            }
        };
        let now = Instant::now();
        for id in fresh {
            self.seen.record(&id, now);
        }
        self.reserved = done.reserved.unwrap_or(self.reserved);
        // `failing` clears once this batch is durable.
        Some(done)
    }
}
