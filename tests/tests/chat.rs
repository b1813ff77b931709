//! Chat end to end against a fake Twitch chat server: anonymous tail, login, join, send with
//! USERSTATE, refusals, rate-limit holding, PING/PONG both ways, RECONNECT, a dropped socket, a
//! dead link, and a failed login. Through the `onair` binary where a user would type it.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use onair::chat::connection::{self, ChatConfig, ChatEvent, ChatState};
use onair::chat::message::{ChatLine, Incoming};
use onair::chat::outbox::SendError;
use onair::chat::ratelimit::Limits;
use onair_common::Secret;
use onair_tests::bins;
use onair_tests::irc::FakeIrc;
use onair_tests::twitch_auth::{CLIENT_ID, FakeAuth};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const PRIVMSG: &str = "@badges=;color=#1E90FF;display-name=Mossy_Fern;emotes=25:0-4;id=m-1;room-id=90010001;tmi-sent-ts=1767268800123;user-id=51000001 :mossy_fern!mossy_fern@mossy_fern.tmi.twitch.tv PRIVMSG #quillstream :Kappa hello";

fn any_token() -> onair_tests::irc::TokenCheck {
    Arc::new(|token: &str, _nick: &str| token == "good-token")
}

struct Client {
    events: mpsc::Receiver<ChatEvent>,
    handle: connection::ChatHandle,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), connection::ChatError>>,
}

fn fast(irc: &FakeIrc, login: Option<&str>) -> ChatConfig {
    let login = login.map(|l| (l.to_owned(), Secret::new("good-token")));
    let mut c = ChatConfig::new(irc.url.parse().unwrap(), login, "quillstream".into());
    c.backoff = (Duration::from_millis(50), Duration::from_millis(200));
    c
}

fn start(config: ChatConfig) -> Client {
    let (tx, events) = mpsc::channel(1024);
    let shutdown = CancellationToken::new();
    let (handle, task) = connection::spawn(config, tx, shutdown.clone());
    Client {
        events,
        handle,
        shutdown,
        task,
    }
}

impl Client {
    async fn next(&mut self) -> ChatEvent {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .expect("no chat event in time")
            .unwrap()
    }

    async fn wait_for(&mut self, want: impl Fn(&ChatEvent) -> bool) -> ChatEvent {
        loop {
            let ev = self.next().await;
            if want(&ev) {
                return ev;
            }
        }
    }

    async fn joined(&mut self) {
        self.wait_for(|e| *e == ChatEvent::State(ChatState::Joined))
            .await;
    }

