//! `onair demo`: simulated chat and events, no account and no network. Chat is generated as real
//! IRC lines and events as real EventSub notification bodies, and both go through the same
//! parsers as live traffic, so the demo shows exactly what onair does.

use std::time::Duration;

use onair_common::Event;
use onair_common::eventsub::Envelope;
use rand::Rng;
use rand::seq::IndexedRandom;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Msg;
use crate::chat::connection::{ChatEvent, ChatState};
use crate::chat::read_line;
use crate::relay::{RelayEvent, RelayState};

/// The demo channel.
pub const CHANNEL: &str = "quillstream";

const USERS: &[(&str, &str, &str, &str)] = &[
    ("mossy_fern", "Mossy_Fern", "#2E8B57", "subscriber/12"),
    (
        "lunarkettle",
        "LunarKettle",
        "#1E90FF",
        "moderator/1,subscriber/24",
    ),
    ("byte_badger", "byte_badger", "", ""),
    ("night_owl_dev", "Night_Owl_Dev", "#FF69B4", "vip/1"),
    ("pixelpilgrim", "PixelPilgrim", "#DAA520", "subscriber/3"),
    ("кофеман", "Кофеман", "#9ACD32", ""),
    ("quillstream", "QuillStream", "#FF4500", "broadcaster/1"),
];

const LINES: &[&str] = &[
    "that boss fight was unreal",
    "Kappa",
    "hello chat! first time catching the stream live",
    "what keyboard is that?",
    "PogChamp PogChamp",
    "the new overlay looks clean",
    "@QuillStream can you show the settings again?",
    "LUL that jump",
    "привет всем 👋",
    "is this the ranked grind or just practice?",
    "GG Kappa GG",
];

/// Emote ids the demo knows by name.
const EMOTES: &[(&str, &str)] = &[
    ("Kappa", "25"),
    ("PogChamp", "305954156"),
    ("LUL", "425618"),
];

const EVENT_FIXTURES: &[&str] = &[
    include_str!("../../../common/tests/fixtures/channel.follow.json"),
    include_str!("../../../common/tests/fixtures/channel.cheer.json"),
    include_str!(
        "../../../common/tests/fixtures/channel.channel_points_custom_reward_redemption.add.json"
    ),
    include_str!("../../../common/tests/fixtures/channel.hype_train.begin.json"),
    include_str!("../../../common/tests/fixtures/channel.poll.begin.json"),
    include_str!("../../../common/tests/fixtures/channel.update.json"),
    include_str!("../../../common/tests/fixtures/channel.shoutout.receive.json"),
];

/// `@emotes=` for a text, with Twitch's code-point ranges.
fn emotes_tag(text: &str) -> String {
    let mut groups = Vec::new();
    for (name, id) in EMOTES {
        let mut ranges = Vec::new();
        let mut pos = 0;
        for word in text.split(' ') {
            let len = word.chars().count();
            if word == *name {
                ranges.push(format!("{}-{}", pos, pos + len - 1));
            }
            pos += len + 1;
        }
        if !ranges.is_empty() {
            groups.push(format!("{id}:{}", ranges.join(",")));
        }
    }
    groups.join("/")
}

fn privmsg(login: &str, name: &str, color: &str, badges: &str, text: &str) -> String {
    format!(
        "@badge-info=;badges={badges};color={color};display-name={name};emotes={};first-msg=0;id={:032x};mod=0;room-id=90010001;tmi-sent-ts={};user-id=51000000 :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #{CHANNEL} :{text}",
        emotes_tag(text),
        rand::random::<u128>(),
        jiff::Timestamp::now().as_millisecond(),
    )
}

/// A raw IRC line as the chat connection would deliver it.
pub(super) fn chat(line: &str) -> Option<Msg> {
    read_line(line)
        .ok()
        .map(|i| Msg::Chat(ChatEvent::Incoming(i)))
}

/// The display name of a demo user.
pub(super) fn display_name(login: &str) -> Option<&'static str> {
    USERS.iter().find(|u| u.0 == login).map(|u| u.1)
}

/// Our own message, as Twitch would show it to others.
pub fn own_message(text: &str) -> Msg {
    let line = privmsg("you", "You", "#FFFFFF", "", text);
    chat(&line).unwrap_or(Msg::Resize)
}

fn usernotice(msg_id: &str, login: &str, system: &str, params: &str, text: Option<&str>) -> String {
    let escaped = system.replace(' ', "\\s");
    let trailing = text.map(|t| format!(" :{t}")).unwrap_or_default();
    format!(
        "@badges=;display-name={login};id={:032x};login={login};msg-id={msg_id};{params}room-id=90010001;system-msg={escaped};tmi-sent-ts={} :tmi.twitch.tv USERNOTICE #{CHANNEL}{trailing}",
        rand::random::<u128>(),
        jiff::Timestamp::now().as_millisecond(),
    )
}

