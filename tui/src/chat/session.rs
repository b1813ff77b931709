//! One chat session: a socket from connect to drop. It logs in, joins, answers PINGs, sends
//! its own PING with a PONG deadline, feeds the outbox, and says how it ended so the connection
//! loop can reconnect (or stop).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::connection::{ChatConfig, ChatEvent, ChatState};
use super::message::{ChatLine, Incoming};
use super::outbox::{Outbox, Request};
use super::read_line;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How one session ended.
pub(super) enum End {
    Shutdown,
    AuthFailed(String),
    /// Reconnect: after `RECONNECT` at once, after a failure with backoff.
    Retry {
        reason: String,
        at_once: bool,
    },
}

pub(super) struct Session<'a> {
    pub config: &'a ChatConfig,
    pub events: &'a mpsc::Sender<ChatEvent>,
    pub outbox: &'a mut Outbox,
    pub joined: bool,
}

impl Session<'_> {
    pub(super) async fn run(
        &mut self,
        requests: &mut mpsc::Receiver<Request>,
        shutdown: &CancellationToken,
    ) -> End {
        let mut ws = match self.open().await {
            Ok(ws) => ws,
            Err(reason) => {
                return End::Retry {
                    reason,
                    at_once: false,
                };
            }
        };
        let mut next_ping = Instant::now() + self.config.ping_interval;
        let mut pong_deadline: Option<Instant> = None;
        loop {
            let far = Instant::now() + Duration::from_secs(3600);
            let send_at = self.outbox.next_send_at(Instant::now()).unwrap_or(far);
            let confirm_by = self.outbox.confirm_deadline().unwrap_or(far);
            let step = tokio::select! {
                () = shutdown.cancelled() => {
                    let _ = ws.close(None).await;
                    return End::Shutdown;
                }
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.on_frame(&mut ws, &text, &mut pong_deadline).await,
                    Some(Ok(Message::Close(_))) | None => Err(End::Retry { reason: "Twitch closed the connection".into(), at_once: false }),
                    Some(Err(e)) => Err(End::Retry { reason: format!("connection error: {e}"), at_once: false }),
                    Some(Ok(_)) => Ok(()),
                },
                Some(req) = requests.recv() => {
                    self.outbox.push(req);
                    Ok(())
                }
                () = sleep_until(send_at), if self.joined => self.send_next(&mut ws).await,
                () = sleep_until(confirm_by) => {
                    self.outbox.expire(Instant::now());
                    Ok(())
                }
                () = sleep_until(next_ping) => {
                    next_ping = Instant::now() + self.config.ping_interval;
                    pong_deadline = Some(Instant::now() + self.config.pong_timeout);
                    send(&mut ws, "PING :tmi.twitch.tv").await
                }
                () = sleep_until(pong_deadline.unwrap_or(far)), if pong_deadline.is_some() => {
                    Err(End::Retry { reason: "no PONG from Twitch: the link is dead".into(), at_once: false })
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Connects, requests capabilities, logs in and joins.
    async fn open(&mut self) -> Result<Socket, String> {
        let connect = tokio_tungstenite::connect_async(self.config.url.as_str());
        let (mut ws, _) = match timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => return Err(format!("cannot connect to {}: {e}", self.config.url)),
            Err(_) => return Err(format!("connecting to {} timed out", self.config.url)),
        };
        let fail = |e: End| match e {
            End::Retry { reason, .. } => reason,
            _ => "login failed".into(),
        };
        send(
            &mut ws,
            "CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership",
        )
        .await
        .map_err(fail)?;
        match &self.config.login {
            Some((login, token)) => {
                send(&mut ws, &format!("PASS oauth:{}", token.expose()))
                    .await
                    .map_err(fail)?;
                send(&mut ws, &format!("NICK {login}"))
                    .await
                    .map_err(fail)?;
            }
            None => {
                let n: u32 = rand::random_range(10_000..100_000);
                send(&mut ws, &format!("NICK justinfan{n}"))
                    .await
                    .map_err(fail)?;
            }
        }
        send(&mut ws, &format!("JOIN #{}", self.config.channel))
            .await
            .map_err(fail)?;
        Ok(ws)
    }

    /// Handles one text frame; a frame may carry several `\r\n`-separated lines.
    async fn on_frame(
        &mut self,
        ws: &mut Socket,
        text: &str,
        pong_deadline: &mut Option<Instant>,
    ) -> Result<(), End> {
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let incoming = match read_line(line) {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(error = %e, line = %line.chars().take(200).collect::<String>(), "skipped a malformed chat line");
                    continue;
                }
            };
            match &incoming {
                Incoming::Ping(arg) => send(ws, &format!("PONG :{arg}")).await?,
                Incoming::Pong => *pong_deadline = None,
                Incoming::Reconnect => {
                    return Err(End::Retry {
                        reason: "Twitch asked us to reconnect".into(),
                        at_once: true,
                    });
                }
                Incoming::Line(ChatLine::Server {
                    msg_id: None, text, ..
                }) if text.contains("Login authentication failed")
                    || text.contains("Improperly formatted auth") =>
                {
                    return Err(End::AuthFailed(text.clone()));
                }
                Incoming::UserState {
                    channel,
                    sent_id,
                    privileged,
                } if *channel == self.config.channel => {
                    self.outbox.set_privileged(*privileged);
                    if !self.joined {
                        self.joined = true;
                        let _ = self.events.send(ChatEvent::State(ChatState::Joined)).await;
                    }
                    if let Some(id) = sent_id {
                        self.outbox.confirmed(id.clone());
                    }
                }
                Incoming::Join { channel, .. }
                    if *channel == self.config.channel
                        && self.config.login.is_none()
                        && !self.joined =>
                {
                    // Anonymous logins get no USERSTATE: our own JOIN echo means joined.
                    self.joined = true;
                    let _ = self.events.send(ChatEvent::State(ChatState::Joined)).await;
                }
                Incoming::Line(ChatLine::Server {
                    channel,
                    msg_id: Some(id),
                    text,
                }) if channel.as_deref() == Some(&self.config.channel) => {
                    self.outbox.refused(id, text);
                }
                _ => {}
            }
            if self
                .events
                .send(ChatEvent::Incoming(incoming))
                .await
                .is_err()
            {
                return Err(End::Shutdown);
            }
        }
        Ok(())
    }

    async fn send_next(&mut self, ws: &mut Socket) -> Result<(), End> {
        if let Some(line) = self.outbox.take_next(&self.config.channel, Instant::now()) {
            send(ws, &line).await?;
        }
        Ok(())
    }
}

/// Sends one command in its own text frame.
async fn send(ws: &mut Socket, line: &str) -> Result<(), End> {
    ws.send(Message::text(line.to_owned()))
        .await
        .map_err(|e| End::Retry {
            reason: format!("send failed: {e}"),
            at_once: false,
        })
}
