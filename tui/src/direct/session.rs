//! One direct session, from the first socket to its loss: open the socket, subscribe on the
//! welcome (all types at once, well within Twitch's 10 s), follow migrations, and watch the
//! keepalive window. One `select!` over socket reports, subscription results, the watchdog and
//! shutdown; the sockets and the subscribing task stop with the session.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use onair_common::catalog::EventType;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::machine::{self, Input, Machine, Seen, SockId, Step};
use super::plan::{self, Planned};
use super::{DirectConfig, DirectEvent, DirectState, socket};
use crate::auth::TokenHandle;
use crate::error::{Error, Result};
use crate::helix::{Helix, HelixError};

/// Subscriptions created at the same time, at most.
const PARALLEL: usize = 6;

/// What one session needs.
pub(super) struct Ctx<'a> {
    pub config: &'a DirectConfig,
    pub helix: &'a Helix,
    pub tokens: &'a TokenHandle,
    pub plan: Vec<Planned>,
}

/// What outlives a session.
pub(super) struct Keep {
    pub seen: Seen,
    /// Types not subscribed again: refused for a scope, or revoked.
    pub dropped: HashSet<String>,
    /// The missing-scope note was given.
    pub noted: bool,
    /// When a live session was lost (reported as a gap once live again).
    pub lost_at: Option<Timestamp>,
}

/// How a session ended.
pub(super) enum Outcome {
    /// No retry.
    Stopped(String),
    /// Shut down, or nobody listens.
    Closed,
    /// Reconnect after a backoff (reset if the session had been live).
    Lost { reason: String, was_live: bool },
}

/// The plan for the configured channel: its id from the token (own channel) or Helix.
pub(super) async fn plan_for(
    config: &DirectConfig,
    helix: &Helix,
    tokens: &TokenHandle,
) -> Result<Vec<Planned>> {
    let token = tokens.current().await?;
    let channel_id = if config.channel == token.login {
        token.user_id.clone()
    } else {
        let id = match helix.user_id(&token.access_token, &config.channel).await {
            Err(HelixError::Unauthorized(_)) => {
                let fresh = tokens.refused(&token.access_token).await?;
                helix.user_id(&fresh.access_token, &config.channel).await
            }
            other => other,
        };
        id.map_err(|e| Error::Chat(e.to_string()))?
            .ok_or_else(|| Error::Usage(format!("Twitch knows no channel {}", config.channel)))?
    };
    Ok(plan::plan(&channel_id, &token.user_id, &config.types))
}

/// Creates one subscription, refreshing the token once on a 401. A 409 means it exists already.
async fn subscribe(
    helix: &Helix,
    tokens: &TokenHandle,
    body: &serde_json::Value,
) -> std::result::Result<(), HelixError> {
    let token = tokens
        .current()
        .await
        .map_err(|e| HelixError::Unauthorized(e.to_string()))?;
    let r = match helix.subscribe(&token.access_token, body).await {
        Err(HelixError::Unauthorized(_)) => {
            let fresh = tokens
                .refused(&token.access_token)
                .await
                .map_err(|e| HelixError::Unauthorized(e.to_string()))?;
            helix.subscribe(&fresh.access_token, body).await
        }
        other => other,
    };
    match r {
        Err(HelixError::Status(409, _)) => Ok(()),
        other => other,
    }
}

