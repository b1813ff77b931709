//! One token owner per process, one refresh across processes: against the fake id.twitch.tv with
//! single-use rotating refresh tokens (`twitch.md` C.4), with the real `onair` binary as process
//! A (`chat tail`) and process B (`auth status`), and the owner's handle in-process.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::Stdio;
use std::time::Duration;

use onair::auth::{Auth, LoginState, TokenStore, owner};
use onair::error::Error;
use onair_common::Secret;
use onair_common::twitch::oauth::{OAuth, OAuthError};
use onair_tests::bins;
use onair_tests::irc::FakeIrc;
use onair_tests::twitch_auth::{CLIENT_ID, FakeAuth};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio_util::sync::CancellationToken;

const PRIVMSG: &str = "@badges=;color=;display-name=Mossy_Fern;emotes=;id=m-1;room-id=90010001;tmi-sent-ts=1767268800123;user-id=51000001 :mossy_fern!mossy_fern@mossy_fern.tmi.twitch.tv PRIVMSG #quillstream :still here";

struct Env {
    home: tempfile::TempDir,
    auth: FakeAuth,
    irc: FakeIrc,
}

impl Env {
    async fn logged_in() -> Self {
        let auth = FakeAuth::start().await;
        auth.with(|s| s.pending_polls = 0);
        let irc = FakeIrc::trusting(&auth).await;
        let env = Self {
            home: tempfile::tempdir().unwrap(),
            auth,
            irc,
        };
        let o = env.output(&["login"]).await;
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        env
    }

    fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(bins::onair(self.home.path()));
        cmd.args(args)
            .env("ONAIR_TWITCH_CLIENT_ID", CLIENT_ID)
            .env("ONAIR_TWITCH_AUTH_URL", &self.auth.base)
            .env("ONAIR_TWITCH_IRC_URL", &self.irc.url)
            .env("ONAIR_TUI_TOKEN_STORE", "file")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    async fn output(&self, args: &[&str]) -> std::process::Output {
        let child = self.cmd(args).spawn().unwrap();
        tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .expect("the command did not end")
            .unwrap()
    }

    fn store(&self) -> TokenStore {
        TokenStore::file_in(self.home.path().join("data/onair"))
    }

    fn auth_at(&self, base: &str) -> Auth {
        Auth::new(OAuth::new(base.parse().unwrap(), CLIENT_ID), self.store())
    }

    fn refreshes(&self) -> Vec<String> {
        self.auth.with(|s| s.refreshes.clone())
    }

    /// Process A: `onair chat tail --json`, once it has joined (its first line is the ROOMSTATE).
    async fn tail(&self) -> (Child, Lines<BufReader<ChildStdout>>) {
        let mut child = self.cmd(&["chat", "tail", "--json"]).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(next_json(&mut lines).await["kind"], "room");
        (child, lines)
    }
}

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("no line in time")
        .unwrap()
        .expect("stdout closed");
    serde_json::from_str(&line).unwrap()
}

/// A keeps printing after a RECONNECT: it rejoins with the pair B stored, and prints chat.
async fn a_rejoins_and_prints(env: &Env, lines: &mut Lines<BufReader<ChildStdout>>) {
    loop {
        if next_json(lines).await["kind"] == "room" {
            break; // joined again
        }
    }
    env.irc.broadcast("quillstream", PRIVMSG);
    loop {
        let v = next_json(lines).await;
        if v["kind"] == "message" {
            assert_eq!(v["text"], "still here");
            break;
        }
    }
}

fn assert_status_valid(o: &std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
}

#[tokio::test]
async fn a_refresh_by_another_process_is_used_on_reconnect_not_redeemed_again() {
    let env = Env::logged_in().await;
    let (mut a, mut lines) = env.tail().await;
    env.auth.expire_access_tokens();
    // B notices the expired token, refreshes once and stores the rotated pair.
    let b = env.output(&["auth", "status", "--json"]).await;
    assert_status_valid(&b);
    assert_eq!(env.refreshes().len(), 1);
    // Twitch asks A to reconnect: A's old token is refused; its owner finds B's pair.
    env.irc.send_all(":tmi.twitch.tv RECONNECT");
    a_rejoins_and_prints(&env, &mut lines).await;
    assert_eq!(
        env.refreshes().len(),
        1,
        "A must not redeem the refresh token B already used"
    );
    a.kill().await.unwrap();
}

