//! [`Actions`]: the streamer's actions and user lookups with the token owner's token. Users are
//! named by login; their ids are resolved once and kept for the session. A 401 for the token
//! is reported to the owner and retried once with the refreshed token; Twitch's refusals become
//! errors that say what to do (a missing scope names it, not a moderator says so).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::request::Ids;
use super::{Answer, Helix, HelixError, Plan, Request};
use crate::auth::TokenHandle;
use crate::error::{Error, Result};

/// A Twitch user, as `GET /users` describes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// User id.
    pub id: String,
    /// Lower-case login.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// When the account was made (RFC 3339).
    pub created_at: String,
}

/// What a user card shows from Twitch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// The user.
    pub user: User,
    /// `Ok(Some(followed_at))`, `Ok(None)` not following, `Err(why)` when Twitch would not say.
    pub follow: std::result::Result<Option<String>, String>,
}

/// Helix actions for one login.
#[derive(Debug, Clone)]
pub struct Actions {
    helix: Helix,
    tokens: TokenHandle,
    // Short lookups that never cross an await; shared by the app's action tasks.
    users: Arc<Mutex<HashMap<String, User>>>,
}

#[derive(Deserialize)]
struct Data<T> {
    data: Vec<T>,
}

#[derive(Deserialize)]
struct Follower {
    followed_at: String,
}

impl Actions {
    /// Actions at `helix` with the owner's token.
    pub fn new(helix: Helix, tokens: TokenHandle) -> Self {
        Self {
            helix,
            tokens,
            users: Arc::default(),
        }
    }

    /// Carries out `req` in `channel` (a login); Twitch's answer object, if it sent one.
    pub async fn act(&self, channel: &str, req: &Request) -> Result<Answer> {
        let token = self.tokens.current().await?;
        let ids = Ids {
            broadcaster: self.user(channel).await?.id,
            moderator: token.user_id,
            target: match req.target() {
                Some(login) => Some(self.user(login).await?.id),
                None => None,
            },
        };
        let body = self
            .call(&req.plan(&ids))
            .await
            .map_err(|e| explain(e, channel, req.scope()))?;
        let first = body.and_then(|b| {
            serde_json::from_str::<Data<Value>>(&b)
                .ok()
                .and_then(|d| d.data.into_iter().next())
        });
        Ok(Answer(first))
    }

    /// The user named `login`, from the session's cache or Twitch.
    pub async fn user(&self, login: &str) -> Result<User> {
        let login = login.trim_start_matches(['@', '#']).to_lowercase();
        if let Some(u) = self.cached(&login) {
            return Ok(u);
        }
        let plan = Plan::new(Method::GET, "users", vec![("login", login.clone())]);
        let body = self
            .call(&plan)
            .await
            .map_err(|e| explain(e, &login, "none"))?
            .unwrap_or_default();
        let user = serde_json::from_str::<Data<User>>(&body)
            .map_err(|e| Error::Twitch(format!("unreadable users answer: {e}")))?
            .data
            .into_iter()
            .next()
            .ok_or_else(|| Error::Twitch(format!("Twitch knows no user named {login}")))?;
        self.remember(&user);
        Ok(user)
    }

    /// What a user card needs: the user, and whether and since when they follow `channel`.
    pub async fn card(&self, channel: &str, login: &str) -> Result<CardInfo> {
        let user = self.user(login).await?;
        let broadcaster = self.user(channel).await?;
        let plan = Plan::new(
            Method::GET,
            "channels/followers",
            vec![
                ("broadcaster_id", broadcaster.id),
                ("user_id", user.id.clone()),
            ],
        );
        let follow = match self.call(&plan).await {
            Ok(body) => Ok(body
                .and_then(|b| serde_json::from_str::<Data<Follower>>(&b).ok())
                .and_then(|d| d.data.into_iter().next())
                .map(|f| f.followed_at)),
            Err(e) => Err(explain(e, channel, "moderator:read:followers").to_string()),
        };
        Ok(CardInfo { user, follow })
    }

    fn cached(&self, login: &str) -> Option<User> {
        self.users.lock().ok()?.get(login).cloned()
    }

    fn remember(&self, user: &User) {
        if let Ok(mut users) = self.users.lock() {
            users.insert(user.login.clone(), user.clone());
        }
    }

    /// One call, retried once with a fresh token when Twitch refused the token itself.
    async fn call(&self, plan: &Plan) -> std::result::Result<Option<String>, Refusal> {
        let token = self.tokens.current().await.map_err(Refusal::Login)?;
        match self.helix.call(&token.access_token, plan).await {
            Err(HelixError::Unauthorized(_)) => {
                let fresh = self
                    .tokens
                    .refused(&token.access_token)
                    .await
                    .map_err(Refusal::Login)?;
                Ok(self.helix.call(&fresh.access_token, plan).await?)
            }
            r => Ok(r?),
        }
    }
}

/// Why a call failed: the login, or Twitch's answer.
#[derive(Debug)]
enum Refusal {
    Login(Error),
    Helix(HelixError),
}

impl From<HelixError> for Refusal {
    fn from(e: HelixError) -> Self {
        Self::Helix(e)
    }
}

/// Twitch's refusal as the error the user sees, with its exit code (`design.md`: 3 login, 4
/// permission, 1 anything else, Twitch's `message` as is).
fn explain(r: Refusal, channel: &str, scope: &str) -> Error {
    let e = match r {
        Refusal::Login(e) => return e,
        Refusal::Helix(e) => e,
    };
    match e {
        HelixError::MissingScope(named) => {
            let scope = if named.is_empty() {
                scope.to_owned()
            } else {
                named
            };
            Error::Permission(format!(
                "your login lacks the scope {scope}: run `onair login` again to grant it"
            ))
        }
        HelixError::Forbidden(m) => Error::Permission(format!(
            "you are not a moderator of #{channel} (Twitch: {m})"
        )),
        HelixError::Unauthorized(m) => Error::Rejected(m),
        HelixError::Status(status, m) if m.is_empty() => {
            Error::Twitch(format!("Twitch answered {status}"))
        }
        HelixError::Status(_, m) => Error::Twitch(m),
        HelixError::Network(m) => Error::Twitch(format!("cannot reach Helix: {m}")),
    }
}
