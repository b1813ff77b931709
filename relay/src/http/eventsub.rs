//! `POST /eventsub`: Twitch's webhook callback. A handler can only receive a [`VerifiedWebhook`],
//! and the extractor yields one only after the signature and timestamp checks pass, so no code
//! path can skip verification.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use onair_common::Event;
use onair_common::eventsub::{Envelope, MessageType};
use onair_common::wire::ServerFrame;

use crate::app::AppState;
use crate::metrics::Outcome;
use crate::store::{Appended, StoreError, revocation_info};
use crate::verify::{self, Meta, Rejection};

/// A request whose headers, signature and timestamp passed [`verify::verify`].
#[derive(Debug)]
pub struct VerifiedWebhook {
    /// What the headers say.
    pub meta: Meta,
    /// The raw body the signature covers.
    pub body: Bytes,
    /// When it arrived.
    pub received: Timestamp,
    /// Its intake slot, held until the answer.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// A refused webhook's status (the outcome is counted when it is refused).
#[derive(Debug)]
pub struct Refused(StatusCode);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl FromRequest<AppState> for VerifiedWebhook {
    type Rejection = Refused;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Refused> {
        let refuse = |status, outcome| {
            state.metrics.webhook(outcome);
            Refused(status)
        };
        let Ok(slot) = state.intake.clone().try_acquire_owned() else {
            // Over capacity: refuse before reading the body; Twitch retries.
            return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, Outcome::Overloaded));
        };
        let headers = req.headers().clone();
        let read =
            tokio::time::timeout(state.settings.body_timeout, Bytes::from_request(req, state));
        let body = match read.await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, Outcome::TooLarge));
            }
            Ok(Err(_)) => return Err(refuse(StatusCode::BAD_REQUEST, Outcome::Malformed)),
            Err(_) => {
                tracing::warn!("cut off a webhook whose body was too slow to arrive");
                return Err(refuse(StatusCode::REQUEST_TIMEOUT, Outcome::Malformed));
            }
        };
        let received = Timestamp::now();
        let secret = state.settings.webhook_secret.expose().as_bytes();
        match verify::verify(secret, &headers, &body, received) {
            Ok(meta) => Ok(Self {
                meta,
                body,
                received,
                _slot: slot,
            }),
            Err(r) => {
                tracing::warn!(reason = %r, "refused a webhook");
                Err(match r {
                    Rejection::MissingHeader(_) => {
                        refuse(StatusCode::BAD_REQUEST, Outcome::Malformed)
                    }
                    Rejection::BadSignature => refuse(StatusCode::FORBIDDEN, Outcome::BadSignature),
                    Rejection::Stale => refuse(StatusCode::FORBIDDEN, Outcome::Stale),
                })
            }
        }
    }
}

/// Answers a verified webhook by its message type.
pub async fn handle(State(state): State<AppState>, hook: VerifiedWebhook) -> Response {
    let (outcome, response) = answer(&state, hook).await;
    state.metrics.webhook(outcome);
    response
}

/// How a request was answered: counted as `Outcome`, replied with `Response`.
type Answer = (Outcome, Response);

fn status(outcome: Outcome, code: StatusCode) -> Answer {
    (outcome, code.into_response())
}

async fn answer(state: &AppState, hook: VerifiedWebhook) -> Answer {
    let id = hook.meta.message_id.as_str();
    let envelope: Envelope = match serde_json::from_slice(&hook.body) {
        Ok(e) => e,
        Err(e) if !matches!(hook.meta.message_type, MessageType::Other(_)) => {
            tracing::warn!(message_id = id, error = %e, "signed webhook body is not an EventSub envelope");
            return status(Outcome::Malformed, StatusCode::BAD_REQUEST);
        }
        Err(_) => return status(Outcome::Ok, StatusCode::NO_CONTENT),
    };
    match hook.meta.message_type {
        MessageType::Verification => challenge(envelope),
        MessageType::Notification => notification(state, &hook, envelope).await,
        MessageType::Revocation => revocation(state, &hook, &envelope).await,
        MessageType::Other(kind) => {
            tracing::info!(
                message_id = id,
                kind,
                "ignored a webhook of an unknown message type"
            );
            status(Outcome::Ok, StatusCode::NO_CONTENT)
        }
    }
}

/// Echo the challenge: 200, `text/plain`, the raw string only. Answered every time (not
/// deduplicated): Twitch only enables the subscription after a correct answer.
fn challenge(envelope: Envelope) -> Answer {
    let Some(challenge) = envelope.challenge else {
        return status(Outcome::Malformed, StatusCode::BAD_REQUEST);
    };
    tracing::info!(subscription = %envelope.subscription.kind, "answered a verification challenge");
    let response = (StatusCode::OK, [(CONTENT_TYPE, "text/plain")], challenge).into_response();
    (Outcome::Challenge, response)
}

async fn notification(state: &AppState, hook: &VerifiedWebhook, envelope: Envelope) -> Answer {
    let id = &hook.meta.message_id;
    let Envelope {
        subscription,
        event,
        ..
    } = envelope;
    let Some(data) = event else {
        tracing::warn!(message_id = %id, "notification without an event");
        return status(Outcome::Malformed, StatusCode::BAD_REQUEST);
    };
    let event = Event::from_parts(id, &hook.meta.timestamp, &subscription, data, hook.received);
    match state
        .writer
        .append(event, hook.received.as_millisecond())
        .await
    {
        Ok(Appended::Stored(p)) => {
            tracing::debug!(message_id = %id, seq = p.seq, kind = %p.kind, "stored event");
            status(Outcome::Ok, StatusCode::NO_CONTENT)
        }
        Ok(Appended::Duplicate) => {
            tracing::debug!(message_id = %id, "duplicate notification");
            status(Outcome::Duplicate, StatusCode::NO_CONTENT)
        }
        Err(StoreError::Overloaded) => {
            // Not acknowledged: Twitch re-delivers it. Better than every answer timing out.
            let r = (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "1")],
            )
                .into_response();
            (Outcome::Overloaded, r)
        }
        Err(e) => {
            // Not acknowledged, so Twitch re-delivers it later: nothing is lost.
            tracing::error!(message_id = %id, error = %e, "could not store an event");
            status(Outcome::Error, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

async fn revocation(state: &AppState, hook: &VerifiedWebhook, envelope: &Envelope) -> Answer {
    let store = state.store.clone();
    let sub = envelope.subscription.clone();
    let info = match tokio::task::spawn_blocking(move || revocation_info(&store, &sub)).await {
        Ok(info) => info,
        Err(_) => return status(Outcome::Error, StatusCode::INTERNAL_SERVER_ERROR),
    };
    let received = hook.received.as_millisecond();
    match state
        .writer
        .revoke(hook.meta.message_id.clone(), info.clone(), received)
        .await
    {
        Ok(true) => {
            tracing::warn!(subscription = %info.id, kind = %info.kind, channel = %info.channel,
                status = %info.status, "Twitch revoked a subscription");
            let frame = ServerFrame::Status {
                subscriptions: vec![info],
            };
            state.hub.publish_status(frame.to_json());
            state.resync.notify_one();
            status(Outcome::Revocation, StatusCode::NO_CONTENT)
        }
        Ok(false) => status(Outcome::Duplicate, StatusCode::NO_CONTENT),
        Err(e) => {
            tracing::error!(error = %e, "could not record a revocation");
            status(Outcome::Error, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}
