//! The chat socket, and the only code that touches it: connects within a deadline, sends one
//! command per text frame, and yields what Twitch sends as parsed lines (a frame may carry several
//! `\r\n`-separated lines, `twitch.md` D.1; malformed ones are logged and skipped). Nothing else
//! sees raw frames. Never logs what it sends: a `PASS` line carries the token.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::message::Incoming;
use super::read_line;

/// An open chat socket.
pub(super) struct Transport {
    // Boxed: the stream is large, and the actor's state and wake-ups move the transport around.
    ws: Box<WebSocketStream<MaybeTlsStream<TcpStream>>>,
}

impl Transport {
    /// Opens the WebSocket, giving up after `within`.
    pub(super) async fn connect(url: &Url, within: Duration) -> Result<Self, String> {
        match timeout(within, tokio_tungstenite::connect_async(url.as_str())).await {
            Ok(Ok((ws, _))) => Ok(Self { ws: Box::new(ws) }),
            Ok(Err(e)) => Err(format!("cannot connect to {url}: {e}")),
            Err(_) => Err(format!("connecting to {url} timed out")),
        }
    }

    /// Sends one command in its own text frame.
    pub(super) async fn send(&mut self, line: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(line.to_owned()))
            .await
            .map_err(|e| format!("send failed: {e}"))
    }

    /// The lines of the next text frame, parsed; `None` once Twitch has closed the socket.
    /// Cancel-safe: it only awaits the next frame.
    pub(super) async fn recv(&mut self) -> Option<Result<Vec<Incoming>, String>> {
        loop {
            return match self.ws.next().await? {
                Ok(Message::Text(text)) => Some(Ok(lines(&text))),
                Ok(Message::Close(_)) => None,
                Err(e) => Some(Err(format!("connection error: {e}"))),
                Ok(_) => continue,
            };
        }
    }

    /// Closes politely (on our own shutdown).
    pub(super) async fn close(mut self) {
        let _ = (*self.ws).close(None).await;
    }
}

fn lines(frame: &str) -> Vec<Incoming> {
    // Split at `\n` (a byte search) and drop the `\r`: a bare `\n` cannot occur inside an IRC
    // line, and `split("\r\n")` ran the slower substring searcher over every frame.
    frame
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .filter_map(|line| match read_line(line) {
            Ok(incoming) => Some(incoming),
            Err(e) => {
                tracing::warn!(error = %e, line = %line.chars().take(200).collect::<String>(), "skipped a malformed chat line");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_of_several_lines_yields_each_and_skips_garbage() {
        let got =
            lines(":tmi.twitch.tv PONG tmi.twitch.tv :x\r\n@only-tags\r\nPING :tmi.twitch.tv\r\n");
        assert_eq!(
            got,
            [Incoming::Pong, Incoming::Ping("tmi.twitch.tv".into())]
        );
    }
}
