//! Every supported EventSub type, from a fixture in Twitch's documented shape, to the EVENT that
//! clients see: channel, occurred_at, summary, data kept verbatim.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use jiff::Timestamp;
use onair_common::event::{Event, Origin};
use onair_common::eventsub::Envelope;

const MESSAGE_TS: &str = "2026-01-01T12:00:00.123456789Z";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn event(name: &str) -> Event {
    let body = fixture(name);
    let env: Envelope = serde_json::from_str(&body).unwrap();
    let received: Timestamp = "2026-01-01T12:00:00.150Z".parse().unwrap();
    let ev = Event::from_notification("msg-1", MESSAGE_TS, &env, received).unwrap();
    // Whatever the type, Twitch's event object is kept exactly.
    let raw: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ev.data, raw["event"], "{name}: data must be verbatim");
    assert_eq!(ev.id, "msg-1");
    assert_eq!(ev.seq, None);
    assert_eq!(ev.origin, Origin::Twitch);
    assert_eq!(ev.received_at, "2026-01-01T12:00:00.150Z");
    ev
}

fn check(name: &str, summary: &str) -> Event {
    let ev = event(name);
    assert_eq!(ev.summary, summary, "{name}");
    assert_eq!(ev.kind, env_type(name));
    assert_eq!(ev.channel.id, "90010001", "{name}");
    assert_eq!(ev.channel.login, "quillstream", "{name}");
    assert_eq!(ev.channel.name, "QuillStream", "{name}");
    ev
}

fn env_type(name: &str) -> String {
    let env: Envelope = serde_json::from_str(&fixture(name)).unwrap();
    env.subscription.kind
}

#[test]
fn every_supported_type_has_a_fixture() {
    for kind in onair_common::catalog::names() {
        let ev = event(kind);
        assert_eq!(ev.kind, kind);
        let spec = onair_common::catalog::lookup(kind).unwrap();
        assert_eq!(
            ev.version, spec.version,
            "{kind}: fixture uses the subscribed version"
        );
        assert!(!ev.summary.contains('\n'), "{kind}: summary is one line");
    }
}

#[test]
fn follow_v2() {
    let ev = check("channel.follow", "mossy_fern followed");
    assert_eq!(ev.version, "2");
    assert_eq!(ev.occurred_at, "2026-01-01T12:01:05.123Z");
}

#[test]
fn subscribe() {
    let ev = check("channel.subscribe", "byte_badger subscribed (Tier 1)");
    // No time field in the payload: the message timestamp is when it happened.
    assert_eq!(ev.occurred_at, "2026-01-01T12:00:00.123Z");
}

#[test]
fn subscribe_without_is_gift_or_tier() {
    check(
        "variant.subscribe.minimal",
        "byte_badger subscribed (Tier 1)",
    );
}

#[test]
fn subscription_gift() {
    check(
        "channel.subscription.gift",
        "Night_Owl_Dev gifted 3 Tier 1 subs (25 in the channel)",
    );
}

#[test]
fn subscription_gift_anonymous() {
    check(
        "variant.gift.anonymous",
        "An anonymous gifter gifted 5 Tier 2 subs",
    );
}

#[test]
fn subscription_message() {
    check(
        "channel.subscription.message",
        "LunarKettle resubscribed for 24 months (Tier 1): two years already Kappa",
    );
}

#[test]
fn subscription_message_null_emotes_and_streak() {
    check(
        "variant.resub.null-emotes",
        "LunarKettle resubscribed for 3 months (Tier 3)",
    );
}

#[test]
fn cheer() {
    check(
        "channel.cheer",
        "Night_Owl_Dev cheered 100 bits: Cheer100 great stream!",
    );
}

#[test]
fn cheer_anonymous() {
    check(
        "variant.cheer.anonymous",
        "Anonymous cheered 500 bits: Cheer500",
    );
}

#[test]
fn raid_belongs_to_the_raided_channel() {
    check("channel.raid", "NightOwlGames raided with 128 viewers");
}

#[test]
fn stream_online() {
    let ev = check("stream.online", "Stream went live");
    assert_eq!(ev.occurred_at, "2026-01-01T11:59:58.000Z");
}

#[test]
fn stream_offline() {
    check("stream.offline", "Stream went offline");
    check("variant.offline.with-id", "Stream went offline");
}

#[test]
fn channel_update_v2() {
    check(
        "channel.update",
        "Title: \"Ranked grind — !discord\" [Just Chatting]",
    );
}

