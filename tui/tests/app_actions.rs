//! Acting from the app, driven through `App::update` as keys and messages: slash commands become
//! the CLI's actions (an unknown one is an error line, never chat), selection mode picks a chat
//! or event line and acts on it with one key, a ban asks first, the user card shows who and what,
//! every action ends in a result line, and moderation from chat greys lines out.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;
use common::{chat, relay_event};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use onair::app::{App, ChatEntry, Effect, Focus, LoginView, Mode, Msg};
use onair::helix::settings::SettingsPatch;
use onair::helix::{Answer, CardInfo, Request, User};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

fn privmsg(id: &str, login: &str, text: &str) -> Msg {
    chat(&format!(
        "@badges=subscriber/12;color=#1E90FF;display-name={login};emotes=;id={id};tmi-sent-ts=1767268800123;user-id=1 :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #quillstream :{text}"
    ))
}

fn app() -> App {
    App::new(
        "quillstream".into(),
        100,
        LoginView::User("quillstream".into(), 0),
        true,
    )
}

/// Feeds every message; returns the effects of all of them.
fn feed(app: &mut App, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
    msgs.into_iter().flat_map(|m| app.update(m)).collect()
}

fn typed(text: &str) -> Vec<Msg> {
    let mut v = vec![ch('i')];
    v.extend(text.chars().map(ch));
    v.push(key(KeyCode::Enter));
    v
}

fn last_system(app: &App) -> String {
    app.chat
        .iter()
        .rev()
        .find_map(|e| match e {
            ChatEntry::System { text, .. } => Some(text.clone()),
            ChatEntry::Message { .. } => None,
        })
        .unwrap_or_default()
}

fn screen(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| onair::app::view::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..40)
        .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

fn three_messages(app: &mut App) {
    feed(
        app,
        [
            privmsg("m1", "mossy_fern", "hi"),
            privmsg("m2", "byte_badger", "buy followers at spam dot com"),
            privmsg("m3", "lunarkettle", "o7"),
        ],
    );
}

#[test]
fn slash_commands_are_the_cli_actions() {
    let cases = [
        (
            "/timeout @Byte_Badger 10m spam",
            Request::Timeout {
                user: "byte_badger".into(),
                seconds: 600,
                reason: Some("spam".into()),
            },
        ),
        (
            "/ban byte_badger",
            Request::Ban {
                user: "byte_badger".into(),
                reason: None,
            },
        ),
        (
            "/unban byte_badger",
            Request::Unban {
                user: "byte_badger".into(),
            },
        ),
        (
            "/untimeout byte_badger",
            Request::Untimeout {
                user: "byte_badger".into(),
            },
        ),
        ("/clear", Request::Clear),
        (
            "/warn byte_badger no links",
            Request::Warn {
                user: "byte_badger".into(),
                reason: "no links".into(),
            },
        ),
        (
            "/slow off",
            Request::Settings(SettingsPatch {
                slow: Some(None),
                ..Default::default()
            }),
        ),
        (
            "/followers 10m",
            Request::Settings(SettingsPatch {
                followers: Some(Some(10)),
                ..Default::default()
            }),
        ),
        (
            "/subscribers on",
            Request::Settings(SettingsPatch {
                subscribers: Some(true),
                ..Default::default()
            }),
        ),
        (
            "/uniquechat off",
            Request::Settings(SettingsPatch {
                unique: Some(false),
                ..Default::default()
            }),
        ),
        (
            "/shoutout nightowlgames",
            Request::Shoutout {
                user: "nightowlgames".into(),
            },
        ),
        (
            "/raid nightowlgames",
            Request::Raid {
                channel: "nightowlgames".into(),
            },
        ),
        ("/unraid", Request::CancelRaid),
        (
            "/announce new video!",
            Request::Announce {
                text: "new video!".into(),
                color: None,
            },
        ),
        (
            "/marker clutch",
            Request::Marker {
                description: Some("clutch".into()),
            },
        ),
        (
            "/title Speedrun day 3",
            Request::Title {
                text: "Speedrun day 3".into(),
            },
        ),
    ];
    for (line, want) in cases {
        let mut a = app();
        let effects = feed(&mut a, typed(line));
        assert_eq!(effects, [Effect::Act(want)], "{line}");
        assert_eq!(a.input.text, "", "{line}: the input is cleared");
    }
    let mut a = app();
    assert_eq!(
        feed(&mut a, typed("/me waves")),
        [Effect::Send("/me waves".into())]
    );
}

