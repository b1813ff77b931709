//! What both engines speak: the queries, pages and heads of reads, what an append or a commit
//! yields, the feed committed events go to, and the one error type.

use std::sync::Arc;

use onair_common::Event;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or set up.
    #[error("cannot open {what}: {reason}")]
    Open {
        /// The file or server.
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The store's server did not answer in time or refused the connection; a retry may work.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The store's server answered with an error.
    #[error("store error: {0}")]
    Backend(String),
    /// A stored event could not be read back.
    #[error("stored event {seq} is unreadable: {reason}")]
    Corrupt {
        /// Its seq.
        seq: u64,
        /// What serde said.
        reason: String,
    },
    /// The writer has stopped (the relay is shutting down).
    #[error("the store is shut down")]
    Closed,
    /// The writer's queue is full: more intake than the disk commits.
    #[error("the store is over capacity")]
    Overloaded,
    /// A client name is taken or unknown.
    #[error("{0}")]
    Client(String),
    /// An import would reuse seqs the store has given already.
    #[error("{0}")]
    Import(String),
}

impl StoreError {
    /// Whether Twitch should be told to come back later (503) rather than that we broke (500).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Overloaded)
    }
}

/// A client's id.
pub type ClientId = i64;

/// A client as `client list` shows it (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Id.
    pub id: ClientId,
    /// The name given to `client add`.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
}

/// Filters for reading events.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only events with `seq > after`.
    pub after: u64,
    /// Channel logins, lower-case (empty: all).
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
    /// Matching events may follow: the page stopped at its limit (or short of the head), so a
    /// reader that wants everything asks again after the last one.
    pub more: bool,
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

/// A committed event: its seq and the bytes stored (the EVENT with `"seq":null`).
#[derive(Debug)]
pub struct Stored {
    /// The event's seq.
    pub seq: u64,
    /// Its type, for filters.
    pub kind: String,
    /// Its channel login, for filters.
    pub channel: String,
    /// The stored EVENT JSON, seq null.
    pub body: String,
}

/// The outcome of appending an event.
#[derive(Debug, Clone)]
pub enum Appended {
    /// Newly stored and committed.
    Stored(u64),
    /// Its message id was stored before; nothing changed.
    Duplicate,
}

/// Where committed events and status frames go (the fan-out hub). Called in seq order from one
/// task or thread at a time; it must not block.
pub trait Feed: Send + Sync + std::fmt::Debug {
    /// A committed event.
    fn event(&self, stored: Arc<Stored>);
    /// A `status` frame for every socket.
    fn status(&self, frame: String);
    /// The store's history was replaced (a flushed Redis): seqs clients hold mean nothing now.
    fn reset(&self);
}
