//! The SQLite schema and connection settings.

use std::path::Path;

use rusqlite::Connection;

use super::open_error;
use crate::store::StoreError;

/// The events table, under a name so that [`drop_message_id_index`] can build it afresh. No
/// index on `message_id`: the writer dedupes in memory ([`super::seen`]), because an index on
/// random ids costs every commit a page write somewhere in the file.
const EVENTS: &str = "
CREATE TABLE IF NOT EXISTS {name} (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    channel_id    TEXT    NOT NULL,
    channel_login TEXT    NOT NULL,
    received_ms   INTEGER NOT NULL,
    body          TEXT    NOT NULL
);";

const SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS events_received ON events(received_ms);
CREATE INDEX IF NOT EXISTS events_channel ON events(channel_login, received_ms);
CREATE TABLE IF NOT EXISTS revocations (
    message_id      TEXT    PRIMARY KEY,
    subscription_id TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    cost            INTEGER NOT NULL,
    created_at      TEXT    NOT NULL,
    received_ms     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The epoch names this database's history; a new database is a new epoch.
INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(16))));
CREATE TABLE IF NOT EXISTS clients (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
";

/// Opens (creating if needed) the database with the settings every connection uses.
/// How long a statement waits for a lock another connection holds before it fails as busy.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn open(path: &Path) -> Result<Connection, StoreError> {
    private_file(path).map_err(|e| open_error(path, e))?;
    let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    // WAL lets readers run beside the single writer. synchronous=FULL makes every other
    // connection's commit (the CLI's, an import) durable when it returns; the relay's writer
    // sets NORMAL and makes each commit durable itself before the 204 (`sync.rs`).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .and_then(|()| conn.busy_timeout(BUSY_TIMEOUT))
    .map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Creates the database file 0600 (and a missing directory 0700) before SQLite does, and
/// narrows an existing one: client token hashes and events are nobody else's business. SQLite
/// gives its WAL and shared-memory files the database file's mode.
fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the database was readable by others; made it 0600");
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            if let Ok(meta) = std::fs::metadata(&side)
                && meta.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

/// Creates the tables if they are missing, and brings an older database up to date.
pub fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(&EVENTS.replace("{name}", "events"))
        .and_then(|()| conn.execute_batch(SCHEMA))
        .map_err(|e| open_error(path, e))
}

/// Brings the events table to the current shape; the writer runs it at start. The rebuild is
/// all or nothing: an error leaves the database as it was. The compaction after it only fails
/// with a warning, and is tried again at the next start.
pub(super) fn upgrade(conn: &mut Connection) -> rusqlite::Result<()> {
    drop_message_id_index(conn)?;
    let pending: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'compact')",
        [],
        |r| r.get(0),
    )?;
    if pending {
        // The old table's pages are free but still in the file, which SQLite never shrinks on
        // its own. Both copies go through the WAL: start it over, at its usual size, before
        // intake.
        match conn.execute_batch(
            "VACUUM; PRAGMA wal_checkpoint(TRUNCATE); DELETE FROM meta WHERE key = 'compact';",
        ) {
            Ok(()) => tracing::info!("the events table is rebuilt and the file compacted"),
            Err(e) => tracing::warn!(
                error = %e,
                "could not compact the database after rebuilding its events table; it keeps \
                 the old table's space until the next start tries again"
            ),
        }
    }
    Ok(())
}

