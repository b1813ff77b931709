//! The fake's Helix side (`twitch.md` E.2, B.7): create a WebSocket subscription with a user
//! token (202 `enabled` at once, 409 for the same type+version+condition on the session, 403
//! when the token lacks the type's scope or names another user), and look users up.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use onair_common::catalog;
use serde_json::{Value, json};

use super::{Ctx, frames};

const USERS: &[(&str, &str, &str)] = &[
    ("quillstream", "90010001", "QuillStream"),
    ("nightowlgames", "90040004", "NightOwlGames"),
];

fn error(status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    (
        status,
        axum::Json(json!({"error": reason, "status": status.as_u16(), "message": message})),
    )
        .into_response()
}

/// The token's (user id, scopes), or the 401 Twitch answers. Only user tokens pass.
#[allow(clippy::result_large_err)] // A fake's error path.
fn user(ctx: &Ctx, headers: &HeaderMap) -> Result<(String, Vec<String>), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let client = headers.get("client-id").and_then(|v| v.to_str().ok());
    let Some(token) = token else {
        return Err(error(StatusCode::UNAUTHORIZED, "OAuth token is missing"));
    };
    match ctx.auth.grant_of(token) {
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

pub(super) async fn users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = user(&ctx, &headers) {
        return r;
    }
    let data: Vec<Value> = q
        .iter()
        .filter(|(k, _)| k == "login")
        .filter_map(|(_, l)| USERS.iter().find(|u| u.0 == l))
        .map(|(login, id, name)| json!({"id": id, "login": login, "display_name": name, "type": "", "broadcaster_type": "", "description": "", "profile_image_url": "", "offline_image_url": "", "view_count": 0, "created_at": "2016-12-14T20:32:28Z"}))
        .collect();
    axum::Json(json!({"data": data})).into_response()
}

pub(super) async fn create(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    let kind = req["type"].as_str().unwrap_or_default().to_owned();
    let r = answer(&ctx, &headers, &req, &kind);
    ctx.with(|s| s.creates.push((kind, r.status().as_u16())));
    r
}

fn answer(ctx: &Ctx, headers: &HeaderMap, req: &Value, kind: &str) -> Response {
    let (user_id, scopes) = match user(ctx, headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let version = req["version"].as_str().unwrap_or_default();
    let condition = &req["condition"];
    let session = req["transport"]["session_id"].as_str().unwrap_or_default();
    if req["transport"]["method"] != "websocket" {
        return error(
            StatusCode::BAD_REQUEST,
            "transport.method must be websocket",
        );
    }
    let Some(t) = catalog::lookup(kind).filter(|t| t.version == version) else {
        return error(StatusCode::BAD_REQUEST, "invalid type and version");
    };
    for key in ["moderator_user_id", "user_id"] {
        if condition.get(key).is_some_and(|v| *v != user_id.as_str()) {
            return error(
                StatusCode::FORBIDDEN,
                "the condition's user must be the token's user",
            );
        }
    }
    let own = condition["broadcaster_user_id"] == user_id.as_str()
        || condition["to_broadcaster_user_id"] == user_id.as_str();
    let granted = t.scopes.iter().any(|s| scopes.iter().any(|g| g == s));
    if !(t.scopes.is_empty() || own && granted) {
        return error(
            StatusCode::FORBIDDEN,
            "subscription missing proper authorization",
        );
    }
    ctx.with(|s| {
        if !s.sessions.contains_key(session) {
            return error(
                StatusCode::BAD_REQUEST,
                "session does not exist or has already disconnected",
            );
        }
        let duplicate = s.subs.iter().any(|v| {
            v["type"] == kind
                && v["version"] == version
                && v["condition"] == *condition
                && v["transport"]["session_id"] == session
                && v["status"] == "enabled"
        });
        if duplicate {
            return error(StatusCode::CONFLICT, "subscription already exists");
        }
        let cost = u64::from(!own && t.scopes.is_empty());
        let id = crate::eventsub::message_id();
        let sub = frames::subscription(&id, kind, version, cost, condition, session);
        s.subs.push(sub.clone());
        let total_cost: u64 = s.subs.iter().filter_map(|v| v["cost"].as_u64()).sum();
        let body =
            json!({"data": [sub], "total": s.subs.len(), "total_cost": total_cost, "max_total_cost": 10});
        (StatusCode::ACCEPTED, axum::Json(body)).into_response()
    })
}
