//! The relay's SQLite store: events with the relay's increasing `seq` (unique on Twitch's message
//! id), revocations, and client token hashes. One writer thread commits in groups (see
//! [`writer`]); readers come from a small pool and run on the blocking thread pool.

mod schema;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use onair_common::Event;
use rusqlite::{Connection, params_from_iter};

pub mod clients;
pub use clients::{ClientId, ClientInfo};
pub use writer::{Appended, Published, Writer, revocation_info};

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

/// A page of events and the highest seq stored when it was read.
#[derive(Debug, Clone)]
pub struct Page {
    /// Events in ascending seq.
    pub events: Vec<Event>,
    /// The store's highest seq at the time of the read.
    pub last_seq: u64,
}

/// A cheap, cloneable handle for reads. Writes go through [`Writer`].
#[derive(Debug, Clone)]
pub struct Store {
    path: Arc<PathBuf>,
    // Idle connections; the lock is held only to push or pop, never across a query or an await.
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Store {
    /// Opens the database, creating the file and tables when missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = schema::open(path)?;
        schema::migrate(&conn, path)?;
        Ok(Self {
            path: Arc::new(path.to_owned()),
            idle: Arc::new(Mutex::new(vec![conn])),
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
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with_conn(f))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// The highest seq stored (0 when empty).
    pub async fn last_seq(&self) -> Result<u64, StoreError> {
        self.read(last_seq).await
    }

    /// Events matching `q`, ascending, with the highest stored seq read in the same transaction.
    pub async fn events(&self, q: Query) -> Result<Page, StoreError> {
        self.read(move |c| events(c, &q)).await
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

    /// Deletes events received before `cutoff_ms`; returns how many.
    pub async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.read(move |c| {
            let n = c.execute("DELETE FROM events WHERE received_ms < ?1", [cutoff_ms])?;
            c.execute(
                "DELETE FROM revocations WHERE received_ms < ?1",
                [cutoff_ms],
            )?;
            Ok(n)
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

fn last_seq(conn: &Connection) -> Result<u64, StoreError> {
    // sqlite_sequence remembers the highest seq ever given, even after pruning.
    let seq: Option<i64> = conn
        .query_row(
            "SELECT MAX(m) FROM (SELECT MAX(seq) AS m FROM events
             UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'events')",
            [],
            |r| r.get(0),
        )
        .ok()
        .flatten();
    Ok(seq.unwrap_or(0).max(0) as u64)
}

fn events(conn: &Connection, q: &Query) -> Result<Page, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let mut sql = String::from("SELECT seq, body FROM events WHERE seq > ?");
    let mut args: Vec<rusqlite::types::Value> =
        vec![i64::try_from(q.after).unwrap_or(i64::MAX).into()];
    for (column, values) in [("channel_login", &q.channels), ("type", &q.types)] {
        if !values.is_empty() {
            let marks = vec!["?"; values.len()].join(",");
            sql.push_str(&format!(" AND {column} IN ({marks})"));
            args.extend(values.iter().map(|v| v.clone().into()));
        }
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    args.push(i64::from(q.limit).into());
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (seq, body) = row?;
        events.push(decode(seq as u64, &body)?);
    }
    drop(stmt);
    let last_seq = last_seq(&tx)?;
    tx.finish()?;
    Ok(Page { events, last_seq })
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
