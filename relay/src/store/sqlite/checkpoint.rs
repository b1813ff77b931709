//! Checkpoints, off the writer's path. SQLite's own checkpoint runs inside the commit that takes
//! the WAL past 1,000 frames: it copies those pages back into the database file and syncs both
//! files, while every request queued behind that commit waits. Here a thread with a connection
//! of its own looks at the WAL every [`EVERY`] and, once it holds [`COPY_AT`] frames, copies
//! them with a PASSIVE checkpoint, which never blocks the writer.
//!
//! A short WAL is left alone. Once every frame is copied, the next commit starts the WAL over, and
//! SQLite syncs the new WAL header inside that commit: one more sync the webhook waits for. When
//! webhooks come one at a time, copying after each one made nearly every one of them pay for it.
//!
//! The WAL starts over only after a checkpoint that copied every frame, with none added during
//! the copy, and synced the database file. Under steady intake the writer commits during every
//! background copy, so SQLite skips that sync and the WAL would grow for as long as the load
//! lasts. So when the WAL is long, this thread syncs the database file and asks the writer to
//! [`finish`] between two commits: only the frames since the last copy are left, and the
//! database sync that completes the checkpoint finds little to write.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

use super::disk_file::DiskFile;
use super::schema;
use crate::store::StoreError;

/// How often the background checkpoint looks at the WAL.
pub(super) const EVERY: Duration = Duration::from_millis(100);
/// A WAL this many frames long is one the writer should help start over. Twice [`COPY_AT`]:
/// between webhooks that come one at a time the background copy empties the WAL by itself, and
/// the writer's help (a checkpoint of its own, three syncs between two batches) is for a load
/// that keeps adding frames during every copy.
const FINISH_AT: i64 = 2 * COPY_AT;
/// Frames below which the background checkpoint does not copy (about 4 MB, a few hundred
/// webhooks). Each copy that empties the WAL makes the next commit start it over and wait for
/// the sync of its new header (1-2 ms here, a tail every live client sees), so copying seldom
/// keeps that off most webhooks: at 250 frames it came about once in a hundred, and a fan-out's
/// p99 was that round. The count is the writer's; frames other connections add (client
/// changes, an import) show with its next commit, and those connections checkpoint their own at
/// SQLite's 1,000.
pub(super) const COPY_AT: i64 = 1_000;

/// Whether a WAL of `frames` (as of the last commit) is worth copying back now.
fn worth_copying(frames: i64) -> bool {
    frames >= COPY_AT
}

/// What the writer and the checkpoint thread know of the WAL between them.
#[derive(Debug)]
pub(super) struct WalState {
    /// Frames in the WAL after the writer's last commit (its WAL hook). Until the first commit
    /// it says "worth a look", so a WAL left by a crash is copied back.
    frames: AtomicI64,
    /// Set by the checkpoint thread to ask the writer to [`finish`].
    finish: AtomicBool,
}

impl WalState {
    pub(super) fn new() -> Self {
        Self {
            frames: AtomicI64::new(COPY_AT),
            finish: AtomicBool::new(false),
        }
    }

    /// The writer's WAL hook, after each commit.
    pub(super) fn committed(&self, frames: i64) {
        self.frames.store(frames, Ordering::Relaxed);
    }

