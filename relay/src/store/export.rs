//! `export` and `import`: stored events as JSON Lines (one EVENT per line, with its seq), the
//! same on both engines, so a user backs up, restores, or moves from SQLite to Redis without
//! losing history or the seqs their clients resume from.

use std::io::{BufRead, Write};

use onair_common::Event;

use super::{Query, Store, StoreError, decode};

/// Events read (or written) per round trip.
const BATCH: u32 = 1000;

/// Writes every stored event with a seq above `after`, ascending; returns how many.
pub async fn export(store: &Store, after: u64, out: &mut impl Write) -> Result<u64, StoreError> {
    let mut cursor = after;
    let mut written = 0;
    loop {
        let page = store
            .rows(Query {
                after: cursor,
                limit: BATCH,
                ..Query::default()
            })
            .await?;
        if page.events.is_empty() {
            break;
        }
        for row in page.events {
            let event = decode(row.seq, &row.body)?;
            let line = serde_json::to_string(&event).unwrap_or_default();
            writeln!(out, "{line}")
                .map_err(|e| StoreError::Import(format!("cannot write: {e}")))?;
            cursor = row.seq;
            written += 1;
        }
    }
    out.flush()
        .map_err(|e| StoreError::Import(format!("cannot write: {e}")))?;
    Ok(written)
}

/// Loads events written by [`export`], keeping their seqs; returns how many. Seqs must ascend
/// and lie above everything the store holds (or ever gave): otherwise nothing of that batch is
/// stored and the error names the line.
pub async fn import(store: &Store, input: impl BufRead) -> Result<u64, StoreError> {
    let mut batch = Vec::with_capacity(BATCH as usize);
    let mut last = 0u64;
    let mut imported = 0;
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| StoreError::Import(format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let (event, received_ms) = parse_line(&line)
            .map_err(|why| StoreError::Import(format!("line {}: {why}", n + 1)))?;
        let seq = event.seq.unwrap_or(0);
        if seq <= last {
            return Err(StoreError::Import(format!(
                "line {}: seq {seq} does not follow {last}; seqs must ascend",
                n + 1
            )));
        }
        last = seq;
        batch.push((event, received_ms));
        if batch.len() == BATCH as usize {
            imported += batch.len() as u64;
            store.insert_with_seqs(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        imported += batch.len() as u64;
        store.insert_with_seqs(batch).await?;
    }
    Ok(imported)
}

/// One exported EVENT and its `received_at` in ms.
fn parse_line(line: &str) -> Result<(Event, i64), String> {
    let event: Event =
        serde_json::from_str(line).map_err(|e| format!("not an exported EVENT: {e}"))?;
    if event.seq.is_none_or(|s| s == 0) {
        return Err("the event has no seq (an export always has one)".into());
    }
    if event.id.is_empty() {
        return Err("the event has no id".into());
    }
    let received = onair_common::time::parse(&event.received_at).ok_or_else(|| {
        format!(
            "received_at {:?} is not an RFC 3339 time",
            event.received_at
        )
    })?;
    Ok((event, received.as_millisecond()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_needs_a_seq_and_a_time() {
        let good = r#"{"seq":7,"id":"m","type":"channel.follow","version":"2","channel":{"id":"1","login":"q","name":"Q"},"occurred_at":"2026-01-01T00:00:00.000Z","received_at":"2026-01-01T00:00:01.000Z","origin":"twitch","summary":"s","data":{}}"#;
        let (event, ms) = parse_line(good).unwrap();
        assert_eq!(event.seq, Some(7));
        assert_eq!(ms, 1_767_225_601_000);
        assert!(parse_line(&good.replace("\"seq\":7", "\"seq\":null")).is_err());
        assert!(parse_line(&good.replace("2026-01-01T00:00:01.000Z", "yesterday")).is_err());
        assert!(parse_line("{").is_err());
    }
}
