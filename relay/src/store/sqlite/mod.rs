//! The embedded engine: one SQLite file with events under the relay's increasing `seq` (deduped
//! on Twitch's message id by the writer, see [`seen`]), revocations, and client token hashes.
//! One writer thread commits in groups (see [`writer`]); each commit is acknowledged once it is
//! durable, and published once it is durable or its seqs are reserved durably (see [`sync`],
//! [`reserve`]). Readers come from a small pool (see [`readers`]) and see only what is
//! published, as live clients do.

mod checkpoint;
pub(super) mod clients;
mod disk_file;
mod insert;
mod prune;
mod readers;
mod reserve;
mod schema;
mod seen;
mod sync;
#[cfg(test)]
mod test_writer;
mod writer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use onair_common::Event;
use onair_common::eventsub::Subscription;
use rusqlite::{Connection, params_from_iter};

use super::{Appended, ClientId, ClientInfo, Feed, Head, Page, Query, Row, StoreError};
use readers::Readers;
use sync::Watermark;
use writer::Writer;

fn open_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        what: format!("database {}", path.display()),
        reason: e.to_string(),
    }
}

/// The SQLite engine: a pool of read connections, and the writer once started.
#[derive(Debug, Clone)]
pub(super) struct Sqlite {
    readers: Readers,
    // Written once when the database is created; read at open rather than per welcome.
    epoch: Arc<str>,
    writer: Option<Writer>,
    feed: Option<Arc<dyn Feed>>,
    // Readers stop here: a row committed but not yet published is nobody's business yet.
    published: Watermark,
}

/// The writer thread, joined at stop.
#[derive(Debug)]
pub(super) struct Running {
    writer: Writer,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    pub(super) async fn stop(self) {
        self.writer.stop().await;
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

impl Sqlite {
    /// Opens the database, creating the file and tables when missing.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = schema::open(path)?;
        schema::migrate(&conn, path)?;
        let epoch: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .map_err(|e| open_error(path, e))?;
        Ok(Self {
            readers: Readers::new(path, conn),
            epoch: epoch.into(),
            writer: None,
            feed: None,
            // Until this process writes, what is in the file is what there is.
            published: Watermark::at(u64::MAX),
        })
    }

    /// The database file.
    pub(super) fn path(&self) -> &Path {
        self.readers.path()
    }

    pub(super) fn start(&mut self, feed: Arc<dyn Feed>) -> Result<Running, StoreError> {
        let found = self.readers.now(|c| head(c, u64::MAX))?;
        self.published.set(found.last_seq);
        let (writer, thread) =
            Writer::start(self.readers.path(), feed.clone(), self.published.clone())?;
        self.writer = Some(writer.clone());
        self.feed = Some(feed);
        Ok(Running { writer, thread })
    }

    fn writer(&self) -> Result<&Writer, StoreError> {
        self.writer.as_ref().ok_or(StoreError::Closed)
    }

    pub(super) async fn append(
        &self,
        event: Event,
        received_ms: i64,
    ) -> Result<Appended, StoreError> {
        let writer = self.writer()?;
        writer.append(insert::NewRow::of(event), received_ms).await
    }

    pub(super) async fn revoke(
        &self,
        message_id: String,
        sub: &Subscription,
        received_ms: i64,
    ) -> Result<bool, StoreError> {
        let id = sub
            .condition_broadcaster_id()
            .unwrap_or_default()
            .to_owned();
        let login = self
            .readers
            .pooled(move |c| channel_login(c, &id))
            .await
            .ok()
            .flatten();
        let info = super::revocation_info(sub, login);
        let new = self
            .writer()?
            .revoke(message_id, info.clone(), received_ms)
            .await?;
        if new {
            self.publish_status(super::revocation_frame(&info));
        }
        Ok(new)
    }

    pub(super) fn publish_status(&self, frame: String) {
        if let Some(feed) = &self.feed {
            feed.status(frame);
        }
    }

    pub(super) async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.writer()?.prune(cutoff_ms).await
    }

    pub(super) fn healthy(&self) -> bool {
        self.writer.as_ref().is_none_or(|w| !w.failing())
    }

    pub(super) async fn head(&self) -> Result<Head, StoreError> {
        let published = self.published.get();
        self.readers.point(move |c| head(c, published)).await
    }

    pub(super) fn epoch(&self) -> Arc<str> {
        self.epoch.clone()
    }

    pub(super) async fn rows(&self, q: Query) -> Result<Page<Row>, StoreError> {
        let published = self.published.get();
        self.readers.pooled(move |c| rows(c, &q, published)).await
    }

    pub(super) async fn stats(
        &self,
        channel: Option<String>,
        since_ms: i64,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        self.readers
            .pooled(move |c| {
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

    pub(super) async fn authenticate(&self, token: String) -> Result<Option<ClientId>, StoreError> {
        self.readers
            .point(move |c| clients::authenticate(c, &token))
            .await
    }

    pub(super) async fn client_ids(&self) -> Result<Vec<ClientId>, StoreError> {
        self.readers.pooled(clients::ids).await
    }

    pub(super) fn add_client(&self, name: &str) -> Result<String, StoreError> {
        self.readers.now(|c| clients::add(c, name))
    }

    pub(super) fn clients(&self) -> Result<Vec<ClientInfo>, StoreError> {
        self.readers.now(clients::list)
    }

    pub(super) fn remove_client(&self, name: &str) -> Result<(), StoreError> {
        self.readers.now(|c| clients::remove(c, name))
    }

    pub(super) async fn insert_with_seqs(
        &self,
        events: Vec<(Event, i64)>,
    ) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let mut conn = schema::open(&path)?;
            insert::with_seqs(&mut conn, events)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// A write that changes nothing, and a read.
    pub(super) fn probe(&self) -> Result<(), StoreError> {
        self.readers.now(|c| {
            c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
            head(c, u64::MAX).map(|_| ())
        })
    }
}

/// The login last seen for a channel id, to name channels in revocations.
fn channel_login(conn: &Connection, id: &str) -> Result<Option<String>, StoreError> {
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

/// The store's bounds, as far as `published` (the rows above it are not published yet).
fn head(conn: &Connection, published: u64) -> Result<Head, StoreError> {
    // sqlite_sequence remembers the highest seq ever given, even after pruning everything.
    let (first, last): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT (SELECT MIN(seq) FROM events),
                MAX((SELECT COALESCE(MAX(seq), 0) FROM events),
                    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let last_seq = (last.unwrap_or(0).max(0) as u64).min(published);
    let first_seq = first.map_or(last_seq + 1, |f| f.max(0) as u64);
    Ok(Head {
        first_seq,
        last_seq,
    })
}

fn rows(conn: &Connection, q: &Query, published: u64) -> Result<Page<Row>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let mut sql = String::from("SELECT seq, body FROM events WHERE seq > ? AND seq <= ?");
    let seq = |n: u64| rusqlite::types::Value::from(i64::try_from(n).unwrap_or(i64::MAX));
    let mut args = vec![seq(q.after), seq(published)];
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
    let head = head(&tx, published)?;
    tx.finish()?;
    let more = events.len() == q.limit as usize;
    Ok(Page { events, head, more })
}
