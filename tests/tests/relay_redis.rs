//! The relay on the Redis engine (`relay.redis_url`) keeps the contract the SQLite engine keeps:
//! dedupe, contiguous seqs, replay, the API, clients, revocations, health. And it rides out the
//! server going away: webhooks get 503 (Twitch retries), `/healthz` says so, WebSocket clients
//! stay connected and get what is committed after it returns, with no gap and no repeat.
//! Against a real `redis-server` on loopback.

#![allow(clippy::unwrap_used)] // A test: a panic is the report.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use onair_common::wire::{ServerFrame, Subscribe};
use onair_relay::store::Store;
use onair_tests::eventsub::Delivery;
use onair_tests::redis_server::RedisServer;
use onair_tests::relay::{TestRelay, WsClient};
use onair_tests::relay_process::{Options, RelayProcess};

async fn relay_on(redis: &RedisServer) -> TestRelay {
    let store = Store::open_redis(&redis.url()).await.unwrap();
    TestRelay::start_on(store, |_| {}).await
}

async fn seqs(ws: &mut WsClient, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(ws.next_event().await.seq.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_redis() {
    let redis = RedisServer::start().await;
    let relay = relay_on(&redis).await;
    let token = relay.state.store().add_client("t").await.unwrap();
    let mut ws = WsClient::connect(&relay, &token).await;
    assert_eq!((ws.welcome_seq, ws.first_seq), (0, 1), "an empty store");
    assert_eq!(ws.epoch.len(), 32);
    ws.subscribe(Subscribe::default()).await;

    let twitch = relay.twitch();
    let first = Delivery::fixture("channel.follow");
    assert_eq!(twitch.send(&first).await.status(), 204);
    // Twitch redelivers with the same id: acknowledged, stored once.
    assert_eq!(twitch.send(&first.redelivery()).await.status(), 204);
    for _ in 0..3 {
        assert_eq!(relay.post("channel.follow").await, 204);
    }
    assert_eq!(relay.post("channel.cheer").await, 204);
    assert_eq!(seqs(&mut ws, 5).await, vec![1, 2, 3, 4, 5]);
    ws.expect_silence(Duration::from_millis(300)).await;

    let page: serde_json::Value = relay
        .get("/api/events?after=1&limit=2", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let got: Vec<u64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!((got, page["last_seq"].as_u64()), (vec![2, 3], Some(5)));
    let cheers: serde_json::Value = relay
        .get("/api/events?type=channel.cheer", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cheers["events"][0]["seq"], 5);
    assert_eq!(cheers["events"].as_array().unwrap().len(), 1);
    let stats: serde_json::Value = relay
        .get("/api/stats", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["counts"],
        serde_json::json!({"channel.cheer": 1, "channel.follow": 4})
    );
    assert!(
        relay
            .state
            .metrics()
            .render(0)
            .contains("outcome=\"duplicate\"} 1")
    );

    // A client that resumes replays from Redis, then goes live, without repeats.
    let mut late = WsClient::connect(&relay, &token).await;
    assert_eq!(late.welcome_seq, 5);
    late.subscribe(Subscribe {
        after: Some(3),
        ..Subscribe::default()
    })
    .await;
    assert_eq!(seqs(&mut late, 2).await, vec![4, 5]);
    assert_eq!(relay.post("channel.follow").await, 204);
    assert_eq!(seqs(&mut late, 1).await, vec![6]);
    assert_eq!(seqs(&mut ws, 1).await, vec![6]);

    // A revocation is recorded once and told to every socket.
    let revoked = Delivery::revocation("channel.follow", "2", "authorization_revoked");
    assert_eq!(twitch.send(&revoked).await.status(), 204);
    assert_eq!(twitch.send(&revoked.redelivery()).await.status(), 204);
    match ws.next_frame().await {
        Some(ServerFrame::Status { subscriptions }) => {
            assert_eq!(subscriptions[0].status, "authorization_revoked");
        }
        other => panic!("expected a status frame, got {other:?}"),
    }
    ws.expect_silence(Duration::from_millis(300)).await;

    // Removing the client closes its sockets within the poll period.
    let asked = Instant::now();
    relay.state.store().remove_client("t").await.unwrap();
    assert_eq!(relay.get("/api/events", Some(&token)).await.status(), 401);
    let (code, _) = ws.close_reason().await.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(asked.elapsed() < Duration::from_secs(2));
    assert_eq!(relay.get("/healthz", None).await.status(), 200);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_503_and_clients_miss_nothing() {
    let mut redis = RedisServer::start().await;
    let relay = relay_on(&redis).await;
    let token = relay.state.store().add_client("t").await.unwrap();
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe::default()).await;
    assert_eq!(relay.post("channel.follow").await, 204);
    assert_eq!(seqs(&mut ws, 1).await, vec![1]);

    redis.kill();
    let retried = Delivery::fixture("channel.follow");
    let asked = Instant::now();
    let status = relay.twitch().send(&retried).await.status();
    assert_eq!(status, 503, "Twitch is asked to come back later");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.get("/healthz", None).await.status() != 503 {
        assert!(
            Instant::now() < deadline,
            "healthz should say the store is down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    redis.restart().await;
    // Twitch retries the same message until it gets a 2xx.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if relay.twitch().send(&retried.redelivery()).await.status() == 204 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay should take webhooks again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(relay.post("channel.follow").await, 204);
    // The socket stayed open and gets what was committed after Redis came back: no gap, no
    // repeat.
    assert_eq!(seqs(&mut ws, 2).await, vec![2, 3]);
    ws.expect_silence(Duration::from_millis(300)).await;
    while relay.get("/healthz", None).await.status() != 200 {
        assert!(Instant::now() < deadline, "healthz should recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_redis_is_a_new_epoch() {
    let redis = RedisServer::start().await;
    let relay = relay_on(&redis).await;
    let token = relay.state.store().add_client("t").await.unwrap();
    assert_eq!(relay.post("channel.follow").await, 204);
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe::default()).await;
    let before = ws.epoch.clone();

    assert!(redis.command(&["FLUSHALL"]).await.starts_with("+OK"));
    // Webhooks go on arriving; the first takes seq 1 of a new history.
    assert_eq!(relay.post("channel.follow").await, 204);
    // The reader notices within its check period (its blocking read returns every 5 s when
    // nothing comes), without losing its connection, and closes every socket so clients start
    // over. (The flush took the client token too, which closes the socket as well.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while *relay.state.store().epoch() == *before {
        assert!(
            Instant::now() < deadline,
            "a new epoch within the check period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ws.close_reason().await.is_some(),
        "old seqs mean nothing now"
    );
    let token = relay.state.store().add_client("t").await.unwrap();
    let mut again = WsClient::connect(&relay, &token).await;
    assert_ne!(again.epoch, before);
    assert_eq!(again.welcome_seq, 1);
    again
        .subscribe(Subscribe {
            after: Some(0),
            ..Subscribe::default()
        })
        .await;
    assert_eq!(
        seqs(&mut again, 1).await,
        vec![1],
        "the new history, from its start"
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_what_is_recent_and_reports_the_gap() {
    let redis = RedisServer::start().await;
    let relay = relay_on(&redis).await;
    let token = relay.state.store().add_client("t").await.unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    const DAY: i64 = 86_400_000;
    relay.seed(50, "channel.follow", now - 40 * DAY).await;
    relay.seed(5, "channel.cheer", now).await;
    let pruned = relay.state.store().prune(now - 30 * DAY).await.unwrap();
    assert_eq!(pruned, 50);
    let mut ws = WsClient::connect(&relay, &token).await;
    assert_eq!((ws.first_seq, ws.welcome_seq), (51, 55));
    ws.subscribe(Subscribe {
        after: Some(10),
        ..Subscribe::default()
    })
    .await;
    match ws.next_frame().await {
        Some(ServerFrame::Gap { from, to }) => assert_eq!((from, to), (11, 50)),
        other => panic!("expected a gap, got {other:?}"),
    }
    let got: BTreeSet<u64> = seqs(&mut ws, 5).await.into_iter().collect();
    assert_eq!(got, (51..=55).collect());
    relay.stop().await;
}

/// `onair-relay ARGS` with only the given `ONAIR_*` variables.
fn relay_cli(
    home: &std::path::Path,
    env: &[(&str, String)],
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(onair_tests::bins::path("onair-relay"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_move_history_from_sqlite_to_redis() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("relay.sqlite3");
    let sqlite = TestRelay::start(&db).await;
    let token = sqlite.add_client("t");
    let now = jiff::Timestamp::now().as_millisecond();
    sqlite.seed(25, "channel.follow", now - 1000).await;
    sqlite.seed(5, "channel.cheer", now).await;
    let before: serde_json::Value = sqlite
        .get("/api/events?limit=1000", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    sqlite.stop().await;

    let from_sqlite = [("ONAIR_RELAY_DATABASE", db.display().to_string())];
    let out = relay_cli(home.path(), &from_sqlite, &["export"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = home.path().join("events.jsonl");
    std::fs::write(&file, &out.stdout).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 30);

    let redis = RedisServer::start().await;
    let to_redis = [("ONAIR_RELAY_REDIS_URL", redis.url())];
    let file_arg = file.display().to_string();
    let out = relay_cli(home.path(), &to_redis, &["import", &file_arg]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("imported 30 event(s)"), "{said}");
    // Importing again would give seqs twice: refused, and nothing changes.
    let out = relay_cli(home.path(), &to_redis, &["import", &file_arg]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("at or below the last seq 30"), "{said}");

    let relay = relay_on(&redis).await;
    let token = relay.state.store().add_client("t").await.unwrap();
    let after: serde_json::Value = relay
        .get("/api/events?limit=1000", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["events"], before["events"], "same events, same seqs");
    assert_eq!(after["last_seq"], 30);
    // A client resumes across the move, and new events continue the seqs.
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe {
        after: Some(27),
        ..Subscribe::default()
    })
    .await;
    assert_eq!(seqs(&mut ws, 3).await, vec![28, 29, 30]);
    assert_eq!(relay.post("channel.follow").await, 204);
    assert_eq!(seqs(&mut ws, 1).await, vec![31]);
    relay.stop().await;

    let out = relay_cli(home.path(), &to_redis, &["export", "--after", "28"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<u64> = lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(got, vec![29, 30, 31]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_that_went_back_is_a_new_epoch_too() {
    let redis = RedisServer::start().await;
    let relay = relay_on(&redis).await;
    let token = relay.state.store().add_client("t").await.unwrap();
    let mut ws = WsClient::connect(&relay, &token).await;
    ws.subscribe(Subscribe::default()).await;
    for _ in 0..3 {
        assert_eq!(relay.post("channel.follow").await, 204);
    }
    assert_eq!(seqs(&mut ws, 3).await, vec![1, 2, 3]);
    // As after a restore from an older file or a failover to a replica that was behind: the
    // next seqs would be ones clients already hold.
    assert!(
        redis
            .command(&["SET", "onair:{onair}:seq", "1"])
            .await
            .starts_with("+OK")
    );
    assert!(ws.close_reason().await.is_some(), "clients start over");
    let again = WsClient::connect(&relay, &token).await;
    assert_ne!(again.epoch, ws.epoch);
}

/// `rediss://`, as a managed Redis needs: the relay speaks TLS and verifies the server against
/// the system's roots (here the test CA, through `SSL_CERT_FILE`, which is how the roots are
/// read). What it stores there is what a second relay on that server replays. A server it
/// cannot verify stops it at start with the reason: no plain-text fallback, no retry loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_is_tls_verified_against_the_systems_roots() {
    let redis = RedisServer::start_tls().await;
    let url = redis.url();
    assert!(url.starts_with("rediss://localhost:"), "{url}");
    let trusting = vec![
        ("ONAIR_RELAY_REDIS_URL".to_owned(), url.clone()),
        (
            "SSL_CERT_FILE".to_owned(),
            redis.ca_file().unwrap().display().to_string(),
        ),
    ];
    let start = |dir: std::path::PathBuf| {
        let env = trusting.clone();
        async move {
            RelayProcess::start(
                &dir,
                Options {
                    env,
                    ..Options::default()
                },
            )
            .await
        }
    };
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = start(one.path().to_owned()).await;
    let token = first.add_client("t");
    let mut live = WsClient::connect_to(&first.base, &token).await;
    live.subscribe(Subscribe::default()).await;
    assert_eq!(first.post("channel.follow").await, 204);
    assert_eq!(live.next_event().await.seq, Some(1));

    // Another relay, another directory: the client and the event are in that Redis.
    let second = start(two.path().to_owned()).await;
    let mut replayed = WsClient::connect_to(&second.base, &token).await;
    replayed
        .subscribe(Subscribe {
            after: Some(0),
            ..Subscribe::default()
        })
        .await;
    let event = replayed.next_event().await;
    assert_eq!(
        (event.seq, event.kind.as_str()),
        (Some(1), "channel.follow")
    );

    // The same URL without the CA among the roots.
    let home = tempfile::tempdir().unwrap();
    let mut refused = std::process::Command::new(onair_tests::bins::path("onair-relay"))
        .arg("serve")
        .env_clear()
        .env("HOME", home.path())
        .env("ONAIR_RELAY_REDIS_URL", &url)
        .env("ONAIR_RELAY_LISTEN", "127.0.0.1:0")
        .env("ONAIR_RELAY_WEBHOOK_SECRET", onair_tests::relay::SECRET)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = refused.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            refused.kill().unwrap();
            panic!("the relay kept running against a Redis it cannot verify");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut refused.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("cannot open Redis at {url}")) && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
}