    fn frames(&self) -> i64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// The checkpoint thread copied every frame of a WAL it saw `seen` frames long: nothing is
    /// worth a look until the writer's next commit says otherwise (unless that commit came
    /// meanwhile and set its own count). Without this, a relay that has not committed since it
    /// started looked again ten times a second for as long as it stayed quiet.
    fn copied_all(&self, seen: i64) {
        let _ = self
            .frames
            .compare_exchange(seen, 0, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The writer, between batches: whether to [`finish`] now. A request made while the WAL
    /// was long lapses once a commit has started it over (the first webhook after a burst's
    /// lull): checkpointing the new, short WAL would cost three syncs and make the next commit
    /// start it over again.
    pub(super) fn take_finish(&self) -> bool {
        self.finish.swap(false, Ordering::Relaxed) && self.frames() >= FINISH_AT
    }
}

/// What one checkpoint reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Progress {
    /// Another checkpoint held the lock: nothing was done, and the counts are -1.
    pub(super) busy: bool,
    /// Frames in the WAL.
    pub(super) frames: i64,
    /// Frames copied into the database file so far.
    pub(super) copied: i64,
}

impl Progress {
    /// Whether the writer should finish: the WAL is long.
    pub(super) fn writer_should_finish(self) -> bool {
        !self.busy && self.frames >= FINISH_AT
    }
}

/// A PASSIVE checkpoint: copies what it can without waiting for anyone (never past a frame a
/// reader's snapshot still needs). It syncs the WAL first, and the database file after only when
/// it copied something and no frame was added meanwhile.
pub(super) fn passive(conn: &Connection) -> rusqlite::Result<Progress> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Progress {
            busy: r.get::<_, i64>(0)? != 0,
            frames: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}

/// The writer's part, between two commits: copy what the background checkpoint left and sync the
/// database file, so the next transaction starts the WAL over (unless a reader is still on an
/// older snapshot; then a later round does). When the background checkpoint holds the lock this
/// does nothing, and that thread asks again within [`EVERY`].
pub(super) fn finish(conn: &Connection) -> rusqlite::Result<()> {
    passive(conn).map(drop)
}

/// The background checkpoint thread's state.
pub(super) struct Checkpointer {
    conn: Connection,
    /// The database file, for syncing what the checkpoints copied.
    database: DiskFile,
    /// Frames copied as of the last sync of the database file.
    synced: i64,
    /// Shared with the writer.
    wal: Arc<WalState>,
}

impl Checkpointer {
    /// Opens its own connection to the database.
    pub(super) fn open(path: &Path, wal: Arc<WalState>) -> Result<Self, StoreError> {
        Ok(Self {
            conn: schema::open(path)?,
            database: DiskFile::new(path.to_owned()),
            synced: 0,
            wal,
        })
    }

    /// Checkpoints every `every` until `stop` is dropped or sent to.
    pub(super) fn run(mut self, stop: Receiver<()>, every: Duration) {
        while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
            let seen = self.wal.frames();
            if !worth_copying(seen) {
                continue;
            }
            match passive(&self.conn) {
                Ok(p) if p.writer_should_finish() => {
                    // Only when the writer is about to finish, not after every copy: each sync
                    // of the database competes for the disk with the WAL syncs every answer
                    // waits on. (A reader that keeps the WAL from starting over makes this
                    // repeat each round, at most ten times a second.)
                    if p.copied != self.synced {
                        self.sync_database(p.copied);
                    }
                    self.wal.finish.store(true, Ordering::Relaxed);
                }
                Ok(p) if !p.busy && p.copied == p.frames => self.wal.copied_all(seen),
                Ok(_) => {}
                // A busy or failing disk: the next round tries again, and no commit waits
                // for it (a failing disk shows in the commits and syncs themselves).
                Err(e) => tracing::debug!(error = %e, "background checkpoint did not run"),
            }
        }
    }

