//! The typed chat model (`twitch.md` D.5) and the JSON lines of `chat tail --json`
//! (`design.md`): users, messages, notices, and everything the connection may receive. Data
//! only, plus the one function that builds a [`User`] from tags; parsing lives in `message.rs`
//! and `privmsg.rs`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::irc::unescape;

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
