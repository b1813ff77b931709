//! A file the store syncs itself (the WAL after a commit, the database file after a checkpoint's
//! copy), from a thread of its own rather than through SQLite.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A file synced from a thread of its own: opened on first use, and opened again after a failed
/// sync, since a descriptor may stay broken once the kernel has reported a write error on it.
#[derive(Debug)]
pub(super) struct DiskFile {
    path: PathBuf,
    file: Option<File>,
}

impl DiskFile {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    /// `fdatasync`: what was written to the file, by any descriptor, is on disk.
    pub(super) fn sync_data(&mut self) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(std::fs::OpenOptions::new().write(true).open(&self.path)?),
        };
        let synced = file.sync_data();
        if synced.is_err() {
            self.file = None;
        }
        synced
    }
}

/// The WAL SQLite keeps beside the database file `db`.
pub(super) fn wal_of(db: &Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}
