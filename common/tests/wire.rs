//! The relay wire protocol: every frame round-trips, and bad frames get a clear error.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use onair_common::wire::{ClientFrame, ServerFrame, Subscribe, SubscriptionInfo, WireError};
use onair_common::{Event, event::Channel, event::Origin};
use serde_json::json;

fn sample_event() -> Event {
    Event {
        seq: Some(42),
        id: "7f3c2b1a-0d4e-4f5a-9b6c-1d2e3f4a5b6c".into(),
        kind: "channel.follow".into(),
        version: "2".into(),
        channel: Channel {
            id: "1337".into(),
            login: "cooler_user".into(),
            name: "Cooler_User".into(),
        },
        occurred_at: "2026-11-24T20:01:02.123Z".into(),
        received_at: "2026-11-24T20:01:02.150Z".into(),
        origin: Origin::Twitch,
        summary: "Cool_User followed".into(),
        data: json!({"user_name": "Cool_User"}),
    }
}

fn round_trip_server(frame: ServerFrame) -> serde_json::Value {
    let text = frame.to_json();
    assert_eq!(ServerFrame::parse(&text).unwrap(), frame, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn welcome_has_the_documented_shape() {
    let v = round_trip_server(ServerFrame::Welcome {
        protocol: 1,
        last_seq: 7,
        first_seq: 3,
        epoch: "e1".into(),
    });
    assert_eq!(
        v,
        json!({"type": "welcome", "protocol": 1, "last_seq": 7, "first_seq": 3, "epoch": "e1"})
    );
    // A relay from before first_seq and epoch still welcomes.
    let old = ServerFrame::parse(r#"{"type":"welcome","protocol":1,"last_seq":7}"#).unwrap();
    assert_eq!(
        old,
        ServerFrame::Welcome {
            protocol: 1,
            last_seq: 7,
            first_seq: 0,
            epoch: String::new(),
        }
    );
}

#[test]
fn gap_has_the_documented_shape() {
    let v = round_trip_server(ServerFrame::Gap { from: 4, to: 9 });
    assert_eq!(v, json!({"type": "gap", "from": 4, "to": 9}));
}

#[test]
fn event_frame_round_trips() {
    let v = round_trip_server(ServerFrame::Event {
        event: Box::new(sample_event()),
    });
    assert_eq!(v["type"], "event");
    assert_eq!(v["event"]["seq"], 42);
    assert_eq!(v["event"]["channel"]["login"], "cooler_user");
}

#[test]
fn status_and_error_frames_round_trip() {
    let info = SubscriptionInfo {
        id: "sub-1".into(),
        kind: "channel.subscribe".into(),
        version: "1".into(),
        channel: "quillstream".into(),
        status: "authorization_revoked".into(),
        cost: 0,
        created_at: "2025-12-31T09:15:42.987Z".into(),
    };
    let v = round_trip_server(ServerFrame::Status {
        subscriptions: vec![info],
    });
    assert_eq!(v["subscriptions"][0]["type"], "channel.subscribe");
    assert_eq!(v["subscriptions"][0]["status"], "authorization_revoked");
    let v = round_trip_server(ServerFrame::Error {
        message: "bad frame".into(),
    });
    assert_eq!(v, json!({"type": "error", "message": "bad frame"}));
}

#[test]
fn subscribe_fields_are_all_optional() {
    let f = ClientFrame::parse(r#"{"type":"subscribe"}"#).unwrap();
    assert_eq!(f, ClientFrame::Subscribe(Subscribe::default()));
    let f = ClientFrame::parse(
        r#"{"type":"subscribe","channels":["quillstream"],"types":["channel.follow"],"after":41}"#,
    )
    .unwrap();
    let ClientFrame::Subscribe(s) = &f;
    assert_eq!(s.after, Some(41));
    assert_eq!(ClientFrame::parse(&f.to_json()).unwrap(), f);
}

#[test]
fn subscribe_filters_match_channel_and_type() {
    let ev = sample_event();
    let all = Subscribe::default();
    assert!(all.matches(&ev));
    let chan = Subscribe {
        channels: vec!["Cooler_User".into()],
        ..Default::default()
    };
    assert!(chan.matches(&ev));
    let other = Subscribe {
        types: vec!["channel.raid".into()],
        ..Default::default()
    };
    assert!(!other.matches(&ev));
}

#[test]
fn bad_frames_get_clear_errors() {
    assert!(matches!(
        ClientFrame::parse("not json"),
        Err(WireError::Malformed(_))
    ));
    assert!(matches!(
        ClientFrame::parse("[1,2]"),
        Err(WireError::Malformed(_))
    ));
    assert_eq!(
        ClientFrame::parse(r#"{"type":"unsubscribe"}"#).unwrap_err(),
        WireError::UnknownType("unsubscribe".into())
    );
    let err = ClientFrame::parse(r#"{"type":"subscribe","after":"yesterday"}"#).unwrap_err();
    assert!(
        matches!(&err, WireError::Invalid { kind, .. } if kind == "subscribe"),
        "{err}"
    );
    let err = ClientFrame::parse(r#"{"type":"subscribe","chanels":["x"]}"#).unwrap_err();
    assert!(err.to_string().contains("chanels"), "{err}");
    assert_eq!(
        ServerFrame::parse(r#"{"type":"hello"}"#)
            .unwrap_err()
            .to_string(),
        "unknown frame type `hello`"
    );
}

mod never_panics {
    use onair_common::wire::{ClientFrame, ServerFrame};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_frames(text in "\\PC{0,200}") {
            let _ = ClientFrame::parse(&text);
            let _ = ServerFrame::parse(&text);
        }

        #[test]
        fn subscribe_shaped_frames(channels in proptest::collection::vec("\\PC{0,10}", 0..4), after in any::<Option<u64>>(), extra in "[a-z]{0,6}") {
            let mut v = serde_json::json!({"type": "subscribe", "channels": channels, "after": after});
            if !extra.is_empty() {
                v[&extra] = serde_json::json!(1);
            }
            let _ = ClientFrame::parse(&v.to_string());
        }
    }
}
