//! The `onair` binary's own surface: help, usage errors, config errors and their exit codes.
//! (Its end-to-end tests against fakes of Twitch live in `tests/`; this file also makes
//! `cargo test --workspace` build the binary they run.)

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::process::{Command, Output};

fn onair(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onair"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .unwrap()
}

#[test]
fn help_names_the_commands_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = onair(dir.path(), &["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8(o.stdout).unwrap();
    for word in [
        "login",
        "logout",
        "auth",
        "Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 not logged in",
        "refused an action for lack of permission",
        "mod",
        "shoutout",
        "raid",
        "announce",
        "marker",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        onair(dir.path(), &["no-such-command"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_broken_config_names_file_and_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("onair.toml");
    std::fs::write(&file, "[tui]\nscrollback = \"lots\"\n").unwrap();
    let o = onair(
        dir.path(),
        &["--config", file.to_str().unwrap(), "auth", "status"],
    );
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "{}: tui.scrollback must be a whole number from 100 to 1000000",
            file.display()
        )),
        "{stderr}"
    );
}
