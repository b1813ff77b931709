//! Checkpoints, off the writer's path. SQLite's own checkpoint runs inside the commit that takes
//! the WAL past 1,000 frames: it copies those pages back into the database file and syncs both
//! files, 30-100 ms on this kind of disk, while every request queued behind that commit waits.
//! Here a thread with a connection of its own does the copying and syncing every [`EVERY`]; a
//! PASSIVE checkpoint never blocks the writer.
//!
//! The WAL only starts over from its beginning once every frame in it has been copied, and under
//! steady intake the writer commits again before a background checkpoint ends, so the WAL would
//! grow for as long as the load lasts. When it is long and frames are left, this thread asks the
//! writer to [`finish`] between two commits: what is left is only what was committed since (a few
//! ms), and the writer's next transaction starts the WAL over.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

use super::schema;
use crate::store::StoreError;

/// How often the background checkpoint runs.
pub(super) const EVERY: Duration = Duration::from_millis(100);
/// A WAL this many frames long is one the writer should help start over (SQLite's own
/// automatic checkpoint threshold).
const FINISH_AT: i64 = 1_000;

/// What one checkpoint reported: frames in the WAL, and how many of them are in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Progress {
    pub(super) frames: i64,
    pub(super) copied: i64,
}

impl Progress {
    /// Whether the writer should finish: the WAL is long. Even when this thread copied every
    /// frame, the WAL started over only after the writer's own checkpoint (measured with
    /// SQLite 3.54: without it the WAL grew for as long as commits came); with nothing left to
    /// copy, that checkpoint costs the writer no sync.
    pub(super) fn writer_should_finish(self) -> bool {
        self.frames >= FINISH_AT
    }
}

/// A PASSIVE checkpoint: copies what it can without waiting for anyone, syncing the WAL before
/// and the database after (the connection's `synchronous` decides those syncs).
pub(super) fn passive(conn: &Connection) -> rusqlite::Result<Progress> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Progress {
            frames: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}

/// The writer's part: copy what the background checkpoint left, between two commits. False when
/// frames are left (the background checkpoint held the lock, or a reader is still on them): the
/// writer tries again after its next commit.
pub(super) fn finish(conn: &Connection) -> bool {
    match passive(conn) {
        Ok(p) => p.copied >= p.frames,
        Err(e) => {
            tracing::warn!(error = %e, "finishing a checkpoint failed; the WAL grows until one passes");
            false
        }
    }
}

/// The background checkpoint thread's state.
pub(super) struct Checkpointer {
    conn: Connection,
    /// Set to ask the writer to [`finish`].
    finish: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Opens its own connection to the database.
    pub(super) fn open(path: &Path, finish: Arc<AtomicBool>) -> Result<Self, StoreError> {
        Ok(Self {
            conn: schema::open(path)?,
            finish,
        })
    }

    /// Checkpoints every `every` until `stop` is dropped or sent to.
    pub(super) fn run(self, stop: Receiver<()>, every: Duration) {
        while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
            match passive(&self.conn) {
                Ok(p) if p.writer_should_finish() => self.finish.store(true, Ordering::Relaxed),
                Ok(_) => {}
                // Busy or failing disk: the next round tries again, and the writer's commits
                // do not depend on it.
                Err(e) => tracing::debug!(error = %e, "background checkpoint did not run"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_writer_is_asked_only_for_a_long_wal() {
        let p = |frames, copied| Progress { frames, copied }.writer_should_finish();
        assert!(p(1_500, 1_200));
        assert!(
            p(1_500, 1_500),
            "all copied, but only the writer starts the WAL over"
        );
        assert!(!p(400, 100), "short WAL: not worth a pause");
        assert!(!p(-1, -1), "not in WAL mode");
    }

    /// A writer committing small transactions back to back, as intake does, with checkpoints
    /// only from the background thread and the writer's `finish`: the WAL stays bounded and
    /// every row is in the database.
    #[test]
    fn the_wal_stays_bounded_under_steady_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.sqlite3");
        let conn = schema::open(&path).unwrap();
        schema::migrate(&conn, &path).unwrap();
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
            .unwrap();
        let finish_wanted = Arc::new(AtomicBool::new(false));
        let checkpointer = Checkpointer::open(&path, finish_wanted.clone()).unwrap();
        let (stop, stopped) = std::sync::mpsc::channel();
        let thread =
            std::thread::spawn(move || checkpointer.run(stopped, Duration::from_millis(5)));

        let body = "x".repeat(600);
        let (mut rows, mut finished, mut longest) = (0u64, 0, 0u64);
        for _ in 0..1_000 {
            let tx = conn.unchecked_transaction().unwrap();
            for _ in 0..8 {
                rows += 1;
                // Scattered ids, like Twitch's: each lands on its own index page.
                let id = format!("{:032x}", rows.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                tx.execute(
                    "INSERT INTO events (message_id, type, channel_id, channel_login,
                     received_ms, body) VALUES (?1, 'channel.follow', '1', 'c', ?2, ?3)",
                    rusqlite::params![id, rows as i64, body],
                )
                .unwrap();
            }
            tx.commit().unwrap();
            // Intake's pace: a commit a millisecond (8,000 webhooks a second).
            std::thread::sleep(Duration::from_millis(1));
            if finish_wanted.load(Ordering::Relaxed) && finish(&conn) {
                finish_wanted.store(false, Ordering::Relaxed);
                finished += 1;
            }
            longest = longest.max(
                std::fs::metadata(dir.path().join("relay.sqlite3-wal"))
                    .unwrap()
                    .len(),
            );
        }
        drop(stop);
        thread.join().unwrap();

        // Without the writer's part it passed 60 MB (the background copy alone never lets it
        // start over); with it, about 5 MB.
        assert!(
            longest < 20 << 20,
            "the WAL reached {longest} bytes: it did not start over"
        );
        assert!(finished >= 3, "the writer finished {finished} checkpoints");
        let stored: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, rows as i64);
    }
}
