//! The single writer: one thread owns the write connection and commits whatever requests are
//! queued in one transaction (group commit), so intake is not one fsync per webhook. Each request
//! is answered only after its transaction commits, which is what lets `/eventsub` promise that a
//! 204 means "on disk". What was stored is handed to `on_commit` in seq order, after the commit.
//! Retention deletes run here too, in bounded chunks between batches, so a prune of millions of
//! rows never holds the write lock long enough to turn intake into errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use onair_common::wire::SubscriptionInfo;
use onair_common::{Event, eventsub::Subscription};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError, schema};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;
/// Requests that may wait for the writer. Beyond this the relay is over capacity and sheds new
/// notifications with 503 (Twitch retries them) rather than letting every answer get slow.
const QUEUE_DEPTH: usize = 4096;

/// Rows deleted per prune transaction: small enough that intake waits milliseconds for it.
const PRUNE_CHUNK: i64 = 250;

/// A committed event: its seq and the bytes stored (the EVENT with `"seq":null`).
#[derive(Debug)]
pub struct Stored {
    /// The event's seq.
    pub seq: u64,
    /// Its type, for filters.
    pub kind: String,
    /// Its channel login, for filters.
    pub channel: String,
    /// The stored EVENT JSON, seq null.
    pub body: String,
}

/// Called with each committed event, in seq order, on the writer thread: it must not block.
pub type OnCommit = Box<dyn Fn(&Arc<Stored>) + Send>;

/// The outcome of appending an event.
#[derive(Debug, Clone)]
pub enum Appended {
    /// Newly stored and committed.
    Stored(Arc<Stored>),
    /// Its message id was stored before; nothing changed.
    Duplicate,
}

enum Job {
    /// Delete events and revocations received before this (ms), a chunk at a time.
    Prune(i64, oneshot::Sender<Result<usize, StoreError>>),
    /// Commit what came before, then end the thread.
    Stop,
    Event(
        Box<Event>,
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
pub struct Writer {
    tx: mpsc::Sender<Job>,
    // Set when the last commit failed, cleared by the next that succeeds (`/healthz`).
    failing: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the writer on its own connection; committed events go to `on_commit`.
    pub fn start(store: &Store, on_commit: OnCommit) -> Result<(Self, JoinHandle<()>), StoreError> {
        let conn = schema::open(store.path())?;
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let failing = Arc::new(AtomicBool::new(false));
        let thread = {
            let failing = failing.clone();
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || Thread::new(conn, on_commit, failing).run(rx))
                .map_err(|e| StoreError::open(store.path(), e))?
        };
        Ok((Self { tx, failing }, thread))
    }

    /// Whether the last commit failed (and none succeeded since).
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Deletes events and revocations received before `cutoff_ms`, in chunks between intake
    /// batches; returns how many events went.
    pub async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Prune(cutoff_ms, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores an event (received at `received_ms`); returns once it is committed.
    pub async fn append(&self, event: Event, received_ms: i64) -> Result<Appended, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Event(Box::new(event), received_ms, reply), rx)
            .await
    }

