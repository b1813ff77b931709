//! The log file: `RUST_LOG` asking for everything at trace, the WebSocket and HTTP crates by name
//! included, still logs no `PASS` line and no token, and the file is 0600.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Stdio;
use std::time::Duration;

use onair_tests::bins;
use onair_tests::irc::FakeIrc;
use onair_tests::twitch_auth::{CLIENT_ID, FakeAuth};
use tokio::io::{AsyncBufReadExt, BufReader};

const PRIVMSG: &str = "@badges=;color=;display-name=Mossy_Fern;emotes=;id=m-1;room-id=90010001;tmi-sent-ts=1767268800123;user-id=51000001 :mossy_fern!mossy_fern@mossy_fern.tmi.twitch.tv PRIVMSG #quillstream :hello";

#[tokio::test]
async fn rust_log_cannot_enable_logging_of_pass_lines_or_tokens() {
    let auth = FakeAuth::start().await;
    auth.with(|s| s.pending_polls = 0);
    let irc = FakeIrc::trusting(&auth).await;
    let home = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        let mut cmd = tokio::process::Command::from(bins::onair(home.path()));
        cmd.args(args)
            .env("ONAIR_TWITCH_CLIENT_ID", CLIENT_ID)
            .env("ONAIR_TWITCH_AUTH_URL", &auth.base)
            .env("ONAIR_TWITCH_IRC_URL", &irc.url)
            .env("ONAIR_TUI_TOKEN_STORE", "file")
            .env(
                "RUST_LOG",
                "trace,tungstenite=trace,tokio_tungstenite=trace,hyper=trace,hyper_util=trace,reqwest=trace,rustls=trace",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let login = cmd(&["login"]).output().await.unwrap();
    assert!(login.status.success());
    // Expired: the tail refreshes (a token grant in the log's reach) and logs in to chat with PASS.
    auth.expire_access_tokens();
    let mut tail = cmd(&["chat", "tail", "--json", "--count", "2"])
        .spawn()
        .unwrap();
    let mut out = BufReader::new(tail.stdout.take().unwrap()).lines();
    if out.next_line().await.unwrap().is_none() {
        let o = tail.wait_with_output().await.unwrap();
        panic!("tail ended: {}", String::from_utf8_lossy(&o.stderr));
    } // joined: the ROOMSTATE line
    irc.broadcast("quillstream", PRIVMSG);
    out.next_line().await.unwrap().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), tail.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert!(
        irc.received()
            .iter()
            .any(|(l, _)| l.starts_with("PASS oauth:")),
        "the tail did log in"
    );

    let path = home.path().join("state/onair/onair.log");
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(
        log.contains("refreshed the access token"),
        "onair's own trace and info lines are there: {log}"
    );
    assert!(!log.contains("PASS"), "a PASS line reached the log");
    for secret in auth.issued_secrets() {
        assert!(!log.contains(&secret), "a token reached the log");
    }
    // The capped crates said nothing below info.
    for line in log.lines() {
        let capped = ["tungstenite", "hyper", "reqwest", "rustls"]
            .iter()
            .any(|c| line.contains(&format!(" {c}")));
        assert!(
            !(capped && (line.contains("TRACE") || line.contains("DEBUG"))),
            "{line}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
