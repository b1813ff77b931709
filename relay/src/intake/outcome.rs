//! How a webhook request ended. One type decides, for each ending, the HTTP status Twitch sees,
//! the `onair_webhooks_total{outcome}` label, and whether an event was stored, so the three
//! cannot drift apart.

use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};

/// How a webhook request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new event stored and committed.
    Ok,
    /// Missing, empty, malformed or wrong signature.
    BadSignature,
    /// Timestamp outside the window.
    Stale,
    /// A message id seen before: acknowledged, nothing stored.
    Duplicate,
    /// A verification challenge answered.
    Challenge,
    /// A revocation recorded.
    Revocation,
    /// A signed message of a type this relay does not know: acknowledged, nothing stored.
    Ignored,
    /// Missing Twitch headers, no `Content-Length`, or a body that is not an EventSub envelope.
    Malformed,
    /// Declared or sent more than the body limit.
    TooLarge,
    /// The body did not arrive at the minimum rate.
    SlowBody,
    /// The store failed; Twitch will retry.
    Error,
    /// Shed before reading the body: intake, this address or the body budget is full; Twitch
    /// will retry.
    Overloaded,
}

impl Outcome {
    /// Every outcome, in the order `/metrics` lists them.
    pub const ALL: [Outcome; 12] = [
        Self::Ok,
        Self::BadSignature,
        Self::Stale,
        Self::Duplicate,
        Self::Challenge,
        Self::Revocation,
        Self::Ignored,
        Self::Malformed,
        Self::TooLarge,
        Self::SlowBody,
        Self::Error,
        Self::Overloaded,
    ];

    /// The metrics label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::BadSignature => "bad_signature",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
            Self::Challenge => "challenge",
            Self::Revocation => "revocation",
            Self::Ignored => "ignored",
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::SlowBody => "slow_body",
            Self::Error => "error",
            Self::Overloaded => "overloaded",
        }
    }

    /// The status Twitch gets.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Ok | Self::Duplicate | Self::Revocation | Self::Ignored => StatusCode::NO_CONTENT,
            Self::Challenge => StatusCode::OK,
            Self::BadSignature | Self::Stale => StatusCode::FORBIDDEN,
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SlowBody => StatusCode::REQUEST_TIMEOUT,
            Self::Error => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether this outcome stored a new event (`onair_events_stored_total`).
    pub fn stored(self) -> bool {
        self == Self::Ok
    }

    /// The response for every outcome but `Challenge`, which carries the challenge text.
    pub fn response(self) -> Response {
        match self {
            // Twitch re-delivers; a hint for any other client that honours it.
            Self::Overloaded => (self.status(), [(RETRY_AFTER, "1")]).into_response(),
            _ => self.status().into_response(),
        }
    }

    /// Its position in [`Outcome::ALL`], for counters.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_label_and_a_fitting_status() {
        let mut labels: Vec<_> = Outcome::ALL.iter().map(|o| o.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Outcome::ALL.len());
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i);
        }
        assert_eq!(Outcome::BadSignature.status(), StatusCode::FORBIDDEN);
        assert_eq!(Outcome::SlowBody.status(), StatusCode::REQUEST_TIMEOUT);
        let stored: Vec<_> = Outcome::ALL.into_iter().filter(|o| o.stored()).collect();
        assert_eq!(stored, [Outcome::Ok], "only a new event counts as stored");
        assert_eq!(Outcome::Overloaded.response().headers()[RETRY_AFTER], "1");
    }
}
