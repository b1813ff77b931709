//! The relay's SQLite store: events with the relay's increasing `seq` (unique on Twitch's message
//! id), revocations, and client token hashes. One writer thread commits in groups (see
//! [`writer`]); readers come from a small pool and run on the blocking thread pool.

mod insert;
mod prune;
mod schema;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use onair_common::Event;
use rusqlite::{Connection, params_from_iter};

pub mod clients;
pub use clients::{ClientId, ClientInfo};
pub use writer::{Appended, OnCommit, Stored, Writer, revocation_info};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or set up.
    #[error("cannot open database {}: {reason}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored event could not be read back.
    #[error("stored event {seq} is unreadable: {reason}")]
    Corrupt {
        /// Its seq.
        seq: u64,
        /// What serde said.
        reason: String,
    },
    /// The writer thread has stopped (the relay is shutting down).
    #[error("the store is shut down")]
    Closed,
    /// The writer's queue is full: more intake than the disk commits.
    #[error("the store is over capacity")]
    Overloaded,
    /// A client name is taken or unknown.
    #[error("{0}")]
    Client(String),
}

impl StoreError {
    fn open(path: &Path, e: impl std::fmt::Display) -> Self {
        Self::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// How many idle read connections are kept.
const MAX_IDLE_READERS: usize = 8;
/// Reads running at once on the blocking pool. Each may open a connection (three descriptors
/// with WAL), so without a cap a burst of replays could take the descriptors `accept` needs.
pub const MAX_CONCURRENT_READS: usize = 16;

/// Filters for reading events.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only events with `seq > after`.
    pub after: u64,
    /// Channel logins (empty: all).
    pub channels: Vec<String>,
    /// Types (empty: all).
    pub types: Vec<String>,
    /// At most this many.
    pub limit: u32,
}

/// A page of events and the store's bounds when it was read.
#[derive(Debug, Clone)]
pub struct Page<T = Event> {
    /// Events in ascending seq.
    pub events: Vec<T>,
    /// What the store held at the time of the read.
    pub head: Head,
}

/// A stored event as it is kept: its seq and its EVENT JSON without the seq (`"seq":null`).
#[derive(Debug, Clone)]
pub struct Row {
    /// The seq.
    pub seq: u64,
    /// The stored body.
    pub body: String,
}

/// The range of seqs a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The oldest seq still stored; `last_seq + 1` when none is.
    pub first_seq: u64,
    /// The highest seq ever stored (0 when none was), also after pruning.
    pub last_seq: u64,
}

/// A cheap, cloneable handle for reads. Writes go through [`Writer`].
#[derive(Debug, Clone)]
pub struct Store {
    path: Arc<PathBuf>,
    // Idle connections; the lock is held only to push or pop, never across a query or an await.
    idle: Arc<Mutex<Vec<Connection>>>,
    reads: Arc<tokio::sync::Semaphore>,
    // Written once when the database is created; read at open rather than per welcome.
    epoch: Arc<str>,
}

impl Store {
    /// Opens the database, creating the file and tables when missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = schema::open(path)?;
        schema::migrate(&conn, path)?;
        let epoch: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .map_err(|e| StoreError::open(path, e))?;
        Ok(Self {
            path: Arc::new(path.to_owned()),
            idle: Arc::new(Mutex::new(vec![conn])),
            reads: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_READS)),
            epoch: epoch.into(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a read connection, synchronously (CLI commands, the writer's startup).
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let popped = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match popped {
            Some(c) => c,
            None => schema::open(&self.path)?,
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` on a read connection on the blocking pool.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = self
            .reads
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            store.with_conn(f)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// The seqs stored now.
    pub async fn head(&self) -> Result<Head, StoreError> {
        self.read(head).await
    }

    /// The name of this database's history (`welcome.epoch`).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Events matching `q`, ascending, with the store's bounds read in the same transaction.
    pub async fn events(&self, q: Query) -> Result<Page, StoreError> {
        self.read(move |c| {
            let page = rows(c, &q)?;
            let events = page
                .events
                .into_iter()
                .map(|r| decode(r.seq, &r.body))
                .collect::<Result<_, _>>()?;
            Ok(Page {
                events,
                head: page.head,
            })
        })
        .await
    }

    /// Like [`Store::events`], as stored: for senders that splice the seq into the body
    /// rather than parse and serialize every event again.
    pub async fn rows(&self, q: Query) -> Result<Page<Row>, StoreError> {
        self.read(move |c| rows(c, &q)).await
    }

    /// Counts per type for a channel (all channels when `None`) received since `since_ms`.
    pub async fn stats(
        &self,
        channel: Option<String>,
        since_ms: i64,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT type, COUNT(*) FROM events
                 WHERE received_ms >= ?1 AND (?2 IS NULL OR channel_login = ?2) GROUP BY type",
            )?;
            let rows = stmt.query_map(rusqlite::params![since_ms, channel], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The login last seen for a channel id, to name channels in revocations.
    pub fn channel_login(conn: &Connection, id: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(conn
            .query_row(
                "SELECT channel_login FROM events WHERE channel_id = ?1 AND channel_login != ''
                 ORDER BY seq DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }
}

fn head(conn: &Connection) -> Result<Head, StoreError> {
    // sqlite_sequence remembers the highest seq ever given, even after pruning everything.
    let (first, last): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT (SELECT MIN(seq) FROM events),
                MAX((SELECT COALESCE(MAX(seq), 0) FROM events),
                    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let last_seq = last.unwrap_or(0).max(0) as u64;
    let first_seq = first.map_or(last_seq + 1, |f| f.max(0) as u64);
    Ok(Head {
        first_seq,
        last_seq,
    })
}

fn rows(conn: &Connection, q: &Query) -> Result<Page<Row>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let mut sql = String::from("SELECT seq, body FROM events WHERE seq > ?");
    let mut args: Vec<rusqlite::types::Value> =
        vec![i64::try_from(q.after).unwrap_or(i64::MAX).into()];
    // Logins compare without case, as the live filter does (`Subscribe::accepts`).
    for (column, values) in [
        ("channel_login COLLATE NOCASE", &q.channels),
        ("type", &q.types),
    ] {
        if !values.is_empty() {
            let marks = vec!["?"; values.len()].join(",");
            sql.push_str(&format!(" AND {column} IN ({marks})"));
            args.extend(values.iter().map(|v| v.clone().into()));
        }
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    args.push(i64::from(q.limit).into());
    let mut stmt = tx.prepare_cached(&sql)?;
    let found = stmt.query_map(params_from_iter(args), |r| {
        Ok(Row {
            seq: r.get::<_, i64>(0)? as u64,
            body: r.get(1)?,
        })
    })?;
    let events = found.collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    let head = head(&tx)?;
    tx.finish()?;
    Ok(Page { events, head })
}

/// A stored body (EVENT JSON without seq) with its seq filled in.
fn decode(seq: u64, body: &str) -> Result<Event, StoreError> {
    let mut ev: Event = serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        seq,
        reason: e.to_string(),
    })?;
    ev.seq = Some(seq);
    Ok(ev)
}
