//! The pure webhook check of `twitch.md` A.3/A.5 and checklist F, in `design.md`'s order: headers
//! present, signature, timestamp window. (Dedupe needs the store and comes after.)

use std::time::Duration;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use onair_common::eventsub::MessageType;
use sha2::Sha256;

/// Messages older than this are refused as replays.
pub const MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// Messages dated further ahead than this are refused too (a clock that far off is an attack or a bug).
pub const MAX_AHEAD: Duration = Duration::from_secs(60);

pub const ID: &str = "twitch-eventsub-message-id";
pub const TIMESTAMP: &str = "twitch-eventsub-message-timestamp";
pub const SIGNATURE: &str = "twitch-eventsub-message-signature";
pub const TYPE: &str = "twitch-eventsub-message-type";

/// What a verified request's headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// `Twitch-Eventsub-Message-Id`.
    pub message_id: String,
    /// `Twitch-Eventsub-Message-Timestamp`, exactly as sent.
    pub timestamp: String,
    /// `Twitch-Eventsub-Message-Type`.
    pub message_type: MessageType,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A required header (other than the signature) is missing or not text.
    #[error("missing or unreadable header {0}")]
    MissingHeader(&'static str),
    /// The signature is missing, empty, malformed or does not match.
    #[error("bad signature")]
    BadSignature,
    /// The timestamp is unreadable, too old, or too far ahead.
    #[error("timestamp outside the accepted window")]
    Stale,
}

/// What a request's headers claim, read before its body: every header present, the signature
/// well formed. Only [`Claimed::check`] with the body makes it a verified [`Meta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    message_id: String,
    timestamp: String,
    kind: String,
    signature: Vec<u8>,
}

/// Reads the Twitch headers. A missing or empty signature, or one that is not `sha256=` and 64
/// hex digits, is [`Rejection::BadSignature`]; any other missing header is named.
pub fn claimed(headers: &HeaderMap) -> Result<Claimed, Rejection> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(Rejection::MissingHeader(name))
    };
    let (id, timestamp, kind) = (header(ID)?, header(TIMESTAMP)?, header(TYPE)?);
    let signature = header(SIGNATURE)
        .ok()
        .and_then(|s| s.strip_prefix("sha256="))
        .filter(|hex| hex.len() == 64)
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or(Rejection::BadSignature)?;
    Ok(Claimed {
        message_id: id.to_owned(),
        timestamp: timestamp.to_owned(),
        kind: kind.to_owned(),
        signature,
    })
}

impl From<Rejection> for crate::intake::Outcome {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::MissingHeader(_) => Self::Malformed,
            Rejection::BadSignature => Self::BadSignature,
            Rejection::Stale => Self::Stale,
        }
    }
}

impl Claimed {
    /// Checks the signature over the raw body, then the timestamp window.
    pub fn check(self, secret: &[u8], body: &[u8], now: Timestamp) -> Result<Meta, Rejection> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Rejection::BadSignature)?;
        mac.update(self.message_id.as_bytes());
        mac.update(self.timestamp.as_bytes());
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&self.signature)
            .map_err(|_| Rejection::BadSignature)?;

        let sent: Timestamp = self.timestamp.parse().map_err(|_| Rejection::Stale)?;
        let age = now.duration_since(sent);
        let too_old = age.as_secs_f64() > MAX_AGE.as_secs_f64();
        let too_new = -age.as_secs_f64() > MAX_AHEAD.as_secs_f64();
        if too_old || too_new {
            return Err(Rejection::Stale);
        }
        Ok(Meta {
            message_type: MessageType::parse(&self.kind),
            message_id: self.message_id,
            timestamp: self.timestamp,
        })
    }
}