    /// Records a revocation; `false` when its message id was seen before.
    pub async fn revoke(
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
    pub async fn stop(&self) {
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

/// Builds a revocation's [`SubscriptionInfo`], naming the channel by login when it is known.
pub fn revocation_info(store: &Store, sub: &Subscription) -> SubscriptionInfo {
    let id = sub
        .condition_broadcaster_id()
        .unwrap_or_default()
        .to_owned();
    let login = store
        .with_conn(|c| Store::channel_login(c, &id))
        .ok()
        .flatten();
    SubscriptionInfo {
        id: sub.id.clone(),
        kind: sub.kind.clone(),
        version: sub.version.clone(),
        channel: login.unwrap_or(id),
        status: sub.status.clone(),
        cost: sub.cost,
        created_at: sub.created_at.clone(),
    }
}

/// A prune in progress.
struct Pruning {
    cutoff_ms: i64,
    /// Every seq up to this goes: the newest seq received before the cutoff, fixed at the
    /// first chunk. Deleting by seq rather than by time keeps what is left contiguous (a seq
    /// can carry an earlier time than the one before it), so `first_seq` and `gap` stay true.
    upto: Option<i64>,
    deleted: usize,
    reply: oneshot::Sender<Result<usize, StoreError>>,
}

/// The writer thread's state.
struct Thread {
    conn: Connection,
    on_commit: OnCommit,
    failing: Arc<AtomicBool>,
    pruning: Option<Pruning>,
}

impl Thread {
    fn new(conn: Connection, on_commit: OnCommit, failing: Arc<AtomicBool>) -> Self {
        Self {
            conn,
            on_commit,
            failing,
            pruning: None,
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
                self.commit(&mut batch);
            } else if self.pruning.is_some() {
                self.prune_chunk();
            }
            if stop {
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

    fn prune_chunk(&mut self) {
        let Some(p) = self.pruning.as_mut() else {
            return;
        };
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let upto = match p.upto {
                Some(upto) => upto,
                None => {
                    let upto: Option<i64> = tx.query_row(
                        "SELECT MAX(seq) FROM events WHERE received_ms < ?1",
                        [p.cutoff_ms],
                        |r| r.get(0),
                    )?;
                    *p.upto.insert(upto.unwrap_or(0))
                }
            };
            let n = tx.execute(
                "DELETE FROM events WHERE seq IN
                 (SELECT seq FROM events WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
                params![upto, PRUNE_CHUNK],
            )?;
            if (n as i64) < PRUNE_CHUNK {
                tx.execute(
                    "DELETE FROM revocations WHERE received_ms < ?1",
                    [p.cutoff_ms],
                )?;
            }
            tx.commit()?;
            Ok::<_, rusqlite::Error>(n)
        })();
        match result {
            Ok(n) => {
                p.deleted += n;
                if (n as i64) < PRUNE_CHUNK
                    && let Some(p) = self.pruning.take()
                {
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

    fn commit(&mut self, batch: &mut Vec<Job>) {
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut done = Vec::with_capacity(batch.len());
            for job in batch.drain(..) {
                done.push(match job {
                    Job::Stop | Job::Prune(..) => continue,
                    Job::Event(event, ms, reply) => {
                        Done::Event(reply, insert_event(&tx, *event, ms)?)
                    }
                    Job::Revocation(id, info, ms, reply) => {
                        Done::Revocation(reply, insert_revocation(&tx, &id, &info, ms)?)
                    }
                });
            }
            tx.commit()?;
            Ok::<_, rusqlite::Error>(done)
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
                return;
            }
        };
        self.failing.store(false, Ordering::Relaxed);
        for d in done {
            match d {
                Done::Event(reply, Some(stored)) => {
                    (self.on_commit)(&stored);
                    let _ = reply.send(Ok(Appended::Stored(stored)));
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
}

/// What one job did inside the transaction, answered after the commit.
enum Done {
    Event(
        oneshot::Sender<Result<Appended, StoreError>>,
        Option<Arc<Stored>>,
    ),
    Revocation(oneshot::Sender<Result<bool, StoreError>>, bool),
}

fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    mut event: Event,
    received_ms: i64,
) -> rusqlite::Result<Option<Arc<Stored>>> {
    // Looked up first rather than left to the UNIQUE constraint: a conflicting insert still
    // takes an AUTOINCREMENT value, and seqs must stay contiguous so a client can tell a real
    // gap from a redelivery.
    let seen = tx
        .prepare_cached("SELECT 1 FROM events WHERE message_id = ?1")?
        .query_row([&event.id], |_| Ok(()))
        .optional()?;
    if seen.is_some() {
        return Ok(None);
    }
    event.seq = None;
    let body = serde_json::to_string(&event).unwrap_or_default();
    tx.prepare_cached(
        "INSERT INTO events (message_id, type, channel_id, channel_login, received_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        event.id,
        event.kind,
        event.channel.id,
        event.channel.login,
        received_ms,
        body
    ])?;
    let seq = tx.last_insert_rowid() as u64;
    Ok(Some(Arc::new(Stored {
        seq,
        kind: event.kind,
        channel: event.channel.login,
        body,
    })))
}

fn insert_revocation(
    tx: &rusqlite::Transaction<'_>,
    message_id: &str,
    info: &SubscriptionInfo,
    received_ms: i64,
) -> rusqlite::Result<bool> {
    let changed = tx
        .prepare_cached(
            "INSERT INTO revocations (message_id, subscription_id, type, version, channel, status,
             cost, created_at, received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(message_id) DO NOTHING",
        )?
        .execute(params![
            message_id,
            info.id,
            info.kind,
            info.version,
            info.channel,
            info.status,
            info.cost as i64,
            info.created_at,
            received_ms
        ])?;
    Ok(changed > 0)
}
