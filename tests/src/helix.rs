//! A fake Helix for EventSub subscriptions and users (`twitch.md` B): app-token auth with
//! `Client-Id`, `{"error","status","message"}` errors, `Ratelimit-*` headers on every answer and a
//! 429 on demand, pagination cursors, 202 on create with the verification POST to the callback
//! (delivered to a local relay), 409 for duplicates, 410 for removed versions, 204/404 on delete.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::eventsub::{Delivery, Sender};
use crate::twitch_auth::{APP_CLIENT_ID, FakeAuth};

/// What the fake holds and how it behaves; tests change it through [`FakeHelix::with`].
#[derive(Debug, Default)]
pub struct HelixState {
    /// Known users: login → (id, display name).
    pub users: HashMap<String, (String, String)>,
    /// Subscriptions, oldest first.
    pub subs: Vec<Value>,
    /// Subscriptions per list page.
    pub page_size: usize,
    /// Answer the next N requests with 429.
    pub fail_429: u32,
    /// Answer creates of these types with 409 although the list does not show them.
    pub conflict_types: Vec<String>,
    /// Send verification challenges to this relay base URL instead of the https callback.
    pub deliver_to: Option<String>,
    /// Every request as `METHOD path?query`.
    pub requests: Vec<String>,
    remaining: i64,
}

/// A running fake Helix.
#[derive(Debug, Clone)]
pub struct FakeHelix {
    /// `http://127.0.0.1:PORT/helix`, the value for `twitch.helix_url`.
    pub base: String,
    state: Arc<Mutex<HelixState>>,
}

#[derive(Clone)]
struct Ctx {
    state: Arc<Mutex<HelixState>>,
    auth: FakeAuth,
}

impl FakeHelix {
    /// Starts the fake; tokens are checked against `auth`.
    pub async fn start(auth: FakeAuth) -> Self {
        let mut st = HelixState {
            page_size: 2,
            remaining: 800,
            ..HelixState::default()
        };
        st.users.insert(
            "quillstream".into(),
            ("90010001".into(), "QuillStream".into()),
        );
        st.users.insert(
            "nightowlgames".into(),
            ("90040004".into(), "NightOwlGames".into()),
        );
        let state = Arc::new(Mutex::new(st));
        let ctx = Ctx {
            state: state.clone(),
            auth,
        };
        let app = Router::new()
            .route("/helix/users", get(users))
            .route(
                "/helix/eventsub/subscriptions",
                get(list).post(create).delete(delete),
            )
            .with_state(ctx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://{addr}/helix"),
            state,
        }
    }

