//! The SQLite schema and connection settings.

use std::path::Path;

use rusqlite::Connection;

use super::open_error;
use crate::store::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    TEXT    NOT NULL UNIQUE,
    type          TEXT    NOT NULL,
    channel_id    TEXT    NOT NULL,
    channel_login TEXT    NOT NULL,
    received_ms   INTEGER NOT NULL,
    body          TEXT    NOT NULL
);
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
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    private_file(path).map_err(|e| open_error(path, e))?;
    let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    // WAL lets readers run beside the single writer; synchronous=FULL makes a commit durable
    // before we answer 204, also across a power cut, and group commit pays for it.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;",
    )
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

/// Creates the tables if they are missing.
pub fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA).map_err(|e| open_error(path, e))
}
