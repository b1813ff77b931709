//! Events from chat: Twitch announces subs, gifts and raids in USERNOTICEs. These become EVENTs
//! with `origin: irc` and `seq: null`, typed like their EventSub twins so that the same event
//! arriving from the relay can replace, not repeat, the chat-borne one.

use onair_common::event::{Channel, Event, Origin};
use serde_json::{Map, Value};

use crate::chat::UserNotice;

/// The EventSub type a USERNOTICE corresponds to, or an `irc.*` type for those EventSub lacks.
pub fn kind_of(msg_id: &str) -> Option<&'static str> {
    Some(match msg_id {
        "sub" => "channel.subscribe",
        "resub" => "channel.subscription.message",
        "subgift" | "anonsubgift" | "submysterygift" | "anonsubmysterygift" => {
            "channel.subscription.gift"
        }
        "raid" => "channel.raid",
        "announcement" => "irc.announcement",
        "giftpaidupgrade" | "anongiftpaidupgrade" | "primepaidupgrade" => "irc.giftpaidupgrade",
        "viewermilestone" => "irc.viewermilestone",
        "bitsbadgetier" => "irc.bitsbadgetier",
        _ => return None,
    })
}

/// The event a USERNOTICE announces, if it announces one.
pub fn event_of(n: &UserNotice) -> Option<Event> {
    let kind = kind_of(&n.msg_id)?;
    let data: Map<String, Value> = n
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .chain([
            ("msg_id".to_owned(), Value::String(n.msg_id.clone())),
            ("user_login".to_owned(), Value::String(n.user.login.clone())),
            ("user_name".to_owned(), Value::String(n.user.name.clone())),
        ])
        .collect();
    let summary = if n.system_text.is_empty() {
        match &n.text {
            Some(t) => format!("{}: {t}", n.user.name),
            None => n.msg_id.clone(),
        }
    } else {
        n.system_text.clone()
    };
    let at =
        jiff::Timestamp::from_millisecond(n.sent_at).unwrap_or_else(|_| jiff::Timestamp::now());
    Some(Event {
        seq: None,
        id: n.id.clone(),
        kind: kind.to_owned(),
        version: "irc".to_owned(),
        channel: Channel {
            id: String::new(),
            login: n.channel.clone(),
            name: n.channel.clone(),
        },
        occurred_at: onair_common::time::format(at),
        received_at: onair_common::time::now(),
        origin: Origin::Irc,
        summary,
        data: Value::Object(data),
    })
}

/// Who an event is about, to match a chat-borne event with its relay twin: the raider for raids,
/// the gifter for gifts, else the user. Anonymous gifters match each other.
pub fn who(e: &Event) -> String {
    let s = |k: &str| {
        e.data
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase()
    };
    let login = match (e.kind.as_str(), e.origin) {
        ("channel.raid", Origin::Twitch | Origin::Direct) => s("from_broadcaster_user_login"),
        ("channel.raid", Origin::Irc) => s("login"),
        _ => s("user_login"),
    };
    if login == "ananonymousgifter" {
        String::new()
    } else {
        login
    }
}

/// The gift-bomb id shared by a `submysterygift` and the `subgift`s it causes.
pub fn origin_id(e: &Event) -> Option<&str> {
    (e.origin == Origin::Irc)
        .then(|| e.data.get("origin-id").and_then(Value::as_str))
        .flatten()
}

/// Whether a chat-borne event is one recipient of a gift bomb (a `subgift` with an origin id).
pub fn is_bomb_part(e: &Event) -> bool {
    e.data
        .get("msg_id")
        .and_then(Value::as_str)
        .is_some_and(|m| m.ends_with("subgift") && !m.contains("mystery"))
}

/// Whether a chat-borne event opens a gift bomb.
pub fn is_bomb(e: &Event) -> bool {
    e.data
        .get("msg_id")
        .and_then(Value::as_str)
        .is_some_and(|m| m.contains("submysterygift"))
}
