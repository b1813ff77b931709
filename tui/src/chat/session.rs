//! One chat session: a [`Transport`] from connect to drop. It logs in, joins, answers PINGs,
//! sends its own PING with a PONG deadline, feeds the outbox, all in one `select!`, and says how
//! it ended so the connection loop can reconnect (or stop).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::config::{ChatConfig, ChatEvent, ChatState};
use super::message::{ChatLine, Incoming};
use super::outbox::{Outbox, Request};
use super::transport::Transport;

/// Connecting (TCP, TLS, WebSocket) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
            Err(reason) => return retry(reason),
        };
        let mut next_ping = Instant::now() + self.config.ping_interval;
        let mut pong_deadline: Option<Instant> = None;
        loop {
            let far = Instant::now() + Duration::from_secs(3600);
            let send_at = self.outbox.next_send_at(Instant::now()).unwrap_or(far);
            let confirm_by = self.outbox.confirm_deadline().unwrap_or(far);
            let step = tokio::select! {
                () = shutdown.cancelled() => {
                    ws.close().await;
                    return End::Shutdown;
                }
                lines = ws.recv() => match lines {
                    Some(Ok(lines)) => self.on_lines(&mut ws, lines, &mut pong_deadline).await,
                    None => Err(retry("Twitch closed the connection".into())),
                    Some(Err(reason)) => Err(retry(reason)),
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
                    ws.send("PING :tmi.twitch.tv").await.map_err(retry)
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
    async fn open(&mut self) -> Result<Transport, String> {
        let mut ws = Transport::connect(&self.config.url, CONNECT_TIMEOUT).await?;
        ws.send("CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership")
            .await?;
        match &self.config.login {
            Some((login, token)) => {
                ws.send(&format!("PASS oauth:{}", token.expose())).await?;
                ws.send(&format!("NICK {login}")).await?;
            }
            None => {
                let n: u32 = rand::random_range(10_000..100_000);
                ws.send(&format!("NICK justinfan{n}")).await?;
            }
        }
        ws.send(&format!("JOIN #{}", self.config.channel)).await?;
        Ok(ws)
    }

    /// Handles the lines of one frame.
    async fn on_lines(
        &mut self,
        ws: &mut Transport,
        lines: Vec<Incoming>,
        pong_deadline: &mut Option<Instant>,
    ) -> Result<(), End> {
        for incoming in lines {
            match &incoming {
                Incoming::Ping(arg) => ws.send(&format!("PONG :{arg}")).await.map_err(retry)?,
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

    async fn send_next(&mut self, ws: &mut Transport) -> Result<(), End> {
        if let Some(line) = self.outbox.take_next(&self.config.channel, Instant::now()) {
            ws.send(&line).await.map_err(retry)?;
        }
        Ok(())
    }
}

/// A failure that ends the session: reconnect after a backoff.
fn retry(reason: String) -> End {
    End::Retry {
        reason,
        at_once: false,
    }
}
