//! A log file that rotates by size and keeps a bounded number of old files: `onair.log`, then
//! `onair.log.1` (newest) to `onair.log.N`. Every file is created 0600 (logs name channels and
//! users), and an older, wider file is narrowed when opened. Writes happen on the logging worker
//! thread, never on the UI's.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The current file plus its rotation policy.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: File,
    written: u64,
}

impl RotatingFile {
    /// Opens (appending to) `path`; rotates once it would pass `max_bytes`, keeping `keep` old files.
    pub fn open(path: PathBuf, max_bytes: u64, keep: usize) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_0600(&path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path,
            max_bytes,
            keep,
            file,
            written,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let old = |n: usize| numbered(&self.path, n);
        let _ = std::fs::remove_file(old(self.keep));
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(old(n), old(n + 1));
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, old(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = open_0600(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn open_0600(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // A file from an older version may be wider: narrow it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_keeps_n_files_all_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onair.log");
        let mut f = RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..10 {
            writeln!(f, "{i:02} {}", "x".repeat(46)).unwrap(); // 50 bytes a line
        }
        f.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["onair.log", "onair.log.1", "onair.log.2"]);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert!(
            read(&path).starts_with("08 "),
            "newest lines in the current file"
        );
        assert!(read(&numbered(&path, 1)).starts_with("06 "));
        assert!(
            read(&numbered(&path, 2)).starts_with("04 "),
            "older ones are gone"
        );
        #[cfg(unix)]
        for name in names {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(&name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn an_older_wider_file_is_narrowed_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onair.log");
        std::fs::write(&path, "old\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let mut f = RotatingFile::open(path.clone(), 1000, 1).unwrap();
            writeln!(f, "new").unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\nnew\n");
        }
    }
}