    async fn message(&mut self) -> onair::chat::ChatMessage {
        match self
            .wait_for(|e| matches!(e, ChatEvent::Incoming(Incoming::Line(ChatLine::Message(_)))))
            .await
        {
            ChatEvent::Incoming(Incoming::Line(ChatLine::Message(m))) => m,
            _ => unreachable!(),
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn anonymous_tail_prints_exactly_the_documented_json_lines() {
    let irc = FakeIrc::start(any_token()).await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::from(bins::onair(home.path()));
    cmd.args(["chat", "tail", "QuillStream", "--json", "--count", "4"])
        .env("ONAIR_TWITCH_IRC_URL", &irc.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The JOIN reply's ROOMSTATE is the first line.
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["kind"], "room");
    assert_eq!(first["state"]["slow"], "0");
    irc.send_all("@badges=;message-id=1 :petsgomoo!petsgomoo@petsgomoo.tmi.twitch.tv WHISPER justinfan1 :psst");
    irc.send_all(":other!other@other.tmi.twitch.tv PRIVMSG #elsewhere :not ours");
    irc.broadcast("quillstream", "@bad-line-without-command");
    irc.broadcast("quillstream", PRIVMSG);
    irc.broadcast(
        "quillstream",
        "@room-id=90010001;slow=30 :tmi.twitch.tv ROOMSTATE #quillstream",
    );
    irc.broadcast("quillstream", "@ban-duration=600;room-id=1;target-user-id=2 :tmi.twitch.tv CLEARCHAT #quillstream :spam_bot_42");
    irc.broadcast("quillstream", PRIVMSG);
    let mut got = Vec::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        got.push(serde_json::from_str::<Value>(&l).unwrap());
    }
    let status = child.wait().await.unwrap();
    assert!(status.success());
    assert_eq!(got.len(), 3, "--count 4 counts the room line too: {got:?}");
    assert_eq!(got[0]["kind"], "message");
    assert_eq!(got[0]["user"]["name"], "Mossy_Fern");
    assert_eq!(got[0]["emotes"][0]["name"], "Kappa");
    assert_eq!(
        got[1],
        serde_json::json!({"kind": "room", "channel": "quillstream", "state": {"slow": "30"}})
    );
    assert_eq!(
        got[2],
        serde_json::json!({"kind": "clear", "channel": "quillstream", "target": "spam_bot_42", "duration_s": 600})
    );
    let nick = irc
        .received()
        .into_iter()
        .find(|(l, _)| l.starts_with("NICK "))
        .unwrap()
        .0;
    assert!(nick.starts_with("NICK justinfan"), "{nick}");
    assert!(
        !irc.received().iter().any(|(l, _)| l.starts_with("PASS")),
        "anonymous sends no PASS"
    );
}

#[tokio::test]
async fn login_join_and_send_confirmed_by_userstate() {
    let irc = FakeIrc::start(any_token()).await;
    let mut reader = start(fast(&irc, None));
    reader.joined().await;
    let mut me = start(fast(&irc, Some("quillstream")));
    me.joined().await;
    let lines: Vec<String> = irc.received().into_iter().map(|(l, _)| l).collect();
    assert!(
        lines.contains(
            &"CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership".to_owned()
        )
    );
    assert!(lines.contains(&"PASS oauth:good-token".to_owned()));
    assert!(lines.contains(&"NICK quillstream".to_owned()));
    let id = me.handle.send("hello chat".into(), None).await.unwrap();
    assert_eq!(id.len(), 32);
    let m = reader.message().await;
    assert_eq!(
        (m.text.as_str(), m.id.as_str()),
        ("hello chat", id.as_str())
    );
    // A reply carries the parent id as a tag.
    me.handle
        .send("a reply".into(), Some("m-1".into()))
        .await
        .unwrap();
    let m = reader.message().await;
    assert_eq!(m.reply_to.unwrap().id, "m-1");
    // Refusals come back with Twitch's reason.
    irc.set(|s| {
        s.refuse_next = Some((
            "msg_duplicate".into(),
            "Your message is identical to the one you sent less than 30 seconds ago.".into(),
        ))
    });
    let err = me.handle.send("hello chat".into(), None).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Refused { msg_id, .. } if msg_id == "msg_duplicate"),
        "{err}"
    );
    let long = "x".repeat(501);
    assert!(matches!(
        me.handle.send(long, None).await,
        Err(SendError::Invalid(_))
    ));
    assert_eq!(
        reader.handle.send("hi".into(), None).await,
        Err(SendError::Anonymous)
    );
    me.stop().await;
    reader.stop().await;
}

#[tokio::test]
async fn sends_beyond_the_rate_limit_are_held_not_dropped() {
    let irc = FakeIrc::start(any_token()).await;
    let mut cfg = fast(&irc, Some("viewer"));
    cfg.limits = Limits {
        window: Duration::from_millis(1000),
        normal: 3,
        privileged: 6,
        per_channel_gap: Duration::ZERO,
    };
    let mut me = start(cfg);
    me.joined().await;
    let sends: Vec<_> = (0..5)
        .map(|i| {
            let h = me.handle.clone();
            tokio::spawn(async move { h.send(format!("message {i}"), None).await })
        })
        .collect();
    for s in sends {
        s.await.unwrap().unwrap();
    }
    let times: Vec<_> = irc
        .received()
        .into_iter()
        .filter(|(l, _)| l.starts_with("PRIVMSG"))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(times.len(), 5);
    assert!(
        times[2] - times[0] < Duration::from_millis(500),
        "three go at once"
    );
    assert!(
        times[3] - times[0] >= Duration::from_millis(1000),
        "the fourth waits for the window: {:?}",
        times[3] - times[0]
    );
    me.stop().await;

    // A moderator gets the larger allowance.
    irc.set(|s| s.moderators = vec!["modder".into()]);
    let mut cfg = fast(&irc, Some("modder"));
    cfg.limits = Limits {
        window: Duration::from_millis(1000),
        normal: 3,
        privileged: 6,
        per_channel_gap: Duration::from_secs(1),
    };
    let mut m = start(cfg);
    m.joined().await;
    let before = std::time::Instant::now();
    for i in 0..5 {
        m.handle.send(format!("mod {i}"), None).await.unwrap();
    }
    assert!(
        before.elapsed() < Duration::from_millis(800),
        "no per-channel gap for moderators"
    );
    m.stop().await;
}

