//! Local stand-ins for Twitch and a relay, to try the real `onair` against by hand: a fake
//! id.twitch.tv (approves device codes at once), a fake chat server with some traffic, a real
//! relay that a fake EventSub keeps posting webhooks to, and a fake EventSub WebSocket with its
//! Helix endpoint for direct events and the streamer's actions (`onair mod ...`, `shoutout`,
//! `raid`, `announce`, `marker`, the app's selection keys). Prints the environment to use.
//!
//! ```sh
//! cargo run -p onair-tests --bin fake-twitch          # relay events
//! cargo run -p onair-tests --bin fake-twitch direct   # direct events (no relay in the env)
//! # then, in another shell, paste the exports
//! onair login && onair
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // A dev tool: panics report.

use std::time::Duration;

use onair_tests::eventsub::Delivery;
use onair_tests::eventsub_ws::FakeEventSub;
use onair_tests::irc::FakeIrc;
use onair_tests::relay::TestRelay;
use onair_tests::twitch_auth::{CLIENT_ID, FakeAuth};

const CHAT: &[(&str, &str)] = &[
    ("mossy_fern", "hello chat Kappa"),
    ("lunarkettle", "that was close"),
    ("byte_badger", "PogChamp"),
    ("night_owl_dev", "what game is next?"),
];

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let auth = FakeAuth::start().await;
    auth.with(|s| s.pending_polls = 0);
    let irc = FakeIrc::trusting(&auth).await;
    let relay = TestRelay::start(&dir.path().join("relay.sqlite3")).await;
    let token = relay.add_client("by-hand");
    let eventsub = FakeEventSub::start(auth.clone()).await;
    let direct = std::env::args().nth(1).as_deref() == Some("direct");
    println!("export ONAIR_TWITCH_CLIENT_ID={CLIENT_ID}");
    println!("export ONAIR_TWITCH_AUTH_URL={}", auth.base);
    println!("export ONAIR_TWITCH_IRC_URL={}", irc.url);
    println!("export ONAIR_TWITCH_EVENTSUB_URL={}", eventsub.ws_url);
    println!("export ONAIR_TWITCH_HELIX_URL={}", eventsub.helix_url);
    if direct {
        println!("export ONAIR_TUI_EVENTS=direct");
    } else {
        println!("export ONAIR_TUI_RELAY_URL={}", relay.base);
        println!("export ONAIR_TUI_RELAY_TOKEN={token}");
    }
    println!("export ONAIR_TUI_TOKEN_STORE=file");
    let kinds = [
        "channel.follow",
        "channel.cheer",
        "channel.raid",
        "channel.subscription.gift",
    ];
    for i in 0u64.. {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (login, text) = CHAT[i as usize % CHAT.len()];
        let emotes = if text.contains("Kappa") {
            "25:11-15"
        } else {
            ""
        };
        irc.broadcast("quillstream", &format!(
            "@badges=;color=#1E90FF;display-name={login};emotes={emotes};id=m{i};room-id=90010001;tmi-sent-ts={};user-id=5100000{} :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #quillstream :{text}",
            jiff::Timestamp::now().as_millisecond(), i % 10));
        if i % 6 == 5 {
            let kind = kinds[(i / 6) as usize % kinds.len()];
            if eventsub.has(kind) {
                eventsub.notify(kind);
            }
            let _ = relay
                .twitch()
                .try_send(&Delivery::fixture(kinds[(i / 6) as usize % kinds.len()]))
                .await;
        }
    }
}
