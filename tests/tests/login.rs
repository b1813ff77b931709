//! `onair login`, `auth status`, `logout` end to end against a fake id.twitch.tv, with the real
//! binary and a real token store; and no secret in any output or log.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use onair_common::Secret;
use onair_common::twitch::oauth::{OAuth, OAuthError, Poll};
use onair_tests::bins;
use onair_tests::twitch_auth::{CLIENT_ID, FakeAuth};
use serde_json::Value;

struct Env {
    home: tempfile::TempDir,
    fake: FakeAuth,
}

impl Env {
    async fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            fake: FakeAuth::start().await,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = bins::onair(self.home.path());
        cmd.args(args)
            .env("ONAIR_TWITCH_CLIENT_ID", CLIENT_ID)
            .env("ONAIR_TWITCH_AUTH_URL", &self.fake.base)
            .env("ONAIR_TUI_TOKEN_STORE", "file")
            .env("RUST_LOG", "trace");
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd(args);
        cmd.stdin(Stdio::null());
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    fn token_file(&self) -> std::path::PathBuf {
        self.home.path().join("data/onair/tokens.json")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("state/onair/onair.log")).unwrap_or_default()
    }
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

async fn login(env: &Env) -> Output {
    let o = env.run(&["login"]).await;
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "login failed: {stdout}\n{stderr}");
    o
}

async fn status_json(env: &Env) -> (Value, Output) {
    let o = env.run(&["auth", "status", "--json"]).await;
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "status failed: {stdout}\n{stderr}");
    (serde_json::from_str(stdout.trim()).unwrap(), o)
}

