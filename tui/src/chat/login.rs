//! Opening a session: ask the token owner for the login (on every connect, since another task or
//! process may have rotated the pair; after a refused login, by reporting the refused token),
//! connect the transport, request capabilities, log in (or read anonymously as
//! `justinfanNNNNN`) and join. A future that the connection actor polls inside its one `select!`.

use std::time::Duration;

use onair_common::Secret;
use url::Url;

use super::transport::Transport;
use crate::auth::TokenHandle;

/// Connecting (TCP, TLS, WebSocket) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Who to log in as.
#[derive(Debug, Clone)]
pub(super) enum Credentials {
    /// Read-only, no token.
    Anonymous,
    /// A fixed login (tests, or a token given from outside).
    Fixed(String, Secret),
    /// Ask the owner; `refused` is the token Twitch just refused, to report first.
    Owner {
        tokens: TokenHandle,
        refused: Option<Secret>,
    },
}

/// An open, logged-in socket (the JOIN is sent; Twitch confirms it later).
pub(super) struct Opened {
    pub ws: Transport,
    /// The login and token used; `None` when anonymous.
    pub login: Option<(String, Secret)>,
}

/// Why a session could not be opened.
pub(super) enum OpenError {
    /// The network or the server: retry after a backoff.
    Network(String),
    /// The owner has no login to give (Twitch refused the refresh token): stop.
    Rejected(String),
}

/// Gets the login, connects and sends the login sequence (`twitch.md` D.2).
pub(super) async fn open(
    url: Url,
    channel: String,
    credentials: Credentials,
) -> Result<Opened, OpenError> {
    let login = match credentials {
        Credentials::Anonymous => None,
        Credentials::Fixed(login, token) => Some((login, token)),
        Credentials::Owner { tokens, refused } => {
            let token = match refused {
                Some(access) => tokens.refused(&access).await,
                None => tokens.current().await,
            }
            .map_err(|e| OpenError::Rejected(e.to_string()))?;
            Some((token.login, token.access_token))
        }
    };
    let mut ws = Transport::connect(&url, CONNECT_TIMEOUT)
        .await
        .map_err(OpenError::Network)?;
    let mut lines =
        vec!["CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership".to_owned()];
    match &login {
        Some((name, token)) => {
            lines.push(format!("PASS oauth:{}", token.expose()));
            lines.push(format!("NICK {name}"));
        }
        None => lines.push(format!(
            "NICK justinfan{}",
            rand::random_range(10_000u32..100_000)
        )),
    }
    lines.push(format!("JOIN #{channel}"));
    for line in &lines {
        ws.send(line).await.map_err(OpenError::Network)?;
    }
    Ok(Opened { ws, login })
}
