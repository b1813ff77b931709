//! Login and tokens: the device code flow, storage in the OS keyring (or the opt-in file), and
//! refresh under the cross-process lock. Inside a running process the [`owner`] is the one holder
//! of the current pair; everything that needs a token asks it. Depends on nothing in `chat`.

mod lock;
pub mod owner;
mod record;
mod store;

use std::time::Duration;

use onair_common::config::{Config, TokenStore as StoreChoice};
use onair_common::twitch::oauth::{DeviceCode, OAuth, OAuthError, Tokens, Validation};

pub use lock::Held;
pub use owner::{LoginState, TokenHandle};
pub use record::StoredToken;
pub use store::{SERVICE, TokenStore};

use crate::error::{Error, Result};

/// Scopes `onair login` asks for unless `--scopes` says otherwise (`design.md`): chat, direct
/// events and the streamer's actions, so one login covers all of onair.
pub const DEFAULT_SCOPES: &[&str] = &[
    "chat:read",
    "chat:edit",
    "moderator:read:followers",
    "channel:read:subscriptions",
    "bits:read",
    "channel:read:redemptions",
    "channel:read:hype_train",
    "channel:read:polls",
    "channel:read:predictions",
    "channel:read:ads",
    "moderator:read:shoutouts",
    "moderator:manage:shoutouts",
    "channel:read:charity",
    "channel:moderate",
    "moderator:manage:banned_users",
    "moderator:manage:chat_messages",
    "moderator:manage:chat_settings",
    "moderator:manage:announcements",
    "moderator:manage:warnings",
    "channel:manage:raids",
    "channel:manage:broadcast",
];
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
        let held = self.lock().await?;
        self.save(held, token.clone()).await?;
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

    /// Replaces `failed` (expiring, or refused with a 401) with a fresh pair. Under the token
    /// lock it re-reads the store: if another process already replaced `failed`, that pair is
    /// the answer and nothing is redeemed; otherwise the stored refresh token is redeemed once
    /// and the rotated pair stored before the lock is released.
    pub async fn refresh(&self, failed: StoredToken) -> Result<StoredToken> {
        let held = self.lock().await?;
        let stored = self.load().await?;
        if stored.access_token != failed.access_token {
            tracing::info!(login = %stored.login, "another process refreshed the token; using its pair");
            return Ok(stored);
        }
        let Some(refresh) = stored.refresh_token.as_ref() else {
            return Err(Error::Rejected("no refresh token stored".into()));
        };
        let tokens = self.oauth.refresh(refresh).await?;
        let fresh = StoredToken {
            expires_at: expiry(tokens.expires_in),
            scopes: if tokens.scopes.is_empty() {
                stored.scopes.clone()
            } else {
                tokens.scopes
            },
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token.or(stored.refresh_token.clone()),
            ..stored
        };
        self.save(held, fresh.clone()).await?;
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
    /// Twitch could not be reached (the local copy is deleted anyway). An expired access token
    /// cannot be revoked, but its refresh token still works: it is redeemed first (under the
    /// lock), so the old refresh token is dead, and the new access token is revoked.
    pub async fn logout(&self) -> Result<(String, Option<String>)> {
        let held = self.lock().await?;
        let mut token = self.load().await?;
        let expired = token.expires_in(now()) <= 0
            || matches!(
                self.oauth.validate(&token.access_token).await,
                Err(OAuthError::Unauthorized)
            );
        let revoked = match &token.refresh_token {
            Some(refresh) if expired => match self.oauth.refresh(refresh).await {
                Ok(fresh) => {
                    token.access_token = fresh.access_token;
                    self.oauth.revoke(&token.access_token).await
                }
                // Twitch refused the refresh token too: nothing usable is left.
                Err(OAuthError::RefreshRefused(_)) => Ok(()),
                Err(e) => Err(e),
            },
            _ => self.oauth.revoke(&token.access_token).await,
        };
        let login = token.login.clone();
        let store = self.store.clone();
        blocking(move || store.delete(&held, &login)).await?;
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

    /// Takes the cross-process token lock (waiting for another process to finish its refresh).
    async fn lock(&self) -> Result<Held> {
        let path = self.store.lock_path();
        blocking(move || lock::acquire(&path)).await
    }

    async fn save(&self, held: Held, token: StoredToken) -> Result<()> {
        let store = self.store.clone();
        blocking(move || store.save(&held, &token)).await
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
