//! The client-token extractor: `Authorization: Bearer <token>` or `?token=`. Checked against the
//! store on every request, so a removed client is refused at once.

use axum::extract::{FromRequestParts, Query};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::Deserialize;

use super::error::AppError;
use crate::app::AppState;
use crate::store::ClientId;

/// An authenticated client.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub ClientId);

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for Client {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let token = match bearer {
            Some(t) => t,
            None => Query::<TokenQuery>::try_from_uri(&parts.uri)
                .ok()
                .and_then(|q| q.0.token)
                .ok_or(AppError::Unauthorized)?,
        };
        state
            .store()
            .authenticate(token)
            .await?
            .map(Client)
            .ok_or(AppError::Unauthorized)
    }
}