#[test]
fn an_unknown_or_malformed_command_is_an_error_line_never_chat() {
    for (line, want) in [
        ("/frobnicate x", "unknown command /frobnicate"),
        ("/timeout byte_badger 10x", "`10x` is not a duration"),
        ("/timeout byte_badger 15d", "a timeout lasts 1s to 14d"),
        ("/ban", "usage: /ban USER [reason]"),
        ("/delete", "select a message first"),
    ] {
        let mut a = app();
        let effects = feed(&mut a, typed(line));
        assert_eq!(effects, [], "{line} must not be sent");
        assert!(
            last_system(&a).contains(want),
            "{line}: {}",
            last_system(&a)
        );
        assert_eq!(a.input.text, line, "kept to fix it");
    }
    let mut anon = App::new("quillstream".into(), 100, LoginView::Anonymous, false);
    assert_eq!(feed(&mut anon, typed("/clear")), []);
    assert!(last_system(&anon).contains("onair login"));
}

#[test]
fn selection_starts_at_the_newest_line_moves_and_times_out_that_user() {
    let mut a = app();
    three_messages(&mut a);
    feed(&mut a, [ch('v')]);
    assert_eq!(a.mode, Mode::Select);
    feed(&mut a, [ch('k')]);
    // A message arriving while selecting does not move the selection.
    feed(&mut a, [privmsg("m4", "mossy_fern", "new")]);
    feed(&mut a, [key(KeyCode::Up), key(KeyCode::Down)]);
    assert_eq!(
        feed(&mut a, [ch('t')]),
        [Effect::Act(Request::Timeout {
            user: "byte_badger".into(),
            seconds: 600,
            reason: None
        })]
    );
    assert_eq!(
        (a.mode, a.chat_scroll),
        (Mode::Normal, 0),
        "back to live for the result"
    );
    feed(
        &mut a,
        [Msg::Acted(
            Request::Timeout {
                user: "byte_badger".into(),
                seconds: 600,
                reason: None,
            },
            Ok(Answer(Some(json!({"end_time": "2026-12-02T06:00:00Z"})))),
        )],
    );
    assert_eq!(last_system(&a), "timed out byte_badger for 10m");
    // Esc leaves without acting.
    feed(&mut a, [ch('v'), ch('k')]);
    assert_eq!(feed(&mut a, [key(KeyCode::Esc)]), []);
    assert_eq!((a.mode, a.chat_scroll), (Mode::Normal, 0));
}

#[test]
fn ban_asks_first_and_delete_acts_on_the_selected_message() {
    let mut a = app();
    three_messages(&mut a);
    assert_eq!(feed(&mut a, [ch('v'), ch('k'), ch('b')]), []);
    assert!(last_system(&a).contains("ban byte_badger? press y"));
    assert_eq!(
        feed(&mut a, [ch('y')]),
        [Effect::Act(Request::Ban {
            user: "byte_badger".into(),
            reason: None
        })]
    );
    // The newest line is now the question (no user on it): one up is lunarkettle's message.
    assert_eq!(feed(&mut a, [ch('v'), ch('k'), ch('b'), ch('n')]), []);
    assert_eq!(last_system(&a), "did not ban lunarkettle");
    assert_eq!(
        feed(
            &mut a,
            [ch('v')]
                .into_iter()
                .chain((0..9).map(|_| ch('k')))
                .chain([ch('d')])
        ),
        [Effect::Act(Request::Delete {
            message_id: "m1".into()
        })],
        "k stops at the oldest line"
    );
    // `/delete` acts on the message selected last (three lines up: past two notices).
    assert_eq!(
        feed(
            &mut a,
            [ch('v'), ch('k'), ch('k'), ch('k'), key(KeyCode::Esc)]
                .into_iter()
                .chain(typed("/delete"))
        ),
        [Effect::Act(Request::Delete {
            message_id: "m3".into()
        })]
    );
    feed(
        &mut a,
        [Msg::Acted(
            Request::Ban {
                user: "x".into(),
                reason: None,
            },
            Err("user is already banned".into()),
        )],
    );
    assert_eq!(last_system(&a), "could not ban x: user is already banned");
}

#[test]
fn on_the_event_pane_a_raid_or_follow_can_be_shouted_out() {
    let mut a = app();
    feed(
        &mut a,
        [
            relay_event("channel.cheer", 1),
            relay_event("channel.raid", 2),
        ],
    );
    feed(&mut a, [key(KeyCode::Tab), ch('v')]);
    assert_eq!(a.focus, Focus::Events);
    assert_eq!(
        feed(&mut a, [ch('s')]),
        [Effect::Act(Request::Shoutout {
            user: "nightowlgames".into()
        })]
    );
    // Down is older on the event pane: the cheer, which offers no shoutout.
    assert_eq!(feed(&mut a, [ch('v'), ch('j'), ch('s')]), []);
    assert_eq!(last_system(&a), "shoutout works on a raid or follow event");
    feed(
        &mut a,
        [key(KeyCode::Esc), relay_event("channel.follow", 3)],
    );
    assert_eq!(
        feed(&mut a, [ch('v'), ch('s')]),
        [Effect::Act(Request::Shoutout {
            user: "mossy_fern".into()
        })]
    );
}

