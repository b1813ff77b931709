//! The one place that chooses status codes for client-facing routes. Internal errors are logged
//! and answered with a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No token, or one the relay does not know.
    #[error("missing or invalid client token: create one with `onair-relay client add NAME`")]
    Unauthorized,
    /// Over `relay.max_connections_per_client`.
    #[error("too many connections for this client token (relay.max_connections_per_client)")]
    TooManyConnections,
    /// A bad query parameter.
    #[error("{0}")]
    BadRequest(String),
    /// Something broke inside.
    #[error("internal error")]
    Internal(#[from] StoreError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal(e) => {
                tracing::error!(error = %e, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