    /// Reads or changes the fake's state.
    pub fn with<T>(&self, f: impl FnOnce(&mut HelixState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Adds an existing subscription.
    pub fn add(
        &self,
        kind: &str,
        version: &str,
        condition: Value,
        status: &str,
        callback: &str,
    ) -> String {
        let id = crate::eventsub::message_id();
        let sub = subscription(&id, kind, version, condition, status, callback);
        self.with(|s| s.subs.push(sub));
        id
    }

    /// `(type, status)` of every subscription.
    pub fn statuses(&self) -> Vec<(String, String)> {
        self.with(|s| {
            s.subs
                .iter()
                .map(|v| {
                    (
                        v["type"].as_str().unwrap().to_owned(),
                        v["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
    }
}

fn subscription(
    id: &str,
    kind: &str,
    version: &str,
    condition: Value,
    status: &str,
    callback: &str,
) -> Value {
    json!({"id": id, "status": status, "type": kind, "version": version, "condition": condition,
           "created_at": "2025-12-31T09:15:42.987654321Z", "transport": {"method": "webhook", "callback": callback}, "cost": 0})
}

fn error(status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    (
        status,
        axum::Json(json!({"error": reason, "status": status.as_u16(), "message": message})),
    )
        .into_response()
}

/// Auth, rate limit and headers common to every endpoint.
// A fake's error path: the size of a Response is no concern here.
#[allow(clippy::result_large_err)]
fn guard(ctx: &Ctx, headers: &HeaderMap, line: String) -> Result<(), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let client = headers.get("client-id").and_then(|v| v.to_str().ok());
    let mut s = ctx.state.lock().unwrap();
    s.requests.push(line);
    if s.fail_429 > 0 {
        s.fail_429 -= 1;
        return Err(with_limits(
            error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
            0,
        ));
    }
    drop(s);
    let Some(token) = token else {
        return Err(error(StatusCode::UNAUTHORIZED, "OAuth token is missing"));
    };
    match ctx.auth.client_of(token) {
        None => Err(error(StatusCode::UNAUTHORIZED, "Invalid OAuth token")),
        Some(c) if Some(c.as_str()) != client => Err(error(
            StatusCode::UNAUTHORIZED,
            "Client ID and OAuth token do not match",
        )),
        Some(c) if c != APP_CLIENT_ID => Err(error(
            StatusCode::UNAUTHORIZED,
            "An app access token is required",
        )),
        Some(_) => Ok(()),
    }
}

fn with_limits(mut r: Response, remaining: i64) -> Response {
    let reset = jiff::Timestamp::now().as_second() + 1;
    let h = r.headers_mut();
    h.insert("Ratelimit-Limit", HeaderValue::from_static("800"));
    h.insert("Ratelimit-Remaining", HeaderValue::from(remaining));
    h.insert("Ratelimit-Reset", HeaderValue::from(reset));
    r
}

fn answer(ctx: &Ctx, r: Response) -> Response {
    let remaining = {
        let mut s = ctx.state.lock().unwrap();
        s.remaining = (s.remaining - 1).max(1);
        s.remaining
    };
    with_limits(r, remaining)
}

async fn users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = guard(&ctx, &headers, "GET /helix/users".into()) {
        return r;
    }
    let data: Vec<Value> = {
        let s = ctx.state.lock().unwrap();
        q.iter()
            .filter(|(k, _)| k == "login")
            .filter_map(|(_, l)| s.users.get(l).map(|(id, name)| json!({"id": id, "login": l, "display_name": name, "type": "", "broadcaster_type": "", "description": "", "profile_image_url": "", "offline_image_url": "", "view_count": 0, "created_at": "2016-12-14T20:32:28Z"})))
            .collect()
    };
    answer(&ctx, axum::Json(json!({"data": data})).into_response())
}

async fn list(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let after = q.get("after").cloned();
    if let Err(r) = guard(
        &ctx,
        &headers,
        format!(
            "GET /helix/eventsub/subscriptions after={}",
            after.clone().unwrap_or_default()
        ),
    ) {
        return r;
    }
    let body = {
        let s = ctx.state.lock().unwrap();
        let start: usize = after.and_then(|a| a.parse().ok()).unwrap_or(0);
        let page: Vec<Value> = s
            .subs
            .iter()
            .skip(start)
            .take(s.page_size)
            .cloned()
            .collect();
        let next = start + page.len();
        let pagination = if next < s.subs.len() {
            json!({"cursor": next.to_string()})
        } else {
            json!({})
        };
        let cost: u64 = s.subs.iter().filter_map(|v| v["cost"].as_u64()).sum();
        json!({"total": s.subs.len(), "data": page, "total_cost": cost, "max_total_cost": 10000, "pagination": pagination})
    };
    answer(&ctx, axum::Json(body).into_response())
}

async fn create(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    let kind = req["type"].as_str().unwrap_or_default().to_owned();
    if let Err(r) = guard(
        &ctx,
        &headers,
        format!("POST /helix/eventsub/subscriptions {kind}"),
    ) {
        return r;
    }
    let version = req["version"].as_str().unwrap_or_default().to_owned();
    let secret = req["transport"]["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let callback = req["transport"]["callback"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if kind == "channel.follow" && version == "1" {
        return answer(
            &ctx,
            error(StatusCode::GONE, "This subscription type is not available."),
        );
    }
    if !(10..=100).contains(&secret.len()) {
        return answer(
            &ctx,
            error(
                StatusCode::BAD_REQUEST,
                "The length of the string in the secret field is not valid.",
            ),
        );
    }
    if !callback.starts_with("https://") {
        return answer(
            &ctx,
            error(
                StatusCode::BAD_REQUEST,
                "The callback must use HTTPS on port 443.",
            ),
        );
    }
    let (sub, deliver) = {
        let mut s = ctx.state.lock().unwrap();
        let live = |v: &&Value| {
            v["type"] == kind
                && v["condition"] == req["condition"]
                && matches!(
                    v["status"].as_str(),
                    Some("enabled" | "webhook_callback_verification_pending")
                )
        };
        if s.conflict_types.contains(&kind) || s.subs.iter().any(|v| live(&v)) {
            drop(s);
            return answer(
                &ctx,
                error(StatusCode::CONFLICT, "subscription already exists"),
            );
        }
        let id = crate::eventsub::message_id();
        let sub = subscription(
            &id,
            &kind,
            &version,
            req["condition"].clone(),
            "webhook_callback_verification_pending",
            &callback,
        );
        s.subs.push(sub.clone());
        (sub, s.deliver_to.clone())
    };
    if let Some(relay) = deliver {
        tokio::spawn(verify(ctx.state.clone(), relay, secret, sub.clone()));
    }
    let body = json!({"data": [sub], "total": 1, "total_cost": 0, "max_total_cost": 10000});
    answer(
        &ctx,
        (StatusCode::ACCEPTED, axum::Json(body)).into_response(),
    )
}

/// Twitch's verification request; enabled only on a 200 with exactly the challenge.
async fn verify(state: Arc<Mutex<HelixState>>, relay: String, secret: String, sub: Value) {
    let challenge = crate::eventsub::message_id();
    let mut d = Delivery::verification(
        &challenge,
        sub["type"].as_str().unwrap(),
        sub["version"].as_str().unwrap(),
    );
    let body = json!({"challenge": challenge, "subscription": sub});
    d.body = serde_json::to_string(&body).unwrap();
    let resp = Sender::new(&relay, &secret).send(&d).await;
    let ok = resp.status() == 200 && resp.text().await.unwrap_or_default() == challenge;
    let status = if ok {
        "enabled"
    } else {
        "webhook_callback_verification_failed"
    };
    let mut s = state.lock().unwrap();
    if let Some(v) = s.subs.iter_mut().find(|v| v["id"] == sub["id"]) {
        v["status"] = json!(status);
    }
}

async fn delete(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let id = q.get("id").cloned().unwrap_or_default();
    if let Err(r) = guard(
        &ctx,
        &headers,
        format!("DELETE /helix/eventsub/subscriptions {id}"),
    ) {
        return r;
    }
    let found = {
        let mut s = ctx.state.lock().unwrap();
        let before = s.subs.len();
        s.subs.retain(|v| v["id"] != id.as_str());
        s.subs.len() < before
    };
    if found {
        answer(&ctx, StatusCode::NO_CONTENT.into_response())
    } else {
        answer(
            &ctx,
            error(StatusCode::NOT_FOUND, "The subscription was not found."),
        )
    }
}
