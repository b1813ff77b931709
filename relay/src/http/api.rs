//! `GET /api/events`, `/api/stats`, `/metrics` (client token required) and `/healthz`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::auth::Client;
use super::error::AppError;
use crate::app::AppState;
use crate::store;
use onair_common::Event;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// `?channel=&type=&after=&limit=`
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    channel: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    after: Option<u64>,
    limit: Option<u32>,
}

/// `{"events": [...], "last_seq": N}`
#[derive(Debug, Serialize)]
pub struct EventsPage {
    events: Vec<Event>,
    last_seq: u64,
}

/// Stored events after `after`, ascending, at most `limit` (default 100, at most 1000).
pub async fn events(
    State(state): State<AppState>,
    _client: Client,
    Query(q): Query<EventsQuery>,
) -> Result<Json<EventsPage>, AppError> {
    let list = |v: Option<String>| -> Vec<String> {
        v.into_iter()
            .flat_map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|x| !x.is_empty())
            .collect()
    };
    let query = store::Query {
        after: q.after.unwrap_or(0),
        channels: list(q.channel.map(|c| c.to_lowercase())),
        types: list(q.kind),
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let page = state.store().events(query).await?;
    Ok(Json(EventsPage {
        events: page.events,
        last_seq: page.head.last_seq,
    }))
}

/// `?channel=&since=` (RFC 3339, default 24 hours ago).
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    channel: Option<String>,
    since: Option<String>,
}

/// `{"counts": {"channel.follow": 12, ...}}`
#[derive(Debug, Serialize)]
pub struct Stats {
    counts: BTreeMap<String, u64>,
}

/// Counts per type for a channel since a time.
pub async fn stats(
    State(state): State<AppState>,
    _client: Client,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Stats>, AppError> {
    let since_ms = match q.since.as_deref() {
        Some(s) => onair_common::time::parse(s)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "since must be an RFC 3339 time such as 2026-11-24T20:00:00Z, not {s:?}"
                ))
            })?
            .as_millisecond(),
        None => jiff::Timestamp::now().as_millisecond() - 86_400_000,
    };
    let channel = q
        .channel
        .filter(|c| !c.is_empty())
        .map(|c| c.to_lowercase());
    let counts = state.store().stats(channel, since_ms).await?;
    Ok(Json(Stats { counts }))
}

/// Prometheus text.
pub async fn metrics(State(state): State<AppState>, _client: Client) -> impl IntoResponse {
    let body = state.metrics().render(state.hub().open_sockets());
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// 200 while the relay can take webhooks; 503 while its store fails to commit.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.healthy() {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "store failing: the last commit failed\n",
        )
    }
}
