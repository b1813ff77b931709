//! The token owner: one task per process holds the current pair. It refreshes at expiry minus
//! [`REFRESH_MARGIN`] (not on a poll), validates at start and hourly (`twitch.md` C.5), refreshes
//! at most once at a time, keeps the session through network failures (retrying with backoff)
//! and gives up only when Twitch refuses the refresh token. Chat (on every connect) and anything
//! else that needs the token asks through a [`TokenHandle`] and reports a 401 to it.

use std::time::Duration;

use onair_common::Secret;
use onair_common::twitch::oauth::OAuthError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::{Auth, REFRESH_MARGIN, StoredToken, now};
use crate::backoff::Backoff;
use crate::error::{Error, Result};

/// How often the login is checked with Twitch while a process runs (`twitch.md` C.5: hourly).
pub const VALIDATE_EVERY: Duration = Duration::from_secs(3600);
/// First and longest wait before retrying after a network failure.
const RETRY: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(300));
/// For a token that never expires: "not in this process's lifetime".
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// The login as the owner sees it, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginState {
    /// Twitch accepts this token (possibly just refreshed).
    Valid(StoredToken),
    /// Twitch could not be asked; the token is kept and asked again after a backoff.
    Unchecked(StoredToken, String),
    /// Twitch refused the login: the user must `onair login` again.
    Rejected(String),
}

enum Ask {
    /// The current token (refreshed first if it is due).
    Current(oneshot::Sender<Result<StoredToken>>),
    /// Twitch answered 401 to this access token.
    Refused(Secret, oneshot::Sender<Result<StoredToken>>),
}

/// A cheap clone handle on the owner.
#[derive(Debug, Clone)]
pub struct TokenHandle {
    asks: mpsc::Sender<Ask>,
    state: watch::Receiver<LoginState>,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Current(_) => "Current",
            Self::Refused(..) => "Refused",
        })
    }
}

impl TokenHandle {
    /// The token to use now.
    pub async fn current(&self) -> Result<StoredToken> {
        self.ask(Ask::Current).await
    }

    /// Reports that Twitch refused `access` (a 401, or chat's `Login authentication failed`);
    /// answers with the token to retry with. Several reports of the same token cause one refresh.
    pub async fn refused(&self, access: &Secret) -> Result<StoredToken> {
        let access = access.clone();
        self.ask(|tx| Ask::Refused(access, tx)).await
    }

    /// Every change of the login's state.
    pub fn watch(&self) -> watch::Receiver<LoginState> {
        self.state.clone()
    }

