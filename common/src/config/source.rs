//! Finding the config file and gathering raw values from it and from the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Origin, Problem};
use super::keys::{self, SECTIONS};

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "ONAIR_CONFIG";

/// The `ONAIR_*` variables of a process (or of a test).
pub type Env = BTreeMap<String, String>;

/// systemd's directory of credentials (`LoadCredential=`): a file named after a secret key
/// (`relay.webhook_secret`) there gives that key's value.
pub const CREDENTIALS_ENV: &str = "CREDENTIALS_DIRECTORY";

/// The `ONAIR_*` variables of this process, and `$CREDENTIALS_DIRECTORY`.
pub fn process_env() -> Env {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("ONAIR_") || k == CREDENTIALS_ENV)
        .collect()
}

/// Which file to read, and whether it must exist (it must when the user named it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The path.
    pub path: PathBuf,
    /// `--config` or `$ONAIR_CONFIG` named it.
    pub explicit: bool,
}

/// `--config PATH`, else `$ONAIR_CONFIG`, else `<config dir>/onair/config.toml`.
pub fn discover(cli: Option<&Path>, env: &Env) -> Option<Located> {
    if let Some(path) = cli {
        return Some(Located {
            path: path.to_owned(),
            explicit: true,
        });
    }
    if let Some(path) = env.get(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(Located {
            path: PathBuf::from(path),
            explicit: true,
        });
    }
    default_path().map(|path| Located {
        path,
        explicit: false,
    })
}

/// `<config dir>/onair/config.toml`, e.g. `~/.config/onair/config.toml` on Linux.
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.config_dir().join("onair").join("config.toml"))
}

/// A value before it is checked: TOML keeps its type, the environment gives text.
#[derive(Debug, Clone)]
pub enum Input {
    /// From the file.
    Toml(toml::Value),
    /// From an environment variable.
    Env(String),
}

/// A raw value and where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    pub input: Input,
    pub origin: Origin,
}

/// Raw values by `section.key`, with problems found while gathering them (unknown keys).
#[derive(Debug, Default)]
pub struct Raw {
    pub entries: BTreeMap<&'static str, Entry>,
    pub problems: Vec<Problem>,
}

/// Reads the file (if any) and the environment into raw values; the environment wins.
pub fn gather(file: Option<&Located>, env: &Env) -> Result<Raw, ConfigError> {
    let mut raw = Raw::default();
    if let Some(located) = file {
        match std::fs::read_to_string(&located.path) {
            Ok(text) => raw.add_file(&located.path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !located.explicit => {}
            Err(source) => {
                return Err(ConfigError::Read {
                    path: located.path.clone(),
                    source,
                });
            }
        }
    }
    raw.add_credentials(env)?;
    raw.add_env(env);
    Ok(raw)
}

impl Raw {
    fn add_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Syntax {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let origin = Origin::File(path.to_owned());
        for (section, body) in table {
            let problem = |key: String, message: String| Problem {
                key,
                origin: origin.clone(),
                message,
            };
            if !SECTIONS.contains(&section.as_str()) {
                let msg = format!("is not a known section (known: {})", SECTIONS.join(", "));
                self.problems.push(problem(format!("[{section}]"), msg));
                continue;
            }
            let toml::Value::Table(body) = body else {
                let msg = "must be a table: write it as a [section] header".to_owned();
                self.problems.push(problem(section, msg));
                continue;
            };
            for (name, value) in body {
                let full = format!("{section}.{name}");
                match keys::lookup(&full) {
                    Some(key) => {
                        let entry = Entry {
                            input: Input::Toml(value),
                            origin: origin.clone(),
                        };
                        self.entries.insert(key.name, entry);
                    }
                    None => self
                        .problems
                        .push(problem(full, unknown_key_hint(&section))),
                }
            }
        }
        Ok(())
    }

    /// Secrets from systemd credentials: over the file, under the environment. Only secret keys
    /// are looked for, so a credential can never change where the relay listens or what it
    /// trusts. A trailing newline (what `echo` and editors leave) is not part of the value.
    fn add_credentials(&mut self, env: &Env) -> Result<(), ConfigError> {
        let Some(dir) = env.get(CREDENTIALS_ENV).filter(|d| !d.is_empty()) else {
            return Ok(());
        };
        for key in keys::KEYS.iter().filter(|k| k.secret) {
            let path = Path::new(dir).join(key.name);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(ConfigError::Read { path, source }),
            };
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value).to_owned();
            let entry = Entry {
                input: Input::Env(value),
                origin: Origin::File(path),
            };
            self.entries.insert(key.name, entry);
        }
        Ok(())
    }

    fn add_env(&mut self, env: &Env) {
        for (var, value) in env {
            if var == CONFIG_ENV || var == CREDENTIALS_ENV {
                continue;
            }
            match keys::from_env_var(var) {
                Some(key) => {
                    let entry = Entry {
                        input: Input::Env(value.clone()),
                        origin: Origin::Env(var.clone()),
                    };
                    self.entries.insert(key.name, entry);
                }
                // Only variables shaped like ours are typos worth reporting.
                None if SECTIONS
                    .iter()
                    .any(|s| var.starts_with(&format!("ONAIR_{}_", s.to_uppercase()))) =>
                {
                    self.problems.push(Problem {
                        key: var.to_lowercase(),
                        origin: Origin::Env(var.clone()),
                        message: "is not a known setting".to_owned(),
                    });
                }
                None => {}
            }
        }
    }
}

fn unknown_key_hint(section: &str) -> String {
    let known: Vec<_> = keys::KEYS
        .iter()
        .filter_map(|k| k.name.strip_prefix(section)?.strip_prefix('.'))
        .collect();
    format!(
        "is not a known key (known in [{section}]: {})",
        known.join(", ")
    )
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
