//! Login and tokens: the device code flow, storage in the OS keyring (or the opt-in file), silent
//! refresh before expiry and on a 401, and validation with Twitch.

mod record;
mod store;

use std::time::Duration;

use onair_common::config::{Config, TokenStore as StoreChoice};
use onair_common::twitch::oauth::{DeviceCode, OAuth, OAuthError, Tokens, Validation};

pub use record::StoredToken;
pub use store::{SERVICE, TokenStore};

use crate::error::{Error, Result};

/// Scopes `onair login` asks for unless `--scopes` says otherwise: reading and sending chat.
pub const DEFAULT_SCOPES: &[&str] = &["chat:read", "chat:edit"];
/// Refresh when the access token has less than this left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The login service: Twitch's OAuth endpoints and the token store.
#[derive(Debug, Clone)]
pub struct Auth {
    oauth: OAuth,
    store: TokenStore,
}

/// What `auth status` reports.
#[derive(Debug, Clone)]
pub struct Status {
    /// The stored login (after any refresh).
    pub token: StoredToken,
    /// `Ok(validation)` when Twitch accepts the token; the error otherwise.
    pub twitch: std::result::Result<Validation, String>,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Auth {
    /// Builds from config: `twitch.client_id` is required; the store per `tui.token_store`.
    pub async fn from_config(config: &Config) -> Result<Self> {
        let client_id = config.twitch.client_id.clone().ok_or_else(|| {
            Error::Missing(config.missing(
                "twitch.client_id",
                "to log in (your app's public client id)",
            ))
        })?;
        let store = match config.tui.token_store {
            StoreChoice::Keyring => blocking(TokenStore::open_keyring).await?,
            StoreChoice::File => TokenStore::file_in(onair_common::config::data_dir()),
        };
        Ok(Self::new(
            OAuth::new(config.twitch.auth_url.clone(), client_id),
            store,
        ))
    }

    /// Builds from parts.
    pub fn new(oauth: OAuth, store: TokenStore) -> Self {
        Self { oauth, store }
    }

    /// The token store in use.
    pub fn store(&self) -> &TokenStore {
        &self.store
    }

    /// Starts the device flow.
    pub async fn start_login(&self, scopes: &[String]) -> Result<DeviceCode> {
        Ok(self.oauth.device(scopes).await?)
    }

    /// Waits for approval, learns who logged in, and stores the tokens.
    pub async fn finish_login(&self, device: &DeviceCode) -> Result<StoredToken> {
        let tokens = self.oauth.wait_for_tokens(device).await?;
        let token = self.identify(tokens).await?;
        self.save(token.clone()).await?;
        Ok(token)
    }

    /// Validates fresh tokens to learn the login and user id.
    async fn identify(&self, tokens: Tokens) -> Result<StoredToken> {
        let v = self.oauth.validate(&tokens.access_token).await?;
        let (Some(login), Some(user_id)) = (v.login, v.user_id) else {
            return Err(Error::OAuth(OAuthError::Decode(
                "the token names no user".into(),
            )));
        };
        Ok(StoredToken {
            login: login.to_lowercase(),
            user_id,
            client_id: v.client_id,
            scopes: if tokens.scopes.is_empty() {
                v.scopes
            } else {
                tokens.scopes
            },
            expires_at: expiry(tokens.expires_in),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        })
    }

    /// The stored login, refreshed first when it expires within [`REFRESH_MARGIN`].
    pub async fn current(&self) -> Result<StoredToken> {
        let token = self.load().await?;
        if token.expires_in(now()) < REFRESH_MARGIN.as_secs() as i64 {
            tracing::info!(login = %token.login, "access token expires soon; refreshing");
            return self.refresh(token).await;
        }
        Ok(token)
    }

    /// Refreshes a token (after a 401, or before expiry) and stores the rotated pair.
    pub async fn refresh(&self, token: StoredToken) -> Result<StoredToken> {
        let Some(refresh) = token.refresh_token.as_ref() else {
            return Err(Error::Rejected("no refresh token stored".into()));
        };
        let tokens = self.oauth.refresh(refresh).await?;
        let fresh = StoredToken {
            expires_at: expiry(tokens.expires_in),
            scopes: if tokens.scopes.is_empty() {
                token.scopes.clone()
            } else {
                tokens.scopes
            },
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token.or(token.refresh_token.clone()),
            ..token
        };
        self.save(fresh.clone()).await?;
        tracing::info!(login = %fresh.login, "refreshed the access token");
        Ok(fresh)
    }

    /// Validates with Twitch (at start and hourly); on a 401, refreshes once and validates again.
    pub async fn validate(&self, token: StoredToken) -> Result<(StoredToken, Validation)> {
        match self.oauth.validate(&token.access_token).await {
            Ok(v) => Ok((token, v)),
            Err(OAuthError::Unauthorized) => {
                let fresh = self.refresh(token).await?;
                let v = self.oauth.validate(&fresh.access_token).await?;
                Ok((fresh, v))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Login, scopes, expiry, store, and whether Twitch accepts the token.
    pub async fn status(&self) -> Result<Status> {
        let token = self.current().await?;
        match self.validate(token.clone()).await {
            Ok((token, v)) => Ok(Status {
                token,
                twitch: Ok(v),
            }),
            Err(e @ Error::Rejected(_)) => Err(e),
            Err(e) => Ok(Status {
                token,
                twitch: Err(e.to_string()),
            }),
        }
    }

    /// Revokes at Twitch and deletes locally. Returns the login, and the revocation error if
    /// Twitch could not be reached (the local copy is deleted anyway).
    pub async fn logout(&self) -> Result<(String, Option<String>)> {
        let token = self.load().await?;
        let revoked = self.oauth.revoke(&token.access_token).await;
        let login = token.login.clone();
        let store = self.store.clone();
        blocking(move || store.delete(&login)).await?;
        let warning = match revoked {
            Ok(()) => None,
            // Already invalid at Twitch: nothing left to revoke.
            Err(OAuthError::Twitch { status: 400, .. }) => None,
            Err(e) => Some(e.to_string()),
        };
        Ok((token.login, warning))
    }

    async fn load(&self) -> Result<StoredToken> {
        let store = self.store.clone();
        blocking(move || store.load())
            .await?
            .ok_or(Error::NotLoggedIn)
    }

    async fn save(&self, token: StoredToken) -> Result<()> {
        let store = self.store.clone();
        blocking(move || store.save(&token)).await
    }
}

fn expiry(expires_in: u64) -> i64 {
    if expires_in == 0 {
        0
    } else {
        now() + expires_in as i64
    }
}

/// Runs blocking store I/O off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Store(format!("token store task failed: {e}")))?
}

/// The login as the running app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginState {
    /// Twitch accepts this token (possibly just refreshed).
    Valid(StoredToken),
    /// Twitch could not be asked; the token is kept and asked again next time.
    Unchecked(StoredToken, String),
    /// Twitch refused the login: the user must `onair login` again.
    Rejected(String),
}

/// Validates every `every` (Twitch asks for hourly, `twitch.md` C.5), refreshing on a 401 and
/// before expiry, and publishes each result. Ends after a rejection or when every receiver is gone.
pub async fn keep_valid(
    auth: Auth,
    mut token: StoredToken,
    every: Duration,
    tx: tokio::sync::watch::Sender<LoginState>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = tx.closed() => return,
        }
        if token.expires_in(now()) < REFRESH_MARGIN.as_secs() as i64 {
            match auth.refresh(token.clone()).await {
                Ok(fresh) => token = fresh,
                Err(Error::Rejected(why)) => {
                    let _ = tx.send(LoginState::Rejected(why));
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "refresh failed; retrying later"),
            }
        }
        let state = match auth.validate(token.clone()).await {
            Ok((fresh, _)) => {
                token = fresh.clone();
                LoginState::Valid(fresh)
            }
            Err(Error::Rejected(why)) => {
                let _ = tx.send(LoginState::Rejected(why));
                return;
            }
            Err(e) => LoginState::Unchecked(token.clone(), e.to_string()),
        };
        if tx.send(state).is_err() {
            return;
        }
    }
}

/// What a chat connection calls when Twitch refuses its login: refresh once and hand back the new
/// login (`None` when Twitch refuses the refresh too). `on_fresh` sees the stored new token.
pub fn chat_refresh(
    auth: Auth,
    token: StoredToken,
    on_fresh: impl Fn(&StoredToken) + Send + Sync + 'static,
) -> crate::chat::connection::Refresh {
    let on_fresh = std::sync::Arc::new(on_fresh);
    std::sync::Arc::new(move || {
        let (auth, token, on_fresh) = (auth.clone(), token.clone(), on_fresh.clone());
        Box::pin(async move {
            let fresh = auth.refresh(token).await.ok()?;
            on_fresh(&fresh);
            Some((fresh.login, fresh.access_token))
        })
    })
}