    async fn ask(
        &self,
        ask: impl FnOnce(oneshot::Sender<Result<StoredToken>>) -> Ask,
    ) -> Result<StoredToken> {
        let (tx, rx) = oneshot::channel();
        let gone = || Error::Store("the token owner has stopped".into());
        self.asks.send(ask(tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// Starts the owner with the stored `token`; it runs until `shutdown` or until every handle is gone.
pub fn spawn(
    auth: Auth,
    token: StoredToken,
    shutdown: CancellationToken,
) -> (TokenHandle, tokio::task::JoinHandle<()>) {
    let (asks_tx, asks) = mpsc::channel(16);
    let (state_tx, state) = watch::channel(LoginState::Valid(token.clone()));
    let owner = Owner {
        auth,
        refresh_at: refresh_due(&token, now()),
        token,
        rejected: None,
        failing: false,
        validate_at: Instant::now(),
        retry: Backoff::new(RETRY.0, RETRY.1),
        state: state_tx,
    };
    let task = tokio::spawn(owner.run(asks, shutdown));
    (
        TokenHandle {
            asks: asks_tx,
            state,
        },
        task,
    )
}

/// When to refresh `token`: [`REFRESH_MARGIN`] before it expires, at once if that has passed.
fn refresh_due(token: &StoredToken, now_s: i64) -> Instant {
    Instant::now() + refresh_delay(token.expires_at, now_s)
}

/// Pure: the wait until a token expiring at `expires_at` (unix seconds, 0 = never) is refreshed.
pub fn refresh_delay(expires_at: i64, now_s: i64) -> Duration {
    if expires_at == 0 {
        return NEVER;
    }
    let left = expires_at - now_s - REFRESH_MARGIN.as_secs() as i64;
    Duration::from_secs(left.max(0) as u64)
}

struct Owner {
    auth: Auth,
    token: StoredToken,
    /// Twitch refused the login: every ask gets this.
    rejected: Option<String>,
    /// The last refresh failed on the network; `refresh_at` is its retry.
    failing: bool,
    refresh_at: Instant,
    validate_at: Instant,
    retry: Backoff,
    state: watch::Sender<LoginState>,
}

impl Owner {
    async fn run(mut self, mut asks: mpsc::Receiver<Ask>, shutdown: CancellationToken) {
        loop {
            let live = self.rejected.is_none();
            tokio::select! {
                () = shutdown.cancelled() => return,
                ask = asks.recv() => match ask {
                    Some(ask) => self.answer(ask).await,
                    None => return,
                },
                () = sleep_until(self.refresh_at), if live => self.refresh().await,
                () = sleep_until(self.validate_at), if live => self.validate().await,
            }
        }
    }

    async fn answer(&mut self, ask: Ask) {
        let reply = match ask {
            Ask::Current(reply) => {
                if self.rejected.is_none() && Instant::now() >= self.refresh_at {
                    self.refresh().await;
                }
                reply
            }
            Ask::Refused(access, reply) => {
                // Only the current token is worth a refresh, and not again while the network
                // is failing: the retry timer is already set.
                let retrying = self.failing && Instant::now() < self.refresh_at;
                if self.rejected.is_none() && access == self.token.access_token && !retrying {
                    self.refresh().await;
                }
                reply
            }
        };
        let _ = reply.send(match &self.rejected {
            Some(why) => Err(Error::Rejected(why.clone())),
            None => Ok(self.token.clone()),
        });
    }

    async fn refresh(&mut self) {
        match self.auth.refresh(self.token.clone()).await {
            Ok(fresh) => {
                self.failing = false;
                self.retry.reset();
                self.refresh_at = refresh_due(&fresh, now());
                self.token = fresh;
                self.publish(LoginState::Valid(self.token.clone()));
            }
            Err(Error::Rejected(why)) => self.reject(why),
            Err(Error::NotLoggedIn) => self.reject("logged out".into()),
            Err(e) => {
                let wait = self.retry.next_delay();
                tracing::warn!(error = %e, ?wait, "token refresh failed; keeping the session and retrying");
                self.failing = true;
                self.refresh_at = Instant::now() + wait;
                self.publish(LoginState::Unchecked(self.token.clone(), e.to_string()));
            }
        }
    }

    async fn validate(&mut self) {
        self.validate_at = Instant::now() + VALIDATE_EVERY;
        match self.auth.oauth.validate(&self.token.access_token).await {
            Ok(_) => self.publish(LoginState::Valid(self.token.clone())),
            Err(OAuthError::Unauthorized) => self.refresh().await,
            Err(e) => {
                tracing::warn!(error = %e, "could not validate the token; asking again later");
                self.validate_at = Instant::now() + self.retry.next_delay();
                self.publish(LoginState::Unchecked(self.token.clone(), e.to_string()));
            }
        }
    }

    fn reject(&mut self, why: String) {
        tracing::warn!(%why, "Twitch refused the login");
        self.rejected = Some(why.clone());
        self.publish(LoginState::Rejected(why));
    }

    fn publish(&self, state: LoginState) {
        self.state.send_replace(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_is_due_a_margin_before_expiry() {
        let margin = REFRESH_MARGIN.as_secs() as i64;
        assert_eq!(
            refresh_delay(10_000 + 4 * 3600, 10_000),
            Duration::from_secs(4 * 3600 - margin as u64)
        );
        assert_eq!(refresh_delay(10_000 + margin, 10_000), Duration::ZERO);
        assert_eq!(
            refresh_delay(9_000, 10_000),
            Duration::ZERO,
            "already expired"
        );
        assert_eq!(refresh_delay(0, 10_000), NEVER, "never expires");
    }
}
