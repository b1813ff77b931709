//! The ACME cache in `relay.tls_cache`: the account key and the certificate with its key, in a
//! 0700 directory as 0600 files. rustls-acme's own `DirCache` writes with the process umask
//! (0644 in a trial), so this one creates each file private from its first byte and renames
//! it into place, which also means a crash mid-write never leaves half a key behind.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Directory mode: only the relay's user may list or enter it.
pub const DIR_MODE: u32 = 0o700;
/// File mode: only the relay's user may read a key.
pub const FILE_MODE: u32 = 0o600;

/// A private directory of ACME state.
#[derive(Debug, Clone)]
pub struct PrivateDir {
    dir: PathBuf,
}

impl PrivateDir {
    /// Creates `dir` (0700) if needed, and tightens it and what it holds if they are looser,
    /// e.g. a cache written by an older version or copied with `cp -r`.
    pub fn prepare(dir: &Path) -> io::Result<Self> {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
        builder.create(dir)?;
        set_mode(dir, DIR_MODE)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                set_mode(&entry.path(), FILE_MODE)?;
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Whether a file can be created and removed here (what `check` asks before a renewal
    /// finds out the hard way).
    pub fn probe(&self) -> io::Result<()> {
        let probe = self.dir.join(".check");
        write_private(&probe, b"")?;
        fs::remove_file(probe)
    }

    fn read(&self, name: String) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write(&self, name: String, bytes: &[u8]) -> io::Result<()> {
        write_private(&self.dir.join(name), bytes)
    }
}

/// The file for an account (by contacts and directory) or a certificate (by domains and
/// directory): another directory or domain list is another file, so switching from staging to
/// production never serves a staging certificate.
pub fn file_name(kind: &str, names: &[String], directory_url: &str) -> String {
    let mut h = Sha256::new();
    for n in names {
        h.update(n.as_bytes());
        h.update([0]);
    }
    h.update(directory_url.as_bytes());
    format!("{kind}-{}.pem", &hex::encode(h.finalize())[..32])
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if fs::metadata(path)?.permissions().mode() & 0o777 != mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

#[async_trait::async_trait]
impl rustls_acme::CertCache for PrivateDir {
    type EC = io::Error;

    async fn load_cert(&self, domains: &[String], url: &str) -> io::Result<Option<Vec<u8>>> {
        let (this, name) = (self.clone(), file_name("cert", domains, url));
        blocking(move || this.read(name)).await
    }

    async fn store_cert(&self, domains: &[String], url: &str, cert: &[u8]) -> io::Result<()> {
        let (this, name, cert) = (self.clone(), file_name("cert", domains, url), cert.to_vec());
        blocking(move || this.write(name, &cert)).await
    }
}

#[async_trait::async_trait]
impl rustls_acme::AccountCache for PrivateDir {
    type EA = io::Error;

    async fn load_account(&self, contact: &[String], url: &str) -> io::Result<Option<Vec<u8>>> {
        let (this, name) = (self.clone(), file_name("account", contact, url));
        blocking(move || this.read(name)).await
    }

    async fn store_account(&self, contact: &[String], url: &str, key: &[u8]) -> io::Result<()> {
        let (this, name, key) = (
            self.clone(),
            file_name("account", contact, url),
            key.to_vec(),
        );
        blocking(move || this.write(name, &key)).await
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use rustls_acme::{AccountCache, CertCache};
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn files_are_private_from_the_start_and_loose_ones_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("acme");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.join("old"), "x").unwrap();
        fs::set_permissions(dir.join("old"), fs::Permissions::from_mode(0o644)).unwrap();

        let cache = PrivateDir::prepare(&dir).unwrap();
        assert_eq!((mode(&dir), mode(&dir.join("old"))), (0o700, 0o600));
        let domains = vec!["relay.example.com".to_owned()];
        cache
            .store_cert(&domains, "https://a/dir", b"pem")
            .await
            .unwrap();
        cache
            .store_account(&[], "https://a/dir", b"key")
            .await
            .unwrap();
        for e in fs::read_dir(&dir).unwrap() {
            assert_eq!(mode(&e.unwrap().path()), 0o600);
        }
        let got = cache.load_cert(&domains, "https://a/dir").await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"pem"[..]));
        let other = cache.load_cert(&domains, "https://b/dir").await.unwrap();
        assert_eq!(other, None, "another directory, another file");
        assert_eq!(
            cache
                .load_account(&[], "https://a/dir")
                .await
                .unwrap()
                .as_deref(),
            Some(&b"key"[..])
        );
        cache.probe().unwrap();
    }
}
