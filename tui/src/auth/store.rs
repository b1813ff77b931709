//! Where tokens live: the OS keyring (service `onair`, one entry per login plus a pointer to the
//! current one), or, on explicit opt-in, a 0600 JSON file in the data dir. Calls block (D-Bus,
//! file I/O): run them before the UI starts or in `spawn_blocking`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use super::lock::{self, Held};
use super::record::StoredToken;
use crate::error::{Error, Result};

/// Keyring service name (`design.md` "Tokens").
pub const SERVICE: &str = "onair";
/// The entry naming the current login. A colon cannot occur in a Twitch login.
const CURRENT: &str = ":current";
/// Written and deleted once to check that a keyring really stores secrets.
const PROBE: &str = ":probe";

/// A token store.
#[derive(Clone)]
pub enum TokenStore {
    /// An OS keyring backend and a name for it.
    Keyring(Arc<CredentialStore>, &'static str),
    /// The opt-in file.
    File(PathBuf),
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keyring(_, name) => write!(f, "Keyring({name})"),
            Self::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

impl TokenStore {
    /// `keyring` or `file`, as `auth status --json` reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Keyring(..) => "keyring",
            Self::File(_) => "file",
        }
    }

    /// A human description, e.g. "the OS keyring (Secret Service)".
    pub fn describe(&self) -> String {
        match self {
            Self::Keyring(_, name) => format!("the OS keyring ({name})"),
            Self::File(p) => format!("the file {}", p.display()),
        }
    }

    /// The opt-in token file in the data dir.
    pub fn file_in(data_dir: PathBuf) -> Self {
        Self::File(data_dir.join("tokens.json"))
    }

    /// The first OS keyring backend that really stores a secret: Secret Service, then the
    /// kernel keyring (keyutils) where no Secret Service runs (a VPS over SSH).
    pub fn open_keyring() -> Result<Self> {
        let mut reasons = Vec::new();
        for (name, open) in backends() {
            match open().and_then(|store| probe(&store).map(|()| store)) {
                Ok(store) => return Ok(Self::Keyring(store, name)),
                Err(e) => reasons.push(format!("{name}: {e}")),
            }
        }
        Err(Error::NoKeyring(reasons.join("; ")))
    }

    /// The current login, if any.
    pub fn load(&self) -> Result<Option<StoredToken>> {
        let Some(login) = self.get(CURRENT)? else {
            return Ok(None);
        };
        match self.get(&login)? {
            Some(text) => StoredToken::decode(&text).map(Some).ok_or_else(|| {
                Error::Store(format!(
                    "the stored login {login:?} is unreadable; run `onair login`"
                ))
            }),
            None => Ok(None),
        }
    }

    /// The token lock for this store: next to the file, or in the data dir for a keyring.
    pub fn lock_path(&self) -> PathBuf {
        match self {
            Self::Keyring(..) => lock::path_in(&onair_common::config::data_dir()),
            Self::File(path) => lock::path_in(path.parent().unwrap_or(Path::new("."))),
        }
    }

    /// Stores a login and makes it the current one (under the token lock).
    pub fn save(&self, _held: &Held, token: &StoredToken) -> Result<()> {
        self.set(&token.login, &token.encode())?;
        self.set(CURRENT, &token.login)
    }

