//! The direct client in the app end to end, against the fake EventSub WebSocket: a
//! `session_reconnect` mid-stream loses and repeats nothing, keepalive silence reconnects,
//! resubscribes and shows a gap, and a revocation is shown and the type dropped.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use onair::app::{App, ChatEntry, EventRow, LoginView, Msg};
use onair::direct::DirectEvent;
use onair_common::catalog;
use onair_tests::direct_env::DirectEnv as Env;
use tokio::sync::mpsc;

/// Feeds direct events into the app until `until` holds.
async fn feed(app: &mut App, rx: &mut mpsc::Receiver<DirectEvent>, until: impl Fn(&App) -> bool) {
    while !until(app) {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the direct client went silent")
            .unwrap();
        app.update(Msg::Direct(ev));
    }
}

fn ids(app: &App) -> Vec<String> {
    let mut v: Vec<String> = app
        .events
        .iter()
        .filter_map(|r| match r {
            EventRow::Event { event, .. } => Some(event.id.clone()),
            EventRow::Marker(_) => None,
        })
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn live(a: &App) -> bool {
    a.direct_state.as_deref() == Some("live")
}

fn system_lines(app: &App) -> Vec<String> {
    app.chat
        .iter()
        .filter_map(|e| match e {
            ChatEntry::System { text, .. } => Some(text.clone()),
            ChatEntry::Message { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn a_reconnect_message_mid_stream_loses_and_repeats_nothing() {
    let env = Env::logged_in(None).await;
    let (mut rx, shutdown) = env.direct().await;
    let mut app = App::new("quillstream".into(), 100, LoginView::Anonymous, false).with_direct();
    feed(&mut app, &mut rx, live).await;
    let first = env.es.notify("channel.follow");
    feed(&mut app, &mut rx, |a| a.events.len() == 1).await;

    // Twitch asks us to move; one more event still comes on the old socket.
    let old = env.es.session();
    let on_old = env.es.reconnect_then(&["channel.cheer"]);
    env.es
        .wait(
            "the move to the reconnect URL and the old socket closed",
            |s| {
                s.connects.iter().any(|c| c.starts_with("reconnect_id="))
                    && s.closes.iter().any(|(id, _)| *id == old)
            },
        )
        .await;
    // On the new socket: a resend of the old socket's event, then a new one.
    env.es.notify_as("channel.cheer", &on_old[0]);
    let on_new = env.es.notify("channel.raid");
    feed(&mut app, &mut rx, |a| a.events.len() >= 3).await;
    // A last event proves nothing else is queued (the resend would come before it).
    let last = env.es.notify("stream.online");
    feed(&mut app, &mut rx, |a| ids(a).contains(&last)).await;
    assert_eq!(
        ids(&app),
        sorted(vec![first, on_old[0].clone(), on_new, last]),
        "each event exactly once"
    );
    assert!(
        !app.events.iter().any(|r| matches!(r, EventRow::Marker(_))),
        "no gap after a move"
    );
    let creates = env.es.with(|s| s.creates.len());
    assert_eq!(
        creates,
        catalog::SUPPORTED.len(),
        "no subscribing again after a move"
    );
    assert_eq!(app.direct_gap, None);
    shutdown.cancel();
    env.assert_nothing_sent_inbound();
}

#[tokio::test]
async fn keepalive_silence_reconnects_resubscribes_and_shows_a_gap() {
    let env = Env::logged_in(None).await;
    env.es.with(|s| s.keepalive_s = 1);
    let (mut rx, shutdown) = env.direct().await;
    let mut app = App::new("quillstream".into(), 100, LoginView::Anonymous, false).with_direct();
    feed(&mut app, &mut rx, live).await;
    let before = env.es.notify("channel.follow");
    feed(&mut app, &mut rx, |a| a.events.len() == 1).await;

    // The socket stays open but nothing arrives, not even keepalives: the link is dead.
    env.es.silence();
    feed(&mut app, &mut rx, |a| {
        a.direct_state
            .as_deref()
            .is_some_and(|s| s.starts_with("reconnecting in"))
    })
    .await;
    feed(&mut app, &mut rx, |a| live(a) && a.direct_gap.is_some()).await;
    let connects = env.es.with(|s| s.connects.clone());
    assert_eq!(connects, ["", ""], "a plain reconnect to the base URL");
    let all = catalog::SUPPORTED.len();
    assert_eq!(
        env.es.with(|s| s.creates.len()),
        2 * all,
        "subscribed again"
    );
    assert!(
        matches!(&app.events[0], EventRow::Marker(m) if m.starts_with("gap: events from")),
        "{:?}",
        app.events[0]
    );
    assert!(app.direct_gap.is_some());
    let after = env.es.notify("channel.raid");
    feed(&mut app, &mut rx, |a| ids(a).contains(&after)).await;
    assert_eq!(ids(&app), sorted(vec![before, after]));
    shutdown.cancel();
    env.assert_nothing_sent_inbound();
}

#[tokio::test]
async fn a_revocation_is_shown_and_the_type_is_not_subscribed_again() {
    let env = Env::logged_in(None).await;
    let (mut rx, shutdown) = env.direct().await;
    let mut app = App::new("quillstream".into(), 100, LoginView::Anonymous, false).with_direct();
    feed(&mut app, &mut rx, live).await;
    env.es.revoke("channel.follow", "authorization_revoked");
    feed(&mut app, &mut rx, |a| {
        system_lines(a)
            .iter()
            .any(|l| l.contains("channel.follow (authorization_revoked)"))
    })
    .await;
    // Twitch drops the connection (4006 network error): reconnect without the revoked type.
    env.es.close(4006);
    feed(&mut app, &mut rx, |a| a.direct_gap.is_some()).await;
    let follows = env.es.with(|s| {
        s.creates
            .iter()
            .filter(|(k, _)| k == "channel.follow")
            .count()
    });
    assert_eq!(follows, 1, "a revoked type is dropped");
    assert_eq!(
        env.es.with(|s| s.creates.len()),
        2 * catalog::SUPPORTED.len() - 1
    );
    shutdown.cancel();
    env.assert_nothing_sent_inbound();
}

/// The fake holds the client to Twitch's rules: 4001 for any frame sent, 4003 when no
/// subscription comes in time. (The tests above also check it never had to.)
#[tokio::test]
async fn the_fake_closes_with_4001_on_inbound_traffic_and_4003_when_unused() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let auth = onair_tests::twitch_auth::FakeAuth::start().await;
    let es = onair_tests::eventsub_ws::FakeEventSub::start(auth).await;
    es.with(|s| s.unused_after = Duration::from_millis(300));
    let close_code = |m: Option<Result<Message, _>>| match m {
        Some(Ok(Message::Close(Some(f)))) => u16::from(f.code),
        other => panic!("expected a close, got {other:?}"),
    };

    let (mut ws, _) = tokio_tungstenite::connect_async(es.ws_url.as_str())
        .await
        .unwrap();
    let welcome = ws.next().await.unwrap().unwrap().into_text().unwrap();
    assert!(
        welcome.contains(r#""message_type":"session_welcome""#),
        "{welcome}"
    );
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(close_code(ws.next().await), 4001);
    assert_eq!(es.with(|s| s.inbound.clone()), ["hello"]);

    let (mut ws, _) = tokio_tungstenite::connect_async(es.ws_url.as_str())
        .await
        .unwrap();
    ws.next().await.unwrap().unwrap(); // welcome
    assert_eq!(close_code(ws.next().await), 4003);
}
