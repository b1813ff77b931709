//! Seqs reserved ahead on disk, so that live clients may hear of an event as soon as it is
//! committed, before the sync that makes it durable, without a seq ever meaning two events.
//!
//! A commit the kernel holds survives the relay being killed: the restarted relay finds every
//! event a client saw. Only the machine going down (a power cut, a kernel crash) takes the
//! commits not synced yet, and with them seqs clients may hold; giving those seqs to other
//! events would make a client resuming after one skip them. So each commit that nears the end of
//! the reservation writes a new one, `AHEAD` seqs on, durable with that commit's sync; an event
//! reaches clients before its sync only when its seq is within a reservation already durable
//! ([`super::sync`]). After the machine restarted, the writer goes on past the reservation: no seq
//! a client may hold is given again. The machine's boot id tells a restart of the relay alone,
//! which keeps every commit and so leaves no gap, from a restart of the machine.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::disk_file::wal_of;

/// How far ahead of the last seq given each reservation reaches.
pub(super) const AHEAD: u64 = 4096;

/// The value of a `meta` key.
fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )
    .map(drop)
}

/// The reservation last written (0 before the first).
fn reservation(conn: &Connection) -> rusqlite::Result<u64> {
    Ok(meta(conn, "seq_reserved")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// This boot of the machine (`None` where the system does not say: then every start counts as
/// after a restart of the machine, which costs a gap in the seqs and nothing else).
pub(super) fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned()).filter(|id| !id.is_empty())
}

/// Before the writer's first commit, on its connection while that is still
/// `synchronous = FULL` (so this commit is durable when it returns): what was read so far is made
/// durable (a relay killed on this boot may have left commits the kernel still holds), seqs go on
/// past the reservation if the machine restarted since it was written, and this boot is
/// recorded. Returns the durable reservation.
pub(super) fn open(conn: &mut Connection, db: &Path, boot: Option<&str>) -> std::io::Result<u64> {
    sync_files(db)?;
    (|| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let reserved = reservation(&tx)?;
        let written_on = meta(&tx, "boot_id")?;
        if boot.is_none() || written_on.as_deref() != boot {
            skip_to(&tx, reserved)?;
        }
        if let Some(boot) = boot {
            set_meta(&tx, "boot_id", boot)?;
        }
        tx.commit()?;
        Ok::<_, rusqlite::Error>(reserved)
    })()
    .map_err(std::io::Error::other)
}

/// The next seq given is above `seq`.
fn skip_to(tx: &Transaction<'_>, seq: u64) -> rusqlite::Result<()> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let moved = tx.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'events'",
        [seq],
    )?;
    if moved == 0 && seq > 0 {
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?1)",
            [seq],
        )?;
    }
    Ok(())
}

fn sync_files(db: &Path) -> std::io::Result<()> {
    for path in [db.to_owned(), wal_of(db)] {
        // Writable: some systems sync only a handle that may write.
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(f) => f.sync_all()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Inside a commit that gave seqs up to `last` (0: none): a new reservation, returned, when
/// fewer than half of the last one written (`written`, durable or not) is left.
pub(super) fn ahead(
    tx: &Transaction<'_>,
    last: u64,
    written: u64,
) -> rusqlite::Result<Option<u64>> {
    if last == 0 || last + AHEAD / 2 <= written {
        return Ok(None);
    }
    let reserved = last + AHEAD;
    set_meta(tx, "seq_reserved", &reserved.to_string())?;
    Ok(Some(reserved))
}

/// At a clean stop, after the last commit: the reservation comes down to the last seq given,
/// and is synced with everything before it, so a restart of the machine leaves no gap.
pub(super) fn release(conn: &Connection) -> std::io::Result<()> {
    conn.execute(
        "UPDATE meta SET value = (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence
                                  WHERE name = 'events')
         WHERE key = 'seq_reserved'",
        [],
    )
    .map_err(std::io::Error::other)?;
    match conn.path() {
        Some(db) if !db.is_empty() => sync_files(Path::new(db)),
        _ => Ok(()),
    }
}

/// The highest seq a writer other than the relay's (an import) must stay above, beside the
/// store's last seq: the reservation, when the machine restarted since it was written and the
/// relay has not started since to go past it.
pub(super) fn floor(conn: &Connection) -> rusqlite::Result<u64> {
    let boot = boot_id();
    if boot.is_some() && meta(conn, "boot_id")? == boot {
        return Ok(0);
    }
    reservation(conn)
}

#[cfg(test)]
mod tests;
