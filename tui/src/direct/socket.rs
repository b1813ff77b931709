//! One EventSub WebSocket: a task owns it, reads frames and reports each (parsed) with the
//! socket's number, answers pings (tungstenite does, on the next read), and never sends a text
//! or binary frame (`twitch.md` E.1: that is a 4001). Cancelling its token sends a Close frame.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_util::sync::CancellationToken;

use super::frame::Frame;
use super::machine::{Input, SockId};

/// How long a Close handshake may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects within `connect` and starts the reader; reports go to `reports`. A failed connect
/// is reported as a close, so the session has one path for both.
pub fn open(
    sock: SockId,
    url: String,
    connect: Duration,
    reports: mpsc::Sender<(SockId, Input)>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let ws = tokio::select! {
            () = stop.cancelled() => return,
            r = timeout(connect, tokio_tungstenite::connect_async(url.as_str())) => r,
        };
        let ws = match ws {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                let reason = format!("cannot connect to EventSub: {e}");
                let _ = reports.send((sock, closed(None, reason))).await;
                return;
            }
            Err(_) => {
                let reason = format!("no EventSub connection within {} s", connect.as_secs());
                let _ = reports.send((sock, closed(None, reason))).await;
                return;
            }
        };
        read(sock, ws, reports, stop).await;
    })
}

fn closed(code: Option<u16>, reason: String) -> Input {
    Input::Closed { code, reason }
}

async fn read<S>(
    sock: SockId,
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    reports: mpsc::Sender<(SockId, Input)>,
    stop: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::select! {
            () = stop.cancelled() => {
                let bye = Message::Close(Some(CloseFrame { code: 1000.into(), reason: "".into() }));
                let _ = timeout(CLOSE_TIMEOUT, async {
                    ws.send(bye).await?;
                    while ws.next().await.is_some() {}
                    Ok::<_, tokio_tungstenite::tungstenite::Error>(())
                }).await;
                return;
            }
            msg = ws.next() => msg,
        };
        let input = match msg {
            Some(Ok(Message::Text(text))) => match Frame::parse(&text) {
                Ok(frame) => Input::Frame(Box::new(frame)),
                Err(e) => {
                    tracing::warn!(error = %e, "skipped an unreadable EventSub frame");
                    continue;
                }
            },
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                    .unwrap_or((None, String::new()));
                let _ = reports.send((sock, closed(code, reason))).await;
                return;
            }
            Some(Ok(_)) => continue, // pings are answered by tungstenite; pongs, binary: ignored
            Some(Err(e)) => {
                let _ = reports.send((sock, closed(None, e.to_string()))).await;
                return;
            }
            None => {
                let _ = reports.send((sock, closed(None, String::new()))).await;
                return;
            }
        };
        if reports.send((sock, input)).await.is_err() {
            return;
        }
    }
}
