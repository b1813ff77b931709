//! PRIVMSG, the hot path of a busy chat: its tags read in one pass, `/me` unwrapped, emote
//! ranges turned into names.

use super::irc::{IrcMessage, unescape};
use super::model::{ChatMessage, Emote, Reply, User};

/// The PRIVMSG tags we read, found in one pass over the tags (the hot path of a busy chat).
#[derive(Default)]
struct PrivTags<'a> {
    id: &'a str,
    user_id: &'a str,
    display_name: &'a str,
    color: &'a str,
    badges: &'a str,
    emotes: &'a str,
    bits: &'a str,
    first_msg: &'a str,
    sent_ts: &'a str,
    room_id: &'a str,
    source_room_id: &'a str,
    reply_id: &'a str,
    reply_login: &'a str,
    reply_body: &'a str,
}

impl<'a> PrivTags<'a> {
    fn of(m: &IrcMessage<'a>) -> Self {
        let mut t = Self::default();
        for (k, v) in m.tags.iter() {
            let slot = match k {
                "id" => &mut t.id,
                "user-id" => &mut t.user_id,
                "display-name" => &mut t.display_name,
                "color" => &mut t.color,
                "badges" => &mut t.badges,
                "emotes" => &mut t.emotes,
                "bits" => &mut t.bits,
                "first-msg" => &mut t.first_msg,
                "tmi-sent-ts" => &mut t.sent_ts,
                "room-id" => &mut t.room_id,
                "source-room-id" => &mut t.source_room_id,
                "reply-parent-msg-id" => &mut t.reply_id,
                "reply-parent-user-login" => &mut t.reply_login,
                "reply-parent-msg-body" => &mut t.reply_body,
                _ => continue,
            };
            *slot = v;
        }
        t
    }
}

fn owned(raw: &str) -> String {
    unescape(raw).into_owned()
}

pub(super) fn privmsg(m: &IrcMessage<'_>) -> ChatMessage {
    let t = PrivTags::of(m);
    let login = m.nick().unwrap_or_default().to_ascii_lowercase();
    let raw = m.param(1).unwrap_or_default();
    let (text, action) = match raw.strip_prefix("\u{1}ACTION ") {
        Some(t) => (t.strip_suffix('\u{1}').unwrap_or(t), true),
        None => (raw, false),
    };
    let user = User::from_tags(t.user_id, login, t.display_name, t.color, t.badges);
    ChatMessage {
        channel: m.channel().unwrap_or_default().to_ascii_lowercase(),
        id: owned(t.id),
        user,
        emotes: emotes(t.emotes, text),
        text: text.to_owned(),
        action,
        bits: t.bits.parse().unwrap_or(0),
        reply_to: (!t.reply_id.is_empty()).then(|| Reply {
            id: owned(t.reply_id),
            login: owned(t.reply_login),
            text: owned(t.reply_body),
        }),
        first: t.first_msg == "1",
        sent_at: t
            .sent_ts
            .parse()
            .unwrap_or_else(|_| jiff::Timestamp::now().as_millisecond()),
        source_room_id: (!t.source_room_id.is_empty() && t.source_room_id != t.room_id)
            .then(|| owned(t.source_room_id)),
    }
}

/// `id:0-4,6-10/id2:12-15`: code-point ranges, end inclusive, unsorted, sometimes out of range
/// (clamped, never a panic). The result is sorted by start.
pub fn emotes(tag: &str, text: &str) -> Vec<Emote> {
    let mut out = Vec::new();
    if tag.is_empty() || text.is_empty() {
        return out;
    }
    // Code point to byte offset: the identity in ASCII text (most chat), else the byte offset of
    // every code point plus the end, in one pass.
    let offsets: Option<Vec<usize>> = (!text.is_ascii()).then(|| {
        text.char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .collect()
    });
    let byte = |i: usize| offsets.as_ref().map_or(i, |o| o[i]);
    let len = offsets.as_ref().map_or(text.len(), |o| o.len() - 1);
    for group in tag.split('/').filter(|g| !g.is_empty()) {
        let Some((id, ranges)) = group.split_once(':') else {
            continue;
        };
        for range in ranges.split(',') {
            let Some((a, b)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end)) = (a.parse::<usize>(), b.parse::<usize>()) else {
                continue;
            };
            if start >= len || end < start {
                continue;
            }
            let end = end.min(len - 1);
            out.push(Emote {
                id: id.to_owned(),
                name: text[byte(start)..byte(end + 1)].to_owned(),
                start,
                end,
            });
        }
    }
    out.sort_by_key(|e| e.start);
    out
}