/// Databases before the in-memory dedupe had `message_id ... UNIQUE`, an index SQLite cannot
/// drop on its own: the table is built again without it, in one transaction, keeping every row
/// and the highest seq ever given (a seq is never given twice, even after pruning everything),
/// and noting that the file wants compacting. Returns whether it did.
pub(super) fn drop_message_id_index(conn: &mut Connection) -> rusqlite::Result<bool> {
    // Looked at inside the write transaction: two processes opening an old file rebuild once.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let unique: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_index_list('events') WHERE origin = 'u')",
        [],
        |r| r.get(0),
    )?;
    if !unique {
        return Ok(false);
    }
    let rows: i64 = tx.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    tracing::info!(
        rows,
        "rebuilding the events table without its message-id index (once, for faster intake)"
    );
    let last: i64 = tx.query_row(
        "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0),
                    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))",
        [],
        |r| r.get(0),
    )?;
    tx.execute_batch(&EVENTS.replace("{name}", "events_next"))?;
    tx.execute_batch(
        "INSERT INTO events_next (seq, message_id, type, channel_id, channel_login, received_ms, body)
         SELECT seq, message_id, type, channel_id, channel_login, received_ms, body FROM events;
         DROP TABLE events;
         ALTER TABLE events_next RENAME TO events;
         DELETE FROM sqlite_sequence WHERE name IN ('events', 'events_next');",
    )?;
    tx.execute(
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?1)",
        [last],
    )?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('compact', 'after the rebuild')",
        [],
    )?;
    tx.commit()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events table as it was before the in-memory dedupe: today's, with `message_id`
    /// UNIQUE.
    fn old_events() -> String {
        let column = "message_id    TEXT    NOT NULL,";
        assert!(EVENTS.contains(column));
        EVENTS
            .replace("{name}", "events")
            .replace(column, "message_id    TEXT    NOT NULL UNIQUE,")
    }

    fn indexes(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_index_list('events') ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn an_old_database_loses_only_its_message_id_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.sqlite3");
        let conn = open(&path).unwrap();
        conn.execute_batch(&old_events()).unwrap();
        for seq in 1..=5 {
            conn.execute(
                "INSERT INTO events (message_id, type, channel_id, channel_login, received_ms, body)
                 VALUES (?1, 'channel.follow', '1', 'a', ?2, '{}')",
                rusqlite::params![format!("m{seq}"), seq * 1000],
            )
            .unwrap();
        }
        // Retention took the newest rows too: the next seq must still be 6.
        conn.execute("DELETE FROM events WHERE seq >= 4", [])
            .unwrap();
        assert!(
            indexes(&conn)
                .iter()
                .any(|i| i.starts_with("sqlite_autoindex"))
        );

        drop(conn);
        let mut conn = open(&path).unwrap();
        migrate(&conn, &path).unwrap();
        assert!(
            indexes(&conn)
                .iter()
                .any(|i| i.starts_with("sqlite_autoindex")),
            "only the writer rebuilds, not every command that opens the file"
        );
        assert!(drop_message_id_index(&mut conn).unwrap());
        assert_eq!(indexes(&conn), ["events_channel", "events_received"]);
        let ids: Vec<(i64, String, i64)> = conn
            .prepare("SELECT seq, message_id, received_ms FROM events ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ids,
            [
                (1, "m1".into(), 1000),
                (2, "m2".into(), 2000),
                (3, "m3".into(), 3000)
            ]
        );
        conn.execute(
            "INSERT INTO events (message_id, type, channel_id, channel_login, received_ms, body)
             VALUES ('m1', 't', '1', 'a', 9, '{}')",
            [],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 6, "no seq is given twice");
        // Once done, it is not done again.
        migrate(&conn, &path).unwrap();
        assert!(!drop_message_id_index(&mut conn).unwrap());
        // The compaction it asked for is done by the next `upgrade`, or the one after that if
        // it fails: the note stays until it passes.
        let compact = |c: &Connection| -> bool {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'compact')",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert!(compact(&conn));
        let free = |c: &Connection| -> i64 {
            c.query_row("PRAGMA freelist_count", [], |r| r.get(0))
                .unwrap()
        };
        assert!(free(&conn) > 0, "the old table's pages");
        upgrade(&mut conn).unwrap();
        assert!(!compact(&conn));
        assert_eq!(free(&conn), 0);
        assert_eq!(indexes(&conn), ["events_channel", "events_received"]);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 4);
    }
}
