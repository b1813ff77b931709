//! The demo's stand-in for Helix: every action succeeds with an answer shaped like Twitch's, a
//! user card is made up from the demo's users, and a timeout, ban or delete is followed by the
//! chat line Twitch would send, so the demo shows the whole round trip without a network.

use serde_json::json;

use super::Msg;
use super::demo::{self, CHANNEL};
use crate::helix::{Answer, CardInfo, Request, User};

/// Twitch's answer to `req`, as the fake gives it.
pub fn answer(req: &Request) -> Answer {
    let now = jiff::Timestamp::now();
    let at = |s: i64| onair_common::time::format(now + jiff::SignedDuration::from_secs(s));
    Answer(match req {
        Request::Ban { .. } => Some(json!({"created_at": at(0), "end_time": null})),
        Request::Timeout { seconds, .. } => {
            Some(json!({"created_at": at(0), "end_time": at(i64::from(*seconds))}))
        }
        Request::Settings(p) => Some(json!({
            "slow_mode": p.slow.flatten().is_some(), "slow_mode_wait_time": p.slow.flatten(),
            "follower_mode": p.followers.flatten().is_some(), "follower_mode_duration": p.followers.flatten(),
            "subscriber_mode": p.subscribers.unwrap_or(false), "emote_mode": p.emote_only.unwrap_or(false),
            "unique_chat_mode": p.unique.unwrap_or(false)})),
        Request::Raid { .. } => Some(json!({"created_at": at(0), "is_mature": false})),
        Request::Marker { .. } => Some(json!({"position_seconds": 3723})),
        _ => None,
    })
}

/// The chat line Twitch sends after a moderation action, if any.
pub fn echo(req: &Request) -> Option<Msg> {
    let line = match req {
        Request::Timeout { user, seconds, .. } => format!(
            "@ban-duration={seconds};room-id=90010001 :tmi.twitch.tv CLEARCHAT #{CHANNEL} :{user}"
        ),
        Request::Ban { user, .. } => {
            format!("@room-id=90010001 :tmi.twitch.tv CLEARCHAT #{CHANNEL} :{user}")
        }
        Request::Delete { message_id } => format!(
            "@login=someone;target-msg-id={message_id} :tmi.twitch.tv CLEARMSG #{CHANNEL} :"
        ),
        Request::Clear => format!("@room-id=90010001 :tmi.twitch.tv CLEARCHAT #{CHANNEL}"),
        _ => return None,
    };
    demo::chat(&line)
}

/// A made-up card: the demo's users are old accounts that follow, except `byte_badger`, a
/// fresh account that does not.
pub fn card(login: &str) -> CardInfo {
    let name = demo::display_name(login).unwrap_or(login).to_owned();
    let fresh = login == "byte_badger";
    let created_at = if fresh {
        "2026-11-30T09:00:00Z"
    } else {
        "2019-05-01T12:00:00Z"
    };
    CardInfo {
        user: User {
            id: "51000000".into(),
            login: login.to_owned(),
            display_name: name,
            created_at: created_at.into(),
        },
        follow: Ok((!fresh).then(|| "2025-03-04T05:06:07Z".to_owned())),
    }
}
