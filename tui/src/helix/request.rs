//! The streamer's actions (`twitch.md` G) as data: what the user asked for ([`Request`], users
//! named by login), the exact request Twitch receives once ids are known ([`Request::plan`]),
//! the scope it needs, and the line that says it is done. Pure: tested without a socket.

use reqwest::Method;
use serde_json::{Value, json};

use super::Plan;
use super::duration;
use super::settings::{self, SettingsPatch};

/// Announcement colors Twitch takes.
pub const COLORS: &[&str] = &["blue", "green", "orange", "purple", "primary"];

/// One action, as the user names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Ban for good.
    Ban {
        /// Login.
        user: String,
        /// Why.
        reason: Option<String>,
    },
    /// Time out.
    Timeout {
        /// Login.
        user: String,
        /// 1 s to 14 d.
        seconds: u32,
        /// Why.
        reason: Option<String>,
    },
    /// Lift a ban.
    Unban {
        /// Login.
        user: String,
    },
    /// End a timeout (the same call as unban).
    Untimeout {
        /// Login.
        user: String,
    },
    /// Delete one message.
    Delete {
        /// The message's id.
        message_id: String,
    },
    /// Delete every message.
    Clear,
    /// Warn; the user must acknowledge it before chatting again.
    Warn {
        /// Login.
        user: String,
        /// Required by Twitch.
        reason: String,
    },
    /// Read (empty patch) or change chat settings.
    Settings(SettingsPatch),
    /// Shout out another channel.
    Shoutout {
        /// Login.
        user: String,
    },
    /// An announcement in chat.
    Announce {
        /// Text.
        text: String,
        /// One of [`COLORS`]; Twitch's default when `None`.
        color: Option<String>,
    },
    /// Start a raid.
    Raid {
        /// The channel to raid (login).
        channel: String,
    },
    /// Cancel the pending raid.
    CancelRaid,
    /// Mark the stream here.
    Marker {
        /// Up to 140 characters.
        description: Option<String>,
    },
    /// Change the stream title.
    Title {
        /// The new title.
        text: String,
    },
}

/// The ids a plan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// The channel acted in.
    pub broadcaster: String,
    /// The token's user.
    pub moderator: String,
    /// The user or channel the action is about, resolved from [`Request::target`].
    pub target: Option<String>,
}

/// What Twitch answered: `data[0]` of a 200, `None` for a 204.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer(pub Option<Value>);

