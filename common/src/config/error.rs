//! Config errors: each names the file (or environment variable), the key, and what is expected.
//! Secret values never appear: messages describe, they do not quote, a secret.

use std::fmt;
use std::path::PathBuf;

/// Where a bad value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// Not set anywhere; the path is the config file in use, if any, to say where to add it.
    Unset(Option<PathBuf>),
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `section.key`, e.g. `relay.webhook_secret`.
    pub key: String,
    /// Where the value came from.
    pub origin: Origin,
    /// What is wrong, phrased to follow the key: "must be 10-100 ASCII characters".
    pub message: String,
}

impl Problem {
    /// A required key that is not set, with where to set it.
    pub fn missing(key: &str, file: Option<PathBuf>, why: &str) -> Self {
        Self {
            key: key.to_owned(),
            origin: Origin::Unset(file),
            message: format!("is required {why}"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File(path) => write!(f, "{}: {} {}", path.display(), self.key, self.message),
            Origin::Env(var) => write!(f, "{var} ({}) {}", self.key, self.message),
            Origin::Unset(file) => {
                let var = super::keys::env_var(&self.key);
                write!(f, "{} {}: set it ", self.key, self.message)?;
                match file {
                    Some(path) => write!(f, "in {} or by {var}", path.display()),
                    None => write!(f, "in the config file or by {var}"),
                }
            }
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML. The message is TOML's, without the source line, which could
    /// hold a secret.
    #[error("{}: invalid TOML at line {line}, column {column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// One or more keys have bad values.
    #[error("{}", list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} config problems:", many.len());
            for p in many {
                s.push_str("\n  - ");
                s.push_str(&p.to_string());
            }
            s
        }
    }
}
