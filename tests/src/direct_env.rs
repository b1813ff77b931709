//! A harness for direct events: the fake id.twitch.tv and the fake EventSub WebSocket, a login
//! made by the real `onair login`, the real binary pointed at both, and the in-process direct
//! client with test timings.

use std::process::Stdio;
use std::time::Duration;

use onair::auth::{Auth, TokenHandle, TokenStore, owner};
use onair::direct::{self, DirectConfig, DirectEvent};
use onair_common::twitch::oauth::OAuth;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bins;
use crate::eventsub_ws::FakeEventSub;
use crate::twitch_auth::{CLIENT_ID, FakeAuth};

/// Fakes plus a logged-in home directory.
#[derive(Debug)]
pub struct DirectEnv {
    /// The isolated home of the `onair` runs.
    pub home: tempfile::TempDir,
    /// The fake id.twitch.tv.
    pub auth: FakeAuth,
    /// The fake EventSub WebSocket and Helix.
    pub es: FakeEventSub,
}

impl DirectEnv {
    /// Logged in through `onair login` (with `--scopes` when given).
    pub async fn logged_in(scopes: Option<&str>) -> Self {
        let auth = FakeAuth::start().await;
        auth.with(|s| s.pending_polls = 0);
        let es = FakeEventSub::start(auth.clone()).await;
        let env = Self {
            home: tempfile::tempdir().unwrap(),
            auth,
            es,
        };
        let mut args = vec!["login"];
        if let Some(s) = scopes {
            args.extend(["--scopes", s]);
        }
        let o = env.cmd(&args).output().await.unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        env
    }

    pub fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(bins::onair(self.home.path()));
        cmd.args(args)
            .env("ONAIR_TWITCH_CLIENT_ID", CLIENT_ID)
            .env("ONAIR_TWITCH_AUTH_URL", &self.auth.base)
            .env("ONAIR_TWITCH_EVENTSUB_URL", &self.es.ws_url)
            .env("ONAIR_TWITCH_HELIX_URL", &self.es.helix_url)
            .env("ONAIR_TUI_TOKEN_STORE", "file")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// This process's token owner for the stored login.
    pub async fn tokens(&self, shutdown: &CancellationToken) -> TokenHandle {
        let store = TokenStore::file_in(self.home.path().join("data/onair"));
        let auth = Auth::new(
            OAuth::new(self.auth.base.parse().unwrap(), CLIENT_ID),
            store,
        );
        let token = auth.current().await.unwrap();
        owner::spawn(auth, token, shutdown.clone()).0
    }

    /// The direct client on the fake with test timings.
    pub async fn direct(&self) -> (mpsc::Receiver<DirectEvent>, CancellationToken) {
        let shutdown = CancellationToken::new();
        let mut cfg = DirectConfig::new(
            self.es.ws_url.parse().unwrap(),
            self.es.helix_url.parse().unwrap(),
            CLIENT_ID.into(),
            "quillstream".into(),
        );
        cfg.backoff = (Duration::from_millis(100), Duration::from_millis(200));
        cfg.grace = Duration::from_millis(300);
        let (tx, rx) = mpsc::channel(256);
        let tokens = self.tokens(&shutdown).await;
        tokio::spawn(direct::run(cfg, tokens, tx, shutdown.clone()));
        (rx, shutdown)
    }

    /// No frame from the client ever, and no close for a client bug.
    pub fn assert_nothing_sent_inbound(&self) {
        assert_eq!(self.es.with(|s| s.inbound.clone()), Vec::<String>::new());
        let codes: Vec<_> = self.es.with(|s| s.closes.clone());
        assert!(
            codes.iter().all(|(_, c)| !matches!(c, Some(4001..=4004))),
            "{codes:?}"
        );
    }
}
