//! The chat connection: one actor task owns the link to `twitch.irc_url` and runs one `select!`
//! over everything that can happen to it: opening (login and join), incoming lines, our PING and
//! its PONG deadline, the outbox's send and confirm timers, the reconnect backoff, new sends and
//! shutdown. RECONNECT or any drop moves it to backoff (RECONNECT without waiting). Every state
//! change and every typed message reaches the owner over a channel; sends come in through a
//! [`ChatHandle`] and are held back by the rate limiter, never dropped.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use onair_common::Secret;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

pub use super::config::{ChatConfig, ChatError, ChatEvent, ChatState};
use super::login::{Credentials, OpenError, Opened, open};
use super::message::Incoming;
use super::outbox::{Outbox, Request, SendError};
use super::session::{End, Session, on_lines, retry};
use crate::backoff::Backoff;

/// Consecutive refused logins, each with a token the owner handed out after the previous
/// refusal, before chat gives up: Twitch would not take a fresh token either.
const MAX_REFUSED_LOGINS: u32 = 3;

/// A cloneable handle to send messages.
#[derive(Debug, Clone)]
pub struct ChatHandle {
    tx: mpsc::Sender<Request>,
}

impl ChatHandle {
    /// Sends a message (optionally as a reply) and waits until Twitch accepted it; returns the
    /// message id from Twitch's USERSTATE.
    pub async fn send(&self, text: String, reply_to: Option<String>) -> Result<String, SendError> {
        super::ratelimit::check_length(&text).map_err(SendError::Invalid)?;
        let (done, rx) = oneshot::channel();
        let req = Request {
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
    let actor = Actor {
        outbox: Outbox::new(
            config.limits,
            config.login.is_some() || config.tokens.is_some(),
        ),
        backoff: Backoff::new(config.backoff.0, config.backoff.1),
        refused: None,
        refused_in_a_row: 0,
        link: Link::Backoff(Instant::now()),
        config,
        events,
    };
    let task = tokio::spawn(actor.run(rx, shutdown));
    (ChatHandle { tx }, task)
}

type Opening = Pin<Box<dyn Future<Output = Result<Opened, OpenError>> + Send>>;

/// Where the link stands.
enum Link {
    /// Waiting until the next attempt.
    Backoff(Instant),
    /// Getting the login, connecting, logging in.
    Opening(Opening),
    /// Logged in; joined once Twitch confirms.
    Open(Session),
}

/// What woke the link.
enum Wake {
    RetryDue,
    Opened(Result<Opened, OpenError>),
    Lines(Option<Result<Vec<Incoming>, String>>),
}

/// The link's own next happening; pending forever in no state.
async fn wake(link: &mut Link) -> Wake {
    match link {
        Link::Backoff(at) => {
            sleep_until(*at).await;
            Wake::RetryDue
        }
        Link::Opening(opening) => Wake::Opened(opening.await),
        Link::Open(s) => Wake::Lines(s.ws.recv().await),
    }
}

struct Actor {
    config: ChatConfig,
    events: mpsc::Sender<ChatEvent>,
    outbox: Outbox,
    backoff: Backoff,
    /// The access token Twitch just refused, to report to the owner on the next open.
    refused: Option<Secret>,
    refused_in_a_row: u32,
    link: Link,
}

impl Actor {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        shutdown: CancellationToken,
    ) -> Result<(), ChatError> {
        loop {
            let now = Instant::now();
            let far = now + Duration::from_secs(3600);
            let (joined, ping_at, pong_due) = match &self.link {
                Link::Open(s) => (s.joined, Some(s.next_ping), s.pong_due),
                _ => (false, None, None),
            };
            let send_at = self.outbox.next_send_at(now).unwrap_or(far);
            let confirm_by = self.outbox.confirm_deadline().unwrap_or(far);
            let step = tokio::select! {
                () = shutdown.cancelled() => {
                    if let Link::Open(s) = self.link {
                        s.ws.close().await;
                    }
                    return Ok(());
                }
                woke = wake(&mut self.link) => self.on_wake(woke).await,
                Some(req) = requests.recv() => {
                    self.outbox.push(req);
                    Ok(())
                }
                () = sleep_until(send_at), if joined => self.send_next().await,
                () = sleep_until(confirm_by) => {
                    self.outbox.expire(Instant::now());
                    Ok(())
                }
                () = sleep_until(ping_at.unwrap_or(far)), if ping_at.is_some() => self.ping().await,
                () = sleep_until(pong_due.unwrap_or(far)), if pong_due.is_some() => {
                    Err(retry("no PONG from Twitch: the link is dead".into()))
                }
            };
            if let Err(end) = step {
                match self.session_ended(end).await {
                    Ok(true) => {}
                    Ok(false) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        }
    }

    async fn on_wake(&mut self, woke: Wake) -> Result<(), End> {
        match woke {
            Wake::RetryDue => {
                self.start_opening().await;
                Ok(())
            }
            Wake::Opened(Ok(Opened { ws, login })) => {
                self.link = Link::Open(Session {
                    ws,
                    login,
                    joined: false,
                    next_ping: Instant::now() + self.config.ping_interval,
                    pong_due: None,
                });
                Ok(())
            }
            Wake::Opened(Err(OpenError::Network(reason))) => Err(retry(reason)),
            Wake::Opened(Err(OpenError::Rejected(why))) => Err(End::AuthFailed(why)),
            Wake::Lines(Some(Ok(lines))) => match &mut self.link {
                Link::Open(s) => {
                    on_lines(s, lines, &self.config, &mut self.outbox, &self.events).await
                }
                _ => Ok(()),
            },
            Wake::Lines(Some(Err(reason))) => Err(retry(reason)),
            Wake::Lines(None) => Err(retry("Twitch closed the connection".into())),
        }
    }

    async fn start_opening(&mut self) {
        let _ = self
            .events
            .send(ChatEvent::State(ChatState::Connecting))
            .await;
        let credentials = match (&self.config.tokens, &self.config.login) {
            (Some(tokens), _) => Credentials::Owner {
                tokens: tokens.clone(),
                refused: self.refused.take(),
            },
            (None, Some((login, token))) => Credentials::Fixed(login.clone(), token.clone()),
            (None, None) => Credentials::Anonymous,
        };
        let opening = open(
            self.config.url.clone(),
            self.config.channel.clone(),
            credentials,
        );
        self.link = Link::Opening(Box::pin(opening));
    }

    async fn ping(&mut self) -> Result<(), End> {
        let Link::Open(s) = &mut self.link else {
            return Ok(());
        };
        s.next_ping = Instant::now() + self.config.ping_interval;
        s.pong_due = Some(Instant::now() + self.config.pong_timeout);
        s.ws.send("PING :tmi.twitch.tv").await.map_err(retry)
    }

    async fn send_next(&mut self) -> Result<(), End> {
        let Link::Open(s) = &mut self.link else {
            return Ok(());
        };
        if let Some(line) = self.outbox.take_next(&self.config.channel, Instant::now()) {
            s.ws.send(&line).await.map_err(retry)?;
        }
        Ok(())
    }

    /// After a session ends: `Ok(true)` goes on (reopening now or after a backoff), `Ok(false)`
    /// stops quietly, `Err` stops because the login is refused for good.
    async fn session_ended(&mut self, end: End) -> Result<bool, ChatError> {
        let link = std::mem::replace(&mut self.link, Link::Backoff(Instant::now()));
        let (joined, access) = match link {
            Link::Open(s) => (s.joined, s.login.map(|(_, token)| token)),
            _ => (false, None),
        };
        self.outbox.connection_lost();
        if joined {
            self.backoff.reset();
            self.refused_in_a_row = 0;
        }
        let (reason, at_once) = match end {
            End::Shutdown => return Ok(false),
            End::AuthFailed(text) => {
                self.refused_in_a_row += 1;
                let owned = self.config.tokens.is_some() && access.is_some();
                if !owned || self.refused_in_a_row >= MAX_REFUSED_LOGINS {
                    self.outbox.fail_all(SendError::Rejected(text.clone()));
                    return Err(ChatError::AuthFailed(text));
                }
                // The owner refreshes (once, whoever else reports the same token) or hands
                // over the pair another process stored.
                tracing::info!("chat refused the login; retrying with the owner's token");
                self.refused = access;
                self.start_opening().await;
                return Ok(true);
            }
            End::Retry { reason, at_once } => (reason, at_once),
        };
        let wait = if at_once {
            Duration::ZERO
        } else {
            self.backoff.next_delay()
        };
        tracing::info!(%reason, ?wait, "chat connection lost; reconnecting");
        let _ = self
            .events
            .send(ChatEvent::State(ChatState::Backoff {
                retry_in: wait,
                reason,
            }))
            .await;
        self.link = Link::Backoff(Instant::now() + wait);
        Ok(true)
    }
}
