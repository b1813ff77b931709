//! A fake id.twitch.tv (`twitch.md` C and checklist F): the device flow with Twitch's non-RFC
//! `{"status","message"}` errors, `scope` as an array (absent when empty), rotating refresh tokens
//! without a client secret, `/validate` with `Authorization: OAuth` and `scopes: null`, `/revoke`,
//! and client credentials. Parameters are read from the form body or the query string; every
//! JSON answer has exactly `Content-Type: application/json`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The public client id the fake knows.
pub const CLIENT_ID: &str = "fakepublicclientid0123456789ab";
/// A confidential client id and its secret (the relay's app).
pub const APP_CLIENT_ID: &str = "fakeconfidentialclient01234567";
/// Its secret.
pub const APP_CLIENT_SECRET: &str = "fake-client-secret-4f8a9b2c7d";

#[derive(Debug, Clone)]
struct Access {
    login: Option<String>,
    user_id: Option<String>,
    scopes: Vec<String>,
    client_id: String,
    expires_at: i64,
}

#[derive(Debug, Clone)]
struct Device {
    client_id: String,
    scopes: Vec<String>,
    polls: u32,
    redeemed: bool,
}

/// What the fake has seen and will do; tests change it through [`FakeAuth`].
#[derive(Debug)]
pub struct AuthState {
    /// The user who approves device codes.
    pub login: String,
    /// Their id.
    pub user_id: String,
    /// `authorization_pending` answers before approval, per device code.
    pub pending_polls: u32,
    /// Answer `slow_down` on the first poll.
    pub slow_down_first: bool,
    /// The poll interval the fake asks for.
    pub interval: u64,
    /// Lifetime of new user access tokens.
    pub token_lifetime: i64,
    /// Refuse every refresh (`Invalid refresh token`).
    pub refuse_refresh: bool,
    /// Every request as `METHOD path`, in order.
    pub requests: Vec<String>,
    /// Every refresh token presented to the refresh grant (refused ones too), in order.
    pub refreshes: Vec<String>,
    /// Access tokens revoked through `/revoke`.
    pub revoked: Vec<String>,
    /// Every access and refresh token ever issued.
    pub issued: Vec<String>,
    devices: HashMap<String, Device>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Access>,
}

type Shared = Arc<Mutex<AuthState>>;

/// A running fake id.twitch.tv on loopback.
#[derive(Debug, Clone)]
pub struct FakeAuth {
    /// `http://127.0.0.1:PORT/oauth2`, the value for `twitch.auth_url`.
    pub base: String,
    state: Shared,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn random_token() -> String {
    let b: [u8; 15] = rand::random();
    hex::encode(b)
}

impl FakeAuth {
    /// Starts the fake with a user `quillstream` (id 90010001).
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(AuthState {
            login: "quillstream".into(),
            user_id: "90010001".into(),
            pending_polls: 2,
            slow_down_first: false,
            interval: 1,
            token_lifetime: 14124,
            refuse_refresh: false,
            requests: Vec::new(),
            refreshes: Vec::new(),
            revoked: Vec::new(),
            issued: Vec::new(),
            devices: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
        }));
        let app = Router::new()
            .route("/oauth2/device", post(device))
            .route("/oauth2/token", post(token))
            .route("/oauth2/validate", get(validate))
            .route("/oauth2/revoke", post(revoke))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://{addr}/oauth2"),
            state,
        }
    }

    /// Changes the fake's behaviour or reads what it saw.
    pub fn with<T>(&self, f: impl FnOnce(&mut AuthState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Makes every user access token expired (validate answers 401).
    pub fn expire_access_tokens(&self) {
        self.with(|s| s.access.values_mut().for_each(|a| a.expires_at = now() - 1));
    }

    /// The login an unexpired user access token belongs to (for the fake chat server).
    pub fn login_of(&self, token: &str) -> Option<String> {
        self.with(|s| {
            s.access
                .get(token)
                .filter(|a| a.expires_at > now())
                .and_then(|a| a.login.clone())
        })
    }

    /// The client id of an unexpired token (app or user), for the fake Helix.
    pub fn client_of(&self, token: &str) -> Option<String> {
        self.with(|s| {
            s.access
                .get(token)
                .filter(|a| a.expires_at > now())
                .map(|a| a.client_id.clone())
        })
    }

    /// What an unexpired token grants: (client id, user id for a user token, scopes).
    pub fn grant_of(&self, token: &str) -> Option<(String, Option<String>, Vec<String>)> {
        self.with(|s| {
            s.access
                .get(token)
                .filter(|a| a.expires_at > now())
                .map(|a| (a.client_id.clone(), a.user_id.clone(), a.scopes.clone()))
        })
    }

    /// Every token the fake has issued (access and refresh), to scan outputs for leaks.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.with(|s| s.issued.clone())
    }
}

/// Twitch's error shape.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"status": status.as_u16(), "message": message})),
    )
        .into_response()
}

/// Parameters from the query string and the form body, as Twitch accepts both.
fn params(query: HashMap<String, String>, body: &Bytes) -> HashMap<String, String> {
    let mut p: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    for (k, v) in query {
        p.entry(k).or_insert(v);
    }
    p
}

