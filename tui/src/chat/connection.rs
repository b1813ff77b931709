//! The chat connection: one task owns the WebSocket to `twitch.irc_url`, logs in (or reads
//! anonymously as `justinfanNNNNN`), joins one channel, answers PINGs, sends its own PING and
//! treats a missing PONG as a dead link, and reconnects with backoff after RECONNECT or any drop.
//! Every state change and every typed message reaches the owner over a channel; sends come in
//! through a [`ChatHandle`] and are held back by the rate limiter, never dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair_common::Secret;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::message::{ChatLine, Incoming};
use super::outbox::{Outbox, SendError};
use super::ratelimit::Limits;
use super::read_line;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Gets a fresh login after Twitch refused the token (refreshing it), or `None`.
pub type Refresh =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<(String, Secret)>> + Send>> + Send + Sync>;

/// How a connection is set up.
#[derive(Clone)]
pub struct ChatConfig {
    /// `wss://irc-ws.chat.twitch.tv:443` or a fake.
    pub url: Url,
    /// Login and access token; `None` reads anonymously.
    pub login: Option<(String, Secret)>,
    /// Channel login to join.
    pub channel: String,
    /// Our PING period.
    pub ping_interval: Duration,
    /// How long to wait for the PONG.
    pub pong_timeout: Duration,
    /// First and longest reconnect delay.
    pub backoff: (Duration, Duration),
    /// Chat rate limits.
    pub limits: Limits,
    /// Called once if Twitch refuses the login; the connection retries with what it returns.
    pub refresh: Option<Refresh>,
}

impl std::fmt::Debug for ChatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatConfig")
            .field("url", &self.url)
            .field("login", &self.login.as_ref().map(|(l, _)| l))
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl ChatConfig {
    /// Production timings (twitch-irc-rs's: PING every 30 s, PONG within 5 s).
    pub fn new(url: Url, login: Option<(String, Secret)>, channel: String) -> Self {
        Self {
            url,
            login,
            channel,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(5),
            backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            limits: Limits::default(),
            refresh: None,
        }
    }
}

/// The connection's state, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatState {
    /// Opening the socket and logging in.
    Connecting,
    /// Joined the channel.
    Joined,
    /// Waiting before the next attempt.
    Backoff {
        /// Until the next attempt.
        retry_in: Duration,
        /// What went wrong.
        reason: String,
    },
}

/// What the connection reports.
// Nearly every event is `Incoming`; boxing it would add an allocation per chat message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A state change.
    State(ChatState),
    /// A message from Twitch.
    Incoming(Incoming),
}

/// Why the connection task ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// Twitch refused the login (`Login authentication failed`).
    #[error("Twitch refused the chat login: {0}")]
    AuthFailed(String),
}

/// A cloneable handle to send messages.
#[derive(Debug, Clone)]
pub struct ChatHandle {
    tx: mpsc::Sender<super::outbox::Request>,
}

impl ChatHandle {
    /// Sends a message (optionally as a reply) and waits until Twitch accepted it; returns the
    /// message id from Twitch's USERSTATE.
    pub async fn send(&self, text: String, reply_to: Option<String>) -> Result<String, SendError> {
        super::ratelimit::check_length(&text).map_err(SendError::Invalid)?;
        let (done, rx) = oneshot::channel();
        let req = super::outbox::Request {
            text,
            reply_to,
            done,
        };
        self.tx.send(req).await.map_err(|_| SendError::Closed)?;
        rx.await.map_err(|_| SendError::Closed)?
    }
}

/// Starts the connection task. It runs until `shutdown`, or a refused login.
pub fn spawn(
    config: ChatConfig,
    events: mpsc::Sender<ChatEvent>,
    shutdown: CancellationToken,
) -> (ChatHandle, tokio::task::JoinHandle<Result<(), ChatError>>) {
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(run(config, events, rx, shutdown));
    (ChatHandle { tx }, task)
}

/// How one session ended.
enum End {
    Shutdown,
    AuthFailed(String),
    /// Reconnect: after `RECONNECT` at once, after a failure with backoff.
    Retry {
        reason: String,
        at_once: bool,
    },
}

async fn run(
    mut config: ChatConfig,
    events: mpsc::Sender<ChatEvent>,
    mut requests: mpsc::Receiver<super::outbox::Request>,
    shutdown: CancellationToken,
) -> Result<(), ChatError> {
    let mut outbox = Outbox::new(config.limits, config.login.is_some());
    let mut delay = config.backoff.0;
    let mut refresh = config.refresh.take();
    loop {
        let _ = events.send(ChatEvent::State(ChatState::Connecting)).await;
        let mut session = Session {
            config: &config,
            events: &events,
            outbox: &mut outbox,
            joined: false,
        };
        let end = session.run(&mut requests, &shutdown).await;
        let joined = session.joined;
        outbox.connection_lost();
        let (reason, at_once) = match end {
            End::Shutdown => return Ok(()),
            End::AuthFailed(text) => {
                // One refresh, then give up (twitch.md D.2: the server closes after the NOTICE).
                let fresh = match refresh.take() {
                    Some(r) => r().await,
                    None => None,
                };
                match fresh {
                    Some(login) => {
                        tracing::info!("chat refused the login; retrying with a refreshed token");
                        config.login = Some(login);
                        continue;
                    }
                    None => {
                        outbox.fail_all(SendError::Rejected(text.clone()));
                        return Err(ChatError::AuthFailed(text));
                    }
                }
            }
            End::Retry { reason, at_once } => (reason, at_once),
        };
        if joined {
            delay = config.backoff.0;
        }
        let wait = if at_once { Duration::ZERO } else { delay };
        tracing::info!(%reason, ?wait, "chat connection lost; reconnecting");
        let _ = events
            .send(ChatEvent::State(ChatState::Backoff {
                retry_in: wait,
                reason,
            }))
            .await;
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
        if !at_once {
            delay = (delay * 2).min(config.backoff.1);
        }
    }
}

struct Session<'a> {
    config: &'a ChatConfig,
    events: &'a mpsc::Sender<ChatEvent>,
    outbox: &'a mut Outbox,
    joined: bool,
}

impl Session<'_> {
    async fn run(
        &mut self,
        requests: &mut mpsc::Receiver<super::outbox::Request>,
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