#[tokio::test]
async fn ping_pong_both_ways_and_a_dead_link_reconnects() {
    let irc = FakeIrc::start(any_token()).await;
    let mut cfg = fast(&irc, None);
    cfg.ping_interval = Duration::from_millis(150);
    cfg.pong_timeout = Duration::from_millis(150);
    let mut c = start(cfg);
    c.joined().await;
    irc.send_all("PING :tmi.twitch.tv");
    c.wait_for(|e| *e == ChatEvent::Incoming(Incoming::Ping("tmi.twitch.tv".into())))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let lines: Vec<String> = irc.received().into_iter().map(|(l, _)| l).collect();
    assert!(
        lines.contains(&"PONG :tmi.twitch.tv".to_owned()),
        "answers Twitch's PING"
    );
    assert!(
        lines.contains(&"PING :tmi.twitch.tv".to_owned()),
        "sends its own PING"
    );
    // Twitch stops answering: the link is dead, so reconnect and re-join.
    irc.set(|s| s.ignore_pings = true);
    let ev = c
        .wait_for(|e| matches!(e, ChatEvent::State(ChatState::Backoff { .. })))
        .await;
    assert!(
        matches!(&ev, ChatEvent::State(ChatState::Backoff { reason, .. }) if reason.contains("no PONG")),
        "{ev:?}"
    );
    irc.set(|s| s.ignore_pings = false);
    c.joined().await;
    assert!(irc.connections_total() >= 2);
    c.stop().await;
}

#[tokio::test]
async fn reconnect_and_dropped_sockets_rejoin() {
    let irc = FakeIrc::start(any_token()).await;
    let mut c = start(fast(&irc, Some("quillstream")));
    c.joined().await;
    irc.send_all(":tmi.twitch.tv RECONNECT");
    let ev = c
        .wait_for(|e| matches!(e, ChatEvent::State(ChatState::Backoff { .. })))
        .await;
    assert!(
        matches!(ev, ChatEvent::State(ChatState::Backoff { retry_in, .. }) if retry_in == Duration::ZERO),
        "RECONNECT reconnects at once"
    );
    c.joined().await;
    irc.drop_all();
    c.wait_for(|e| matches!(e, ChatEvent::State(ChatState::Backoff { .. })))
        .await;
    c.joined().await;
    assert_eq!(irc.connections_total(), 3);
    irc.broadcast("quillstream", PRIVMSG);
    assert_eq!(
        c.message().await.text,
        "Kappa hello",
        "still receiving after two reconnects"
    );
    c.stop().await;
}

#[tokio::test]
async fn a_failed_login_ends_the_connection_with_an_auth_error() {
    let irc = FakeIrc::start(Arc::new(|_: &str, _: &str| false)).await;
    let c = start(fast(&irc, Some("quillstream")));
    let err = c.task.await.unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Twitch refused the chat login: Login authentication failed"
    );
}

/// The binary: `onair login`, then `chat send`, with the fake chat trusting the fake OAuth's tokens.
#[tokio::test]
async fn chat_send_cli_exit_codes() {
    let auth = FakeAuth::start().await;
    auth.with(|s| s.pending_polls = 0);
    let irc = FakeIrc::trusting(&auth).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = bins::onair(home.path());
        cmd.args(args)
            .env("ONAIR_TWITCH_CLIENT_ID", CLIENT_ID)
            .env("ONAIR_TWITCH_AUTH_URL", &auth.base)
            .env("ONAIR_TWITCH_IRC_URL", &irc.url)
            .env("ONAIR_TUI_TOKEN_STORE", "file");
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let not_logged_in = run(&["chat", "send", "quillstream", "hi"]).await.unwrap();
    assert_eq!(not_logged_in.status.code(), Some(3));
    assert!(run(&["login"]).await.unwrap().status.success());

    let mut reader = start(fast(&irc, None));
    reader.joined().await;
    let o = run(&["chat", "send", "hello from the cli"]).await.unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        reader.message().await.text,
        "hello from the cli",
        "defaults to the logged-in user's channel"
    );

    irc.set(|s| {
        s.refuse_next = Some((
            "msg_banned".into(),
            "You are permanently banned from talking in quillstream.".into(),
        ))
    });
    let o = run(&["chat", "send", "quillstream", "again"])
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("Twitch refused the message (msg_banned): You are permanently banned")
    );

    let o = run(&["chat", "send", "quillstream", &"x".repeat(501)])
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));

    // Chat refuses the token: one refresh, then exit 3.
    auth.expire_access_tokens();
    let o = run(&["chat", "send", "quillstream", "after expiry"])
        .await
        .unwrap();
    assert!(
        o.status.success(),
        "a refresh fixes an expired token: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    auth.expire_access_tokens();
    auth.with(|s| s.refuse_refresh = true);
    let o = run(&["chat", "send", "quillstream", "after revocation"])
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    reader.stop().await;
}
