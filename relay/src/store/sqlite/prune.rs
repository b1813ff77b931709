//! Retention, a chunk at a time: the writer runs [`chunk`] between intake batches so a prune of
//! millions of rows never holds the write lock for long.

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::store::StoreError;

/// Rows deleted per transaction: small enough that intake waits milliseconds for it.
const PRUNE_CHUNK: i64 = 250;

/// A prune in progress.
pub(super) struct Pruning {
    pub(super) cutoff_ms: i64,
    /// Every seq up to this goes: the newest seq received before the cutoff, fixed at the
    /// first chunk. Deleting by seq rather than by time keeps what is left contiguous (a seq
    /// can carry an earlier time than the one before it), so `first_seq` and `gap` stay true.
    pub(super) upto: Option<i64>,
    pub(super) deleted: usize,
    pub(super) reply: oneshot::Sender<Result<usize, StoreError>>,
}

/// Deletes the next chunk of `p` in its own transaction; `true` once nothing is left.
pub(super) fn chunk(conn: &mut Connection, p: &mut Pruning) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let upto = match p.upto {
        Some(upto) => upto,
        None => {
            let newest_old: Option<i64> = tx.query_row(
                "SELECT MAX(seq) FROM events WHERE received_ms < ?1",
                [p.cutoff_ms],
                |r| r.get(0),
            )?;
            *p.upto.insert(newest_old.unwrap_or(0))
        }
    };
    let n = tx.execute(
        "DELETE FROM events WHERE seq IN
         (SELECT seq FROM events WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
        params![upto, PRUNE_CHUNK],
    )?;
    let done = (n as i64) < PRUNE_CHUNK;
    if done {
        tx.execute(
            "DELETE FROM revocations WHERE received_ms < ?1",
            [p.cutoff_ms],
        )?;
    }
    tx.commit()?;
    p.deleted += n;
    Ok(done)
}
