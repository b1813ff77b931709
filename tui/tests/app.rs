//! The app without a terminal: key handling and `update` as tables, and each pane rendered into a
//! `TestBackend` at 80x24 and at a wide size.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;
use common::{chat, relay_event};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use onair::app::keys::{Action, action};
use onair::app::{App, ChatEntry, Effect, EventRow, Focus, LoginView, Mode, Msg};
use onair::chat::connection::{ChatEvent, ChatState};
use onair::relay::{RelayEvent, RelayState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn privmsg(id: &str, login: &str, text: &str) -> Msg {
    chat(&format!(
        "@badges=moderator/1;color=#1E90FF;display-name={login};emotes=;id={id};tmi-sent-ts=1767268800123;user-id=1 :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #quillstream :{text}"
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

#[test]
fn key_table() {
    let cases: &[(Mode, bool, KeyEvent, Option<Action>)] = &[
        (
            Mode::Normal,
            false,
            key(KeyCode::Char('q')),
            Some(Action::Quit),
        ),
        (Mode::Normal, false, ctrl('c'), Some(Action::Quit)),
        (Mode::Insert, false, ctrl('c'), Some(Action::Quit)),
        (
            Mode::Normal,
            false,
            key(KeyCode::Tab),
            Some(Action::ToggleFocus),
        ),
        (
            Mode::Normal,
            false,
            key(KeyCode::Char('i')),
            Some(Action::StartInput),
        ),
        (
            Mode::Normal,
            false,
            key(KeyCode::Enter),
            Some(Action::StartInput),
        ),
        (
            Mode::Normal,
            false,
            key(KeyCode::Char('k')),
            Some(Action::Older(1)),
        ),
        (
            Mode::Normal,
            false,
            key(KeyCode::Down),
            Some(Action::Newer(1)),
        ),
        (
            Mode::Normal,
            false,
            key(KeyCode::PageUp),
            Some(Action::Older(10)),
        ),
        (Mode::Normal, false, key(KeyCode::End), Some(Action::Live)),
        (
            Mode::Normal,
            false,
            key(KeyCode::Char('?')),
            Some(Action::ToggleHelp),
        ),
        (Mode::Normal, false, key(KeyCode::Char('x')), None),
        (
            Mode::Insert,
            false,
            key(KeyCode::Char('q')),
            Some(Action::Insert('q')),
        ),
        (
            Mode::Insert,
            false,
            key(KeyCode::Esc),
            Some(Action::StopInput),
        ),
        (
            Mode::Insert,
            false,
            key(KeyCode::Enter),
            Some(Action::Submit),
        ),
        (
            Mode::Insert,
            false,
            key(KeyCode::Backspace),
            Some(Action::Backspace),
        ),
        (
            Mode::Insert,
            false,
            key(KeyCode::Left),
            Some(Action::CursorLeft),
        ),
        (
            Mode::Normal,
            true,
            key(KeyCode::Char('x')),
            Some(Action::ToggleHelp),
        ),
        (
            Mode::Normal,
            true,
            key(KeyCode::Char('q')),
            Some(Action::Quit),
        ),
    ];
    for (mode, help, k, want) in cases {
        assert_eq!(
            action(*mode, *help, *k),
            *want,
            "{mode:?} help={help} {k:?}"
        );
    }
}

#[test]
fn typing_editing_and_sending() {
    let mut a = app();
    a.update(Msg::Key(key(KeyCode::Char('i'))));
    for c in "helo".chars() {
        a.update(Msg::Key(key(KeyCode::Char(c))));
    }
    a.update(Msg::Key(key(KeyCode::Left)));
    a.update(Msg::Key(key(KeyCode::Char('l'))));
    assert_eq!((a.input.text.as_str(), a.input.cursor), ("hello", 4));
    a.update(Msg::Key(key(KeyCode::End)));
    a.update(Msg::Key(key(KeyCode::Backspace)));
    assert_eq!(a.input.text, "hell");
    assert_eq!(
        a.update(Msg::Key(key(KeyCode::Enter))),
        vec![Effect::Send("hell".into())]
    );
    assert!(a.input.text.is_empty());
    // The input stops at 500 characters.
    for _ in 0..600 {
        a.update(Msg::Key(key(KeyCode::Char('x'))));
    }
    assert_eq!(a.input.text.chars().count(), 500);
    assert_eq!(a.update(Msg::Key(key(KeyCode::Esc))), vec![]);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(
        a.update(Msg::Key(key(KeyCode::Char('q')))),
        vec![Effect::Quit]
    );
}

#[test]
fn anonymous_cannot_send() {
    let mut a = App::new("quillstream".into(), 100, LoginView::Anonymous, false);
    a.update(Msg::Key(key(KeyCode::Char('i'))));
    a.update(Msg::Key(key(KeyCode::Char('x'))));
    assert_eq!(a.update(Msg::Key(key(KeyCode::Enter))), vec![]);
    assert!(
        matches!(a.chat.back(), Some(ChatEntry::System { text, .. }) if text.contains("onair login"))
    );
}

#[test]
fn deletes_timeouts_and_other_channels() {
    let mut a = app();
    a.update(privmsg("m1", "spammer", "buy followers"));
    a.update(privmsg("m2", "friend", "hi"));
    a.update(chat(":x!x@x.tmi.twitch.tv PRIVMSG #elsewhere :not ours"));
    assert_eq!(a.chat.len(), 2);
    a.update(chat(
        "@login=friend;room-id=;target-msg-id=m2 :tmi.twitch.tv CLEARMSG #quillstream :hi",
    ));
    assert!(matches!(
        &a.chat[1],
        ChatEntry::Message { deleted: true, .. }
    ));
    a.update(chat(
        "@ban-duration=600 :tmi.twitch.tv CLEARCHAT #quillstream :spammer",
    ));
    assert!(matches!(
        &a.chat[0],
        ChatEntry::Message { deleted: true, .. }
    ));
    assert!(
        matches!(a.chat.back(), Some(ChatEntry::System { text, .. }) if text == "spammer was timed out for 600 s")
    );
}

#[test]
fn scrollback_is_bounded_and_scrolling_holds_position() {
    let mut a = App::new("quillstream".into(), 50, LoginView::Anonymous, false);
    for i in 0..500 {
        a.update(privmsg(&format!("m{i}"), "u", &format!("line {i}")));
    }
    assert_eq!(a.chat.len(), 50, "memory does not grow with time");
    a.update(Msg::Key(key(KeyCode::PageUp)));
    assert_eq!(a.chat_scroll, 10);
    a.update(privmsg("new", "u", "newer"));
    assert_eq!(
        a.chat_scroll, 11,
        "new lines do not move what the user reads"
    );
    a.update(Msg::Key(key(KeyCode::End)));
    assert_eq!(a.chat_scroll, 0);
}

#[test]
fn events_newest_first_with_unread_and_replay_marker() {
    let mut a = app();
    a.update(relay_event("channel.follow", 1));
    a.update(relay_event("channel.cheer", 2));
    assert_eq!(a.unread, 2);
    assert_eq!(a.last_seq, Some(2));
    assert!(matches!(&a.events[0], EventRow::Event { event, .. } if event.kind == "channel.cheer"));
    a.update(Msg::Relay(RelayEvent::Replayed(3)));
    assert_eq!(
        a.events[0],
        EventRow::Marker("replayed 3 missed events".into())
    );
    a.update(Msg::Key(key(KeyCode::Tab)));
    assert_eq!((a.focus, a.unread), (Focus::Events, 0));
    a.update(Msg::Relay(RelayEvent::State(RelayState::Backoff {
        retry_in: std::time::Duration::from_secs(2),
        reason: "x".into(),
    })));
    assert_eq!(a.relay_state.as_deref(), Some("retry in 2s (x)"));
    // Pruned history and a recreated store are visible in the pane, not silent.
    a.update(Msg::Relay(RelayEvent::Gap { from: 3, to: 7 }));
    assert_eq!(
        a.events[0],
        EventRow::Marker("events 3..7 were pruned at the relay and cannot be shown".into())
    );
    a.update(Msg::Relay(RelayEvent::NewEpoch));
    assert_eq!(
        a.events[0],
        EventRow::Marker("the relay's event store is new: replaying it from the start".into())
    );
    assert_eq!(a.last_seq, None);
}

#[test]
fn an_event_delivered_again_under_a_new_seq_shows_once() {
    let mut a = app();
    a.update(relay_event("channel.follow", 5));
    // After the relay's machine lost power before its sync, Twitch re-delivers the event and
    // the relay stores it past its reserved seqs: same message id, new seq.
    let Msg::Relay(RelayEvent::Event(mut again)) = relay_event("channel.follow", 5) else {
        unreachable!()
    };
    again.seq = Some(4101);
    a.update(Msg::Relay(RelayEvent::Event(again)));
    a.update(relay_event("channel.cheer", 4102));
    let rows = a
        .events
        .iter()
        .filter(|r| matches!(r, EventRow::Event { .. }))
        .count();
    assert_eq!(rows, 2, "{:?}", a.events);
    assert_eq!(a.last_seq, Some(4102), "the cursor still moves past it");
}

const MYSTERY: &str = r"@login=night_owl_dev;display-name=Night_Owl_Dev;id=g0;msg-id=submysterygift;msg-param-mass-gift-count=2;msg-param-origin-id=77;msg-param-sub-plan=1000;system-msg=Night_Owl_Dev\sis\sgifting\s2\sTier\s1\sSubs! :tmi.twitch.tv USERNOTICE #quillstream";

fn subgift(id: &str, to: &str) -> Msg {
    chat(&format!(
        r"@login=night_owl_dev;display-name=Night_Owl_Dev;id={id};msg-id=subgift;msg-param-origin-id=77;msg-param-recipient-user-name={to};system-msg=Night_Owl_Dev\sgifted\sa\ssub\sto\s{to}! :tmi.twitch.tv USERNOTICE #quillstream"
    ))
}

#[test]
fn a_gift_bomb_folds_into_one_row() {
    let mut a = App::new("quillstream".into(), 100, LoginView::Anonymous, false);
    a.update(chat(MYSTERY));
    a.update(subgift("g1", "mossy_fern"));
    a.update(subgift("g2", "byte_badger"));
    assert_eq!(a.events.len(), 1);
    assert!(
        matches!(&a.events[0], EventRow::Event { gifts: 2, event } if event.summary == "Night_Owl_Dev is gifting 2 Tier 1 Subs!")
    );
}

#[test]
fn an_event_from_chat_and_from_the_relay_shows_once() {
    let mut a = app();
    // The raid arrives by chat first, then by the relay: the relay's copy replaces it.
    a.update(chat(r"@login=nightowlgames;display-name=NightOwlGames;id=r1;msg-id=raid;msg-param-login=nightowlgames;msg-param-viewerCount=128;system-msg=128\sraiders\sfrom\sNightOwlGames\shave\sjoined! :tmi.twitch.tv USERNOTICE #quillstream"));
    assert_eq!(a.events.len(), 1);
    a.update(relay_event("channel.raid", 1));
    assert_eq!(a.events.len(), 1);
    assert!(matches!(&a.events[0], EventRow::Event { event, .. } if event.seq == Some(1)));
    // Once the relay delivers a type, chat-borne copies of it are not shown at all.
    a.update(chat(r"@login=other;display-name=Other;id=r2;msg-id=raid;msg-param-login=other;system-msg=x :tmi.twitch.tv USERNOTICE #quillstream"));
    assert_eq!(a.events.len(), 1);
}

fn screen(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| onair::app::view::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect::<String>()
        })
        .collect()
}

fn busy_app() -> App {
    let mut a = app();
    a.update(Msg::Chat(ChatEvent::State(ChatState::Joined)));
    a.update(Msg::Relay(RelayEvent::State(RelayState::Live)));
    a.update(privmsg(
        "m1",
        "LunarKettle",
        "hello chat, this is a long message that has to wrap onto the next row of the pane",
    ));
    a.update(chat("@display-name=Mossy;id=m2;reply-parent-msg-id=m1;reply-parent-user-login=lunarkettle;reply-parent-msg-body=hello\\schat :mossy!mossy@mossy.tmi.twitch.tv PRIVMSG #quillstream :@LunarKettle hi!"));
    a.update(chat("@display-name=Actor;id=m3 :actor!actor@actor.tmi.twitch.tv PRIVMSG #quillstream :\u{1}ACTION waves\u{1}"));
    a.update(relay_event("channel.follow", 41));
    a.update(relay_event("channel.cheer", 42));
    a
}

#[test]
fn panes_at_80x24() {
    let s = screen(&busy_app(), 80, 24);
    let all = s.join("\n");
    assert!(s[0].starts_with("┌ #quillstream "), "{all}");
    assert!(
        all.contains("⚔ LunarKettle: hello chat, this is a"),
        "{all}"
    );
    assert!(all.contains("↳ @lunarkettle: hello chat"), "{all}");
    assert!(all.contains("Mossy: @LunarKettle hi!"), "{all}");
    assert!(all.contains("Actor waves"), "/me has no colon: {all}");
    assert!(all.contains("events · 2 new"), "{all}");
    assert!(
        all.contains("◆ Night_Owl_Dev cheered"),
        "newest event first: {all}"
    );
    let cheer = all.find("cheered").unwrap();
    let follow = all.find("mossy_fern followed").unwrap();
    assert!(cheer < follow, "{all}");
    assert!(
        s[23].contains("#quillstream │ chat: joined │ events: relay live · seq 42 │ quillstream"),
        "{}",
        s[23]
    );
    assert!(s[22].contains("0/500"), "{}", s[22]);
    assert!(s.iter().all(|l| l.chars().count() == 80));
}

#[test]
fn wide_terminal_and_help_overlay() {
    let mut a = busy_app();
    let s = screen(&a, 160, 40);
    let all = s.join("\n");
    assert!(
        all.contains(
            "hello chat, this is a long message that has to wrap onto the next row of the pane"
        ),
        "no wrap when wide: {all}"
    );
    a.update(Msg::Key(key(KeyCode::Char('?'))));
    let all = screen(&a, 160, 40).join("\n");
    assert!(all.contains("q / Ctrl-C   quit"), "{all}");
    a.update(Msg::Key(key(KeyCode::Char('z'))));
    assert!(!screen(&a, 160, 40).join("\n").contains("q / Ctrl-C   quit"));
}

#[test]
fn tiny_terminal_does_not_panic() {
    let a = busy_app();
    for (w, h) in [(1, 1), (10, 5), (20, 8), (40, 12)] {
        screen(&a, w, h);
    }
}