#[tokio::test]
async fn two_processes_refreshing_at_once_reach_the_fake_once() {
    let env = Env::logged_in().await;
    let (mut a, mut lines) = env.tail().await;
    env.auth.expire_access_tokens();
    // A (on RECONNECT) and B (on its 401) both find the token refused at the same moment.
    let b = env.cmd(&["auth", "status", "--json"]).spawn().unwrap();
    env.irc.send_all(":tmi.twitch.tv RECONNECT");
    let b = tokio::time::timeout(Duration::from_secs(30), b.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_status_valid(&b);
    a_rejoins_and_prints(&env, &mut lines).await;
    let refreshes = env.refreshes();
    assert_eq!(refreshes.len(), 1, "exactly one refresh: {refreshes:?}");
    a.kill().await.unwrap();
}

/// Two owners over the same store, as two processes: both told of the same 401 at once.
#[tokio::test]
async fn concurrent_refreshes_of_one_pair_redeem_it_once() {
    let env = Env::logged_in().await;
    let token = env.auth_at(&env.auth.base).current().await.unwrap();
    env.auth.expire_access_tokens();
    let shutdown = CancellationToken::new();
    let (one, _) = owner::spawn(env.auth_at(&env.auth.base), token.clone(), shutdown.clone());
    let (two, _) = owner::spawn(env.auth_at(&env.auth.base), token.clone(), shutdown.clone());
    let (a, b, c) = tokio::join!(
        one.refused(&token.access_token),
        two.refused(&token.access_token),
        one.refused(&token.access_token),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_ne!(a.access_token, token.access_token);
    assert_eq!(a.access_token, b.access_token);
    assert_eq!(a.access_token, c.access_token);
    let refreshes = env.refreshes();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(
        env.store().load().unwrap().unwrap().access_token,
        a.access_token
    );
    shutdown.cancel();
}

#[tokio::test]
async fn the_owner_validates_at_start_refreshes_before_expiry_and_reports_a_refusal() {
    let env = Env::logged_in().await;
    let auth = env.auth_at(&env.auth.base);
    let mut token = auth.current().await.unwrap();
    // Due for refresh a second from now (the margin is 5 minutes).
    token.expires_at = jiff::Timestamp::now().as_second() + 5 * 60 + 1;
    let requests_before = env.auth.with(|s| s.requests.len());
    let shutdown = CancellationToken::new();
    let (tokens, task) = owner::spawn(auth, token.clone(), shutdown.clone());
    let mut state = tokens.watch();
    // Validated at start, then refreshed on schedule without anyone asking.
    loop {
        tokio::time::timeout(Duration::from_secs(10), state.changed())
            .await
            .expect("no login state in time")
            .unwrap();
        match state.borrow_and_update().clone() {
            LoginState::Valid(t) if t.access_token != token.access_token => break,
            LoginState::Valid(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let seen: Vec<String> = env.auth.with(|s| s.requests[requests_before..].to_vec());
    assert!(
        seen.contains(&"GET /oauth2/validate".to_owned()),
        "{seen:?}"
    );
    assert_eq!(env.refreshes().len(), 1);
    let fresh = tokens.current().await.unwrap();
    // Twitch refuses the refresh token: the owner says so, and so does every later ask.
    env.auth.with(|s| s.refuse_refresh = true);
    let err = tokens.refused(&fresh.access_token).await.unwrap_err();
    assert!(matches!(err, Error::Rejected(_)), "{err:?}");
    assert!(
        matches!(&*tokens.watch().borrow(), LoginState::Rejected(why) if why == "Invalid refresh token")
    );
    assert!(matches!(tokens.current().await, Err(Error::Rejected(_))));
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_network_failure_keeps_the_session_and_is_not_a_refusal() {
    let env = Env::logged_in().await;
    let token = env.auth_at(&env.auth.base).current().await.unwrap();
    // Nothing listens on port 9 of loopback: every OAuth call fails on the network.
    let offline = env.auth_at("http://127.0.0.1:9/oauth2");
    let mut due = token.clone();
    due.expires_at = jiff::Timestamp::now().as_second() + 10;
    let shutdown = CancellationToken::new();
    let (tokens, _) = owner::spawn(offline, due, shutdown.clone());
    let got = tokens.current().await.unwrap();
    assert_eq!(got.access_token, token.access_token, "the session is kept");
    assert!(matches!(
        &*tokens.watch().borrow(),
        LoginState::Unchecked(..)
    ));
    // A 401 reported while the retry is pending does not hammer the network or end the session.
    let again = tokens.refused(&token.access_token).await.unwrap();
    assert_eq!(again.access_token, token.access_token);
    assert!(env.refreshes().is_empty());
    shutdown.cancel();
}

#[tokio::test]
async fn logout_with_an_expired_access_token_kills_the_old_refresh_token() {
    let env = Env::logged_in().await;
    let old = env.store().load().unwrap().unwrap();
    let old_refresh: Secret = old.refresh_token.clone().unwrap();
    env.auth.expire_access_tokens();
    let o = env.output(&["logout"]).await;
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(env.store().load().unwrap().is_none(), "deleted here");
    // At Twitch, the old refresh token no longer works, and the access token minted by the
    // logout's refresh was revoked.
    let oauth = OAuth::new(env.auth.base.parse().unwrap(), CLIENT_ID);
    match oauth.refresh(&old_refresh).await {
        Err(OAuthError::RefreshRefused(m)) => assert_eq!(m, "Invalid refresh token"),
        other => panic!("the old refresh token still works: {other:?}"),
    }
    let revoked = env.auth.with(|s| s.revoked.clone());
    assert_eq!(revoked.len(), 1);
    assert!(env.auth.login_of(&revoked[0]).is_none());
    // The logout redeemed it once; the second try is this test's.
    assert_eq!(
        env.refreshes(),
        [old_refresh.expose(), old_refresh.expose()]
    );
}
