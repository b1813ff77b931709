//! The two Helix calls a direct session makes with the user's token (`twitch.md` B.7, E.2):
//! look a channel's user id up, and create one WebSocket subscription. Errors keep Twitch's
//! `message` and never the token.

use onair_common::Secret;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// How a Helix call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelixError {
    /// 401: the token was refused (refresh and retry once).
    #[error("Twitch refused the token: {0}")]
    Unauthorized(String),
    /// 403: the login lacks the scope this needs.
    #[error("missing scope: {0}")]
    MissingScope(String),
    /// Any other answer.
    #[error("Helix answered {0}: {1}")]
    Status(u16, String),
    /// No answer.
    #[error("cannot reach Helix: {0}")]
    Network(String),
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
    data: Vec<User>,
}

#[derive(Deserialize)]
struct User {
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
        let req = self.http.get(self.url("users")).query(&[("login", login)]);
        let body = self.send(req, token, StatusCode::OK).await?;
        let users: Users = serde_json::from_str(&body)
            .map_err(|e| HelixError::Status(200, format!("unreadable users answer: {e}")))?;
        Ok(users.data.into_iter().next().map(|u| u.id))
    }

    /// Creates one subscription; `Ok` on 202.
    pub async fn subscribe(&self, token: &Secret, body: &Value) -> Result<(), HelixError> {
        let req = self
            .http
            .post(self.url("eventsub/subscriptions"))
            .json(body);
        self.send(req, token, StatusCode::ACCEPTED).await.map(drop)
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        token: &Secret,
        ok: StatusCode,
    ) -> Result<String, HelixError> {
        let resp = req
            .bearer_auth(token.expose())
            .header("Client-Id", &self.client_id)
            .send()
            .await
            .map_err(|e| HelixError::Network(onair_common::twitch::describe(&e)))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status == ok {
            return Ok(text);
        }
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.message)
            .unwrap_or_default();
        Err(match status {
            StatusCode::UNAUTHORIZED => HelixError::Unauthorized(message),
            StatusCode::FORBIDDEN => HelixError::MissingScope(message),
            s => HelixError::Status(s.as_u16(), message),
        })
    }
}
