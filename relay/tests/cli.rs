//! The `onair-relay` binary as a user runs it: `check`, `client add/list/remove`, config errors.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_onair-relay");

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("ONAIR_RELAY_DATABASE", dir.join("relay.sqlite3"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_lists_every_problem_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["check"],
        &[("ONAIR_RELAY_DATABASE", "/proc/onair/relay.sqlite3")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("problem: relay.webhook_secret is required to serve"),
        "{stdout}"
    );
    assert!(stdout.contains("ONAIR_RELAY_WEBHOOK_SECRET"), "{stdout}");
    assert!(
        stdout.contains("problem: relay.database: cannot open database /proc/onair/relay.sqlite3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("problem: relay.public_url is required to subscribe"),
        "{stdout}"
    );
    assert!(
        stdout.contains("problem: relay.client_id is required for the app access token"),
        "{stdout}"
    );
    assert!(
        stdout.contains("problem: relay.client_secret is required"),
        "{stdout}"
    );
    assert!(
        stdout.contains("problem: relay.channels is empty"),
        "{stdout}"
    );
    assert!(stdout.contains("6 problem(s) found"), "{stdout}");
}

#[test]
fn check_passes_on_a_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let good = [
        ("ONAIR_RELAY_WEBHOOK_SECRET", "relay-fake-secret-0123456789"),
        ("ONAIR_RELAY_PUBLIC_URL", "https://relay.example.com"),
        ("ONAIR_RELAY_CLIENT_ID", "abc"),
        ("ONAIR_RELAY_CLIENT_SECRET", "def-secret"),
        ("ONAIR_RELAY_CHANNELS", "quillstream"),
        ("ONAIR_RELAY_EVENTS", "stream.online,channel.follow"),
    ];
    let out = run(dir.path(), &["check"], &good);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("note: these events need the broadcaster's grant: channel.follow (moderator:read:followers)"), "{stdout}");
    assert!(
        stdout.contains("ok: the relay is ready to serve on 0.0.0.0:8080"),
        "{stdout}"
    );
    assert!(!stdout.contains("def-secret"));
}

#[test]
fn check_wants_https_on_443() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["http://relay.example.com", "https://relay.example.com:8443"] {
        let out = run(dir.path(), &["check"], &[("ONAIR_RELAY_PUBLIC_URL", url)]);
        assert!(
            text(&out.stdout).contains("must be https on port 443"),
            "{url}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn config_errors_exit_2_naming_file_and_key_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("onair.toml");
    std::fs::write(
        &file,
        "[relay]\nwebhook_secret = \"tiny-sec\"\nlisten = \"nowhere\"\npublic_url = \"http://relay.example.com\"\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["--config", file.to_str().unwrap(), "check"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    // Every problem at once: a bad secret does not hide the rest.
    let stderr = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        stderr.contains("relay.public_url http://relay.example.com/ must be https on port 443"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("relay.webhook_secret is required"),
        "a bad value is not also reported missing: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}: relay.webhook_secret must be 10-100 ASCII characters",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("relay.listen must be an IP address and port"),
        "{stderr}"
    );
    assert!(!stderr.contains("tiny-sec"), "{stderr}");
}

#[test]
fn check_warns_about_a_weak_secret_that_serve_still_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["check"],
        &[(
            "ONAIR_RELAY_WEBHOOK_SECRET",
            "change-me-to-a-long-random-string",
        )],
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("warning: relay.webhook_secret is weak: it is the example from the README"),
        "{all}"
    );
    assert!(!all.contains("change-me-to"), "never quoted: {all}");
    assert!(!all.contains("problem: relay.webhook_secret"), "{all}");
}

#[test]
fn serve_without_a_secret_says_which_key_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["serve"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("relay.webhook_secret is required to serve"));
}

#[test]
fn client_add_prints_the_token_alone_on_the_last_stdout_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["client", "add", "laptop"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let token = stdout.lines().last().unwrap();
    assert_eq!(stdout, format!("{token}\n"), "stdout holds only the token");
    assert!(token.starts_with("onair_") && token.len() == 70);

    let db = std::fs::read(dir.path().join("relay.sqlite3")).unwrap();
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "only a hash is stored"
    );

    let again = run(dir.path(), &["client", "add", "laptop"], &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("exists already"));

    let list = run(dir.path(), &["client", "list"], &[]);
    let listed = text(&list.stdout);
    assert!(listed.starts_with("laptop\t"), "{listed}");
    assert!(!listed.contains(token));

    assert!(
        run(dir.path(), &["client", "remove", "laptop"], &[])
            .status
            .success()
    );
    let gone = run(dir.path(), &["client", "remove", "laptop"], &[]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).contains("no client named \"laptop\""));
}
