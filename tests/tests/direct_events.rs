//! `onair events tail --source direct` end to end: the real binary against the fake EventSub
//! WebSocket and its Helix (`twitch.md` E) with a login from the fake id.twitch.tv: EVENT lines
//! once each, a missing scope skips only its types and is said once, another channel gets the
//! grant-free types, an expired token is refreshed once, and `--after` or no login is refused.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use onair_common::catalog;
use onair_tests::bins;
use onair_tests::direct_env::DirectEnv as Env;
use onair_tests::twitch_auth::CLIENT_ID;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

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
        .env("RUST_LOG", "trace")
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
    // No token in what it printed or logged, even at trace level.
    let log = std::fs::read_to_string(env.home.path().join("state/onair/onair.log")).unwrap();
    assert!(log.contains("missing scope"), "the log says what happened");
    for secret in env.auth.issued_secrets() {
        for (what, text) in [
            ("stdout", &stdout),
            ("stderr", &said.join("\n")),
            ("log", &log),
        ] {
            assert!(!text.contains(&secret), "a token in the {what}");
        }
    }
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

/// The fake's Helix side as `twitch.md` E.2 says: 202 `enabled` at once, 409 for the same
/// subscription on the session again, 401 for an app token, 400 for an unknown session.
#[tokio::test]
async fn the_fake_helix_answers_like_twitch() {
    use futures_util::StreamExt;

    let env = Env::logged_in(None).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let token = env.tokens(&shutdown).await.current().await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(env.es.ws_url.as_str())
        .await
        .unwrap();
    let welcome: Value =
        serde_json::from_str(&ws.next().await.unwrap().unwrap().into_text().unwrap()).unwrap();
    let session = welcome["payload"]["session"]["id"].as_str().unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/eventsub/subscriptions", env.es.helix_url);
    let body = |session: &str| {
        serde_json::json!({"type": "stream.online", "version": "1",
            "condition": {"broadcaster_user_id": "90010001"},
            "transport": {"method": "websocket", "session_id": session}})
    };
    let post = |bearer: String, b: Value| {
        http.post(&url)
            .bearer_auth(bearer)
            .header("Client-Id", CLIENT_ID)
            .json(&b)
            .send()
    };
    let user = token.access_token.expose().to_owned();
    let r = post(user.clone(), body(session)).await.unwrap();
    assert_eq!(r.status(), 202);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["data"][0]["status"], "enabled");
    assert_eq!(created["data"][0]["transport"]["session_id"], session);
    let r = post(user.clone(), body(session)).await.unwrap();
    assert_eq!(r.status(), 409);
    let r: Value = r.json().await.unwrap();
    assert_eq!(
        r,
        serde_json::json!({"error": "Conflict", "status": 409, "message": "subscription already exists"})
    );
    assert_eq!(
        post(user, body("no-such-session")).await.unwrap().status(),
        400
    );
    let app = http
        .post(format!("{}/token", env.auth.base))
        .form(&[
            ("client_id", onair_tests::twitch_auth::APP_CLIENT_ID),
            ("client_secret", onair_tests::twitch_auth::APP_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let r = http
        .post(&url)
        .bearer_auth(app["access_token"].as_str().unwrap())
        .header("Client-Id", onair_tests::twitch_auth::APP_CLIENT_ID)
        .json(&body(session))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "WebSocket subscriptions take user tokens only"
    );
    shutdown.cancel();
}
