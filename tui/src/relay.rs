//! The relay client: `GET /ws` with the client token, `subscribe` with the filters and `after` =
//! the last seq seen, events in order, reconnect with backoff, resume after any disconnect, and
//! a count of what was replayed after a gap. An event is never handed on twice.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair_common::wire::{ClientFrame, ServerFrame, Subscribe, SubscriptionInfo};
use onair_common::{Event, Secret};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;
use url::Url;

/// How long without a replayed event before a replay counts as done.
const REPLAY_QUIET: Duration = Duration::from_millis(300);

/// How to reach the relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `tui.relay_url`, e.g. `https://relay.example.com`.
    pub base: Url,
    /// `tui.relay_token`.
    pub token: Secret,
    /// Channel and type filters (`after` is managed here).
    pub filter: Subscribe,
    /// Resume after this seq; `None` starts live.
    pub after: Option<u64>,
    /// First and longest reconnect delay.
    pub backoff: (Duration, Duration),
    /// When starting without `after`, also show up to this many seqs before the relay's head.
    pub backlog: u64,
}

impl RelayConfig {
    /// Production backoff.
    pub fn new(base: Url, token: Secret, filter: Subscribe, after: Option<u64>) -> Self {
        Self {
            base,
            token,
            filter,
            after,
            backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            backlog: 0,
        }
    }
}

/// The link's state, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayState {
    /// Connecting.
    Connecting,
    /// Receiving; the relay's head when we connected.
    Live,
    /// Waiting before the next attempt.
    Backoff {
        /// Until the next attempt.
        retry_in: Duration,
        /// What went wrong.
        reason: String,
    },
    /// The relay refused the token: no retry.
    Refused(String),
}

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayEvent {
    /// A state change.
    State(RelayState),
    /// An event, in seq order, each once.
    Event(Box<Event>),
    /// A reconnect replayed this many missed events.
    Replayed(u64),
    /// Subscriptions' state after a revocation or a sync.
    Status(Vec<SubscriptionInfo>),
}

/// The `/ws` URL for a relay base URL (`https` → `wss`).
pub fn ws_url(base: &Url) -> Result<Url, String> {
    let mut u = base.clone();
    let scheme = match base.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        other => return Err(format!("relay URL scheme {other:?} is not http(s)")),
    };
    u.set_scheme(scheme)
        .map_err(|()| "cannot build the relay WebSocket URL".to_owned())?;
    let path = format!("{}/ws", u.path().trim_end_matches('/'));
    u.set_path(&path);
    Ok(u)
}

/// Runs the client until `shutdown`, or until the relay refuses the token.
pub async fn run(config: RelayConfig, tx: mpsc::Sender<RelayEvent>, shutdown: CancellationToken) {
    let mut last_seq = config.after;
    let mut delay = config.backoff.0;
    loop {
        let _ = tx.send(RelayEvent::State(RelayState::Connecting)).await;
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            o = session(&config, &mut last_seq, &tx) => o,
        };
        let reason = match outcome {
            Outcome::Refused(why) => {
                let _ = tx.send(RelayEvent::State(RelayState::Refused(why))).await;
                return;
            }
            Outcome::Closed => return,
            Outcome::Lost { reason, was_live } => {
                if was_live {
                    delay = config.backoff.0;
                }
                reason
            }
        };
        let _ = tx
            .send(RelayEvent::State(RelayState::Backoff {
                retry_in: delay,
                reason,
            }))
            .await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(config.backoff.1);
    }
}

enum Outcome {
    Refused(String),
    Closed,
    Lost { reason: String, was_live: bool },
}

fn lost(reason: impl Into<String>, was_live: bool) -> Outcome {
    Outcome::Lost {
        reason: reason.into(),
        was_live,
    }
}

