//! The streamer's actions from the command line, end to end: the real `onair` against the fake
//! id.twitch.tv and the fake Helix (`twitch.md` G). Each command sends exactly the request Twitch
//! documents (method, path, query, body), prints the done line or Twitch's answer object with
//! `--json`, and exits 0 done, 1 refused (Twitch's message as is), 2 usage (before any request),
//! 3 not logged in, 4 missing permission (the scope named, or not a moderator).

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use onair_tests::direct_env::DirectEnv as Env;
use onair_tests::helix_actions::Recorded;
use serde_json::{Value, json};

/// The logged-in broadcaster (`quillstream`) and the users the fake knows.
const ME: &str = "90010001";
const BADGER: &str = "90020002";
const OWL: &str = "90040004";
/// Every moderation query: the channel, and the token's user as moderator.
const MOD_QUERY: &str = "broadcaster_id=90010001&moderator_id=90010001";

struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Run {
    fn json(&self) -> Value {
        assert_eq!(self.out.lines().count(), 1, "one JSON line: {}", self.out);
        serde_json::from_str(self.out.trim()).unwrap()
    }
}

async fn onair(env: &Env, args: &[&str]) -> Run {
    let o = env.cmd(args).output().await.unwrap();
    let run = Run {
        code: o.status.code().unwrap(),
        out: String::from_utf8(o.stdout).unwrap(),
        err: String::from_utf8(o.stderr).unwrap(),
    };
    for secret in env.auth.issued_secrets() {
        assert!(
            !run.out.contains(&secret) && !run.err.contains(&secret),
            "a token was printed"
        );
    }
    run
}

fn req(method: &str, path: &str, query: &str, body: Option<Value>) -> Recorded {
    Recorded::new(method, &format!("/helix/{path}"), query, body)
}

