//! The cross-process token lock: an advisory lock on `tokens.lock` in the data dir, held while a
//! process reads the store, redeems a refresh token and writes the rotated pair, so the app and a
//! script (`onair chat send`) never redeem the same single-use refresh token (`twitch.md` C.4).
//! It guards the keyring and the file store alike. Calls block: run them in `spawn_blocking`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Proof that this process holds the token lock; dropping it releases the lock. The store's
/// writes take a `&Held`, so no write can happen outside the lock.
#[derive(Debug)]
pub struct Held {
    // The lock lives as long as this open file description.
    _file: File,
}

/// Where the lock file is for a store whose files live in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join("tokens.lock")
}

/// Waits for the lock and takes it. Only ever one `Held` per process at a time: a second
/// `acquire` in the same process waits for the first to drop (flock is per open file).
pub fn acquire(path: &Path) -> Result<Held> {
    let fail = |e: std::io::Error| Error::Store(format!("cannot lock {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(Held { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_second_holder_waits_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        let first = acquire(&path).unwrap();
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let held = acquire(&p).unwrap();
            tx.send(()).unwrap();
            drop(held);
        });
        // Still waiting while the first holds the lock.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
    }
}