    /// Deletes a login and the pointer if it names it (under the token lock).
    pub fn delete(&self, _held: &Held, login: &str) -> Result<()> {
        self.remove(login)?;
        if self.get(CURRENT)?.as_deref() == Some(login) {
            self.remove(CURRENT)?;
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<String>> {
        match self {
            Self::Keyring(store, _) => match entry(store, key)?.get_password() {
                Ok(v) => Ok(Some(v)),
                Err(KeyringError::NoEntry) => Ok(None),
                Err(e) => Err(Error::Store(e.to_string())),
            },
            Self::File(path) => Ok(file::read(path)?.remove(key)),
        }
    }

    fn set(&self, key: &str, value: &str) -> Result<()> {
        match self {
            Self::Keyring(store, _) => entry(store, key)?
                .set_password(value)
                .map_err(|e| Error::Store(e.to_string())),
            Self::File(path) => {
                let mut map = file::read(path)?;
                map.insert(key.to_owned(), value.to_owned());
                file::write(path, &map)
            }
        }
    }

    fn remove(&self, key: &str) -> Result<()> {
        match self {
            Self::Keyring(store, _) => match entry(store, key)?.delete_credential() {
                Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
                Err(e) => Err(Error::Store(e.to_string())),
            },
            Self::File(path) => {
                let mut map = file::read(path)?;
                if map.remove(key).is_some() {
                    file::write(path, &map)?;
                }
                Ok(())
            }
        }
    }
}

fn entry(store: &Arc<CredentialStore>, key: &str) -> Result<Entry> {
    Entry::new_in_store(store, SERVICE, key).map_err(|e| Error::Store(e.to_string()))
}

type Opener = fn() -> Result<Arc<CredentialStore>, String>;

#[cfg(target_os = "linux")]
fn backends() -> Vec<(&'static str, Opener)> {
    fn secret_service() -> Result<Arc<CredentialStore>, String> {
        let s: Arc<CredentialStore> =
            dbus_secret_service_keyring_store::Store::new().map_err(|e| e.to_string())?;
        Ok(s)
    }
    fn keyutils() -> Result<Arc<CredentialStore>, String> {
        let s: Arc<CredentialStore> =
            linux_keyutils_keyring_store::Store::new().map_err(|e| e.to_string())?;
        Ok(s)
    }
    vec![
        ("Secret Service", secret_service as Opener),
        ("kernel keyring", keyutils as Opener),
    ]
}

#[cfg(not(target_os = "linux"))]
fn backends() -> Vec<(&'static str, Opener)> {
    fn unsupported() -> Result<Arc<CredentialStore>, String> {
        Err("this build has no keyring backend for this platform yet".into())
    }
    vec![("OS keyring", unsupported as Opener)]
}

/// A locked Secret Service or a keyutils without a session keyring only fails on write, so the
/// check is a real round trip.
fn probe(store: &Arc<CredentialStore>) -> Result<(), String> {
    let e = Entry::new_in_store(store, SERVICE, PROBE).map_err(|e| e.to_string())?;
    e.set_password("probe").map_err(|e| e.to_string())?;
    let read = e.get_password().map_err(|e| e.to_string())?;
    let _ = e.delete_credential();
    if read == "probe" {
        Ok(())
    } else {
        Err("a stored value did not read back".into())
    }
}

/// The opt-in file: a JSON map, mode 0600, replaced atomically: written to a temporary file of
/// its own, synced, renamed over the old one, and the directory synced, so a crash leaves either
/// the old pair or the new one, never half of one, and two writers never share a temporary file.
mod file {
    use super::*;
    use std::io::Write;

    pub fn read(path: &PathBuf) -> Result<BTreeMap<String, String>> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|_| {
                Error::Store(format!(
                    "{} is not a token file; delete it and log in again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::Store(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub fn write(path: &PathBuf, map: &BTreeMap<String, String>) -> Result<()> {
        let fail =
            |e: std::io::Error| Error::Store(format!("cannot write {}: {e}", path.display()));
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let tmp = dir.join(format!(
            ".tokens.{}.{:016x}.tmp",
            std::process::id(),
            rand::random::<u64>()
        ));
        let result = write_new(&tmp, map)
            .and_then(|()| std::fs::rename(&tmp, path))
            .and_then(|()| sync_dir(dir));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(fail)
    }

    fn write_new(tmp: &Path, map: &BTreeMap<String, String>) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(tmp)?;
        let text = serde_json::to_string_pretty(map).unwrap_or_default();
        f.write_all(text.as_bytes())?;
        f.sync_all()
    }

    /// Makes the rename itself durable.
    fn sync_dir(dir: &Path) -> std::io::Result<()> {
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_common::Secret;

    fn token(login: &str) -> StoredToken {
        StoredToken {
            login: login.into(),
            user_id: "1".into(),
            client_id: "c".into(),
            access_token: Secret::new("access-xyz"),
            refresh_token: Some(Secret::new("refresh-xyz")),
            scopes: vec!["chat:read".into()],
            expires_at: 100,
        }
    }

    fn round_trip(store: &TokenStore) {
        let dir = tempfile::tempdir().unwrap();
        let held = lock::acquire(&lock::path_in(dir.path())).unwrap();
        assert_eq!(store.load().unwrap(), None);
        store.save(&held, &token("alice")).unwrap();
        store.save(&held, &token("bob")).unwrap();
        assert_eq!(store.load().unwrap().unwrap().login, "bob");
        store.delete(&held, "bob").unwrap();
        assert_eq!(store.load().unwrap(), None);
        store.delete(&held, "alice").unwrap();
    }

    #[test]
    fn file_store_round_trip_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::file_in(dir.path().join("onair"));
        round_trip(&store);
        let held = lock::acquire(&store.lock_path()).unwrap();
        store.save(&held, &token("carol")).unwrap();
        let TokenStore::File(path) = &store else {
            unreachable!()
        };
        // Only the token file and the lock are left: no temporary file.
        let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["tokens.json", "tokens.lock"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn mock_keyring_round_trip() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        round_trip(&TokenStore::Keyring(store, "mock"));
    }

    /// Runs against the machine's real keyring; CI runs it under an unlocked gnome-keyring
    /// (`dbus-run-session`) and again inside a kernel session keyring (`keyctl session`).
    #[test]
    #[ignore = "needs a real OS keyring: run by .ci/run"]
    fn keyring_real_backend_round_trip() {
        let store = TokenStore::open_keyring().expect("a real keyring");
        eprintln!("using {}", store.describe());
        if let Ok(want) = std::env::var("ONAIR_EXPECT_KEYRING") {
            assert_eq!(store.describe(), format!("the OS keyring ({want})"));
        }
        round_trip(&store);
        // A second, independent handle sees what the first stored.
        let dir = tempfile::tempdir().unwrap();
        let held = lock::acquire(&lock::path_in(dir.path())).unwrap();
        store.save(&held, &token("dave")).unwrap();
        let again = TokenStore::open_keyring().unwrap();
        assert_eq!(again.load().unwrap().unwrap().login, "dave");
        again.delete(&held, "dave").unwrap();
    }
}