/// A chat-borne event burst: a sub, a raid, or a gift bomb with its recipients.
fn notices(step: u64) -> Vec<String> {
    match step % 3 {
        0 => vec![usernotice(
            "resub",
            "pixelpilgrim",
            "PixelPilgrim subscribed at Tier 1. They've subscribed for 7 months!",
            "msg-param-cumulative-months=7;msg-param-sub-plan=1000;",
            Some("still here Kappa"),
        )],
        1 => vec![usernotice(
            "raid",
            "nightowlgames",
            "42 raiders from NightOwlGames have joined!",
            "msg-param-displayName=NightOwlGames;msg-param-login=nightowlgames;msg-param-viewerCount=42;",
            None,
        )],
        _ => {
            let origin = format!("msg-param-origin-id={step};");
            let mut v = vec![usernotice(
                "submysterygift",
                "night_owl_dev",
                "Night_Owl_Dev is gifting 3 Tier 1 Subs to QuillStream's community!",
                &format!("{origin}msg-param-mass-gift-count=3;msg-param-sub-plan=1000;"),
                None,
            )];
            for r in ["mossy_fern", "byte_badger", "pixelpilgrim"] {
                v.push(usernotice(
                    "subgift",
                    "night_owl_dev",
                    &format!("Night_Owl_Dev gifted a Tier 1 sub to {r}!"),
                    &format!("{origin}msg-param-recipient-user-name={r};msg-param-sub-plan=1000;"),
                    None,
                ));
            }
            v
        }
    }
}

fn relay_event(seq: u64) -> Option<Msg> {
    let body = EVENT_FIXTURES[(seq as usize) % EVENT_FIXTURES.len()];
    let envelope: Envelope = serde_json::from_str(body).ok()?;
    let now = jiff::Timestamp::now();
    let mut event = Event::from_notification(
        &format!("demo-{seq}"),
        &onair_common::time::format(now),
        &envelope,
        now,
    )
    .ok()?;
    event.seq = Some(seq);
    event.occurred_at = onair_common::time::format(now);
    Some(Msg::Relay(RelayEvent::Event(Box::new(event))))
}

/// Feeds the app until `shutdown`.
pub async fn generate(tx: mpsc::Sender<Msg>, shutdown: CancellationToken) {
    let _ = tx
        .send(Msg::Chat(ChatEvent::State(ChatState::Joined)))
        .await;
    let _ = tx
        .send(Msg::Relay(RelayEvent::State(RelayState::Live)))
        .await;
    let mut seq = 0u64;
    let mut tick = 0u64;
    loop {
        let wait = Duration::from_millis(rand::rng().random_range(150..900));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        tick += 1;
        let mut out = Vec::new();
        let (login, name, color, badges) = *USERS.choose(&mut rand::rng()).unwrap_or(&USERS[0]);
        let text = LINES.choose(&mut rand::rng()).copied().unwrap_or("hi");
        out.extend(chat(&privmsg(login, name, color, badges, text)));
        if tick.is_multiple_of(9) {
            seq += 1;
            out.extend(relay_event(seq));
        }
        if tick.is_multiple_of(23) {
            out.extend(notices(tick / 23).iter().filter_map(|l| chat(l)));
        }
        if tick.is_multiple_of(31) {
            out.extend(chat(&format!("@ban-duration=600;room-id=90010001;target-user-id=51000000 :tmi.twitch.tv CLEARCHAT #{CHANNEL} :byte_badger")));
        }
        for m in out {
            if tx.send(m).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{ChatLine, Incoming};

    #[test]
    fn generated_lines_parse_with_correct_emotes() {
        let line = privmsg("a", "A", "", "", "GG Kappa GG Kappa");
        let Ok(Incoming::Line(ChatLine::Message(m))) = read_line(&line) else {
            panic!("{line}")
        };
        assert_eq!(m.emotes.len(), 2);
        assert!(m.emotes.iter().all(|e| e.name == "Kappa"));
        for l in (0..3).flat_map(notices) {
            assert!(
                matches!(read_line(&l), Ok(Incoming::Line(ChatLine::Notice(_)))),
                "{l}"
            );
        }
        for seq in 0..EVENT_FIXTURES.len() as u64 {
            assert!(matches!(
                relay_event(seq),
                Some(Msg::Relay(RelayEvent::Event(_)))
            ));
        }
    }
}
