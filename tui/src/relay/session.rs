//! One connection to the relay, from connect to loss: handshake and welcome within their
//! deadlines, the epoch check, subscribe with `after`, then one `select!` over frames, the read
//! deadline and the end of a replay. It says how it ended so [`super::run`] can back off.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair_common::wire::{ClientFrame, ServerFrame, Subscribe};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{RelayConfig, RelayEvent, RelayState, Resume, ws_url};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long without a replayed event before a replay counts as done.
const REPLAY_QUIET: Duration = Duration::from_millis(300);

/// How a connection ended.
pub(super) enum Outcome {
    /// The relay refused us: no retry.
    Refused(String),
    /// Our receiver is gone: stop.
    Closed,
    /// Lost: reconnect after a backoff (reset if the link had been live).
    Lost { reason: String, was_live: bool },
}

/// `75 s`, `0.5 s`.
fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn lost(reason: impl Into<String>, was_live: bool) -> Outcome {
    Outcome::Lost {
        reason: reason.into(),
        was_live,
    }
}

pub(super) async fn session(
    config: &RelayConfig,
    resume: &mut Resume,
    tx: &mpsc::Sender<RelayEvent>,
) -> Outcome {
    let mut ws = match open(config).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    let head = match welcome(config, &mut ws, resume, tx).await {
        Ok(head) => head,
        Err(outcome) => return outcome,
    };
    let subscribe = Subscribe {
        after: Some(
            resume
                .last_seq
                .unwrap_or_else(|| head.saturating_sub(config.backlog)),
        ),
        ..config.filter.clone()
    };
    let frame = Message::text(ClientFrame::Subscribe(subscribe).to_json());
    if !matches!(
        timeout(config.deadlines.connect, ws.send(frame)).await,
        Ok(Ok(()))
    ) {
        return lost("the relay did not take our subscribe", false);
    }
    let _ = tx.send(RelayEvent::State(RelayState::Live)).await;
    receive(config, &mut ws, resume, head, tx).await
}

/// Connects within the connect deadline.
async fn open(config: &RelayConfig) -> Result<Socket, Outcome> {
    let request = request(config).map_err(Outcome::Refused)?;
    match timeout(
        config.deadlines.connect,
        tokio_tungstenite::connect_async(request),
    )
    .await
    {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tungstenite::Error::Http(resp))) if resp.status() == 401 => Err(Outcome::Refused(
            "the relay refused the client token (tui.relay_token)".into(),
        )),
        Ok(Err(tungstenite::Error::Http(resp))) => Err(lost(
            format!("relay answered HTTP {}", resp.status()),
            false,
        )),
        Ok(Err(e)) => Err(lost(format!("cannot reach the relay: {e}"), false)),
        Err(_) => Err(lost(
            format!(
                "no connection to the relay within {}",
                secs(config.deadlines.connect)
            ),
            false,
        )),
    }
}

fn request(config: &RelayConfig) -> Result<Request, String> {
    let url = ws_url(&config.base)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|_| format!("bad relay URL {url}"))?;
    let auth = format!("Bearer {}", config.token.expose())
        .parse()
        .map_err(|_| "the relay token is not valid header text".to_owned())?;
    request.headers_mut().insert("authorization", auth);
    Ok(request)
}

/// Reads the welcome within its deadline; returns the relay's head. A welcome naming another
/// store epoch than the first one seen resets the resume point to 0.
async fn welcome(
    config: &RelayConfig,
    ws: &mut Socket,
    resume: &mut Resume,
    tx: &mpsc::Sender<RelayEvent>,
) -> Result<u64, Outcome> {
    let text = match timeout(config.deadlines.welcome, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(_) => return Err(lost("the relay closed before welcoming us", false)),
        Err(_) => {
            return Err(lost(
                format!(
                    "no welcome from the relay within {}",
                    secs(config.deadlines.welcome)
                ),
                false,
            ));
        }
    };
    let Ok(ServerFrame::Welcome {
        last_seq, epoch, ..
    }) = ServerFrame::parse(&text)
    else {
        return Err(lost("the relay did not welcome us", false));
    };
    if !epoch.is_empty() {
        if let Some(known) = &resume.epoch
            && *known != epoch
        {
            tracing::warn!(old = %known, new = %epoch, "the relay's store is new; starting over from seq 0");
            resume.last_seq = Some(0);
            let _ = tx.send(RelayEvent::NewEpoch).await;
        }
        resume.epoch = Some(epoch);
    }
    Ok(last_seq)
}

/// The live loop: frames in, the read deadline, and the end of the replay.
async fn receive(
    config: &RelayConfig,
    ws: &mut Socket,
    resume: &mut Resume,
    head: u64,
    tx: &mpsc::Sender<RelayEvent>,
) -> Outcome {
    let mut replaying = resume.last_seq.is_some_and(|s| s < head);
    let mut replayed = 0u64;
    let mut heard = Instant::now();
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            () = sleep_until(heard + config.deadlines.read) => {
                return lost(format!(
                    "nothing from the relay for {}: the link is dead",
                    secs(config.deadlines.read)
                ), true);
            }
            () = sleep_until(heard + REPLAY_QUIET), if replaying => {
                replaying = false;
                let _ = tx.send(RelayEvent::Replayed(replayed)).await;
                continue;
            }
        };
        heard = Instant::now();
        let text = match frame {
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
            // Pings (answered by tungstenite) and pongs: being heard is what counts.
            Some(Ok(_)) => continue,
        };
        match ServerFrame::parse(&text) {
            Ok(ServerFrame::Event { event }) => {
                let seq = event.seq.unwrap_or(0);
                if resume.last_seq.is_some_and(|l| seq <= l) {
                    continue; // already handed on
                }
                resume.last_seq = Some(seq);
                if replaying {
                    replayed += 1;
                }
                if tx.send(RelayEvent::Event(event)).await.is_err() {
                    return Outcome::Closed;
                }
                if replaying && seq >= head {
                    replaying = false;
                    let _ = tx.send(RelayEvent::Replayed(replayed)).await;
                }
            }
            Ok(ServerFrame::Gap { from, to }) => {
                tracing::warn!(
                    from,
                    to,
                    "events were pruned at the relay before we could replay them"
                );
                let _ = tx.send(RelayEvent::Gap { from, to }).await;
            }
            Ok(ServerFrame::Status { subscriptions }) => {
                let _ = tx.send(RelayEvent::Status(subscriptions)).await;
            }
            Ok(ServerFrame::Error { message }) => {
                return Outcome::Refused(format!("the relay refused us: {message}"));
            }
            Ok(ServerFrame::Welcome { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "skipped an unreadable relay frame"),
        }
    }
}