#[test]
fn the_user_card_shows_who_and_what_they_did_newest_first() {
    let mut a = app();
    a.now_ms = onair_common::time::parse("2026-12-02T00:00:00Z")
        .unwrap()
        .as_millisecond();
    three_messages(&mut a);
    feed(&mut a, [privmsg("m4", "byte_badger", "second try")]);
    assert_eq!(
        feed(&mut a, [ch('v'), ch('u')]),
        [Effect::Card("byte_badger".into())]
    );
    feed(
        &mut a,
        [Msg::Card(
            "byte_badger".into(),
            Ok(CardInfo {
                user: User {
                    id: "90020002".into(),
                    login: "byte_badger".into(),
                    display_name: "Byte_Badger".into(),
                    created_at: "2026-11-30T09:00:00Z".into(),
                },
                follow: Ok(None),
            }),
        )],
    );
    let s = screen(&a);
    for want in [
        "Byte_Badger (byte_badger)",
        "account age: 1 day",
        "not following",
        "badges: subscriber/12",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
    let newer = s.find("second try").unwrap();
    let older = s.find("buy followers").unwrap();
    assert!(newer < older, "newest first:\n{s}");
    feed(&mut a, [key(KeyCode::Esc)]);
    assert!(a.card.is_none());
    assert!(!screen(&a).contains("account age"));
}

#[test]
fn moderation_from_chat_greys_out_the_affected_lines() {
    let deleted = |a: &App| -> Vec<bool> {
        a.chat
            .iter()
            .filter_map(|e| match e {
                ChatEntry::Message { deleted, .. } => Some(*deleted),
                ChatEntry::System { .. } => None,
            })
            .collect()
    };
    let mut a = app();
    three_messages(&mut a);
    feed(
        &mut a,
        [chat(
            "@login=mossy_fern;room-id=1;target-msg-id=m1;tmi-sent-ts=1 :tmi.twitch.tv CLEARMSG #quillstream :hi",
        )],
    );
    assert_eq!(deleted(&a), [true, false, false]);
    feed(
        &mut a,
        [chat(
            "@ban-duration=600;room-id=1;target-user-id=2;tmi-sent-ts=1 :tmi.twitch.tv CLEARCHAT #quillstream :byte_badger",
        )],
    );
    assert_eq!(deleted(&a), [true, true, false]);
    feed(
        &mut a,
        [chat(
            "@room-id=1;tmi-sent-ts=1 :tmi.twitch.tv CLEARCHAT #quillstream",
        )],
    );
    assert_eq!(deleted(&a), [true, true, true]);
}

#[test]
fn help_lists_every_selection_key() {
    let mut a = app();
    feed(&mut a, [ch('?')]);
    let s = screen(&a);
    for want in [
        "select a line",
        "user card",
        "time the user out",
        "ban the user",
        "delete the selected",
        "shout out",
        "leave selection",
        "/command",
    ] {
        assert!(s.contains(want), "{want} missing from help:\n{s}");
    }
}

#[test]
fn the_selected_line_is_highlighted_and_the_pane_names_the_keys() {
    let mut a = app();
    three_messages(&mut a);
    feed(&mut a, [ch('v'), ch('k')]);
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| onair::app::view::draw(f, &a)).unwrap();
    let buf = t.backend().buffer().clone();
    let row = |needle: &str| {
        (0..40)
            .find(|&y| {
                (0..120)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .contains(needle)
            })
            .unwrap()
    };
    let reversed = |y: u16| {
        buf[(20, y)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    };
    assert!(reversed(row("buy followers")), "the selected line");
    assert!(!reversed(row("hi")), "another line");
    assert!(screen(&a).contains("t timeout 10m · b ban · d delete · u card · Esc"));
}

#[tokio::test]
async fn the_demo_times_out_against_its_built_in_fake() {
    let mut a = App::new(onair::app::demo::CHANNEL.into(), 100, LoginView::Demo, true);
    three_messages(&mut a);
    let effects = feed(&mut a, [ch('v'), ch('k'), ch('t')]);
    let [Effect::Act(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    onair::app::actor::Actor::Demo.act(req.clone(), tx);
    // The result line, then the CLEARCHAT Twitch would send.
    for _ in 0..2 {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        a.update(msg);
    }
    let lines: Vec<String> = a
        .chat
        .iter()
        .filter_map(|e| match e {
            ChatEntry::System { text, .. } => Some(text.clone()),
            ChatEntry::Message { .. } => None,
        })
        .collect();
    assert_eq!(
        lines,
        [
            "timed out byte_badger for 10m",
            "byte_badger was timed out for 600 s"
        ]
    );
    assert!(matches!(
        &a.chat[1],
        ChatEntry::Message { deleted: true, .. }
    ));
}
