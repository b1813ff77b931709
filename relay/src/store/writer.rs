//! The single writer: one thread owns the write connection and commits whatever requests are
//! queued in one transaction (group commit), so intake is not one fsync per webhook. Each request
//! is answered only after its transaction commits, which is what lets `/eventsub` promise that a
//! 204 means "on disk". Events are published to the fan-out in seq order, after the commit.

use std::sync::Arc;
use std::thread::JoinHandle;

use axum::extract::ws::Utf8Bytes;
use onair_common::wire::{ServerFrame, SubscriptionInfo};
use onair_common::{Event, eventsub::Subscription};
use rusqlite::{Connection, params};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Store, StoreError, schema};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;
/// Requests that may wait for the writer. Beyond this the relay is over capacity and sheds new
/// notifications with 503 (Twitch retries them) rather than letting every answer get slow.
const QUEUE_DEPTH: usize = 4096;

/// A stored event as the fan-out sends it: the frame is serialized once for every client.
#[derive(Debug)]
pub struct Published {
    /// The event's seq.
    pub seq: u64,
    /// Its type, for filters.
    pub kind: String,
    /// Its channel login, for filters.
    pub channel: String,
    /// `{"type":"event","event":{...}}`.
    pub frame: Utf8Bytes,
}

/// The outcome of appending an event.
#[derive(Debug, Clone)]
pub enum Appended {
    /// Newly stored and committed.
    Stored(Arc<Published>),
    /// Its message id was stored before; nothing changed.
    Duplicate,
}

enum Job {
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
}

impl Writer {
    /// Starts the writer on its own connection; events are published on `publish` after commit.
    pub fn start(
        store: &Store,
        publish: broadcast::Sender<Arc<Published>>,
    ) -> Result<(Self, JoinHandle<()>), StoreError> {
        let conn = schema::open(store.path())?;
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, publish))
            .map_err(|e| StoreError::open(store.path(), e))?;
        Ok((Self { tx }, thread))
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

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    publish: broadcast::Sender<Arc<Published>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        let mut stop = matches!(first, Job::Stop);
        if !stop {
            batch.push(first);
        }
        while !stop && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Job::Stop) => stop = true,
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit(&mut conn, &mut batch, &publish);
        }
        if stop {
            return;
        }
    }
}

/// What one job did inside the transaction, answered after the commit.
enum Done {
    Event(
        oneshot::Sender<Result<Appended, StoreError>>,
        Option<Arc<Published>>,
    ),
    Revocation(oneshot::Sender<Result<bool, StoreError>>, bool),
}

fn commit(
    conn: &mut Connection,
    batch: &mut Vec<Job>,
    publish: &broadcast::Sender<Arc<Published>>,
) {
    let result = (|| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut done = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            done.push(match job {
                Job::Stop => continue,
                Job::Event(event, ms, reply) => Done::Event(reply, insert_event(&tx, *event, ms)?),
                Job::Revocation(id, info, ms, reply) => {
                    Done::Revocation(reply, insert_revocation(&tx, &id, &info, ms)?)
                }
            });
        }
        tx.commit()?;
        Ok::<_, rusqlite::Error>(done)
    })();
    match result {
        Ok(done) => {
            for d in done {
                match d {
                    Done::Event(reply, Some(p)) => {
                        // No receivers (no clients) is fine: the event is in the store.
                        let _ = publish.send(p.clone());
                        let _ = reply.send(Ok(Appended::Stored(p)));
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
        Err(e) => {
            tracing::error!(error = %e, "store commit failed; the batch is answered with errors");
            // The jobs were drained into the failed closure; their senders dropped, so each
            // waiting request sees `Closed` and answers 500, and Twitch retries.
        }
    }
}

fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    mut event: Event,
    received_ms: i64,
) -> rusqlite::Result<Option<Arc<Published>>> {
    event.seq = None;
    let body = serde_json::to_string(&event).unwrap_or_default();
    let changed = tx
        .prepare_cached(
            "INSERT INTO events (message_id, type, channel_id, channel_login, received_ms, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(message_id) DO NOTHING",
        )?
        .execute(params![
            event.id,
            event.kind,
            event.channel.id,
            event.channel.login,
            received_ms,
            body
        ])?;
    if changed == 0 {
        return Ok(None);
    }
    let seq = tx.last_insert_rowid() as u64;
    Ok(Some(Arc::new(Published {
        seq,
        frame: frame_of(seq, &body, &mut event).into(),
        kind: event.kind,
        channel: event.channel.login,
    })))
}

/// `{"type":"event","event":EVENT}` with the seq filled in. The stored body already is the EVENT
/// with `"seq":null` first (the struct's field order), so splicing the seq in saves serializing
/// the whole event a second time for every webhook.
fn frame_of(seq: u64, body: &str, event: &mut Event) -> String {
    const NULL_SEQ: &str = "{\"seq\":null,";
    match body.strip_prefix(NULL_SEQ) {
        Some(rest) => format!("{{\"type\":\"event\",\"event\":{{\"seq\":{seq},{rest}}}"),
        None => {
            event.seq = Some(seq);
            ServerFrame::Event {
                event: Box::new(event.clone()),
            }
            .to_json()
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use onair_common::event::{Channel, Origin};

    #[test]
    fn spliced_frame_equals_the_serialized_one() {
        let mut event = Event {
            seq: None,
            id: "m".into(),
            kind: "channel.follow".into(),
            version: "2".into(),
            channel: Channel {
                id: "1".into(),
                login: "q".into(),
                name: "Q".into(),
            },
            occurred_at: "2026-01-01T00:00:00.000Z".into(),
            received_at: "2026-01-01T00:00:00.000Z".into(),
            origin: Origin::Twitch,
            summary: "x followed".into(),
            data: serde_json::json!({"user_name": "x", "nested": {"a": [1, 2]}}),
        };
        let body = serde_json::to_string(&event).unwrap();
        let spliced = frame_of(42, &body, &mut event.clone());
        event.seq = Some(42);
        let full = ServerFrame::Event {
            event: Box::new(event),
        }
        .to_json();
        assert_eq!(spliced, full);
        assert!(ServerFrame::parse(&spliced).is_ok());
    }
}
