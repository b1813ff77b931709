//! The fake's Helix side (`twitch.md` E.2, B.7): create a WebSocket subscription with a user
//! token (202 `enabled` at once, 409 for the same type+version+condition on the session, 403
//! when the token lacks the type's scope or names another user). Users are looked up in
//! [`crate::helix_actions`].

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use onair_common::catalog;
use serde_json::{Value, json};

use super::{Ctx, frames};
use crate::helix_actions::{error, user_of};

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
    let (user_id, scopes) = match user_of(&ctx.auth, headers) {
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
