//! A small Helix client for EventSub subscription management (`twitch.md` B): an app access
//! token by client credentials (cached, renewed before expiry and after a 401, never logged),
//! users by login, and list (every page) / create / delete subscriptions. It honours the
//! `Ratelimit-*` headers and retries a 429 after the bucket refills.

use std::time::Duration;

use onair_common::Secret;
use onair_common::eventsub::Subscription;
use onair_common::twitch::oauth::{OAuth, OAuthError};
use onair_common::twitch::{describe, http_client};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

/// Renew the app token when less than this is left.
const RENEW_MARGIN: Duration = Duration::from_secs(300);
/// 429 answers retried before giving up.
const MAX_RETRIES: u32 = 3;
/// Longest wait for the rate-limit bucket.
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

/// Why a Helix call failed.
#[derive(Debug, thiserror::Error)]
pub enum HelixError {
    /// The app token could not be had.
    #[error("cannot get an app access token: {0} (check relay.client_id and relay.client_secret)")]
    Token(OAuthError),
    /// The network failed.
    #[error("cannot reach Helix ({0})")]
    Network(String),
    /// Helix said no.
    #[error("Helix answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Helix's `message`.
        message: String,
    },
    /// An answer we could not read.
    #[error("unexpected answer from Helix: {0}")]
    Decode(String),
}

/// A user as Helix returns it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub id: String,
    /// Login.
    pub login: String,
    /// Display name.
    pub display_name: String,
}

/// The outcome of a create.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// 202: created (usually pending verification).
    New(Box<Subscription>),
    /// 409: it exists already.
    Exists,
}

struct AppToken {
    token: Secret,
    renew_at: Instant,
}

/// Helix with an app token.
pub struct Helix {
    http: reqwest::Client,
    base: Url,
    client_id: String,
    secret: Secret,
    oauth: OAuth,
    token: Mutex<Option<AppToken>>,
}

impl std::fmt::Debug for Helix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helix")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    cursor: Option<String>,
}

impl Helix {
    /// A client for `helix_url`, getting tokens from `auth_url`.
    pub fn new(helix_url: Url, auth_url: Url, client_id: String, secret: Secret) -> Self {
        Self {
            http: http_client(),
            oauth: OAuth::new(auth_url, client_id.clone()),
            base: helix_url,
            client_id,
            secret,
            token: Mutex::new(None),
        }
    }

    async fn app_token(&self, renew: bool) -> Result<Secret, HelixError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot
            .as_ref()
            .filter(|t| !renew && Instant::now() < t.renew_at)
        {
            return Ok(t.token.clone());
        }
        let tokens = self
            .oauth
            .client_credentials(&self.secret)
            .await
            .map_err(HelixError::Token)?;
        let life = Duration::from_secs(tokens.expires_in).saturating_sub(RENEW_MARGIN);
        tracing::debug!(expires_in = tokens.expires_in, "got an app access token");
        *slot = Some(AppToken {
            token: tokens.access_token.clone(),
            renew_at: Instant::now() + life,
        });
        Ok(tokens.access_token)
    }

    /// One request with the app token; a 401 renews the token once, a 429 waits for the reset.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>), HelixError> {
        let url = format!("{}/{path}", self.base.as_str().trim_end_matches('/'));
        let mut renewed = false;
        let mut retries = 0;
        loop {
            let token = self.app_token(false).await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .query(query)
                .header("Client-Id", &self.client_id)
                .bearer_auth(token.expose());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| HelixError::Network(describe(&e)))?;
            let status = resp.status();
            let wait = reset_wait(resp.headers());
            let remaining = header_num(resp.headers(), "ratelimit-remaining");
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| HelixError::Network(describe(&e)))?
                .to_vec();
            match status {
                StatusCode::UNAUTHORIZED if !renewed => {
                    renewed = true;
                    self.app_token(true).await?;
                }
                StatusCode::TOO_MANY_REQUESTS if retries < MAX_RETRIES => {
                    retries += 1;
                    tracing::info!(
                        ?wait,
                        "Helix rate limit reached; waiting for the bucket to refill"
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    if remaining == Some(0) {
                        // The next call would get a 429: wait here instead.
                        tokio::time::sleep(wait).await;
                    }
                    return Ok((status, bytes));
                }
            }
        }
    }

    /// Users by login (unknown logins are simply absent).
    pub async fn users(&self, logins: &[String]) -> Result<Vec<User>, HelixError> {
        let mut out = Vec::new();
        for chunk in logins.chunks(100) {
            let query: Vec<_> = chunk.iter().map(|l| ("login", l.clone())).collect();
            let (status, body) = self.call(Method::GET, "users", &query, None).await?;
            out.extend(decode::<Page<User>>(status, &body)?.data);
        }
        Ok(out)
    }

    /// Every EventSub subscription of this client id, following the cursor through all pages.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, HelixError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query: Vec<_> = cursor.iter().map(|c| ("after", c.clone())).collect();
            let (status, body) = self
                .call(Method::GET, "eventsub/subscriptions", &query, None)
                .await?;
            let page: Page<Subscription> = decode(status, &body)?;
            let done = page.data.is_empty();
            out.extend(page.data);
            cursor = page
                .pagination
                .and_then(|p| p.cursor)
                .filter(|c| !c.is_empty());
            if cursor.is_none() || done {
                return Ok(out);
            }
        }
    }

    /// Creates a webhook subscription.
    pub async fn create(
        &self,
        kind: &str,
        version: &str,
        condition: &Value,
        callback: &str,
        secret: &Secret,
    ) -> Result<Created, HelixError> {
        let body = json!({"type": kind, "version": version, "condition": condition,
            "transport": {"method": "webhook", "callback": callback, "secret": secret.expose()}});
        let (status, bytes) = self
            .call(Method::POST, "eventsub/subscriptions", &[], Some(&body))
            .await?;
        if status == StatusCode::CONFLICT {
            return Ok(Created::Exists);
        }
        let page: Page<Subscription> = decode(status, &bytes)?;
        page.data
            .into_iter()
            .next()
            .map(|s| Created::New(Box::new(s)))
            .ok_or_else(|| HelixError::Decode("no subscription in the answer".into()))
    }

    /// Deletes a subscription; `false` when Twitch had no such subscription (404).
    pub async fn delete(&self, id: &str) -> Result<bool, HelixError> {
        let (status, body) = self
            .call(
                Method::DELETE,
                "eventsub/subscriptions",
                &[("id", id.to_owned())],
                None,
            )
            .await?;
        match status {
            StatusCode::NO_CONTENT => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(api_error(status, &body)),
        }
    }
}

fn header_num(h: &reqwest::header::HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Until `Ratelimit-Reset` (Unix seconds), at least a moment and at most a minute.
fn reset_wait(h: &reqwest::header::HeaderMap) -> Duration {
    let now = jiff::Timestamp::now().as_second();
    let secs = header_num(h, "ratelimit-reset")
        .map_or(1, |reset| reset - now)
        .clamp(0, MAX_RESET_WAIT.as_secs() as i64);
    Duration::from_secs(secs as u64) + Duration::from_millis(100)
}

fn api_error(status: StatusCode, body: &[u8]) -> HelixError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {status}"));
    HelixError::Api {
        status: status.as_u16(),
        message,
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    status: StatusCode,
    body: &[u8],
) -> Result<T, HelixError> {
    if !status.is_success() {
        return Err(api_error(status, body));
    }
    serde_json::from_slice(body).map_err(|e| HelixError::Decode(e.to_string()))
}
