//! Hostile input never panics and is never accepted by mistake: property tests of the webhook
//! verifier and the EventSub envelope/event parser on arbitrary and near-valid input (the fuzz
//! budget CI can run on stable Rust).

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use axum::http::{HeaderMap, HeaderValue};
use jiff::Timestamp;
use onair_common::Event;
use onair_common::eventsub::Envelope;
use onair_relay::verify::{self, ID, SIGNATURE, TIMESTAMP, TYPE};
use proptest::prelude::*;

const SECRET: &[u8] = b"relay-fake-secret-0123456789";
const FIXTURE: &str = include_str!("../../common/tests/fixtures/channel.cheer.json");

fn headers(id: &str, ts: &str, sig: &str, kind: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [(ID, id), (TIMESTAMP, ts), (SIGNATURE, sig), (TYPE, kind)] {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary headers and bodies: never a panic, never accepted without the right signature.
    #[test]
    fn verifier_refuses_garbage(id in "\\PC{0,40}", ts in "\\PC{0,40}", sig in "(sha256=)?[0-9a-f]{0,70}", kind in "\\PC{0,20}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let r = verify::verify(SECRET, &headers(&id, &ts, &sig, &kind), &body, Timestamp::now());
        prop_assert!(r.is_err());
    }

    /// A correctly signed message with any one byte of the body changed is refused.
    #[test]
    fn any_tampered_byte_is_refused(pos in 0usize..FIXTURE.len(), flip in 1u8..=255) {
        let ts = Timestamp::now().to_string();
        let sig = verify::sign(SECRET, "m-1", &ts, FIXTURE.as_bytes());
        let h = headers("m-1", &ts, &sig, "notification");
        prop_assert!(verify::verify(SECRET, &h, FIXTURE.as_bytes(), Timestamp::now()).is_ok());
        let mut body = FIXTURE.as_bytes().to_vec();
        body[pos] ^= flip;
        prop_assert!(verify::verify(SECRET, &h, &body, Timestamp::now()).is_err());
    }

    /// Arbitrary JSON-ish bodies through the envelope and event parsers: errors, never panics.
    #[test]
    fn envelope_and_event_parsing_never_panic(body in "\\PC{0,300}") {
        if let Ok(env) = serde_json::from_str::<Envelope>(&body) {
            let _ = Event::from_notification("m", "2026-01-01T00:00:00Z", &env, Timestamp::now());
        }
    }

    /// Real envelopes with their event's fields replaced by arbitrary JSON values still give an
    /// event (unknown shapes keep their data) and never panic.
    #[test]
    fn events_with_strange_field_values(key in "[a-z_]{1,24}", value in prop_oneof![
        Just(serde_json::Value::Null), any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,30}".prop_map(serde_json::Value::from), any::<bool>().prop_map(serde_json::Value::from)]) {
        for kind in onair_common::catalog::names() {
            let path = format!("{}/../common/tests/fixtures/{kind}.json", env!("CARGO_MANIFEST_DIR"));
            let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            v["event"][&key] = value.clone();
            let env: Envelope = serde_json::from_value(v).unwrap();
            let e = Event::from_notification("m", "2026-01-01T00:00:00Z", &env, Timestamp::now()).unwrap();
            prop_assert!(!e.summary.contains('\n'));
        }
    }
}
