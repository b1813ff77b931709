//! Clean pipes and terminals, through the `onair` binary: a closed stdout (`| head -1`) ends a
//! line-printing command quietly with exit 0, and plain output cannot carry a terminal escape
//! from Twitch's text to the user's screen, while `--json` keeps the text exact.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use onair_tests::bins;
use onair_tests::irc::FakeIrc;
use onair_tests::relay::TestRelay;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// A PRIVMSG whose text would retitle the terminal (`OSC 0`) and ring the bell.
const HOSTILE: &str = "@badges=;color=;display-name=Mossy_Fern;emotes=;id=m-9;room-id=90010001;tmi-sent-ts=1767268800123;user-id=51000001 :mossy_fern!mossy_fern@mossy_fern.tmi.twitch.tv PRIVMSG #quillstream :hi \x1b]0;pwned\x07 \x1b[2Jthere";

async fn irc() -> FakeIrc {
    FakeIrc::start(Arc::new(|_: &str, _: &str| false)).await
}

fn tail(irc: &FakeIrc, home: &std::path::Path, extra: &[&str]) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::from(bins::onair(home));
    cmd.args(["chat", "tail", "quillstream"])
        .args(extra)
        .env("ONAIR_TWITCH_IRC_URL", &irc.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

async fn exit_of(child: tokio::process::Child) -> (Option<i32>, String) {
    let o = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the command did not end")
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn chat_tail_json_into_a_closed_pipe_exits_0_quietly() {
    let irc = irc().await;
    let home = tempfile::tempdir().unwrap();
    let mut child = tail(&irc, home.path(), &["--json"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // `head -1`: read the first line (the JOIN reply's ROOMSTATE), then close the pipe.
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["kind"], "room");
    drop(lines);
    // More chat arrives; writing it finds the pipe closed.
    for _ in 0..3 {
        irc.broadcast("quillstream", HOSTILE);
    }
    let (code, stderr) = exit_of(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[tokio::test]
async fn plain_chat_cannot_drive_the_terminal_but_json_keeps_the_text() {
    let irc = irc().await;
    let home = tempfile::tempdir().unwrap();
    let mut plain = tail(&irc, home.path(), &["--count", "2"]);
    let mut json = tail(&irc, home.path(), &["--json", "--count", "2"]);
    let mut plain_out = BufReader::new(plain.stdout.take().unwrap()).lines();
    let mut json_out = BufReader::new(json.stdout.take().unwrap()).lines();
    // Both have joined once their ROOMSTATE line is out.
    let room = plain_out.next_line().await.unwrap().unwrap();
    assert!(room.starts_with("-- room:"), "{room}");
    json_out.next_line().await.unwrap().unwrap();
    irc.broadcast("quillstream", HOSTILE);
    let line = plain_out.next_line().await.unwrap().unwrap();
    assert!(
        !line.contains(['\x1b', '\x07']),
        "an escape reached the terminal: {line:?}"
    );
    assert!(
        line.ends_with("Mossy_Fern: hi ]0;pwned [2Jthere"),
        "{line:?}"
    );
    let exact: Value = serde_json::from_str(&json_out.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(exact["text"], "hi \x1b]0;pwned\x07 \x1b[2Jthere");
    assert_eq!(exit_of(plain).await.0, Some(0));
    assert_eq!(exit_of(json).await.0, Some(0));
}

/// `events list` and `events tail` into a pipe closed after the first bytes.
#[tokio::test]
async fn events_list_and_tail_into_a_closed_pipe_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("pipes");
    let twitch = relay.twitch();
    // More JSON than a pipe buffers (64 KiB), so `events list` writes into the closed pipe.
    for _ in 0..150 {
        let d = onair_tests::eventsub::Delivery::fixture("channel.follow");
        assert_eq!(twitch.send(&d).await.status(), 204);
    }
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["events", "list", "--json", "--limit", "1000"][..],
        &["events", "tail", "--after", "0", "--json"][..],
    ] {
        let mut cmd = tokio::process::Command::from(bins::onair(home.path()));
        cmd.args(args)
            .env("ONAIR_TUI_RELAY_URL", &relay.base)
            .env("ONAIR_TUI_RELAY_TOKEN", &token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        // Read at most the first line's worth, then close.
        let mut buf = [0u8; 16];
        out.read_exact(&mut buf).await.unwrap();
        drop(out);
        if args[1] == "tail" {
            // A live event makes tail write again, into the closed pipe.
            let d = onair_tests::eventsub::Delivery::fixture("channel.follow");
            assert_eq!(twitch.send(&d).await.status(), 204);
        }
        let (code, stderr) = exit_of(child).await;
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    relay.stop().await;
}
