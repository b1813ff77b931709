//! The terminal app's one error type, and the exit code each error maps to (`design.md`: 0 ok,
//! 1 failure, 2 usage or config error, 3 not logged in or token rejected, 4 Twitch refused an
//! action for lack of permission).

use onair_common::config::{ConfigError, Problem};
use onair_common::twitch::oauth::OAuthError;

/// Anything that stops an `onair` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file or a value is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A required key is not set.
    #[error("{0}")]
    Missing(Problem),
    /// No token is stored.
    #[error("not logged in: run `onair login`")]
    NotLoggedIn,
    /// Twitch refused the stored login (refresh refused, or token revoked).
    #[error("Twitch no longer accepts your login ({0}): run `onair login` again")]
    Rejected(String),
    /// No OS keyring could be used.
    #[error(
        "no OS keyring is reachable ({0}). On a machine without one, opt in to a 0600 token file: \
         set tui.token_store = \"file\" in the config or ONAIR_TUI_TOKEN_STORE=file"
    )]
    NoKeyring(String),
    /// Reading or writing the token store failed.
    #[error("token store: {0}")]
    Store(String),
    /// Talking to Twitch failed.
    #[error(transparent)]
    OAuth(OAuthError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Chat failed.
    #[error("chat: {0}")]
    Chat(String),
    /// Twitch refused an action for lack of permission: a scope the login lacks, or not a
    /// moderator of the channel.
    #[error("{0}")]
    Permission(String),
    /// Twitch refused an action for another reason; its `message` as is.
    #[error("{0}")]
    Twitch(String),
    /// The user cancelled.
    #[error("{0}")]
    Cancelled(&'static str),
}

impl From<OAuthError> for Error {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::RefreshRefused(m) => Self::Rejected(m),
            OAuthError::Unauthorized => Self::Rejected("token not accepted".into()),
            other => Self::OAuth(other),
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Missing(_) | Self::Usage(_) => 2,
            Self::NotLoggedIn | Self::Rejected(_) => 3,
            Self::Permission(_) => 4,
            _ => 1,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