type SubResult = (&'static EventType, std::result::Result<(), HelixError>);

/// Subscribes every planned type not dropped; results arrive on `results` as they come.
fn spawn_subscribing(
    ctx: &Ctx<'_>,
    keep: &Keep,
    session_id: String,
    results: mpsc::Sender<SubResult>,
    stop: CancellationToken,
) -> usize {
    let todo: Vec<(&'static EventType, serde_json::Value)> = ctx
        .plan
        .iter()
        .filter(|p| !keep.dropped.contains(p.kind.name))
        .map(|p| (p.kind, plan::request(p, &session_id)))
        .collect();
    let n = todo.len();
    // One task per type, PARALLEL at a time; all stop with the session.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    for (kind, body) in todo {
        let (helix, tokens) = (ctx.helix.clone(), ctx.tokens.clone());
        let (gate, results, stop) = (gate.clone(), results.clone(), stop.clone());
        tokio::spawn(async move {
            let work = async {
                let _permit = gate.acquire().await;
                let r = subscribe(&helix, &tokens, &body).await;
                let _ = results.send((kind, r)).await;
            };
            tokio::select! {
                () = stop.cancelled() => {}
                () = work => {}
            }
        });
    }
    n
}

/// Subscription results of one welcome.
#[derive(Default)]
struct Tally {
    waiting: usize,
    enabled: usize,
    skipped: Vec<&'static EventType>,
    failed: Vec<String>,
}

pub(super) async fn session(
    ctx: &Ctx<'_>,
    keep: &mut Keep,
    tx: &mpsc::Sender<DirectEvent>,
    shutdown: &CancellationToken,
) -> Outcome {
    let stop = shutdown.child_token();
    let _stop_all = stop.clone().drop_guard();
    let (reports_tx, mut reports) = mpsc::channel::<(SockId, Input)>(256);
    let (results_tx, mut results) = mpsc::channel::<SubResult>(64);
    let mut sockets: HashMap<SockId, CancellationToken> = HashMap::new();
    let first = stop.child_token();
    socket::open(
        0,
        ctx.config.url.to_string(),
        ctx.config.connect,
        reports_tx.clone(),
        first.clone(),
    );
    sockets.insert(0, first);
    let mut machine = Machine::new();
    let mut heard = Instant::now();
    let mut live = false;
    let mut tally = Tally::default();
    loop {
        // Before the welcome the connect timeout applies; then the session's keepalive window.
        let window = machine.keepalive().unwrap_or(ctx.config.connect);
        let deadline = heard + window + ctx.config.grace;
        tokio::select! {
            () = stop.cancelled() => return Outcome::Closed,
            () = sleep_until(deadline) => {
                return Outcome::Lost {
                    reason: format!(
                        "nothing from EventSub for {} s: the connection is dead",
                        (window + ctx.config.grace).as_secs_f64()
                    ),
                    was_live: live,
                };
            }
            Some(r) = results.recv() => {
                if let Some(outcome) = on_result(r, &mut tally, keep, tx, &mut live).await {
                    return outcome;
                }
            }
            Some((sock, input)) = reports.recv() => {
                match &input {
                    Input::Frame(_) => heard = Instant::now(),
                    Input::Closed { code, reason } if machine::is_client_bug(*code) => {
                        tracing::error!(?code, %reason, "EventSub closed the socket for a client bug");
                    }
                    Input::Closed { .. } => {}
                }
                let steps = machine.on(sock, input, &mut keep.seen, Timestamp::now(), Instant::now());
                for step in steps {
                    match step {
                        Step::Subscribe(session_id) => {
                            tally = Tally::default();
                            tally.waiting = spawn_subscribing(ctx, keep, session_id, results_tx.clone(), stop.child_token());
                            if tally.waiting == 0 {
                                return Outcome::Stopped("no event type is left to subscribe to".into());
                            }
                        }
                        Step::Emit(e) => {
                            if tx.send(DirectEvent::Event(e)).await.is_err() {
                                return Outcome::Closed;
                            }
                        }
                        Step::Migrate { sock, url } => {
                            tracing::info!("EventSub asked us to move; opening the reconnect URL");
                            let t = stop.child_token();
                            socket::open(sock, url, ctx.config.connect, reports_tx.clone(), t.clone());
                            sockets.insert(sock, t);
                        }
                        Step::Close(sock) => {
                            if let Some(t) = sockets.remove(&sock) {
                                t.cancel();
                            }
                        }
                        Step::Revoked { kind, status } => {
                            tracing::warn!(%kind, %status, "EventSub subscription revoked");
                            keep.dropped.insert(kind.clone());
                            let _ = tx.send(DirectEvent::Revoked { kind, status }).await;
                        }
                        Step::Lost(reason) => return Outcome::Lost { reason, was_live: live },
                    }
                }
            }
        }
    }
}

/// Counts one subscription result; once all are in, the session is live (or hopeless).
async fn on_result(
    (kind, r): SubResult,
    tally: &mut Tally,
    keep: &mut Keep,
    tx: &mpsc::Sender<DirectEvent>,
    live: &mut bool,
) -> Option<Outcome> {
    tally.waiting = tally.waiting.saturating_sub(1);
    match r {
        Ok(()) => tally.enabled += 1,
        // A subscription the grant does not cover is a 403 here (`twitch.md` E.2).
        Err(HelixError::MissingScope(message) | HelixError::Forbidden(message)) => {
            tracing::warn!(kind = kind.name, %message, "Twitch refused a subscription for a missing scope");
            keep.dropped.insert(kind.name.to_owned());
            tally.skipped.push(kind);
        }
        Err(e) => {
            tracing::warn!(kind = kind.name, error = %e, "could not subscribe");
            tally.failed.push(format!("{}: {e}", kind.name));
        }
    }
    if tally.waiting > 0 {
        return None;
    }
    if !keep.noted
        && let Some(note) = plan::missing_note(&tally.skipped)
    {
        keep.noted = true;
        let _ = tx.send(DirectEvent::MissingScopes(note)).await;
    }
    if tally.enabled == 0 {
        let why = match tally.failed.first() {
            Some(f) => format!("no event type could be subscribed ({f})"),
            None => "no event type could be subscribed: the login lacks every scope".to_owned(),
        };
        // Failures other than scopes may pass (Twitch busy): retry; scopes will not.
        return Some(if tally.failed.is_empty() {
            Outcome::Stopped(why)
        } else {
            Outcome::Lost {
                reason: why,
                was_live: false,
            }
        });
    }
    *live = true;
    let _ = tx.send(DirectEvent::Subscribed(tally.enabled)).await;
    let _ = tx.send(DirectEvent::State(DirectState::Live)).await;
    if let Some(from) = keep.lost_at.take() {
        let gap = DirectEvent::Gap {
            from_ms: from.as_millisecond(),
            to_ms: Timestamp::now().as_millisecond(),
        };
        let _ = tx.send(gap).await;
    }
    None
}
