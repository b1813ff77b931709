//! A fake of Helix's user-token endpoints (`twitch.md` B.7, G): users, follow age, and the
//! streamer's actions, with Twitch's status codes and `{"error","status","message"}` bodies:
//! 401 `Missing scope: <scope>` for a scope the token lacks, 403 when the token's user is not a
//! moderator of the channel, 400 for an already banned user, 429 for a shoutout within the
//! cooldown, 404 for cancelling a raid that is not pending or a marker while offline. Every
//! request is recorded (method, path, raw query, body) so tests assert what Twitch received.
//! It is served beside the fake EventSub's Helix (`FakeEventSub::actions`).

mod routes;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use crate::twitch_auth::FakeAuth;

/// Users the fake knows: (login, id, display name, created_at). `quillstream` is the fake
/// id.twitch.tv's user, so the logged-in broadcaster.
pub const USERS: &[(&str, &str, &str, &str)] = &[
    (
        "quillstream",
        "90010001",
        "QuillStream",
        "2016-12-14T20:32:28Z",
    ),
    (
        "byte_badger",
        "90020002",
        "byte_badger",
        "2026-11-30T09:00:00Z",
    ),
    (
        "mossy_fern",
        "90030003",
        "Mossy_Fern",
        "2019-05-01T12:00:00Z",
    ),
    (
        "nightowlgames",
        "90040004",
        "NightOwlGames",
        "2018-02-03T04:05:06Z",
    ),
    (
        "lunarkettle",
        "90050005",
        "LunarKettle",
        "2020-07-08T09:10:11Z",
    ),
];

/// One request as Twitch would receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path, e.g. `/helix/moderation/bans`.
    pub path: String,
    /// The raw query string, e.g. `broadcaster_id=1&moderator_id=1`.
    pub query: String,
    /// The JSON body, if one was sent.
    pub body: Option<Value>,
}

impl Recorded {
    /// For assertions.
    pub fn new(method: &str, path: &str, query: &str, body: Option<Value>) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            body,
        }
    }
}

/// What the fake holds and how it behaves; tests change it through [`FakeActions::with`].
#[derive(Debug)]
pub struct ActionsState {
    /// Every action request (not user lookups), in order.
    pub requests: Vec<Recorded>,
    /// Banned or timed-out user ids, with the timeout's `end_time` (`None`: banned for good).
    pub banned: Vec<(String, Option<String>)>,
    /// The channel's chat settings (Twitch's object).
    pub settings: Value,
    /// Channels shouted out this session (ids).
    pub shoutouts: Vec<String>,
    /// A raid is pending.
    pub raid_pending: bool,
    /// The channel is live (shoutouts and markers need it).
    pub live: bool,
    /// Channels (ids) where the token's user is a moderator, besides their own.
    pub moderates: Vec<String>,
    /// Followers of `quillstream`: (user id, followed_at).
    pub follows: Vec<(String, String)>,
}

/// A handle on the running fake.
#[derive(Debug, Clone)]
pub struct FakeActions {
    state: Arc<Mutex<ActionsState>>,
}

impl FakeActions {
    /// Reads or changes the fake's state.
    pub fn with<T>(&self, f: impl FnOnce(&mut ActionsState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// The action requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }
}

#[derive(Clone)]
struct Ctx {
    state: Arc<Mutex<ActionsState>>,
    auth: FakeAuth,
}

/// The routes under `/helix`, checking tokens against `auth`.
pub(crate) fn router(auth: FakeAuth) -> (Router, FakeActions) {
    let state = Arc::new(Mutex::new(ActionsState {
        requests: Vec::new(),
        banned: Vec::new(),
        settings: json!({
            "broadcaster_id": "90010001", "moderator_id": "90010001",
            "slow_mode": false, "slow_mode_wait_time": null,
            "follower_mode": false, "follower_mode_duration": null,
            "subscriber_mode": false, "emote_mode": false, "unique_chat_mode": false,
            "non_moderator_chat_delay": false, "non_moderator_chat_delay_duration": null
        }),
        shoutouts: Vec::new(),
        raid_pending: false,
        live: true,
        moderates: Vec::new(),
        follows: vec![("90030003".into(), "2025-03-04T05:06:07Z".into())],
    }));
    let ctx = Ctx {
        state: state.clone(),
        auth,
    };
    let mut r = Router::new().route("/helix/users", get(routes::users));
    for path in [
        "/helix/moderation/bans",
        "/helix/moderation/chat",
        "/helix/moderation/warnings",
        "/helix/chat/settings",
        "/helix/chat/shoutouts",
        "/helix/chat/announcements",
        "/helix/raids",
        "/helix/streams/markers",
        "/helix/channels",
        "/helix/channels/followers",
    ] {
        r = r.route(path, any(routes::action));
    }
    (r.with_state(ctx), FakeActions { state })
}

/// Twitch's error envelope.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    (
        status,
        axum::Json(json!({"error": reason, "status": status.as_u16(), "message": message})),
    )
        .into_response()
}

/// The token's (user id, scopes), or the 401 Twitch answers. Only user tokens pass.
#[allow(clippy::result_large_err)] // A fake's error path.
pub(crate) fn user_of(
    auth: &FakeAuth,
    headers: &HeaderMap,
) -> Result<(String, Vec<String>), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let client = headers.get("client-id").and_then(|v| v.to_str().ok());
    let Some(token) = token else {
        return Err(error(StatusCode::UNAUTHORIZED, "OAuth token is missing"));
    };
    match auth.grant_of(token) {
        None => Err(error(StatusCode::UNAUTHORIZED, "Invalid OAuth token")),
        Some((c, ..)) if Some(c.as_str()) != client => Err(error(
            StatusCode::UNAUTHORIZED,
            "Client ID and OAuth token do not match",
        )),
        Some((_, None, _)) => Err(error(
            StatusCode::UNAUTHORIZED,
            "WebSocket transports require a user access token",
        )),
        Some((_, Some(user), scopes)) => Ok((user, scopes)),
    }
}
