//! id.twitch.tv: the device code flow, refresh, validate, revoke and client credentials, exactly
//! as `twitch.md` C describes them, quirks included: errors are `{"status","message"}` rather than
//! RFC 6749's `{"error"}`, and `scope` is a JSON array (or absent). Hand-written on reqwest because
//! the `oauth2` crate cannot poll this flow (`shared/crates.md` section 4).

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{describe, http_client};
use crate::Secret;

/// Why a call to id.twitch.tv failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The network or the server failed.
    #[error("cannot reach Twitch's OAuth service ({0})")]
    Network(String),
    /// The device code expired or was already used (`invalid device code`).
    #[error("the login code expired or was already used; run `onair login` again")]
    Expired,
    /// The user declined.
    #[error("the authorization was declined in the browser")]
    Denied,
    /// Twitch refused the refresh token (`Invalid refresh token`): a new login is needed.
    #[error("Twitch refused to refresh the token ({0}); log in again")]
    RefreshRefused(String),
    /// Twitch does not accept the access token any more (401 on validate).
    #[error("Twitch does not accept the token any more")]
    Unauthorized,
    /// Any other answer from Twitch, with its status and message.
    #[error("Twitch answered {status}: {message}")]
    Twitch {
        /// HTTP status.
        status: u16,
        /// Twitch's `message`.
        message: String,
    },
    /// A success answer we could not read.
    #[error("unexpected answer from Twitch: {0}")]
    Decode(String),
}

/// The first leg of the device flow: what to show the user.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    /// Opaque code to poll with.
    pub device_code: Secret,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
    /// The code the user types.
    pub user_code: String,
    /// Where the user goes (it already embeds the code).
    pub verification_uri: String,
}

/// An access token and what came with it.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// The access token.
    pub access_token: Secret,
    /// The refresh token (absent for app tokens).
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Granted scopes: a JSON array, absent when none (`twitch.md` C.3).
    #[serde(default, rename = "scope", deserialize_with = "scopes")]
    pub scopes: Vec<String>,
}

/// What `/validate` says about a token.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Validation {
    /// The client id the token belongs to.
    pub client_id: String,
    /// Absent for app tokens.
    #[serde(default)]
    pub login: Option<String>,
    /// Absent for app tokens.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `null` when the token has no scopes.
    #[serde(default, deserialize_with = "scopes")]
    pub scopes: Vec<String>,
    /// Seconds left; 0 for a non-expiring token.
    pub expires_in: u64,
}

/// One poll of the token endpoint.
#[derive(Debug)]
pub enum Poll {
    /// The user has not approved yet.
    Pending,
    /// Poll less often: add 5 seconds to the interval.
    SlowDown,
    /// Approved.
    Done(Tokens),
}

/// `null`, absent, a string, or an array of strings; `[""]` means none.
fn scopes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Spaced(String),
    }
    let list = match Option::<Raw>::deserialize(d)? {
        None => Vec::new(),
        Some(Raw::List(v)) => v,
        Some(Raw::Spaced(s)) => s.split_whitespace().map(str::to_owned).collect(),
    };
    Ok(list.into_iter().filter(|s| !s.is_empty()).collect())
}

/// Twitch's error body (or an RFC-shaped one, to be safe).
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// A client of id.twitch.tv for one client id.
#[derive(Debug, Clone)]
pub struct OAuth {
    http: reqwest::Client,
    base: Url,
    client_id: String,
}

impl OAuth {
    /// A client for `base` (e.g. `https://id.twitch.tv/oauth2`) and `client_id`.
    pub fn new(base: Url, client_id: impl Into<String>) -> Self {
        Self {
            http: http_client(),
            base,
            client_id: client_id.into(),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// Starts the device flow for `scopes` (sent as `scopes`, in the form body).
    pub async fn device(&self, scopes: &[String]) -> Result<DeviceCode, OAuthError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("scopes", &scopes.join(" ")),
        ];
        let resp = self.post("device", &form).await?;
        json(resp).await
    }

