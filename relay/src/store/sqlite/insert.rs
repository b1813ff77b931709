//! What one queued job writes inside the writer's transaction: an event or a revocation record.

use std::sync::Arc;

use onair_common::Event;
use onair_common::wire::SubscriptionInfo;
use rusqlite::params;

use crate::store::{Head, StoreError, Stored};

/// An event as its row. Built by the caller, on the runtime thread that parsed the event, so
/// the writer (one thread, which every webhook queues for) only moves strings: serializing the
/// body and freeing the event's JSON tree cost it as much as the insert.
#[derive(Debug)]
pub(super) struct NewRow {
    pub(super) message_id: String,
    pub(super) kind: String,
    pub(super) channel_id: String,
    pub(super) channel_login: String,
    /// The stored EVENT, seq null.
    pub(super) body: String,
}

impl NewRow {
    pub(super) fn of(event: Event) -> Self {
        let (event, body) = crate::store::body_of(event);
        Self {
            message_id: event.id,
            kind: event.kind,
            channel_id: event.channel.id,
            channel_login: event.channel.login,
            body,
        }
    }
}

/// Stores an event under the next seq. Dedupe is the caller's ([`super::seen`]): by then the
/// writer knows this message id is new.
pub(super) fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    row: NewRow,
    received_ms: i64,
) -> rusqlite::Result<Arc<Stored>> {
    let seq = insert_row(tx, None, &row, received_ms)?;
    Ok(Arc::new(Stored {
        seq,
        kind: row.kind,
        channel: row.channel_login,
        body: row.body,
    }))
}

pub(super) fn insert_revocation(
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

/// Stores events with the seqs they carry (an import), in one transaction, refusing any seq at
/// or below what the database has given already.
pub(super) fn with_seqs(
    conn: &mut rusqlite::Connection,
    events: Vec<(Event, i64)>,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let Head { last_seq, .. } = super::head(&tx, u64::MAX)?;
    // Seqs clients may hold from before a restart of the machine count as given.
    let reserved = super::reserve::floor(&tx)?;
    for (event, received_ms) in events {
        let seq = event.seq.unwrap_or(0);
        if seq <= last_seq {
            return Err(StoreError::Import(format!(
                "event {seq} is at or below this store's last seq {last_seq}: importing it \
                 would give one seq two events; import into an empty store, or export with \
                 --after {last_seq}"
            )));
        }
        if seq <= reserved {
            return Err(StoreError::Import(format!(
                "event {seq} is at or below seq {reserved}, which this store's relay may have \
                 sent to clients before its machine restarted: importing it could give one seq \
                 two events; start the relay once first (it goes on past {reserved}), or \
                 export with --after {reserved}"
            )));
        }
        insert_row(&tx, Some(seq), &NewRow::of(event), received_ms)?;
    }
    tx.commit()?;
    Ok(())
}

/// Inserts one event row under `seq`, or the next seq when `None`; returns the seq.
fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    seq: Option<u64>,
    row: &NewRow,
    received_ms: i64,
) -> rusqlite::Result<u64> {
    tx.prepare_cached(
        "INSERT INTO events (seq, message_id, type, channel_id, channel_login, received_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq.map(|s| s as i64),
        row.message_id,
        row.kind,
        row.channel_id,
        row.channel_login,
        received_ms,
        row.body
    ])?;
    Ok(tx.last_insert_rowid() as u64)
}
