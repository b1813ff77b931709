//! The fake's answers, endpoint by endpoint, as `twitch.md` G describes them.

// A fake: a refusal is the Response itself, and its size costs nothing here.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ActionsState, Ctx, Recorded, USERS, error, user_of};

type Answer = Result<Response, Response>;

const NOT_MODERATOR: &str = "The user in moderator_id is not one of the broadcaster's moderators.";

pub(super) async fn users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = user_of(&ctx.auth, &headers) {
        return r;
    }
    let data: Vec<Value> = q
        .iter()
        .filter(|(k, _)| k == "login")
        .filter_map(|(_, l)| USERS.iter().find(|u| u.0 == l))
        .map(|(login, id, name, created)| json!({"id": id, "login": login, "display_name": name, "type": "", "broadcaster_type": "", "description": "", "profile_image_url": "", "offline_image_url": "", "view_count": 0, "created_at": created}))
        .collect();
    axum::Json(json!({"data": data})).into_response()
}

pub(super) async fn action(
    State(ctx): State<Ctx>,
    method: Method,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Option<Value> = serde_json::from_slice(&body).ok();
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let path = uri.path().trim_start_matches("/helix/").to_owned();
    let mut s = ctx.state.lock().unwrap();
    s.requests.push(Recorded::new(
        method.as_str(),
        uri.path(),
        raw.as_deref().unwrap_or_default(),
        body.clone(),
    ));
    let req = Req {
        q,
        body: body.unwrap_or(Value::Null),
    };
    let r = user_of(&ctx.auth, &headers)
        .and_then(|(me, scopes)| answer(&mut s, &method, &path, &req, &me, &scopes));
    r.unwrap_or_else(|e| e)
}

struct Req {
    q: Vec<(String, String)>,
    body: Value,
}

impl Req {
    fn get(&self, key: &str) -> &str {
        self.q
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

fn need(scopes: &[String], scope: &str) -> Result<(), Response> {
    if scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            &format!("Missing scope: {scope}"),
        ))
    }
}

/// The token's user may moderate `broadcaster`, and `moderator_id` is the token's user.
fn moderator(
    s: &ActionsState,
    me: &str,
    broadcaster: &str,
    moderator: &str,
) -> Result<(), Response> {
    if moderator != me {
        return Err(error(
            StatusCode::FORBIDDEN,
            "The ID in moderator_id must match the user ID found in the request's OAuth token.",
        ));
    }
    if broadcaster != me && !s.moderates.iter().any(|b| b == broadcaster) {
        return Err(error(StatusCode::FORBIDDEN, NOT_MODERATOR));
    }
    Ok(())
}

fn bad(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn data(v: Value) -> Answer {
    Ok(axum::Json(json!({"data": [v]})).into_response())
}

fn done() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn answer(
    s: &mut ActionsState,
    method: &Method,
    path: &str,
    r: &Req,
    me: &str,
    scopes: &[String],
) -> Answer {
    let (b, m) = (r.get("broadcaster_id"), r.get("moderator_id"));
    match (method.as_str(), path) {
        ("POST", "moderation/bans") => {
            need(scopes, "moderator:manage:banned_users")?;
            moderator(s, me, b, m)?;
            ban(s, b, m, &r.body["data"])
        }
        ("DELETE", "moderation/bans") => {
            need(scopes, "moderator:manage:banned_users")?;
            moderator(s, me, b, m)?;
            let user = r.get("user_id");
            let before = s.banned.len();
            s.banned.retain(|(u, _)| u != user);
            if s.banned.len() == before {
                return Err(bad("user is not banned"));
            }
            done()
        }
        ("DELETE", "moderation/chat") => {
            need(scopes, "moderator:manage:chat_messages")?;
            moderator(s, me, b, m)?;
            done()
        }
        ("POST", "moderation/warnings") => {
            need(scopes, "moderator:manage:warnings")?;
            moderator(s, me, b, m)?;
            let d = &r.body["data"];
            if d["reason"].as_str().unwrap_or_default().is_empty() {
                return Err(bad("Missing required parameter \"reason\""));
            }
            data(
                json!({"broadcaster_id": b, "user_id": d["user_id"], "moderator_id": m, "reason": d["reason"]}),
            )
        }
        ("GET", "chat/settings") => {
            moderator(s, me, b, m)?;
            data(s.settings.clone())
        }
        ("PATCH", "chat/settings") => {
            need(scopes, "moderator:manage:chat_settings")?;
            moderator(s, me, b, m)?;
            settings(s, &r.body)
        }
        ("POST", "chat/shoutouts") => {
            need(scopes, "moderator:manage:shoutouts")?;
            moderator(s, me, r.get("from_broadcaster_id"), m)?;
            shoutout(s, r.get("from_broadcaster_id"), r.get("to_broadcaster_id"))
        }
        ("POST", "chat/announcements") => {
            need(scopes, "moderator:manage:announcements")?;
            moderator(s, me, b, m)?;
            let color = r.body["color"].as_str().unwrap_or("primary");
            if r.body["message"].as_str().unwrap_or_default().is_empty() {
                return Err(bad("Missing required parameter \"message\""));
            }
            if !["blue", "green", "orange", "purple", "primary"].contains(&color) {
                return Err(bad("The value in the color field is not valid."));
            }
            done()
        }
        ("POST", "raids") => {
            need(scopes, "channel:manage:raids")?;
            own(me, r.get("from_broadcaster_id"), "from_broadcaster_id")?;
            if r.get("from_broadcaster_id") == r.get("to_broadcaster_id") {
                return Err(bad("The broadcaster may not raid themselves."));
            }
            s.raid_pending = true;
            data(json!({"created_at": onair_common::time::format(now()), "is_mature": false}))
        }
        ("DELETE", "raids") => {
            need(scopes, "channel:manage:raids")?;
            own(me, b, "broadcaster_id")?;
            if !std::mem::take(&mut s.raid_pending) {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    "The broadcaster doesn't have a pending raid to cancel.",
                ));
            }
            done()
        }
        ("POST", "streams/markers") => {
            need(scopes, "channel:manage:broadcast")?;
            own(
                me,
                r.body["user_id"].as_str().unwrap_or_default(),
                "user_id",
            )?;
            if !s.live {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    "The user in user_id is not streaming live.",
                ));
            }
            let description = r.body["description"].as_str().unwrap_or_default();
            data(
                json!({"id": "123", "created_at": onair_common::time::format(now()), "description": description, "position_seconds": 3723}),
            )
        }
        ("PATCH", "channels") => {
            need(scopes, "channel:manage:broadcast")?;
            own(me, b, "broadcaster_id")?;
            done()
        }
        ("GET", "channels/followers") => {
            need(scopes, "moderator:read:followers")?;
            moderator(s, me, b, me)?;
            let user = r.get("user_id");
            let list: Vec<Value> = s
                .follows
                .iter()
                .filter(|(u, _)| user.is_empty() || u == user)
                .filter_map(|(u, at)| {
                    let (login, id, name, _) = USERS.iter().find(|x| x.1 == u)?;
                    Some(json!({"user_id": id, "user_login": login, "user_name": name, "followed_at": at}))
                })
                .collect();
            Ok(
                axum::Json(json!({"data": list, "total": s.follows.len(), "pagination": {}}))
                    .into_response(),
            )
        }
        _ => Err(error(StatusCode::NOT_FOUND, "Not Found")),
    }
}