/// Checks headers, signature and timestamp of one request. `secret` is the EventSub secret.
pub fn verify(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<Meta, Rejection> {
    claimed(headers)?.check(secret, body, now)
}

/// `sha256=<hex>` for a message, as Twitch signs it (used by `check` and tests' fakes agree).
pub fn sign(secret: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    // new_from_slice accepts keys of any length for HMAC.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const B1: &str = r#"{"subscription":{"id":"ae2ff348-e102-16be-a3eb-6830c1bf38d2","status":"enabled","type":"channel.follow","version":"1","condition":{"broadcaster_user_id":"44429626"},"transport":{"method":"webhook","callback":"null"},"created_at":"2021-02-19T23:47:00.7621315Z"},"event":{"user_id":"28408015","user_login":"testFromUser","user_name":"testFromUser","broadcaster_user_id":"44429626","broadcaster_user_login":"44429626","broadcaster_user_name":"testBroadcaster"}}"#;
    const V1_SIG: &str = "sha256=d10f5bd9474b7ac7bd7105eb79c2d52768b4d0cd2a135982c3bf5a1d59a78823";
    const V1_ID: &str = "ae2ff348-e102-16be-a3eb-6830c1bf38d2";
    const V1_TS: &str = "2021-02-19T23:47:00.8091512Z";

    fn headers(sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            (ID, V1_ID),
            (TIMESTAMP, V1_TS),
            (SIGNATURE, sig),
            (TYPE, "notification"),
        ] {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn at(ts: &str) -> Timestamp {
        ts.parse().unwrap()
    }

    #[test]
    fn twitch_test_vector_v1_verifies() {
        assert_eq!(sign(b"secretabcd", V1_ID, V1_TS, B1.as_bytes()), V1_SIG);
        let meta = verify(
            b"secretabcd",
            &headers(V1_SIG),
            B1.as_bytes(),
            at("2021-02-19T23:50:00Z"),
        )
        .unwrap();
        assert_eq!(meta.message_id, V1_ID);
        assert_eq!(meta.message_type, MessageType::Notification);
    }

    #[test]
    fn wrong_secret_body_or_shape_is_bad_signature() {
        let now = at("2021-02-19T23:50:00Z");
        let h = headers(V1_SIG);
        assert_eq!(
            verify(b"secretabce", &h, B1.as_bytes(), now),
            Err(Rejection::BadSignature)
        );
        let tampered = B1.replace("testFromUser", "evilFromUser");
        assert_eq!(
            verify(b"secretabcd", &h, tampered.as_bytes(), now),
            Err(Rejection::BadSignature)
        );
        for sig in [
            "sha256=abcd",
            "d10f5bd9474b7ac7bd7105eb79c2d52768b4d0cd2a135982c3bf5a1d59a78823",
            "sha256=zz0f5bd9474b7ac7bd7105eb79c2d52768b4d0cd2a135982c3bf5a1d59a78823",
            "sha1=d10f",
        ] {
            assert_eq!(
                verify(b"secretabcd", &headers(sig), B1.as_bytes(), now),
                Err(Rejection::BadSignature),
                "{sig}"
            );
        }
    }

    #[test]
    fn timestamp_window_is_ten_minutes_back_one_ahead() {
        let h = headers(V1_SIG);
        let ok = |now: &str| verify(b"secretabcd", &h, B1.as_bytes(), at(now));
        assert!(ok("2021-02-19T23:56:59Z").is_ok());
        assert_eq!(ok("2021-02-19T23:57:01Z"), Err(Rejection::Stale));
        assert!(ok("2021-02-19T23:46:01Z").is_ok());
        assert_eq!(ok("2021-02-19T23:45:59Z"), Err(Rejection::Stale));
    }

    #[test]
    fn missing_or_empty_signature_is_a_bad_signature() {
        let mut h = headers(V1_SIG);
        h.remove(SIGNATURE);
        assert_eq!(claimed(&h), Err(Rejection::BadSignature));
        h.insert(SIGNATURE, HeaderValue::from_static(""));
        assert_eq!(claimed(&h), Err(Rejection::BadSignature));
        assert!(
            claimed(&headers(V1_SIG)).is_ok(),
            "well formed before the body"
        );
    }

    #[test]
    fn missing_header_is_named() {
        let mut h = headers(V1_SIG);
        h.remove(TIMESTAMP);
        assert_eq!(
            verify(b"secretabcd", &h, B1.as_bytes(), Timestamp::now()),
            Err(Rejection::MissingHeader(TIMESTAMP))
        );
    }
}