    /// Syncs what the checkpoints copied, so the sync that completes a checkpoint (the writer's)
    /// has little left to write.
    fn sync_database(&mut self, copied: i64) {
        match self.database.sync_data() {
            Ok(()) => self.synced = copied,
            Err(e) => tracing::debug!(error = %e, "syncing the database file failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::disk_file::wal_of;
    use super::super::insert::NewRow;
    use super::super::test_writer::{event, new_database, start, stop};
    use super::*;

    #[test]
    fn the_writer_is_asked_only_for_a_long_wal() {
        let p = |busy, frames, copied| {
            Progress {
                busy,
                frames,
                copied,
            }
            .writer_should_finish()
        };
        assert!(p(false, 2_500, 2_200));
        assert!(
            p(false, 2_500, 2_500),
            "all copied, but not yet started over"
        );
        assert!(!p(false, 400, 100), "short WAL: not worth a pause");
        assert!(
            !p(false, COPY_AT, COPY_AT),
            "the background copy alone can start it over"
        );
        assert!(!p(true, -1, -1), "another checkpoint is running");
    }

    #[test]
    fn a_finish_asked_for_a_long_wal_lapses_once_it_started_over() {
        let wal = WalState::new();
        wal.committed(FINISH_AT + 10);
        wal.finish.store(true, Ordering::Relaxed);
        assert!(wal.take_finish());
        assert!(!wal.take_finish(), "one request, one finish");
        wal.finish.store(true, Ordering::Relaxed);
        // The first webhook after a lull started the WAL over before the writer looked.
        wal.committed(4);
        assert!(!wal.take_finish());
    }

    #[test]
    fn a_short_wal_is_left_alone() {
        assert!(!worth_copying(0));
        assert!(!worth_copying(COPY_AT - 1), "a few hundred webhooks' worth");
        assert!(worth_copying(COPY_AT));
        assert!(worth_copying(FINISH_AT));
    }

    /// A relay that has not committed since it started (a quiet channel) copies back what a
    /// crash left, then stops looking until a commit.
    #[test]
    fn a_quiet_relay_stops_looking_once_the_wal_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_database(dir.path());
        let wal = Arc::new(WalState::new());
        assert!(
            worth_copying(wal.frames()),
            "a WAL left by a crash gets a look"
        );
        let checkpointer = Checkpointer::open(&path, wal.clone()).unwrap();
        let (stop, stopped) = std::sync::mpsc::channel();
        let thread =
            std::thread::spawn(move || checkpointer.run(stopped, Duration::from_millis(5)));
        // Until the thread has copied the WAL and marked it as having nothing to copy.
        let copied = |failure: &str| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while wal.frames() != 0 {
                assert!(std::time::Instant::now() < deadline, "{failure}");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        copied("it kept looking");
        // A commit's count is the writer's: the thread looks again once it says so.
        wal.committed(COPY_AT + 5);
        copied("it did not look again");
        stop.send(()).unwrap();
        thread.join().unwrap();
    }

    /// The WAL's salts, which change each time it starts over.
    fn wal_salts(path: &Path) -> Vec<u8> {
        std::fs::read(wal_of(path)).unwrap()[16..24].to_vec()
    }

    /// Webhooks one at a time, each after the checkpoint thread has had time to run: the WAL
    /// does not start over between them, so none of them waits for a sync of a new WAL header;
    /// once it is [`COPY_AT`] frames long, it does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sparse_webhooks_do_not_start_the_wal_over() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer, thread) = start(dir.path());
        writer.append(NewRow::of(event(0)), 0).await.unwrap();
        let salts = wal_salts(&path);
        for n in 1..5 {
            tokio::time::sleep(EVERY * 3).await;
            writer.append(NewRow::of(event(n)), 0).await.unwrap();
            assert_eq!(
                wal_salts(&path),
                salts,
                "the WAL started over before webhook {n}"
            );
        }
        // Past the threshold it is copied back and starts over, as before.
        const FRAME: u64 = 24 + 4096;
        let mut n = 5;
        while std::fs::metadata(wal_of(&path)).unwrap().len() < COPY_AT as u64 * FRAME {
            assert!(
                n < 4_000,
                "the WAL stopped growing short of {COPY_AT} frames"
            );
            writer.append(NewRow::of(event(n)), 0).await.unwrap();
            n += 1;
        }
        tokio::time::sleep(EVERY * 3).await;
        writer.append(NewRow::of(event(n)), 0).await.unwrap();
        assert_ne!(wal_salts(&path), salts, "a long WAL did not start over");
        stop(writer, thread).await;
    }

    /// Intake through the real writer, eight webhooks at a time for 8,000 events: the WAL starts
    /// over instead of growing with the load.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_steady_intake() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer, thread) = start(dir.path());
        for round in 0..1_000u64 {
            let appends = (0..8).map(|i| writer.append(NewRow::of(event(round * 8 + i)), 0));
            for appended in futures_util::future::join_all(appends).await {
                appended.unwrap();
            }
        }
        // The file keeps the largest size it had (closing the last connection deletes it).
        let wal = std::fs::metadata(wal_of(&path)).unwrap().len();
        stop(writer, thread).await;

        // Without the writer's part it reached 33 MB and kept growing; with it, about 12 (it
        // helps from 2,000 frames, 8 MB).
        assert!(wal < 20 << 20, "the WAL reached {wal} bytes");
        let conn = schema::open(&path).unwrap();
        let stored: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 8_000);
    }
}