impl Request {
    /// The login whose id the plan needs, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            Self::Ban { user, .. }
            | Self::Timeout { user, .. }
            | Self::Unban { user }
            | Self::Untimeout { user }
            | Self::Warn { user, .. }
            | Self::Shoutout { user } => Some(user),
            Self::Raid { channel } => Some(channel),
            _ => None,
        }
    }

    /// The scope Twitch wants for this action.
    pub fn scope(&self) -> &'static str {
        match self {
            Self::Ban { .. }
            | Self::Timeout { .. }
            | Self::Unban { .. }
            | Self::Untimeout { .. } => "moderator:manage:banned_users",
            Self::Delete { .. } | Self::Clear => "moderator:manage:chat_messages",
            Self::Warn { .. } => "moderator:manage:warnings",
            Self::Settings(_) => "moderator:manage:chat_settings",
            Self::Shoutout { .. } => "moderator:manage:shoutouts",
            Self::Announce { .. } => "moderator:manage:announcements",
            Self::Raid { .. } | Self::CancelRaid => "channel:manage:raids",
            Self::Marker { .. } | Self::Title { .. } => "channel:manage:broadcast",
        }
    }

    /// The request Twitch receives.
    pub fn plan(&self, ids: &Ids) -> Plan {
        let b = || ("broadcaster_id", ids.broadcaster.clone());
        let m = || ("moderator_id", ids.moderator.clone());
        let target = ids.target.clone().unwrap_or_default();
        match self {
            Self::Ban { reason, .. } => ban(vec![b(), m()], &target, None, reason),
            Self::Timeout {
                seconds, reason, ..
            } => ban(vec![b(), m()], &target, Some(*seconds), reason),
            Self::Unban { .. } | Self::Untimeout { .. } => Plan::new(
                Method::DELETE,
                "moderation/bans",
                vec![b(), m(), ("user_id", target)],
            ),
            Self::Delete { message_id } => Plan::new(
                Method::DELETE,
                "moderation/chat",
                vec![b(), m(), ("message_id", message_id.clone())],
            ),
            Self::Clear => Plan::new(Method::DELETE, "moderation/chat", vec![b(), m()]),
            Self::Warn { reason, .. } => {
                Plan::new(Method::POST, "moderation/warnings", vec![b(), m()])
                    .with_body(json!({"data": {"user_id": target, "reason": reason}}))
            }
            Self::Settings(p) if p.is_empty() => {
                Plan::new(Method::GET, "chat/settings", vec![b(), m()])
            }
            Self::Settings(p) => {
                Plan::new(Method::PATCH, "chat/settings", vec![b(), m()]).with_body(p.body())
            }
            Self::Shoutout { .. } => Plan::new(
                Method::POST,
                "chat/shoutouts",
                vec![
                    ("from_broadcaster_id", ids.broadcaster.clone()),
                    ("to_broadcaster_id", target),
                    m(),
                ],
            ),
            Self::Announce { text, color } => {
                let mut body = json!({"message": text});
                if let Some(c) = color {
                    body["color"] = json!(c);
                }
                Plan::new(Method::POST, "chat/announcements", vec![b(), m()]).with_body(body)
            }
            Self::Raid { .. } => Plan::new(
                Method::POST,
                "raids",
                vec![
                    ("from_broadcaster_id", ids.broadcaster.clone()),
                    ("to_broadcaster_id", target),
                ],
            ),
            Self::CancelRaid => Plan::new(Method::DELETE, "raids", vec![b()]),
            Self::Marker { description } => {
                let mut body = json!({"user_id": ids.broadcaster});
                if let Some(d) = description {
                    body["description"] = json!(d);
                }
                Plan::new(Method::POST, "streams/markers", Vec::new()).with_body(body)
            }
            Self::Title { text } => {
                Plan::new(Method::PATCH, "channels", vec![b()]).with_body(json!({"title": text}))
            }
        }
    }

    /// What it does, for "could not ...": `time out byte_badger`, `raid x`.
    pub fn what(&self) -> String {
        match self {
            Self::Ban { user, .. } => format!("ban {user}"),
            Self::Timeout { user, .. } => format!("time out {user}"),
            Self::Unban { user } => format!("unban {user}"),
            Self::Untimeout { user } => format!("end the timeout of {user}"),
            Self::Delete { .. } => "delete the message".into(),
            Self::Clear => "clear chat".into(),
            Self::Warn { user, .. } => format!("warn {user}"),
            Self::Settings(p) if p.is_empty() => "read the chat settings".into(),
            Self::Settings(_) => "change the chat settings".into(),
            Self::Shoutout { user } => format!("shout out {user}"),
            Self::Announce { .. } => "announce".into(),
            Self::Raid { channel } => format!("raid {channel}"),
            Self::CancelRaid => "cancel the raid".into(),
            Self::Marker { .. } => "set a marker".into(),
            Self::Title { .. } => "set the title".into(),
        }
    }

    /// The line that says it is done.
    pub fn done(&self, answer: &Answer) -> String {
        match self {
            Self::Ban { user, .. } => format!("banned {user}"),
            Self::Timeout { user, seconds, .. } => {
                format!("timed out {user} for {}", duration::format(*seconds))
            }
            Self::Unban { user } => format!("unbanned {user}"),
            Self::Untimeout { user } => format!("ended the timeout of {user}"),
            Self::Delete { .. } => "deleted the message".into(),
            Self::Clear => "cleared chat".into(),
            Self::Warn { user, .. } => format!("warned {user}"),
            Self::Settings(p) => {
                let now = answer
                    .0
                    .as_ref()
                    .map(settings::describe)
                    .unwrap_or_default();
                if p.is_empty() {
                    format!("chat settings: {now}")
                } else {
                    format!("chat settings changed: {now}")
                }
            }
            Self::Shoutout { user } => format!("shouted out {user}"),
            Self::Announce { .. } => "announced".into(),
            Self::Raid { channel } => format!("raiding {channel} (Twitch starts it in about 90 s)"),
            Self::CancelRaid => "raid cancelled".into(),
            Self::Marker { .. } => match answer
                .0
                .as_ref()
                .and_then(|d| d["position_seconds"].as_u64())
            {
                Some(s) => format!("marker set at {}", clock(s)),
                None => "marker set".into(),
            },
            Self::Title { text } => format!("title set: {text}"),
        }
    }
}

fn ban(
    query: Vec<(&'static str, String)>,
    user: &str,
    seconds: Option<u32>,
    reason: &Option<String>,
) -> Plan {
    let mut data = json!({"user_id": user});
    if let Some(s) = seconds {
        data["duration"] = json!(s);
    }
    if let Some(r) = reason {
        data["reason"] = json!(r);
    }
    Plan::new(Method::POST, "moderation/bans", query).with_body(json!({"data": data}))
}

/// `1:02:03` from seconds into the stream.
fn clock(s: u64) -> String {
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        Ids {
            broadcaster: "1".into(),
            moderator: "2".into(),
            target: Some("3".into()),
        }
    }

    #[test]
    fn a_timeout_is_a_ban_with_a_duration() {
        let r = Request::Timeout {
            user: "byte_badger".into(),
            seconds: 600,
            reason: None,
        };
        let p = r.plan(&ids());
        assert_eq!((p.method, p.path), (Method::POST, "moderation/bans"));
        assert_eq!(
            p.query,
            [
                ("broadcaster_id", "1".to_owned()),
                ("moderator_id", "2".to_owned())
            ]
        );
        assert_eq!(
            p.body,
            Some(json!({"data": {"user_id": "3", "duration": 600}}))
        );
        assert_eq!(r.done(&Answer(None)), "timed out byte_badger for 10m");
    }

    #[test]
    fn raids_and_shoutouts_name_both_channels() {
        let raid = Request::Raid {
            channel: "x".into(),
        }
        .plan(&ids());
        assert_eq!(
            raid.query,
            [
                ("from_broadcaster_id", "1".to_owned()),
                ("to_broadcaster_id", "3".to_owned())
            ]
        );
        let so = Request::Shoutout { user: "x".into() }.plan(&ids());
        assert_eq!(so.query.len(), 3);
        assert_eq!(Request::CancelRaid.plan(&ids()).method, Method::DELETE);
    }

    #[test]
    fn a_marker_reports_where_it_is() {
        let m = Request::Marker { description: None };
        assert_eq!(m.plan(&ids()).body, Some(json!({"user_id": "1"})));
        assert_eq!(
            m.done(&Answer(Some(json!({"position_seconds": 3723})))),
            "marker set at 1:02:03"
        );
    }
}
