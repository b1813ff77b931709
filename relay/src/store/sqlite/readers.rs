//! The read connections: a small pool, and the three ways to read through it. A page of events
//! or a count runs on the blocking pool, a few at a time; a point read (a token's row, the
//! store's bounds) runs on the caller's thread when a connection is idle; the CLI's reads and
//! writes run synchronously.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::schema;
use crate::store::StoreError;

/// How many idle read connections are kept.
const MAX_IDLE: usize = 8;
/// Reads running at once on the blocking pool: as many as idle connections are kept, so a burst
/// of reads (clients catching up after a restart) never opens and closes connections, and takes
/// neither the descriptors `accept` needs (three per connection with WAL) nor, beyond a few
/// threads, the memory each blocking thread holds (a stack and a malloc arena).
const MAX_POOLED: usize = MAX_IDLE;

/// The pool of read connections to one database file.
#[derive(Debug, Clone)]
pub(super) struct Readers {
    path: Arc<PathBuf>,
    // Idle connections; the lock is held only to push or pop, never across a query or an await.
    idle: Arc<Mutex<Vec<Connection>>>,
    pooled: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    /// A pool that starts with `first`, a connection already open on `path`.
    pub(super) fn new(path: &Path, first: Connection) -> Self {
        Self {
            path: Arc::new(path.to_owned()),
            idle: Arc::new(Mutex::new(vec![first])),
            pooled: Arc::new(tokio::sync::Semaphore::new(MAX_POOLED)),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on an idle connection, or a new one, on this thread (CLI commands, start-up).
    pub(super) fn now<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = match self.take_idle() {
            Some(c) => c,
            None => schema::open(&self.path)?,
        };
        let out = f(&conn);
        self.give_back(conn);
        out
    }

    /// Runs `f` on the blocking pool, once one of its few places is free.
    pub(super) async fn pooled<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = self
            .pooled
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let readers = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            readers.now(f)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Runs `f`, a point read of a few hot pages, on this thread when a connection is idle and
    /// no other connection holds a lock it needs; on the blocking pool otherwise.
    ///
    /// Such a read takes microseconds, less than the hand-off to a blocking thread and back.
    /// Every WebSocket connection makes three (its token, the welcome's bounds, a live-only
    /// subscription's head): through the blocking pool, a burst of connecting clients queued
    /// there with hyper's buffers held meanwhile, and sat behind any page reads of clients
    /// catching up. Here it never waits: a WAL reader is blocked only by a lock another
    /// process holds (while it recovers a crashed writer's WAL, say), and then the read goes to
    /// the pool, which waits for it. Nor does it open a connection: without an idle one, it
    /// waits its turn like any read.
    pub(super) async fn point<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if let Some(conn) = self.take_idle() {
            let out = without_waiting(&conn, &f);
            self.give_back(conn);
            match out {
                Err(e) if is_busy(&e) => {}
                out => return out,
            }
        }
        self.pooled(f).await
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// Runs `f` with the connection failing at once, rather than waiting, on a lock it cannot take.
fn without_waiting<T>(
    conn: &Connection,
    f: impl Fn(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let out = f(conn);
    conn.busy_timeout(schema::BUSY_TIMEOUT)?;
    out
}

fn is_busy(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::test_writer::new_database;
    use super::*;

    fn readers(dir: &Path) -> Readers {
        let path = new_database(dir);
        Readers::new(&path, schema::open(&path).unwrap())
    }

    fn count(c: &Connection) -> Result<i64, StoreError> {
        Ok(c.query_row("SELECT COUNT(*) FROM clients", [], |r| r.get(0))?)
    }

    /// A connecting client's token check must not wait behind page reads that hold every
    /// blocking thread (clients catching up after a restart).
    #[test]
    fn a_point_read_does_not_wait_for_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let readers = readers(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (release, held) = std::sync::mpsc::channel::<()>();
            let busy = tokio::task::spawn_blocking(move || held.recv());
            let point = tokio::time::timeout(Duration::from_secs(5), readers.point(count));
            assert_eq!(
                point.await.expect("waited for the blocking pool").unwrap(),
                0
            );
            // The same read through the pool waits for the one blocking thread.
            let pooled = tokio::time::timeout(Duration::from_millis(200), readers.pooled(count));
            assert!(
                pooled.await.is_err(),
                "the blocking thread was free after all"
            );
            release.send(()).unwrap();
            busy.await.unwrap().unwrap();
        });
    }

    /// A lock another process holds must not stop the caller's thread: the point read goes to
    /// the pool, and this thread goes on, here to release that lock.
    #[test]
    fn a_point_read_never_waits_for_a_lock_on_the_callers_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_database(dir.path());
        // Another process with the file locked: the pool's connection, opened before it
        // reads anything, cannot read until it lets go.
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch(
                "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; DELETE FROM clients; COMMIT;",
            )
            .unwrap();
        let first = Connection::open(&path).unwrap();
        first.busy_timeout(schema::BUSY_TIMEOUT).unwrap();
        let readers = Readers::new(&path, first);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                drop(holder);
            });
            // On this thread, a read that waited for the lock would keep `release` from
            // running until its busy timeout (5 s) had passed.
            let read = tokio::time::timeout(Duration::from_secs(2), readers.point(count));
            assert_eq!(read.await.expect("the read held the thread").unwrap(), 0);
            release.await.unwrap();
        });
    }

    /// With every connection taken, a point read still answers, through the pool (which opens
    /// one), rather than failing or opening connections on the caller's thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_point_read_without_an_idle_connection_goes_through_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let readers = readers(dir.path());
        let taken = readers.take_idle().expect("the first connection");
        assert!(readers.take_idle().is_none());
        let caller = std::thread::current().id();
        let ran_on = readers
            .point(|c| count(c).map(|_| std::thread::current().id()))
            .await
            .unwrap();
        assert_ne!(ran_on, caller, "it ran on the caller's thread");
        readers.give_back(taken);
        // The pool's new connection and the taken one are both idle now.
        assert_eq!(readers.idle.lock().unwrap().len(), 2);
    }
}
