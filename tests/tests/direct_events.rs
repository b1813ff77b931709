//! Direct events end to end: the real `onair` and its direct EventSub client against the fake
//! EventSub WebSocket and its Helix (`twitch.md` E), with a login from the fake id.twitch.tv.
//! Events arrive once each across a `session_reconnect`; keepalive silence reconnects,
//! resubscribes and shows a gap; a revocation drops the type; a missing scope skips only its
//! types; and the client never sends a frame of its own.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Stdio;
use std::time::Duration;

use onair::app::{App, ChatEntry, EventRow, LoginView, Msg};
use onair::auth::{Auth, TokenHandle, TokenStore, owner};
use onair::direct::{self, DirectConfig, DirectEvent};
use onair_common::catalog;
use onair_common::twitch::oauth::OAuth;
use onair_tests::bins;
use onair_tests::eventsub_ws::FakeEventSub;
use onair_tests::twitch_auth::{CLIENT_ID, FakeAuth};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Env {
    home: tempfile::TempDir,
    auth: FakeAuth,
    es: FakeEventSub,
}

impl Env {
    /// Logged in through `onair login` (with `--scopes` when given).
    async fn logged_in(scopes: Option<&str>) -> Self {
        let auth = FakeAuth::start().await;
        auth.with(|s| s.pending_polls = 0);
        let es = FakeEventSub::start(auth.clone()).await;
        let env = Self {
            home: tempfile::tempdir().unwrap(),
            auth,
            es,
        };
        let mut args = vec!["login"];
        if let Some(s) = scopes {
            args.extend(["--scopes", s]);
        }
        let o = env.cmd(&args).output().await.unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        env
    }

    fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(bins::onair(self.home.path()));
        cmd.args(args)
            .env("ONAIR_TWITCH_CLIENT_ID", CLIENT_ID)
            .env("ONAIR_TWITCH_AUTH_URL", &self.auth.base)
            .env("ONAIR_TWITCH_EVENTSUB_URL", &self.es.ws_url)
            .env("ONAIR_TWITCH_HELIX_URL", &self.es.helix_url)
            .env("ONAIR_TUI_TOKEN_STORE", "file")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// This process's token owner for the stored login.
    async fn tokens(&self, shutdown: &CancellationToken) -> TokenHandle {
        let store = TokenStore::file_in(self.home.path().join("data/onair"));
        let auth = Auth::new(
            OAuth::new(self.auth.base.parse().unwrap(), CLIENT_ID),
            store,
        );
        let token = auth.current().await.unwrap();
        owner::spawn(auth, token, shutdown.clone()).0
    }

    /// The direct client on the fake with test timings.
    async fn direct(&self) -> (mpsc::Receiver<DirectEvent>, CancellationToken) {
        let shutdown = CancellationToken::new();
        let mut cfg = DirectConfig::new(
            self.es.ws_url.parse().unwrap(),
            self.es.helix_url.parse().unwrap(),
            CLIENT_ID.into(),
            "quillstream".into(),
        );
        cfg.backoff = (Duration::from_millis(100), Duration::from_millis(200));
        cfg.grace = Duration::from_millis(300);
        let (tx, rx) = mpsc::channel(256);
        let tokens = self.tokens(&shutdown).await;
        tokio::spawn(direct::run(cfg, tokens, tx, shutdown.clone()));
        (rx, shutdown)
    }

    fn assert_nothing_sent_inbound(&self) {
        assert_eq!(self.es.with(|s| s.inbound.clone()), Vec::<String>::new());
        let codes: Vec<_> = self.es.with(|s| s.closes.clone());
        assert!(
            codes.iter().all(|(_, c)| !matches!(c, Some(4001..=4004))),
            "{codes:?}"
        );
    }
}

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
async fn events_tail_direct_json_prints_each_event_once_as_an_event() {
    let env = Env::logged_in(None).await;
    let mut child = env
        .cmd(&[
            "events", "tail", "--source", "direct", "--json", "--count", "3",
        ])
        .spawn()
        .unwrap();
    let all = catalog::SUPPORTED.len();
    env.es
        .wait("every type subscribed", |s| {
            s.subs.iter().filter(|v| v["status"] == "enabled").count() == all
        })
        .await;
    let follow = env.es.notify("channel.follow");
    env.es.notify_as("channel.follow", &follow); // a resend: same message id
    let cheer = env.es.notify("channel.cheer");
    let raid = env.es.notify("channel.raid");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut got = Vec::new();
    while let Some(l) = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        got.push(serde_json::from_str::<Value>(&l).unwrap());
    }
    assert!(child.wait().await.unwrap().success());
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        got.iter().map(id).collect::<Vec<_>>(),
        [follow, cheer, raid]
    );
    for v in &got {
        assert_eq!(
            (v["seq"].clone(), v["origin"].as_str()),
            (Value::Null, Some("direct"))
        );
        assert_eq!(v["channel"]["login"], "quillstream");
    }
    assert_eq!(got[0]["type"], "channel.follow");
    assert_eq!(got[2]["summary"], "NightOwlGames raided with 128 viewers");
    // Every create was the user's own channel, answered 202, with the catalog's conditions.
    let creates = env.es.with(|s| s.creates.clone());
    assert_eq!(creates.len(), all);
    assert!(
        creates.iter().all(|(_, status)| *status == 202),
        "{creates:?}"
    );
    env.es.with(|s| {
        let follow = s
            .subs
            .iter()
            .find(|v| v["type"] == "channel.follow")
            .unwrap();
        assert_eq!(
            follow["condition"],
            serde_json::json!({"broadcaster_user_id": "90010001", "moderator_user_id": "90010001"})
        );
    });
    env.assert_nothing_sent_inbound();
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