    /// Polls once for the device flow's tokens.
    pub async fn poll(&self, device: &DeviceCode) -> Result<Poll, OAuthError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("device_code", device.device_code.expose()),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ];
        let resp = self.post("token", &form).await?;
        if resp.status().is_success() {
            return json(resp).await.map(Poll::Done);
        }
        let (status, message) = error_of(resp).await;
        match message.as_str() {
            "authorization_pending" => Ok(Poll::Pending),
            "slow_down" => Ok(Poll::SlowDown),
            "invalid device code" | "expired_token" => Err(OAuthError::Expired),
            "access_denied" => Err(OAuthError::Denied),
            _ => Err(OAuthError::Twitch { status, message }),
        }
    }

    /// Polls at the interval Twitch asked for until approval, refusal or expiry.
    pub async fn wait_for_tokens(&self, device: &DeviceCode) -> Result<Tokens, OAuthError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(device.expires_in);
        let mut interval = Duration::from_secs(device.interval.max(1));
        loop {
            tokio::time::sleep(interval).await;
            if tokio::time::Instant::now() >= deadline {
                return Err(OAuthError::Expired);
            }
            match self.poll(device).await? {
                Poll::Pending => {}
                Poll::SlowDown => interval += Duration::from_secs(5),
                Poll::Done(tokens) => return Ok(tokens),
            }
        }
    }

    /// Refreshes a public client's token, without a secret; the refresh token rotates.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens, OAuthError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        let resp = self.post("token", &form).await?;
        if resp.status().is_success() {
            return json(resp).await;
        }
        let (status, message) = error_of(resp).await;
        match status {
            400 | 401 => Err(OAuthError::RefreshRefused(message)),
            _ => Err(OAuthError::Twitch { status, message }),
        }
    }

    /// An app access token by client credentials (confidential clients).
    pub async fn client_credentials(&self, secret: &Secret) -> Result<Tokens, OAuthError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret.expose()),
            ("grant_type", "client_credentials"),
        ];
        let resp = self.post("token", &form).await?;
        json(resp).await
    }

    /// Asks Twitch what a token is (`Authorization: OAuth`).
    pub async fn validate(&self, access_token: &Secret) -> Result<Validation, OAuthError> {
        let resp = self
            .http
            .get(self.url("validate"))
            .header("Authorization", format!("OAuth {}", access_token.expose()))
            .send()
            .await
            .map_err(|e| OAuthError::Network(describe(&e)))?;
        if resp.status().as_u16() == 401 {
            return Err(OAuthError::Unauthorized);
        }
        json(resp).await
    }

    /// Revokes a token.
    pub async fn revoke(&self, token: &Secret) -> Result<(), OAuthError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("token", token.expose()),
        ];
        let resp = self.post("revoke", &form).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let (status, message) = error_of(resp).await;
        Err(OAuthError::Twitch { status, message })
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, OAuthError> {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .map_err(|e| OAuthError::Network(describe(&e)))
    }
}

async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, OAuthError> {
    if !resp.status().is_success() {
        let (status, message) = error_of(resp).await;
        return Err(OAuthError::Twitch { status, message });
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| OAuthError::Network(describe(&e)))?;
    // serde's message names the field, never the value, so no token can leak through it.
    serde_json::from_slice(&bytes).map_err(|e| OAuthError::Decode(e.to_string()))
}

/// The status and Twitch's `message` (or RFC `error`) of a failed answer.
async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    let message = serde_json::from_slice::<ErrorBody>(&body)
        .ok()
        .and_then(|b| b.message.or(b.error))
        .unwrap_or_else(|| format!("HTTP {status}"));
    (status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_scope_is_an_array_absent_or_empty() {
        let t: Tokens = serde_json::from_str(
            r#"{"access_token":"rfx2uswqe8l4g1mkagrvg5tv0ks3","expires_in":14124,
                "refresh_token":"5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01",
                "scope":["chat:read","chat:edit"],"token_type":"bearer"}"#,
        )
        .unwrap();
        assert_eq!(t.scopes, ["chat:read", "chat:edit"]);
        let t: Tokens =
            serde_json::from_str(r#"{"access_token":"a","expires_in":1,"token_type":"bearer"}"#)
                .unwrap();
        assert!(t.scopes.is_empty() && t.refresh_token.is_none());
        let t: Tokens =
            serde_json::from_str(r#"{"access_token":"a","expires_in":1,"scope":[""]}"#).unwrap();
        assert!(t.scopes.is_empty());
        assert!(!format!("{t:?}").contains("\"a\""));
    }

    #[test]
    fn validate_scopes_may_be_null() {
        let v: Validation = serde_json::from_str(
            r#"{"client_id":"c","login":"twitchdev","scopes":null,"user_id":"1","expires_in":5520838}"#,
        )
        .unwrap();
        assert!(v.scopes.is_empty());
        let app: Validation =
            serde_json::from_str(r#"{"client_id":"c","scopes":[],"expires_in":0}"#).unwrap();
        assert_eq!(app.login, None);
    }
}
