use serde_json::json;

use super::*;

fn sub(kind: &str, status: &str) -> onair_common::eventsub::Subscription {
    serde_json::from_value(
        json!({"id": "s1", "status": status, "type": kind, "version": "2",
        "condition": {"broadcaster_user_id": "1"}}),
    )
    .unwrap()
}

fn welcome(id: &str) -> Input {
    Input::Frame(Box::new(Frame::Welcome {
        session_id: id.into(),
        keepalive: Duration::from_secs(10),
    }))
}

fn note(id: &str) -> Input {
    Input::Frame(Box::new(Frame::Notification {
        message_id: id.into(),
        timestamp: "2026-01-01T00:00:00.123456789Z".into(),
        subscription: sub("channel.follow", "enabled"),
        event: json!({"user_name": "Cool_User", "broadcaster_user_id": "1"}),
    }))
}

struct T {
    m: Machine,
    seen: Seen,
    now: Instant,
}

impl T {
    fn new() -> Self {
        Self {
            m: Machine::new(),
            seen: Seen::default(),
            now: Instant::now(),
        }
    }
    fn on(&mut self, sock: SockId, i: Input) -> Vec<Step> {
        self.m
            .on(sock, i, &mut self.seen, Timestamp::UNIX_EPOCH, self.now)
    }
    fn ids(&mut self, sock: SockId, i: Input) -> Vec<String> {
        self.on(sock, i)
            .into_iter()
            .filter_map(|s| match s {
                Step::Emit(e) => Some(e.id),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn welcome_subscribes_once_and_events_are_direct() {
    let mut t = T::new();
    assert_eq!(t.on(0, welcome("A")), [Step::Subscribe("A".into())]);
    assert_eq!(t.m.keepalive(), Some(Duration::from_secs(10)));
    assert!(t.on(0, welcome("A")).is_empty());
    let steps = t.on(0, note("m1"));
    let [Step::Emit(e)] = steps.as_slice() else {
        panic!("{steps:?}")
    };
    assert_eq!(
        (e.origin, e.seq, e.id.as_str()),
        (Origin::Direct, None, "m1")
    );
    assert_eq!(e.summary, "Cool_User followed");
}

#[test]
fn a_migration_moves_without_subscribing_and_loses_and_repeats_nothing() {
    let mut t = T::new();
    t.on(0, welcome("A"));
    assert_eq!(t.ids(0, note("m1")), ["m1"]);
    let steps = t.on(
        0,
        Input::Frame(Box::new(Frame::Reconnect {
            url: "ws://x/ws?reconnect_id=A".into(),
        })),
    );
    assert_eq!(
        steps,
        [Step::Migrate {
            sock: 1,
            url: "ws://x/ws?reconnect_id=A".into()
        }]
    );
    // Still reading the old socket; the new one resends m2.
    assert_eq!(t.ids(0, note("m2")), ["m2"]);
    assert_eq!(t.on(1, welcome("B")), [Step::Close(0)]);
    assert!(
        t.ids(1, note("m2")).is_empty(),
        "a resend is not shown twice"
    );
    assert_eq!(t.ids(1, note("m3")), ["m3"]);
    // The old socket closing after the move is no loss.
    let closed = Input::Closed {
        code: Some(1000),
        reason: String::new(),
    };
    assert!(t.on(0, closed.clone()).is_empty());
    // The new one closing is.
    assert!(matches!(t.on(1, closed).as_slice(), [Step::Lost(_)]));
}

#[test]
fn a_failed_migration_is_a_loss_and_a_closed_old_socket_waits_for_the_new() {
    let mut t = T::new();
    t.on(0, welcome("A"));
    t.on(
        0,
        Input::Frame(Box::new(Frame::Reconnect { url: "u".into() })),
    );
    let bye = |code| Input::Closed {
        code: Some(code),
        reason: String::new(),
    };
    assert!(t.on(0, bye(4004)).is_empty());
    let steps = t.on(1, bye(4007));
    let [Step::Lost(why)] = steps.as_slice() else {
        panic!("{steps:?}")
    };
    assert!(why.contains("4007"), "{why}");
}

#[test]
fn revocations_and_close_codes() {
    let mut t = T::new();
    t.on(0, welcome("A"));
    assert_eq!(
        t.on(
            0,
            Input::Frame(Box::new(Frame::Revocation {
                subscription: sub("channel.follow", "authorization_revoked")
            }))
        ),
        [Step::Revoked {
            kind: "channel.follow".into(),
            status: "authorization_revoked".into()
        }]
    );
    for code in 4000..=4007 {
        assert!(close_reason(Some(code), "").contains(&code.to_string()));
        assert_eq!(is_client_bug(Some(code)), (4001..=4004).contains(&code));
    }
    assert_eq!(
        close_reason(None, ""),
        "the EventSub connection dropped".to_owned()
    );
}

#[test]
fn seen_ids_expire_after_the_ttl() {
    let mut seen = Seen::default();
    let t0 = Instant::now();
    assert!(seen.first("a", t0));
    assert!(!seen.first("a", t0 + Duration::from_secs(60)));
    assert!(seen.first("b", t0 + Seen::TTL - Duration::from_secs(1)));
    assert!(seen.first("a", t0 + Seen::TTL), "expired, so new again");
    assert!(!seen.first("b", t0 + Seen::TTL));
}