#[test]
fn reward_redemption() {
    let ev = check(
        "channel.channel_points_custom_reward_redemption.add",
        "mossy_fern redeemed Song request (500): play the lo-fi playlist please",
    );
    assert_eq!(ev.occurred_at, "2026-01-01T12:03:10.500Z");
}

#[test]
fn hype_train_begin() {
    check(
        "channel.hype_train.begin",
        "Hype train started: level 1, 600/1800",
    );
    check(
        "variant.hype_train.begin.v1",
        "Hype train started: level 2, 137/500",
    );
}

#[test]
fn hype_train_progress() {
    check(
        "channel.hype_train.progress",
        "Hype train level 2, 100/2000",
    );
}

#[test]
fn hype_train_end() {
    let ev = check(
        "channel.hype_train.end",
        "Hype train ended at level 3 (4100 total)",
    );
    assert_eq!(ev.occurred_at, "2026-01-01T12:20:00.000Z");
}

#[test]
fn ad_break_begin() {
    check(
        "channel.ad_break.begin",
        "60 s ad break started by QuillStream",
    );
    // The docs example's strings instead of numbers and booleans still read right.
    check(
        "variant.ad_break.strings",
        "60 s ad break started (automatic)",
    );
}

#[test]
fn poll_begin() {
    check(
        "channel.poll.begin",
        "Poll started: \"Another round?\" (Yes / No)",
    );
}

#[test]
fn poll_end() {
    check(
        "channel.poll.end",
        "Poll completed: \"Another round?\"; top: Yes (42 votes)",
    );
}

#[test]
fn prediction_begin() {
    check(
        "channel.prediction.begin",
        "Prediction started: \"Win this match?\"",
    );
}

#[test]
fn prediction_end() {
    check(
        "channel.prediction.end",
        "Prediction resolved: \"Win this match?\"; No won",
    );
    check(
        "variant.prediction.canceled",
        "Prediction canceled: \"Win?\"",
    );
}

#[test]
fn ban_and_timeout() {
    check(
        "channel.ban",
        "LunarKettle timed out Spam_Bot_42 for 600 s: spam links",
    );
    check("variant.ban.permanent", "LunarKettle banned Spam_Bot_42");
}

#[test]
fn shoutout_create() {
    check(
        "channel.shoutout.create",
        "QuillStream gave a shoutout to NightOwlGames",
    );
}

#[test]
fn shoutout_receive() {
    check(
        "channel.shoutout.receive",
        "NightOwlGames shouted out the channel to 2554 viewers",
    );
}

#[test]
fn charity_donation() {
    check(
        "channel.charity_campaign.donate",
        "mossy_fern donated 10.50 USD to Example Charity",
    );
}

#[test]
fn unknown_type_keeps_data_and_gets_generic_summary() {
    let ev = check("variant.unknown", "channel.vip.add from mossy_fern");
    assert_eq!(ev.data["user_login"], "mossy_fern");
}

#[test]
fn event_json_has_the_documented_shape() {
    let ev = event("channel.follow");
    let json = serde_json::to_value(&ev).unwrap();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "channel",
            "data",
            "id",
            "occurred_at",
            "origin",
            "received_at",
            "seq",
            "summary",
            "type",
            "version"
        ]
    );
    assert_eq!(json["seq"], serde_json::Value::Null);
    assert_eq!(json["origin"], "twitch");
    assert_eq!(json["type"], "channel.follow");
    let back: Event = serde_json::from_value(json).unwrap();
    assert_eq!(back, ev);
}

#[test]
fn notification_without_event_is_an_error() {
    let body = fixture("channel.follow");
    let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_object_mut().unwrap().remove("event");
    let env: Envelope = serde_json::from_value(v).unwrap();
    let err = Event::from_notification("m", MESSAGE_TS, &env, Timestamp::now()).unwrap_err();
    assert_eq!(err.to_string(), "notification body has no `event` object");
}

#[test]
fn data_keeps_twitchs_bytes_and_field_order() {
    for kind in onair_common::catalog::names() {
        let body = fixture(kind);
        let ev = event(kind);
        let data = serde_json::to_string(&ev.data).unwrap();
        let start = body.find(r#""event":"#).unwrap() + r#""event":"#.len();
        assert_eq!(data, body[start..body.len() - 1], "{kind}");
    }
}
