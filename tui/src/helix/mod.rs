//! Twitch's Helix API with the user's token: the base client (one client id, one base URL,
//! Twitch's error envelope kept), the streamer's actions as pure request plans (`twitch.md` G),
//! and [`Actions`], which resolves logins to ids and asks the token owner for the token.
//! Errors keep Twitch's `message` and never the token.

mod actions;
pub mod duration;
pub mod request;
pub mod settings;

use onair_common::Secret;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

pub use actions::{Actions, CardInfo, User};
pub use request::{Answer, Request};

/// How a Helix call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelixError {
    /// 401 for the token itself (expired or revoked): refresh and retry once.
    #[error("Twitch refused the token: {0}")]
    Unauthorized(String),
    /// 401 naming a scope the login lacks (Twitch's `Missing scope: ...`).
    #[error("missing scope: {0}")]
    MissingScope(String),
    /// 403: not allowed, e.g. not a moderator of the channel, or a subscription's authorization.
    #[error("{0}")]
    Forbidden(String),
    /// Any other answer.
    #[error("Helix answered {0}: {1}")]
    Status(u16, String),
    /// No answer.
    #[error("cannot reach Helix: {0}")]
    Network(String),
}

/// One request, fully planned: what Twitch receives, and the status that means done.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// HTTP method.
    pub method: Method,
    /// Path below the Helix base, e.g. `moderation/bans`.
    pub path: &'static str,
    /// Query parameters, in the order Twitch documents them.
    pub query: Vec<(&'static str, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
}

impl Plan {
    /// A plan without a body.
    pub fn new(method: Method, path: &'static str, query: Vec<(&'static str, String)>) -> Self {
        Self {
            method,
            path,
            query,
            body: None,
        }
    }

    /// The same plan with a JSON body.
    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// Helix with one client id, at one base URL.
#[derive(Debug, Clone)]
pub struct Helix {
    http: reqwest::Client,
    base: Url,
    client_id: String,
}

#[derive(Deserialize)]
struct Users {
    data: Vec<UserId>,
}

#[derive(Deserialize)]
struct UserId {
    id: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
}

impl Helix {
    /// `base` is `twitch.helix_url`.
    pub fn new(base: Url, client_id: String) -> Self {
        Self {
            http: onair_common::twitch::http_client(),
            base,
            client_id,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// The user id of `login`, `None` when Twitch knows no such user.
    pub async fn user_id(&self, token: &Secret, login: &str) -> Result<Option<String>, HelixError> {
        let plan = Plan::new(Method::GET, "users", vec![("login", login.to_owned())]);
        let body = self.call(token, &plan).await?.unwrap_or_default();
        let users: Users = serde_json::from_str(&body)
            .map_err(|e| HelixError::Status(200, format!("unreadable users answer: {e}")))?;
        Ok(users.data.into_iter().next().map(|u| u.id))
    }

    /// Creates one subscription; `Ok` on 202.
    pub async fn subscribe(&self, token: &Secret, body: &Value) -> Result<(), HelixError> {
        let plan =
            Plan::new(Method::POST, "eventsub/subscriptions", Vec::new()).with_body(body.clone());
        self.call(token, &plan).await.map(drop)
    }

    /// Carries out `plan`: the body of a 2xx answer (`None` for 204), else the error.
    pub async fn call(&self, token: &Secret, plan: &Plan) -> Result<Option<String>, HelixError> {
        let mut req = self
            .http
            .request(plan.method.clone(), self.url(plan.path))
            .query(&plan.query)
            .bearer_auth(token.expose())
            .header("Client-Id", &self.client_id);
        if let Some(body) = &plan.body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| HelixError::Network(onair_common::twitch::describe(&e)))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            return Ok(Some(text));
        }
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.message)
            .unwrap_or_default();
        Err(error_of(status, message))
    }
}

/// Twitch's answer sorted into what the caller does next: a 401 naming a scope is not fixed by a
/// refresh, any other 401 is.
fn error_of(status: StatusCode, message: String) -> HelixError {
    match status {
        StatusCode::UNAUTHORIZED => match missing_scope(&message) {
            Some(scope) => HelixError::MissingScope(scope.to_owned()),
            None => HelixError::Unauthorized(message),
        },
        StatusCode::FORBIDDEN => HelixError::Forbidden(message),
        s => HelixError::Status(s.as_u16(), message),
    }
}

/// The scope in Twitch's `Missing scope: moderator:manage:banned_users`.
fn missing_scope(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Missing scope")?;
    let scope = rest.trim_start_matches([':', ' ']).trim();
    Some(scope.split([' ', ',']).next().unwrap_or(scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_naming_a_scope_is_not_a_token_problem() {
        assert_eq!(
            error_of(
                StatusCode::UNAUTHORIZED,
                "Missing scope: moderator:manage:banned_users".into()
            ),
            HelixError::MissingScope("moderator:manage:banned_users".into())
        );
        assert_eq!(
            error_of(StatusCode::UNAUTHORIZED, "Invalid OAuth token".into()),
            HelixError::Unauthorized("Invalid OAuth token".into())
        );
        assert_eq!(
            error_of(StatusCode::FORBIDDEN, "not a moderator".into()),
            HelixError::Forbidden("not a moderator".into())
        );
        assert_eq!(
            error_of(StatusCode::BAD_REQUEST, "user is already banned".into()),
            HelixError::Status(400, "user is already banned".into())
        );
    }
}