#[tokio::test]
async fn login_prints_url_and_code_waits_and_stores_tokens() {
    let env = Env::new().await;
    let o = login(&env).await;
    let (stdout, stderr) = out(&o);
    let mut lines = stdout.lines();
    let url = lines.next().unwrap();
    assert!(
        url.starts_with("Open https://www.twitch.tv/activate?public=true&device-code="),
        "{stdout}"
    );
    let code = lines
        .next()
        .unwrap()
        .strip_prefix("and enter the code ")
        .unwrap();
    assert!(url.ends_with(code));
    // One login covers all of onair: every scope design.md lists is asked for and granted.
    let all = onair::auth::DEFAULT_SCOPES.join(" ");
    assert!(
        stderr.contains(&format!(
            "Logged in as quillstream (user id 90010001) with scopes: {all}."
        )),
        "{stderr}"
    );
    assert!(all.contains("moderator:read:followers") && all.contains("channel:manage:broadcast"));
    assert!(
        stderr.contains("warning: tokens are in a plain file"),
        "{stderr}"
    );
    // Pending twice, then the tokens, then /validate to learn who logged in.
    assert_eq!(
        env.fake.with(|s| s.requests.clone()),
        [
            "POST /oauth2/device",
            "POST /oauth2/token",
            "POST /oauth2/token",
            "POST /oauth2/token",
            "GET /oauth2/validate"
        ]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn status_reports_login_scopes_expiry_store_and_validity() {
    let env = Env::new().await;
    login(&env).await;
    let (v, _) = status_json(&env).await;
    assert_eq!(v["login"], "quillstream");
    assert_eq!(v["user_id"], "90010001");
    assert_eq!(v["scopes"], serde_json::json!(onair::auth::DEFAULT_SCOPES));
    assert_eq!(v["store"], "file");
    assert_eq!(v["valid"], true);
    let expires = v["expires_in_s"].as_i64().unwrap();
    assert!((14000..=14124).contains(&expires), "{expires}");
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");

    let text = env.run(&["auth", "status"]).await;
    let (stdout, _) = out(&text);
    assert!(
        stdout.contains("login:      quillstream (user id 90010001)"),
        "{stdout}"
    );
    assert!(stdout.contains("twitch:     accepts the token"), "{stdout}");
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_silently_and_the_pair_rotates() {
    let env = Env::new().await;
    env.fake.with(|s| s.token_lifetime = 120); // inside the 5-minute refresh margin
    login(&env).await;
    let before = std::fs::read_to_string(env.token_file()).unwrap();
    env.fake.with(|s| s.token_lifetime = 14124);
    let (v, _) = status_json(&env).await;
    assert_eq!(v["valid"], true);
    assert!(
        v["expires_in_s"].as_i64().unwrap() > 14000,
        "refreshed: {v}"
    );
    let after = std::fs::read_to_string(env.token_file()).unwrap();
    assert_ne!(before, after, "the new pair is stored");
    // The old refresh token was single-use: refreshing with it now fails.
    let old: Value = serde_json::from_str(&before).unwrap();
    let record: Value = serde_json::from_str(old["quillstream"].as_str().unwrap()).unwrap();
    let oauth = OAuth::new(env.fake.base.parse().unwrap(), CLIENT_ID);
    let old_refresh = Secret::new(record["refresh_token"].as_str().unwrap());
    assert!(matches!(
        oauth.refresh(&old_refresh).await,
        Err(OAuthError::RefreshRefused(_))
    ));
}

#[tokio::test]
async fn a_401_triggers_one_refresh() {
    let env = Env::new().await;
    login(&env).await;
    env.fake.expire_access_tokens();
    let (v, _) = status_json(&env).await;
    assert_eq!(v["valid"], true);
    let requests = env.fake.with(|s| s.requests.clone());
    let tail: Vec<_> = requests.iter().rev().take(3).rev().cloned().collect();
    assert_eq!(
        tail,
        [
            "GET /oauth2/validate",
            "POST /oauth2/token",
            "GET /oauth2/validate"
        ]
    );
}

#[tokio::test]
async fn a_refused_refresh_asks_to_log_in_again_with_exit_3() {
    let env = Env::new().await;
    login(&env).await;
    env.fake.expire_access_tokens();
    env.fake.with(|s| s.refuse_refresh = true);
    let o = env.run(&["auth", "status", "--json"]).await;
    assert_eq!(o.status.code(), Some(3));
    let (stdout, stderr) = out(&o);
    assert!(stdout.is_empty());
    assert_eq!(
        stderr.trim(),
        "error: Twitch no longer accepts your login (Invalid refresh token): run `onair login` again"
    );
}

#[tokio::test]
async fn logout_revokes_at_twitch_and_deletes_locally() {
    let env = Env::new().await;
    login(&env).await;
    let o = env.run(&["logout"]).await;
    assert!(o.status.success(), "{:?}", out(&o));
    assert_eq!(env.fake.with(|s| s.revoked.len()), 1);
    let o = env.run(&["auth", "status"]).await;
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(out(&o).1.trim(), "error: not logged in: run `onair login`");
}

#[tokio::test]
async fn logout_works_offline_with_a_warning() {
    let env = Env::new().await;
    login(&env).await;
    let o = env.run(&["logout"]).await;
    let _ = o;
    login(&env).await;
    let mut cmd = env.cmd(&["logout"]);
    cmd.env("ONAIR_TWITCH_AUTH_URL", "http://127.0.0.1:9/oauth2");
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(o.status.success());
    let (_, stderr) = out(&o);
    assert!(
        stderr.starts_with(
            "warning: could not revoke the token at Twitch (cannot reach Twitch's OAuth service"
        ),
        "{stderr}"
    );
    assert_eq!(env.run(&["auth", "status"]).await.status.code(), Some(3));
}

#[tokio::test]
async fn missing_client_id_is_a_config_error_naming_the_key() {
    let env = Env::new().await;
    let mut cmd = env.cmd(&["login"]);
    cmd.env_remove("ONAIR_TWITCH_CLIENT_ID");
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let (_, stderr) = out(&o);
    assert!(
        stderr.contains("twitch.client_id is required to log in"),
        "{stderr}"
    );
    assert!(stderr.contains("ONAIR_TWITCH_CLIENT_ID"), "{stderr}");
}

#[tokio::test]
async fn device_flow_quirks_pending_slow_down_and_reused_code() {
    let fake = FakeAuth::start().await;
    fake.with(|s| {
        s.slow_down_first = true;
        s.pending_polls = 1;
    });
    let oauth = OAuth::new(fake.base.parse().unwrap(), CLIENT_ID);
    let device = oauth.device(&["chat:read".into()]).await.unwrap();
    assert_eq!((device.expires_in, device.interval), (1800, 1));
    assert!(matches!(oauth.poll(&device).await.unwrap(), Poll::SlowDown));
    assert!(matches!(oauth.poll(&device).await.unwrap(), Poll::Pending));
    let Poll::Done(tokens) = oauth.poll(&device).await.unwrap() else {
        panic!("expected tokens")
    };
    assert_eq!(tokens.scopes, ["chat:read"]);
    assert!(
        matches!(oauth.poll(&device).await, Err(OAuthError::Expired)),
        "reused code is `invalid device code`"
    );

    // No scopes: no `scope` key in the token, `scopes: null` from /validate.
    let device = oauth.device(&[]).await.unwrap();
    let tokens = oauth.wait_for_tokens(&device).await.unwrap();
    assert!(tokens.scopes.is_empty());
    let v = oauth.validate(&tokens.access_token).await.unwrap();
    assert!(v.scopes.is_empty());
    assert_eq!(v.login.as_deref(), Some("quillstream"));
}

#[tokio::test]
async fn no_token_or_refresh_token_appears_in_any_output_or_log() {
    let env = Env::new().await;
    env.fake.with(|s| s.token_lifetime = 120);
    let mut outputs = vec![login(&env).await];
    env.fake.with(|s| s.token_lifetime = 14124);
    outputs.push(env.run(&["auth", "status", "--json"]).await);
    outputs.push(env.run(&["-vv", "auth", "status"]).await);
    env.fake.expire_access_tokens();
    outputs.push(env.run(&["auth", "status"]).await);
    outputs.push(env.run(&["logout"]).await);
    outputs.push(env.run(&["auth", "status"]).await);
    let secrets = env.fake.issued_secrets();
    assert!(
        secrets.len() >= 6,
        "the scan covers every issued token: {}",
        secrets.len()
    );
    let log = env.log();
    assert!(
        log.contains("refreshed the access token"),
        "the log was written at trace level"
    );
    for o in &outputs {
        let (stdout, stderr) = out(o);
        for s in &secrets {
            assert!(
                !stdout.contains(s) && !stderr.contains(s),
                "secret in output:\n{stdout}\n{stderr}"
            );
        }
    }
    for s in &secrets {
        assert!(!log.contains(s), "secret in log");
    }
}

/// Login with the real OS keyring. CI runs this under an unlocked gnome-keyring
/// (`dbus-run-session`); see .ci/run.
#[tokio::test]
#[ignore = "needs a real OS keyring: run by .ci/run"]
async fn keyring_login_status_logout() {
    let env = Env::new().await;
    let run = |args: &'static [&'static str]| {
        let mut cmd = env.cmd(args);
        cmd.env_remove("ONAIR_TUI_TOKEN_STORE");
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let o = run(&["login"]).await.unwrap();
    assert!(o.status.success(), "{:?}", out(&o));
    assert!(
        out(&o).1.contains("Tokens are in the OS keyring"),
        "{:?}",
        out(&o)
    );
    assert!(
        !Path::new(&env.token_file()).exists(),
        "nothing written to disk"
    );
    let o = run(&["auth", "status", "--json"]).await.unwrap();
    let v: Value = serde_json::from_str(out(&o).0.trim()).unwrap();
    assert_eq!(
        (v["store"].as_str(), v["valid"].as_bool()),
        (Some("keyring"), Some(true))
    );
    assert!(run(&["logout"]).await.unwrap().status.success());
    assert_eq!(
        run(&["auth", "status"]).await.unwrap().status.code(),
        Some(3)
    );
}

#[tokio::test]
async fn without_a_reachable_keyring_the_error_names_the_file_opt_in() {
    let env = Env::new().await;
    let mut cmd = env.cmd(&["auth", "status"]);
    cmd.env_remove("ONAIR_TUI_TOKEN_STORE")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let (_, stderr) = out(&o);
    if o.status.code() == Some(3) {
        // This machine has a usable kernel session keyring: nothing stored, so not logged in.
        assert!(stderr.contains("not logged in"), "{stderr}");
        return;
    }
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no OS keyring is reachable (Secret Service: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("set tui.token_store = \"file\""),
        "{stderr}"
    );
}
