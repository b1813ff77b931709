//! What one queued job writes inside the writer's transaction: an event or a revocation record.

use std::sync::Arc;

use onair_common::Event;
use onair_common::wire::SubscriptionInfo;
use rusqlite::params;

use crate::store::{Head, StoreError, Stored};

/// Stores an event under the next seq. Dedupe is the caller's ([`super::seen`]): by then the
/// writer knows this message id is new.
pub(super) fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    event: Event,
    received_ms: i64,
) -> rusqlite::Result<Arc<Stored>> {
    let (event, body) = crate::store::body_of(event);
    let seq = insert_row(tx, None, &event, received_ms, &body)?;
    Ok(Arc::new(Stored {
        seq,
        kind: event.kind,
        channel: event.channel.login,
        body,
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
    for (event, received_ms) in events {
        let seq = event.seq.unwrap_or(0);
        if seq <= last_seq {
            return Err(StoreError::Import(format!(
                "event {seq} is at or below this store's last seq {last_seq}: importing it \
                 would give one seq two events; import into an empty store, or export with \
                 --after {last_seq}"
            )));
        }
        let (event, body) = crate::store::body_of(event);
        insert_row(&tx, Some(seq), &event, received_ms, &body)?;
    }
    tx.commit()?;
    Ok(())
}

/// Inserts one event row under `seq`, or the next seq when `None`; returns the seq.
fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    seq: Option<u64>,
    event: &Event,
    received_ms: i64,
    body: &str,
) -> rusqlite::Result<u64> {
    tx.prepare_cached(
        "INSERT INTO events (seq, message_id, type, channel_id, channel_login, received_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq.map(|s| s as i64),
        event.id,
        event.kind,
        event.channel.id,
        event.channel.login,
        received_ms,
        body
    ])?;
    Ok(tx.last_insert_rowid() as u64)
}
