//! `POST /eventsub`: Twitch's webhook callback. A handler can only receive a [`VerifiedWebhook`],
//! and the extractor yields one only after the signature and timestamp checks pass, so no code
//! path can skip verification.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use onair_common::Event;
use onair_common::eventsub::{Envelope, MessageType};

use crate::app::{AppState, MAX_BODY_BYTES};
use crate::intake::gate::body_deadline;
use crate::intake::{Admission, Outcome};
use crate::net::PeerAddr;
use crate::net::peer::client_ip;
use crate::store::Appended;
use crate::verify::{self, Meta};

/// A request whose headers, signature and timestamp passed [`verify::verify`].
#[derive(Debug)]
pub struct VerifiedWebhook {
    /// What the headers say.
    pub meta: Meta,
    /// The raw body the signature covers.
    pub body: Bytes,
    /// When it arrived.
    pub received: Timestamp,
    /// Its place in intake, held until the answer.
    _admission: Admission,
}

/// A refused webhook (counted when it is refused).
#[derive(Debug)]
pub struct Refused(Outcome);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.0.response()
    }
}

impl FromRequest<AppState> for VerifiedWebhook {
    type Rejection = Refused;

    /// Everything that can be decided from the headers is decided before a body byte is read
    /// (so before hyper sends `100 Continue`): Twitch's headers present, a well-formed signature,
    /// a declared length within the limit, and room in intake. Then the body must arrive by a
    /// deadline that grows with its declared length.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Refused> {
        let refuse = |outcome: Outcome| {
            state.metrics().webhook(outcome);
            Refused(outcome)
        };
        let claimed = verify::claimed(req.headers()).map_err(|r| refuse(r.into()))?;
        let Some(len) = declared_length(req.headers()) else {
            // Twitch always sends Content-Length; without it the budget cannot be charged.
            return Err(refuse(Outcome::Malformed));
        };
        if len > MAX_BODY_BYTES {
            return Err(refuse(Outcome::TooLarge));
        }
        let peer = req.extensions().get::<PeerAddr>().copied();
        let admission = state
            .intake()
            .admit(client_ip(peer, req.headers()), len)
            .map_err(|shed| {
                tracing::debug!(?shed, "shed a webhook before reading it");
                refuse(Outcome::Overloaded)
            })?;
        let read = tokio::time::timeout(body_deadline(len), Bytes::from_request(req, state));
        let body = match read.await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(refuse(Outcome::TooLarge));
            }
            Ok(Err(_)) => return Err(refuse(Outcome::Malformed)),
            Err(_) => {
                tracing::info!(ip = %admission.ip(), "cut off a webhook body that arrived too slowly");
                return Err(refuse(Outcome::SlowBody));
            }
        };
        let received = Timestamp::now();
        let secret = state.settings().webhook_secret.expose().as_bytes();
        match claimed.check(secret, &body, received) {
            Ok(meta) => Ok(Self {
                meta,
                body,
                received,
                _admission: admission,
            }),
            Err(r) => {
                tracing::warn!(reason = %r, "refused a webhook");
                Err(refuse(r.into()))
            }
        }
    }
}

/// `Content-Length`, when present and a number.
fn declared_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Answers a verified webhook by its message type.
pub async fn handle(State(state): State<AppState>, hook: VerifiedWebhook) -> Response {
    let answer = answer(&state, hook).await;
    state.metrics().webhook(answer.outcome());
    answer.into_response()
}

/// How a verified request is answered: an outcome, or the challenge text.
enum Answer {
    Plain(Outcome),
    Challenge(String),
}

impl Answer {
    fn outcome(&self) -> Outcome {
        match self {
            Self::Plain(o) => *o,
            Self::Challenge(_) => Outcome::Challenge,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Self::Plain(o) => o.response(),
            // 200, text/plain, the raw string only (twitch.md A).
            Self::Challenge(text) => (
                Outcome::Challenge.status(),
                [(CONTENT_TYPE, "text/plain")],
                text,
            )
                .into_response(),
        }
    }
}

async fn answer(state: &AppState, hook: VerifiedWebhook) -> Answer {
    let id = hook.meta.message_id.as_str();
    if let MessageType::Other(kind) = &hook.meta.message_type {
        // Signed, so Twitch's: acknowledged so it is not retried, but nothing is stored.
        tracing::info!(
            message_id = id,
            kind,
            "ignored a webhook of an unknown message type"
        );
        return Answer::Plain(Outcome::Ignored);
    }
    let envelope: Envelope = match serde_json::from_slice(&hook.body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(message_id = id, error = %e, "signed webhook body is not an EventSub envelope");
            return Answer::Plain(Outcome::Malformed);
        }
    };
    match hook.meta.message_type {
        MessageType::Verification => challenge(envelope),
        MessageType::Notification => Answer::Plain(notification(state, &hook, envelope).await),
        MessageType::Revocation => Answer::Plain(revocation(state, &hook, &envelope).await),
        MessageType::Other(_) => Answer::Plain(Outcome::Ignored),
    }
}

/// Echo the challenge. Answered every time (not deduplicated): Twitch only enables the
/// subscription after a correct answer.
fn challenge(envelope: Envelope) -> Answer {
    let Some(challenge) = envelope.challenge else {
        return Answer::Plain(Outcome::Malformed);
    };
    tracing::info!(subscription = %envelope.subscription.kind, "answered a verification challenge");
    Answer::Challenge(challenge)
}

async fn notification(state: &AppState, hook: &VerifiedWebhook, envelope: Envelope) -> Outcome {
    let id = &hook.meta.message_id;
    let Envelope {
        subscription,
        event,
        ..
    } = envelope;
    let Some(data) = event else {
        tracing::warn!(message_id = %id, "notification without an event");
        return Outcome::Malformed;
    };
    let event = Event::from_parts(id, &hook.meta.timestamp, &subscription, data, hook.received);
    match state
        .store()
        .append(event, hook.received.as_millisecond())
        .await
    {
        Ok(Appended::Stored(seq)) => {
            tracing::debug!(message_id = %id, seq, "stored event");
            Outcome::Ok
        }
        Ok(Appended::Duplicate) => {
            tracing::debug!(message_id = %id, "duplicate notification");
            Outcome::Duplicate
        }
        // Not acknowledged, so Twitch re-delivers it later (with the same id, which dedupe
        // makes safe): nothing is lost.
        Err(e) => store_failed(id, &e),
    }
}

async fn revocation(state: &AppState, hook: &VerifiedWebhook, envelope: &Envelope) -> Outcome {
    let sub = &envelope.subscription;
    let received = hook.received.as_millisecond();
    match state
        .store()
        .revoke(hook.meta.message_id.clone(), sub, received)
        .await
    {
        Ok(true) => {
            tracing::warn!(subscription = %sub.id, kind = %sub.kind, status = %sub.status,
                "Twitch revoked a subscription");
            state.request_resync();
            Outcome::Revocation
        }
        Ok(false) => Outcome::Duplicate,
        Err(e) => store_failed(&hook.meta.message_id, &e),
    }
}

/// A store failure as Twitch sees it: come back later (503) when it may pass, else 500.
fn store_failed(message_id: &str, e: &crate::store::StoreError) -> Outcome {
    if e.is_transient() {
        tracing::warn!(message_id, error = %e, "store unavailable; Twitch will retry");
        Outcome::Overloaded
    } else {
        tracing::error!(message_id, error = %e, "could not store a webhook");
        Outcome::Error
    }
}