async fn session(
    config: &RelayConfig,
    last_seq: &mut Option<u64>,
    tx: &mpsc::Sender<RelayEvent>,
) -> Outcome {
    let url = match ws_url(&config.base) {
        Ok(u) => u,
        Err(e) => return Outcome::Refused(e),
    };
    let Ok(mut request) = url.as_str().into_client_request() else {
        return Outcome::Refused(format!("bad relay URL {url}"));
    };
    let Ok(auth) = format!("Bearer {}", config.token.expose()).parse() else {
        return Outcome::Refused("the relay token is not valid header text".into());
    };
    request.headers_mut().insert("authorization", auth);
    let mut ws = match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => ws,
        Err(tungstenite::Error::Http(resp)) if resp.status() == 401 => {
            return Outcome::Refused("the relay refused the client token (tui.relay_token)".into());
        }
        Err(tungstenite::Error::Http(resp)) => {
            return lost(format!("relay answered HTTP {}", resp.status()), false);
        }
        Err(e) => return lost(format!("cannot reach the relay: {e}"), false),
    };
    let head = match ws.next().await {
        Some(Ok(Message::Text(t))) => match ServerFrame::parse(&t) {
            Ok(ServerFrame::Welcome { last_seq, .. }) => last_seq,
            _ => return lost("the relay did not welcome us", false),
        },
        _ => return lost("the relay closed before welcoming us", false),
    };
    let subscribe = Subscribe {
        after: Some(last_seq.unwrap_or_else(|| head.saturating_sub(config.backlog))),
        ..config.filter.clone()
    };
    if ws
        .send(Message::text(ClientFrame::Subscribe(subscribe).to_json()))
        .await
        .is_err()
    {
        return lost("the relay closed during subscribe", false);
    }
    let _ = tx.send(RelayEvent::State(RelayState::Live)).await;
    let mut replaying = last_seq.is_some_and(|s| s < head);
    let mut replayed = 0u64;
    loop {
        let next = if replaying {
            match tokio::time::timeout(REPLAY_QUIET, ws.next()).await {
                Ok(n) => n,
                Err(_) => {
                    replaying = false;
                    let _ = tx.send(RelayEvent::Replayed(replayed)).await;
                    continue;
                }
            }
        } else {
            ws.next().await
        };
        let frame = match next {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => {
                let why = f.map(|f| f.reason.to_string()).unwrap_or_default();
                return lost(
                    if why.is_empty() {
                        "the relay closed the connection".into()
                    } else {
                        why
                    },
                    true,
                );
            }
            None | Some(Err(_)) => return lost("the relay connection dropped", true),
            Some(Ok(_)) => continue,
        };
        match ServerFrame::parse(&frame) {
            Ok(ServerFrame::Event { event }) => {
                let seq = event.seq.unwrap_or(0);
                if last_seq.is_some_and(|l| seq <= l) {
                    continue; // already handed on
                }
                *last_seq = Some(seq);
                if replaying {
                    replayed += 1;
                    if seq >= head {
                        replaying = false;
                        let _ = tx.send(RelayEvent::Event(event)).await;
                        let _ = tx.send(RelayEvent::Replayed(replayed)).await;
                        continue;
                    }
                }
                if tx.send(RelayEvent::Event(event)).await.is_err() {
                    return Outcome::Closed;
                }
            }
            Ok(ServerFrame::Status { subscriptions }) => {
                let _ = tx.send(RelayEvent::Status(subscriptions)).await;
            }
            Ok(ServerFrame::Error { message }) => {
                return Outcome::Refused(format!("the relay refused us: {message}"));
            }
            Ok(ServerFrame::Welcome { .. } | ServerFrame::Gap { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "skipped an unreadable relay frame"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_follows_the_scheme_and_path() {
        let u = |s: &str| ws_url(&s.parse().unwrap()).unwrap().to_string();
        assert_eq!(u("https://relay.example.com"), "wss://relay.example.com/ws");
        assert_eq!(u("http://127.0.0.1:8080/"), "ws://127.0.0.1:8080/ws");
        assert_eq!(u("https://example.com/onair"), "wss://example.com/onair/ws");
    }
}
