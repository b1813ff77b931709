//! A stored login: the token pair and what Twitch said about it. Its JSON form exists only
//! inside the token store.

use onair_common::Secret;
use serde::{Deserialize, Serialize};

/// One logged-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// Lower-case login.
    pub login: String,
    /// Twitch user id.
    pub user_id: String,
    /// The client id the token was issued to.
    pub client_id: String,
    /// Access token.
    pub access_token: Secret,
    /// Refresh token (rotates on every refresh).
    pub refresh_token: Option<Secret>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Unix seconds when the access token expires (0: never).
    pub expires_at: i64,
}

/// The serialized form; private so nothing else can write a token out.
#[derive(Serialize, Deserialize)]
struct Record {
    login: String,
    user_id: String,
    client_id: String,
    access_token: String,
    refresh_token: Option<String>,
    scopes: Vec<String>,
    expires_at: i64,
}

impl StoredToken {
    /// Seconds until the access token expires (negative once expired; `i64::MAX` if never).
    pub fn expires_in(&self, now: i64) -> i64 {
        if self.expires_at == 0 {
            i64::MAX
        } else {
            self.expires_at - now
        }
    }

    pub(super) fn encode(&self) -> String {
        let r = Record {
            login: self.login.clone(),
            user_id: self.user_id.clone(),
            client_id: self.client_id.clone(),
            access_token: self.access_token.expose().to_owned(),
            refresh_token: self.refresh_token.as_ref().map(|s| s.expose().to_owned()),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
        };
        serde_json::to_string(&r).unwrap_or_default()
    }

    pub(super) fn decode(text: &str) -> Option<Self> {
        let r: Record = serde_json::from_str(text).ok()?;
        Some(Self {
            login: r.login,
            user_id: r.user_id,
            client_id: r.client_id,
            access_token: Secret::new(r.access_token),
            refresh_token: r.refresh_token.map(Secret::new),
            scopes: r.scopes,
            expires_at: r.expires_at,
        })
    }
}