async fn device(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let mut s = s.lock().unwrap();
    s.requests.push("POST /oauth2/device".into());
    let client = p.get("client_id").cloned().unwrap_or_default();
    if client != CLIENT_ID && client != APP_CLIENT_ID {
        return error(StatusCode::BAD_REQUEST, "invalid client");
    }
    let scopes: Vec<String> = p
        .get("scopes")
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let code = random_token();
    let user_code: String = code
        .chars()
        .filter(char::is_ascii_alphabetic)
        .take(8)
        .collect::<String>()
        .to_uppercase();
    s.devices.insert(
        code.clone(),
        Device {
            client_id: client,
            scopes,
            polls: 0,
            redeemed: false,
        },
    );
    axum::Json(json!({
        "device_code": code, "expires_in": 1800, "interval": s.interval, "user_code": user_code,
        "verification_uri": format!("https://www.twitch.tv/activate?public=true&device-code={user_code}"),
    }))
    .into_response()
}

fn issue(s: &mut AuthState, access: Access, refresh: bool) -> Value {
    let token = random_token();
    let mut body = json!({"access_token": token, "expires_in": access.expires_at - now(), "token_type": "bearer"});
    if !access.scopes.is_empty() {
        body["scope"] = json!(access.scopes);
    }
    if refresh {
        let r = format!("{}{}", random_token(), random_token());
        body["refresh_token"] = json!(r);
        s.issued.push(r.clone());
        s.refresh.insert(r, access.clone());
    }
    s.issued.push(token.clone());
    s.access.insert(token, access);
    body
}

async fn token(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let mut s = s.lock().unwrap();
    s.requests.push("POST /oauth2/token".into());
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    match get("grant_type").as_str() {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let (pending, slow) = (s.pending_polls, s.slow_down_first);
            let Some(d) = s
                .devices
                .get_mut(&get("device_code"))
                .filter(|d| !d.redeemed)
            else {
                return error(StatusCode::BAD_REQUEST, "invalid device code");
            };
            d.polls += 1;
            if slow && d.polls == 1 {
                return error(StatusCode::BAD_REQUEST, "slow_down");
            }
            if d.polls <= pending + u32::from(slow) {
                return error(StatusCode::BAD_REQUEST, "authorization_pending");
            }
            d.redeemed = true;
            let (scopes, client_id) = (d.scopes.clone(), d.client_id.clone());
            let access = Access {
                login: Some(s.login.clone()),
                user_id: Some(s.user_id.clone()),
                scopes,
                client_id,
                expires_at: now() + s.token_lifetime,
            };
            axum::Json(issue(&mut s, access, true)).into_response()
        }
        "refresh_token" => {
            if !get("client_secret").is_empty() {
                return error(StatusCode::BAD_REQUEST, "a public client sends no secret");
            }
            let refused = s.refuse_refresh;
            s.refreshes.push(get("refresh_token"));
            let Some(mut access) = s.refresh.remove(&get("refresh_token")).filter(|_| !refused)
            else {
                return error(StatusCode::BAD_REQUEST, "Invalid refresh token");
            };
            access.expires_at = now() + s.token_lifetime;
            axum::Json(issue(&mut s, access, true)).into_response()
        }
        "client_credentials" => {
            if get("client_id") != APP_CLIENT_ID || get("client_secret") != APP_CLIENT_SECRET {
                return error(StatusCode::FORBIDDEN, "invalid client secret");
            }
            let access = Access {
                login: None,
                user_id: None,
                scopes: vec![],
                client_id: APP_CLIENT_ID.into(),
                expires_at: now() + 5_011_271,
            };
            let mut body = issue(&mut s, access, false);
            body.as_object_mut().unwrap().remove("scope");
            axum::Json(body).into_response()
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported grant type"),
    }
}

async fn validate(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = s.lock().unwrap();
    s.requests.push("GET /oauth2/validate".into());
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return error(StatusCode::UNAUTHORIZED, "missing authorization token");
    };
    let token = auth
        .strip_prefix("OAuth ")
        .or_else(|| auth.strip_prefix("Bearer "))
        .unwrap_or_default();
    match s.access.get(token).filter(|a| a.expires_at > now()) {
        Some(a) => {
            let scopes = if a.scopes.is_empty() {
                Value::Null
            } else {
                json!(a.scopes)
            };
            let mut body = json!({"client_id": a.client_id, "scopes": scopes, "expires_in": a.expires_at - now()});
            if let (Some(l), Some(id)) = (&a.login, &a.user_id) {
                body["login"] = json!(l);
                body["user_id"] = json!(id);
            }
            axum::Json(body).into_response()
        }
        None => error(StatusCode::UNAUTHORIZED, "invalid access token"),
    }
}

async fn revoke(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let mut s = s.lock().unwrap();
    s.requests.push("POST /oauth2/revoke".into());
    let token = p.get("token").cloned().unwrap_or_default();
    if s.access.remove(&token).is_none() {
        return error(StatusCode::BAD_REQUEST, "Invalid token");
    }
    s.revoked.push(token);
    StatusCode::OK.into_response()
}