#[tokio::test]
async fn timeout_sends_a_ban_with_a_duration_and_json_carries_the_end_time() {
    let env = Env::logged_in(None).await;
    let r = onair(
        &env,
        &[
            "mod",
            "timeout",
            "byte_badger",
            "10m",
            "--reason",
            "spam",
            "--json",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.err);
    let v = r.json();
    assert_eq!(v["user_id"], BADGER);
    let end = onair_common::time::parse(v["end_time"].as_str().unwrap()).unwrap();
    let left = end.as_second() - jiff::Timestamp::now().as_second();
    assert!((590..=600).contains(&left), "end_time {left} s away");
    assert_eq!(
        env.es.actions.requests(),
        [req(
            "POST",
            "moderation/bans",
            MOD_QUERY,
            Some(json!({"data": {"user_id": BADGER, "duration": 600, "reason": "spam"}}))
        )]
    );
    let plain = onair(&env, &["mod", "untimeout", "byte_badger"]).await;
    assert_eq!(
        (plain.code, plain.out.trim()),
        (0, "ended the timeout of byte_badger")
    );
    assert_eq!(
        env.es.actions.requests()[1],
        req(
            "DELETE",
            "moderation/bans",
            &format!("{MOD_QUERY}&user_id={BADGER}"),
            None
        )
    );
}

#[tokio::test]
async fn ban_is_permanent_and_a_second_ban_shows_twitchs_reason_with_exit_1() {
    let env = Env::logged_in(None).await;
    let r = onair(&env, &["mod", "ban", "byte_badger", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.json()["end_time"], Value::Null);
    assert_eq!(
        env.es.actions.requests()[0].body,
        Some(json!({"data": {"user_id": BADGER}}))
    );
    let again = onair(&env, &["mod", "ban", "byte_badger"]).await;
    assert_eq!(again.code, 1);
    assert_eq!(again.err.trim(), "error: user is already banned");
    let unban = onair(&env, &["mod", "unban", "byte_badger"]).await;
    assert_eq!((unban.code, unban.out.trim()), (0, "unbanned byte_badger"));
    let not_banned = onair(&env, &["mod", "unban", "byte_badger"]).await;
    assert_eq!(
        (not_banned.code, not_banned.err.trim()),
        (1, "error: user is not banned")
    );
    let nobody = onair(&env, &["mod", "ban", "no_such_user_x"]).await;
    assert_eq!(nobody.code, 1);
    assert!(
        nobody.err.contains("no user named no_such_user_x"),
        "{}",
        nobody.err
    );
}

#[tokio::test]
async fn a_bad_duration_is_a_usage_error_before_any_request() {
    let env = Env::logged_in(None).await;
    for bad in ["10x", "15d", "0", "1209601"] {
        let r = onair(&env, &["mod", "timeout", "byte_badger", bad]).await;
        assert_eq!(r.code, 2, "{bad}: {}", r.err);
        assert!(r.err.contains(bad), "{}", r.err);
    }
    let r = onair(&env, &["mod", "settings", "--slow", "2"]).await;
    assert_eq!(r.code, 2, "{}", r.err);
    let r = onair(&env, &["announce", "hi", "--color", "pink"]).await;
    assert_eq!(r.code, 2, "{}", r.err);
    assert_eq!(env.es.actions.requests(), []);
}

#[tokio::test]
async fn delete_clear_and_warn_send_what_twitch_documents() {
    let env = Env::logged_in(None).await;
    let del = onair(&env, &["mod", "delete", "abc-123", "--json"]).await;
    assert_eq!(
        (del.code, del.out.trim()),
        (0, r#"{"ok":true}"#),
        "{}",
        del.err
    );
    let clear = onair(&env, &["mod", "clear"]).await;
    assert_eq!((clear.code, clear.out.trim()), (0, "cleared chat"));
    let warn = onair(&env, &["mod", "warn", "byte_badger", "be nice", "--json"]).await;
    assert_eq!(warn.code, 0, "{}", warn.err);
    assert_eq!(warn.json()["reason"], "be nice");
    assert_eq!(
        env.es.actions.requests(),
        [
            req(
                "DELETE",
                "moderation/chat",
                &format!("{MOD_QUERY}&message_id=abc-123"),
                None
            ),
            req("DELETE", "moderation/chat", MOD_QUERY, None),
            req(
                "POST",
                "moderation/warnings",
                MOD_QUERY,
                Some(json!({"data": {"user_id": BADGER, "reason": "be nice"}}))
            ),
        ]
    );
}

#[tokio::test]
async fn settings_print_the_current_ones_and_change_only_what_is_named() {
    let env = Env::logged_in(None).await;
    let now = onair(&env, &["mod", "settings"]).await;
    assert_eq!(now.code, 0, "{}", now.err);
    assert_eq!(
        now.out.trim(),
        "chat settings: slow off, followers off, subscribers off, emote-only off, unique off"
    );
    let set = onair(
        &env,
        &[
            "mod",
            "settings",
            "--slow",
            "30",
            "--followers",
            "10m",
            "--emote-only",
            "on",
            "--json",
        ],
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.err);
    let v = set.json();
    assert_eq!(
        (
            &v["slow_mode_wait_time"],
            &v["follower_mode_duration"],
            &v["emote_mode"]
        ),
        (&json!(30), &json!(10), &json!(true))
    );
    let reqs = env.es.actions.requests();
    assert_eq!(reqs[0], req("GET", "chat/settings", MOD_QUERY, None));
    assert_eq!(
        reqs[1],
        req(
            "PATCH",
            "chat/settings",
            MOD_QUERY,
            Some(
                json!({"slow_mode": true, "slow_mode_wait_time": 30, "follower_mode": true,
                "follower_mode_duration": 10, "emote_mode": true})
            )
        )
    );
}

#[tokio::test]
async fn shoutout_and_its_cooldown() {
    let env = Env::logged_in(None).await;
    let r = onair(&env, &["shoutout", "nightowlgames"]).await;
    assert_eq!(
        (r.code, r.out.trim()),
        (0, "shouted out nightowlgames"),
        "{}",
        r.err
    );
    assert_eq!(
        env.es.actions.requests(),
        [req(
            "POST",
            "chat/shoutouts",
            &format!("from_broadcaster_id={ME}&to_broadcaster_id={OWL}&moderator_id={ME}"),
            None
        )]
    );
    let again = onair(&env, &["shoutout", "nightowlgames"]).await;
    assert_eq!(again.code, 1);
    assert_eq!(
        again.err.trim(),
        "error: The broadcaster may not give the same broadcaster more than one Shoutout per 60 minutes."
    );
}

#[tokio::test]
async fn raid_and_cancel_and_cancelling_nothing_is_refused() {
    let env = Env::logged_in(None).await;
    let r = onair(&env, &["raid", "nightowlgames", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.json()["is_mature"], false);
    let c = onair(&env, &["raid", "--cancel"]).await;
    assert_eq!((c.code, c.out.trim()), (0, "raid cancelled"), "{}", c.err);
    let none = onair(&env, &["raid", "--cancel"]).await;
    assert_eq!(
        (none.code, none.err.trim()),
        (
            1,
            "error: The broadcaster doesn't have a pending raid to cancel."
        )
    );
    let reqs = env.es.actions.requests();
    assert_eq!(
        reqs[0],
        req(
            "POST",
            "raids",
            &format!("from_broadcaster_id={ME}&to_broadcaster_id={OWL}"),
            None
        )
    );
    assert_eq!(
        reqs[1],
        req("DELETE", "raids", "broadcaster_id=90010001", None)
    );
    let usage = onair(&env, &["raid"]).await;
    assert_eq!(usage.code, 2);
}

#[tokio::test]
async fn announce_and_marker() {
    let env = Env::logged_in(None).await;
    let a = onair(&env, &["announce", "new video up", "--color", "purple"]).await;
    assert_eq!((a.code, a.out.trim()), (0, "announced"), "{}", a.err);
    let m = onair(&env, &["marker", "clutch play", "--json"]).await;
    assert_eq!(m.code, 0, "{}", m.err);
    assert_eq!(m.json()["position_seconds"], 3723);
    let plain = onair(&env, &["marker"]).await;
    assert_eq!(plain.out.trim(), "marker set at 1:02:03");
    assert_eq!(
        env.es.actions.requests()[..2],
        [
            req(
                "POST",
                "chat/announcements",
                MOD_QUERY,
                Some(json!({"message": "new video up", "color": "purple"}))
            ),
            req(
                "POST",
                "streams/markers",
                "",
                Some(json!({"user_id": ME, "description": "clutch play"}))
            ),
        ]
    );
    env.es.actions.with(|s| s.live = false);
    let offline = onair(&env, &["marker"]).await;
    assert_eq!(
        (offline.code, offline.err.trim()),
        (1, "error: The user in user_id is not streaming live.")
    );
}

#[tokio::test]
async fn a_missing_scope_is_named_with_exit_4() {
    let env = Env::logged_in(Some("chat:read chat:edit")).await;
    let r = onair(&env, &["mod", "ban", "byte_badger"]).await;
    assert_eq!(r.code, 4, "{}", r.err);
    assert!(
        r.err.contains("moderator:manage:banned_users") && r.err.contains("onair login"),
        "{}",
        r.err
    );
    let raid = onair(&env, &["raid", "nightowlgames"]).await;
    assert_eq!(raid.code, 4);
    assert!(raid.err.contains("channel:manage:raids"), "{}", raid.err);
}

#[tokio::test]
async fn not_a_moderator_says_so_with_exit_4_and_a_moderator_may_act() {
    let env = Env::logged_in(None).await;
    let r = onair(
        &env,
        &["mod", "ban", "byte_badger", "--channel", "lunarkettle"],
    )
    .await;
    assert_eq!(r.code, 4, "{}", r.err);
    assert!(
        r.err.contains("not a moderator of #lunarkettle"),
        "{}",
        r.err
    );
    assert_eq!(
        env.es.actions.requests()[0].query,
        "broadcaster_id=90050005&moderator_id=90010001"
    );
    env.es.actions.with(|s| s.moderates.push("90050005".into()));
    let ok = onair(
        &env,
        &["mod", "ban", "byte_badger", "--channel", "lunarkettle"],
    )
    .await;
    assert_eq!(ok.code, 0, "{}", ok.err);
}

#[tokio::test]
async fn not_logged_in_is_exit_3_and_an_expired_token_is_refreshed_once() {
    let env = Env::logged_in(None).await;
    env.auth.expire_access_tokens();
    let r = onair(&env, &["mod", "clear"]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    let refreshes = env.auth.with(|s| s.refreshes.len());
    assert_eq!(refreshes, 1);
    let out = onair(&env, &["logout"]).await;
    assert_eq!(out.code, 0, "{}", out.err);
    let r = onair(&env, &["mod", "clear"]).await;
    assert_eq!(r.code, 3, "{}", r.err);
    assert!(r.err.contains("onair login"), "{}", r.err);
}
