//! Reads: the head, pages of events (one script call returns rows and head together, as
//! SQLite's transaction does), per-type counts, and the seq where a time begins.

use std::collections::BTreeMap;

use ::redis::Value;

use super::{Redis, SCAN_BUDGET, keys};
use crate::store::{Head, Page, Query, Row, StoreError};

impl Redis {
    pub(in crate::store) async fn head(&self) -> Result<Head, StoreError> {
        let mut conn = self.conn.clone();
        let r: Result<(u64, u64), _> = self
            .scripts
            .head
            .key(keys::EVENTS)
            .key(keys::SEQ)
            .invoke_async(&mut conn)
            .await;
        let (first_seq, last_seq) = self.checked(r)?;
        Ok(Head {
            first_seq,
            last_seq,
        })
    }

    /// The lowest seq from which entries were received at or after `ms` (0 when empty).
    pub(super) async fn seek(&self, ms: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let r = self
            .scripts
            .seek
            .key(keys::EVENTS)
            .arg(ms)
            .invoke_async(&mut conn)
            .await;
        self.checked(r)
    }

    pub(in crate::store) async fn rows(&self, q: Query) -> Result<Page<Row>, StoreError> {
        let channels: Vec<String> = q.channels.iter().map(|c| c.to_lowercase()).collect();
        let mut cursor = q.after;
        let mut events = Vec::new();
        let mut head = None;
        loop {
            let want = q.limit as usize - events.len();
            let mut conn = self.conn.clone();
            let r: Result<Vec<Value>, _> = self
                .scripts
                .page
                .key(keys::EVENTS)
                .key(keys::SEQ)
                .arg(cursor)
                .arg(want)
                .arg(SCAN_BUDGET)
                .arg(channels.len())
                .arg(&channels)
                .arg(&q.types)
                .invoke_async(&mut conn)
                .await;
            let reply = self.checked(r)?;
            let bad = || StoreError::Backend("unexpected reply to the page script".into());
            let [first, last, scanned, found @ ..] = reply.as_slice() else {
                return Err(bad());
            };
            let (first, last, scanned) = (
                number(first).ok_or_else(bad)?,
                number(last).ok_or_else(bad)?,
                number(scanned).ok_or_else(bad)?,
            );
            let head = head.get_or_insert(Head {
                first_seq: first,
                last_seq: last,
            });
            // Events appended since the first call may be in this page: never claim a head
            // below them.
            head.last_seq = head.last_seq.max(last);
            if first > cursor + 1 && first > head.first_seq {
                // Retention trimmed what this read had not reached yet (another instance's
                // prune between two calls): stop here, and say there is more, so the next read
                // starts past `cursor` and reports the gap.
                return Ok(Page {
                    events,
                    head: *head,
                    more: true,
                });
            }
            for pair in found.chunks_exact(2) {
                events.push(Row {
                    seq: number(&pair[0]).ok_or_else(bad)?,
                    body: text(&pair[1]).ok_or_else(bad)?,
                });
            }
            let progressed = scanned > cursor;
            cursor = scanned;
            let full = events.len() >= q.limit as usize;
            if full || !progressed || cursor >= last {
                return Ok(Page {
                    events,
                    head: *head,
                    more: full,
                });
            }
        }
    }

    pub(in crate::store) async fn stats(
        &self,
        channel: Option<String>,
        since_ms: i64,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut counts = BTreeMap::new();
        let start = self.seek(since_ms).await?;
        if start == 0 {
            return Ok(counts);
        }
        let mut cursor = start - 1;
        loop {
            let mut conn = self.conn.clone();
            let r: Result<Vec<Value>, _> = self
                .scripts
                .count
                .key(keys::EVENTS)
                .arg(cursor)
                .arg(SCAN_BUDGET)
                .arg(since_ms)
                .arg(channel.as_deref().unwrap_or(""))
                .invoke_async(&mut conn)
                .await;
            let reply = self.checked(r)?;
            let bad = || StoreError::Backend("unexpected reply to the count script".into());
            let [scanned, done, found @ ..] = reply.as_slice() else {
                return Err(bad());
            };
            for pair in found.chunks_exact(2) {
                *counts.entry(text(&pair[0]).ok_or_else(bad)?).or_insert(0) +=
                    number(&pair[1]).ok_or_else(bad)?;
            }
            cursor = number(scanned).ok_or_else(bad)?;
            if number(done) == Some(1) {
                return Ok(counts);
            }
        }
    }
}

/// An integer reply, or a string holding one.
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// A string reply (or an integer, as text).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}
