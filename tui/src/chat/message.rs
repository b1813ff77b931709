//! Typed Twitch chat messages (`twitch.md` D.5), and the JSON lines of `chat tail --json`
//! (`design.md`). Built from a parsed [`IrcMessage`]; pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::irc::{IrcMessage, unescape};
pub use super::privmsg::emotes;
use super::privmsg::privmsg;

/// A chat user as messages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Twitch user id.
    pub id: String,
    /// Login (lower case).
    pub login: String,
    /// Display name (the login when Twitch sent none).
    pub name: String,
    /// `#RRGGBB`, or `None` when the user never chose one.
    pub color: Option<String>,
    /// `name/version`, e.g. `moderator/1`.
    pub badges: Vec<String>,
}

impl User {
    /// The one place a user is built from tags, given raw (still escaped) values as Twitch sent
    /// them: PRIVMSG's one-pass tag scan and every other message use it alike.
    pub(super) fn from_tags(
        id: &str,
        login: String,
        display_name: &str,
        color: &str,
        badges: &str,
    ) -> Self {
        let name = unescape(display_name).trim().to_owned();
        Self {
            id: unescape(id).into_owned(),
            name: if name.is_empty() { login.clone() } else { name },
            login,
            color: (!color.is_empty()).then(|| unescape(color).into_owned()),
            badges: badges
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The chosen `#RRGGBB` color as components.
    pub fn rgb(&self) -> Option<(u8, u8, u8)> {
        let hex = self
            .color
            .as_deref()?
            .strip_prefix('#')
            .filter(|h| h.len() == 6)?;
        let n = u32::from_str_radix(hex, 16).ok()?;
        Some(((n >> 16) as u8, (n >> 8) as u8, n as u8))
    }
}

/// One emote occurrence: Twitch's code-point indices into `text`, end inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Emote {
    /// Emote id (opaque).
    pub id: String,
    /// The text it covers.
    pub name: String,
    /// First code point.
    pub start: usize,
    /// Last code point (inclusive).
    pub end: usize,
}

/// The message a reply answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// Parent message id.
    pub id: String,
    /// Parent author's login.
    pub login: String,
    /// Parent text.
    pub text: String,
}

/// A PRIVMSG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// Channel login.
    pub channel: String,
    /// Message id.
    pub id: String,
    /// Author.
    pub user: User,
    /// Text without the `/me` wrapper.
    pub text: String,
    /// `/me`.
    pub action: bool,
    /// Bits cheered (0 if none).
    pub bits: u64,
    /// Emotes sorted by start.
    pub emotes: Vec<Emote>,
    /// Parent of a reply.
    pub reply_to: Option<Reply>,
    /// The user's first message in the channel.
    pub first: bool,
    /// When Twitch received it (`tmi-sent-ts`, Unix ms); written as RFC 3339 UTC.
    #[serde(serialize_with = "rfc3339_ms")]
    pub sent_at: i64,
    /// Shared Chat: the room the message was sent in, when it is not this channel.
    #[serde(skip)]
    pub source_room_id: Option<String>,
}

/// A USERNOTICE: subs, gifts, raids, announcements...
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserNotice {
    /// Channel login.
    pub channel: String,
    /// Message id.
    pub id: String,
    /// `sub`, `resub`, `subgift`, `raid`, ... (unknown ids kept as is).
    pub msg_id: String,
    /// Who caused it.
    pub user: User,
    /// Twitch's rendered text (`""` when empty).
    pub system_text: String,
    /// The user's own text, if any.
    pub text: Option<String>,
    /// Every `msg-param-*` tag without the prefix, unescaped.
    pub params: BTreeMap<String, String>,
    /// `tmi-sent-ts`, Unix ms.
    #[serde(skip)]
    pub sent_at: i64,
}

/// Formats Unix milliseconds only when JSON is written: most messages are only shown.
fn rfc3339_ms<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    let ts = jiff::Timestamp::from_millisecond(*ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    s.serialize_str(&onair_common::time::format(ts))
}

/// A chat line as `chat tail --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChatLine {
    /// PRIVMSG.
    Message(ChatMessage),
    /// USERNOTICE.
    Notice(UserNotice),
    /// CLEARCHAT: a timeout, a ban, or the whole chat cleared.
    Clear {
        /// Channel login.
        channel: String,
        /// The login cleared, or `None` for the whole chat.
        target: Option<String>,
        /// Timeout seconds; `None` = permanent ban (or whole chat).
        duration_s: Option<u64>,
    },
    /// CLEARMSG: one message deleted.
    Delete {
        /// Channel login.
        channel: String,
        /// The deleted message's id.
        target_id: String,
        /// Its author.
        login: String,
        /// Its text.
        text: String,
    },
    /// ROOMSTATE: only the keys Twitch sent.
    Room {
        /// Channel login.
        channel: String,
        /// Twitch's tag names and string values, e.g. `{"slow": "30"}`.
        state: BTreeMap<String, String>,
    },
    /// NOTICE from the server.
    Server {
        /// Channel login, or `None` for a global notice.
        channel: Option<String>,
        /// `msg_ratelimit`, ... (`None` for login failures, which carry none).
        msg_id: Option<String>,
        /// Twitch's text.
        text: String,
    },
}

/// Everything the connection may receive, typed.
// Nearly every value is a `Line`; boxing it would add an allocation per chat message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A line to show.
    Line(ChatLine),
    /// Our own state in a channel (after JOIN and after each message we send).
    UserState {
        /// Channel login.
        channel: String,
        /// The id of the message we just sent, when this answers one.
        sent_id: Option<String>,
        /// Moderator, VIP or broadcaster: the higher rate limit applies.
        privileged: bool,
    },
    /// After login: our user.
    GlobalUserState,
    /// `PING :x`: answer `PONG :x`.
    Ping(String),
    /// An answer to our PING.
    Pong,
    /// Twitch will close the connection: reconnect.
    Reconnect,
    /// Someone joined (or we did).
    Join {
        /// Channel login.
        channel: String,
        /// Who.
        login: String,
    },
    /// Someone left.
    Part {
        /// Channel login.
        channel: String,
        /// Who.
        login: String,
    },
    /// A WHISPER to us (never printed by `chat tail`).
    Whisper {
        /// From.
        from: String,
        /// Text.
        text: String,
    },
    /// CAP ACK / NAK.
    Cap {
        /// Whether Twitch acknowledged.
        ack: bool,
    },
    /// A numeric reply such as `001` or `366`.
    Numeric(String),
    /// Any other command, kept by name.
    Other(String),
}

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
                    .map(|(k, v)| ((*k).to_owned(), unescape(v).into_owned()))
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