/// Raids, markers and titles are the broadcaster's own.
fn own(me: &str, id: &str, field: &str) -> Result<(), Response> {
    if me == id {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            &format!("The ID in {field} must match the user ID in the user access token."),
        ))
    }
}

fn ban(s: &mut ActionsState, b: &str, m: &str, d: &Value) -> Answer {
    let Some(user) = d["user_id"].as_str() else {
        return Err(bad("Missing required parameter \"user_id\""));
    };
    let end_time = match &d["duration"] {
        Value::Null => None,
        v => match v.as_u64().filter(|n| (1..=1_209_600).contains(n)) {
            Some(n) => Some(onair_common::time::format(
                now() + jiff::SignedDuration::from_secs(n as i64),
            )),
            None => return Err(bad("The value in the duration field is not valid.")),
        },
    };
    if d["reason"]
        .as_str()
        .is_some_and(|r| r.chars().count() > 500)
    {
        return Err(bad("The text in the reason field is too long."));
    }
    if s.banned.iter().any(|(u, _)| u == user) {
        return Err(bad("user is already banned"));
    }
    s.banned.push((user.to_owned(), end_time.clone()));
    data(
        json!({"broadcaster_id": b, "moderator_id": m, "user_id": user,
        "created_at": onair_common::time::format(now()), "end_time": end_time}),
    )
}

fn settings(s: &mut ActionsState, body: &Value) -> Answer {
    if let Some(w) = body["slow_mode_wait_time"].as_u64()
        && !(3..=120).contains(&w)
    {
        return Err(bad(
            "The value in the slow_mode_wait_time field is not valid.",
        ));
    }
    if body["follower_mode_duration"]
        .as_u64()
        .is_some_and(|d| d > 129_600)
    {
        return Err(bad(
            "The value in the follower_mode_duration field is not valid.",
        ));
    }
    for (k, v) in body.as_object().into_iter().flatten() {
        s.settings[k] = v.clone();
    }
    if s.settings["slow_mode"] == false {
        s.settings["slow_mode_wait_time"] = Value::Null;
    }
    if s.settings["follower_mode"] == false {
        s.settings["follower_mode_duration"] = Value::Null;
    }
    data(s.settings.clone())
}

fn shoutout(s: &mut ActionsState, from: &str, to: &str) -> Answer {
    if from == to {
        return Err(bad("The broadcaster may not give themselves a Shoutout."));
    }
    if !s.live {
        return Err(bad(
            "The broadcaster is not streaming live or does not have one or more viewers.",
        ));
    }
    let cooldown = |m: &str| Err(error(StatusCode::TOO_MANY_REQUESTS, m));
    if s.shoutouts.iter().any(|t| t == to) {
        return cooldown(
            "The broadcaster may not give the same broadcaster more than one Shoutout per 60 minutes.",
        );
    }
    if !s.shoutouts.is_empty() {
        return cooldown("The broadcaster may not give more than one Shoutout every 2 minutes.");
    }
    s.shoutouts.push(to.to_owned());
    done()
}