#[tokio::test]
async fn a_missing_scope_skips_its_types_says_so_once_and_the_rest_arrive() {
    // A login from before direct events: chat and followers, no bits:read or subscriptions.
    let env = Env::logged_in(Some("chat:read chat:edit moderator:read:followers")).await;
    let mut child = env
        .cmd(&[
            "events",
            "tail",
            "--source",
            "direct",
            "--json",
            "--count",
            "1",
            "--type",
            "channel.cheer,channel.follow,channel.subscribe,stream.online",
        ])
        .spawn()
        .unwrap();
    // Everything it says before it is live (stderr), then the event (stdout).
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    while let Some(l) = tokio::time::timeout(Duration::from_secs(10), stderr.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        let done = l.starts_with("direct: live");
        said.push(l);
        if done {
            break;
        }
    }
    assert_eq!(
        said.last().map(String::as_str),
        Some("direct: live on #quillstream, subscribed to 2 event types")
    );
    let follow = env.es.notify("channel.follow");
    let o = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(o.status.success());
    let stdout = String::from_utf8(o.stdout).unwrap();
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["id"], follow.as_str());
    let notes: Vec<&String> = said
        .iter()
        .filter(|l| l.contains("lacks the scope"))
        .collect();
    assert_eq!(notes.len(), 1, "{said:?}");
    assert!(
        notes[0].contains("channel.cheer (needs bits:read)"),
        "{said:?}"
    );
    assert!(
        notes[0].contains("channel.subscribe (needs channel:read:subscriptions)"),
        "{said:?}"
    );
    assert!(notes[0].contains("onair login"), "{said:?}");
    let mut statuses = env.es.with(|s| s.creates.clone());
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("channel.cheer".to_owned(), 403),
            ("channel.follow".to_owned(), 202),
            ("channel.subscribe".to_owned(), 403),
            ("stream.online".to_owned(), 202)
        ]
    );
    env.assert_nothing_sent_inbound();
}

#[tokio::test]
async fn direct_refuses_after_and_needs_a_login() {
    let env = Env::logged_in(None).await;
    let o = env
        .cmd(&["events", "tail", "--source", "direct", "--after", "3"])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no history"));
    let anon = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::from(bins::onair(anon.path()));
    let o = cmd
        .args(["events", "tail", "--source", "direct"])
        .env("ONAIR_TWITCH_CLIENT_ID", CLIENT_ID)
        .env("ONAIR_TUI_TOKEN_STORE", "file")
        .output()
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[tokio::test]
async fn another_channel_gets_only_the_types_twitch_allows_without_its_grant() {
    let env = Env::logged_in(None).await;
    let child = env
        .cmd(&[
            "events",
            "tail",
            "--source",
            "direct",
            "--channel",
            "NightOwlGames",
            "--json",
            "--count",
            "1",
        ])
        .spawn()
        .unwrap();
    env.es
        .wait("four subscriptions", |s| s.creates.len() == 4)
        .await;
    env.es.notify("stream.online");
    let o = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut conditions: Vec<(String, Value)> = env.es.with(|s| {
        s.subs
            .iter()
            .map(|v| {
                (
                    v["type"].as_str().unwrap().to_owned(),
                    v["condition"].clone(),
                )
            })
            .collect()
    });
    conditions.sort_by(|a, b| a.0.cmp(&b.0));
    let b = serde_json::json!({"broadcaster_user_id": "90040004"});
    assert_eq!(
        conditions,
        [
            (
                "channel.raid".to_owned(),
                serde_json::json!({"to_broadcaster_user_id": "90040004"})
            ),
            ("channel.update".to_owned(), b.clone()),
            ("stream.offline".to_owned(), b.clone()),
            ("stream.online".to_owned(), b),
        ]
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_every_type_still_subscribes() {
    let env = Env::logged_in(None).await;
    env.auth.expire_access_tokens();
    let _child = env
        .cmd(&["events", "tail", "--source", "direct", "--json"])
        .spawn()
        .unwrap();
    let all = catalog::SUPPORTED.len();
    env.es
        .wait("every type subscribed", |s| {
            s.subs.iter().filter(|v| v["status"] == "enabled").count() == all
        })
        .await;
    let refreshes = env.auth.with(|s| s.refreshes.clone());
    assert_eq!(
        refreshes.len(),
        1,
        "one refresh for all of them: {refreshes:?}"
    );
    env.assert_nothing_sent_inbound();
}
