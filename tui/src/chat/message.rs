//! From a parsed [`IrcMessage`] to the typed model (`twitch.md` D.5): which command becomes
//! which [`Incoming`], with the tags each one reads. Pure. PRIVMSG, the hot path, is `privmsg.rs`.

use super::irc::{IrcMessage, unescape};
pub use super::model::{ChatLine, ChatMessage, Emote, Incoming, Reply, User, UserNotice};
pub use super::privmsg::emotes;
use super::privmsg::privmsg;

impl Incoming {
    /// Types a parsed line.
    pub fn from_irc(m: &IrcMessage<'_>) -> Self {
        let channel = || m.channel().unwrap_or_default().to_ascii_lowercase();
        match m.command {
            "PRIVMSG" => Self::Line(ChatLine::Message(privmsg(m))),
            "USERNOTICE" => Self::Line(ChatLine::Notice(usernotice(m))),
            "CLEARCHAT" => Self::Line(ChatLine::Clear {
                channel: channel(),
                target: m.param(1).filter(|t| !t.is_empty()).map(str::to_owned),
                duration_s: m.tag("ban-duration").and_then(|d| d.parse().ok()),
            }),
            "CLEARMSG" => Self::Line(ChatLine::Delete {
                channel: channel(),
                target_id: m.tag("target-msg-id").unwrap_or_default().into_owned(),
                login: m.tag("login").unwrap_or_default().into_owned(),
                text: m.param(1).unwrap_or_default().to_owned(),
            }),
            "ROOMSTATE" => Self::Line(ChatLine::Room {
                channel: channel(),
                state: m
                    .tags
                    .iter()
                    .filter(|(k, _)| *k != "room-id")
                    .map(|(k, v)| (k.to_owned(), unescape(v).into_owned()))
                    .collect(),
            }),
            "NOTICE" => Self::Line(ChatLine::Server {
                channel: m.channel().map(str::to_ascii_lowercase),
                msg_id: m.tag_nonempty("msg-id").map(|c| c.into_owned()),
                text: m.param(1).unwrap_or_default().to_owned(),
            }),
            "USERSTATE" => Self::UserState {
                channel: channel(),
                sent_id: m.tag_nonempty("id").map(|c| c.into_owned()),
                privileged: privileged(m),
            },
            "GLOBALUSERSTATE" => Self::GlobalUserState,
            "PING" => Self::Ping(m.param(0).unwrap_or("tmi.twitch.tv").to_owned()),
            "PONG" => Self::Pong,
            "RECONNECT" => Self::Reconnect,
            "JOIN" | "PART" => {
                let (channel, login) = (channel(), m.nick().unwrap_or_default().to_owned());
                if m.command == "JOIN" {
                    Self::Join { channel, login }
                } else {
                    Self::Part { channel, login }
                }
            }
            "WHISPER" => Self::Whisper {
                from: m.nick().unwrap_or_default().to_owned(),
                text: m.param(1).unwrap_or_default().to_owned(),
            },
            "CAP" => Self::Cap {
                ack: m.param(1) == Some("ACK"),
            },
            c if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => {
                Self::Numeric(c.to_owned())
            }
            other => Self::Other(other.to_owned()),
        }
    }
}

fn privileged(m: &IrcMessage<'_>) -> bool {
    m.tag_raw("mod") == Some("1")
        || m.tag_raw("badges").is_some_and(|b| {
            b.split(',').any(|b| {
                b.starts_with("broadcaster/")
                    || b.starts_with("vip/")
                    || b.starts_with("moderator/")
            })
        })
}

fn user(m: &IrcMessage<'_>, login: &str) -> User {
    let tag = |k| m.tag_raw(k).unwrap_or_default();
    User::from_tags(
        tag("user-id"),
        login.to_owned(),
        tag("display-name"),
        tag("color"),
        tag("badges"),
    )
}

fn sent_at(m: &IrcMessage<'_>) -> i64 {
    m.tag_raw("tmi-sent-ts")
        .and_then(|ts| ts.parse::<i64>().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond())
}

fn usernotice(m: &IrcMessage<'_>) -> UserNotice {
    let login = m.tag("login").unwrap_or_default().to_ascii_lowercase();
    UserNotice {
        channel: m.channel().unwrap_or_default().to_ascii_lowercase(),
        id: m.tag("id").unwrap_or_default().into_owned(),
        msg_id: m.tag("msg-id").unwrap_or_default().into_owned(),
        user: user(m, &login),
        system_text: m.tag("system-msg").unwrap_or_default().into_owned(),
        text: m.param(1).map(str::to_owned),
        params: m
            .tags
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix("msg-param-")?.to_owned(),
                    unescape(v).into_owned(),
                ))
            })
            .collect(),
        sent_at: sent_at(m),
    }
}
