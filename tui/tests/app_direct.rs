//! The app with direct events: an event from chat and its EventSub twin show once, the status
//! bar names the source and its state, and gaps, revocations and missing scopes are visible.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use onair::app::{App, ChatEntry, EventRow, LoginView, Msg};
use onair::chat::connection::ChatEvent;
use onair::chat::read_line;
use onair::direct::{DirectEvent, DirectState};
use onair_common::Event;
use onair_common::event::Origin;
use onair_common::eventsub::Envelope;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn direct_event(kind: &str, id: &str) -> Msg {
    let body = std::fs::read_to_string(format!(
        "{}/../common/tests/fixtures/{kind}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let env: Envelope = serde_json::from_str(&body).unwrap();
    let mut e =
        Event::from_notification(id, "2026-01-01T12:00:00Z", &env, jiff::Timestamp::now()).unwrap();
    e.origin = Origin::Direct;
    Msg::Direct(DirectEvent::Event(Box::new(e)))
}

fn chat(line: &str) -> Msg {
    Msg::Chat(ChatEvent::Incoming(read_line(line).unwrap()))
}

fn app() -> App {
    App::new(
        "quillstream".into(),
        100,
        LoginView::User("quillstream".into(), 0),
        false,
    )
    .with_direct()
}

fn status_bar(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(120, 24)).unwrap();
    t.draw(|f| onair::app::view::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..120).map(|x| buf[(x, 23)].symbol().to_owned()).collect()
}

fn system(app: &App) -> Vec<String> {
    app.chat
        .iter()
        .filter_map(|e| match e {
            ChatEntry::System { text, .. } => Some(text.clone()),
            ChatEntry::Message { .. } => None,
        })
        .collect()
}

const RAID: &str = r"@login=nightowlgames;display-name=NightOwlGames;id=r1;msg-id=raid;msg-param-login=nightowlgames;msg-param-viewerCount=128;system-msg=128\sraiders\sfrom\sNightOwlGames\shave\sjoined! :tmi.twitch.tv USERNOTICE #quillstream";

#[test]
fn an_event_from_chat_and_from_eventsub_shows_once() {
    let mut a = app();
    a.update(chat(RAID));
    assert_eq!(a.events.len(), 1);
    a.update(direct_event("channel.raid", "m1"));
    assert_eq!(a.events.len(), 1, "the EventSub copy replaces the chat one");
    assert!(
        matches!(&a.events[0], EventRow::Event { event, .. } if event.origin == Origin::Direct && event.id == "m1")
    );
    // EventSub first, then chat: the chat copy is not shown either.
    a.update(chat(&RAID.replace("id=r1", "id=r2")));
    assert_eq!(a.events.len(), 1);
}

#[test]
fn the_status_bar_names_the_source_and_its_state() {
    let mut a = app();
    assert!(
        status_bar(&a).contains("events: direct connecting"),
        "{}",
        status_bar(&a)
    );
    a.update(Msg::Direct(DirectEvent::State(DirectState::Live)));
    assert!(
        status_bar(&a).contains("events: direct live"),
        "{}",
        status_bar(&a)
    );
    a.update(Msg::Direct(DirectEvent::State(DirectState::Backoff {
        retry_in: Duration::from_millis(2500),
        reason: "nothing from EventSub for 13 s: the connection is dead".into(),
    })));
    assert!(
        status_bar(&a).contains("events: direct reconnecting in 3 s"),
        "{}",
        status_bar(&a)
    );
    assert!(
        system(&a)
            .last()
            .unwrap()
            .contains("the connection is dead")
    );
    a.update(Msg::Direct(DirectEvent::State(DirectState::Live)));
    a.update(Msg::Direct(DirectEvent::Gap {
        from_ms: 1_767_268_800_000,
        to_ms: 1_767_268_803_000,
    }));
    assert!(
        status_bar(&a).contains("events: direct live · gap at "),
        "{}",
        status_bar(&a)
    );
    assert!(
        matches!(&a.events[0], EventRow::Marker(m) if m.starts_with("gap: events from ") && m.ends_with("may be missing (EventSub reconnected)"))
    );
    // Without any event source, the bar says so.
    let plain = App::new("quillstream".into(), 100, LoginView::Anonymous, false);
    assert!(
        status_bar(&plain).contains("events: chat only"),
        "{}",
        status_bar(&plain)
    );
}

#[test]
fn revocations_and_missing_scopes_are_said_in_the_chat_pane() {
    let mut a = app();
    a.update(Msg::Direct(DirectEvent::MissingScopes(
        "direct events without channel.cheer (needs bits:read): run `onair login` again".into(),
    )));
    a.update(Msg::Direct(DirectEvent::Revoked {
        kind: "channel.follow".into(),
        status: "authorization_revoked".into(),
    }));
    let s = system(&a);
    assert!(s[0].contains("channel.cheer (needs bits:read)"));
    assert!(
        s[1].contains("channel.follow (authorization_revoked)"),
        "{s:?}"
    );
}
