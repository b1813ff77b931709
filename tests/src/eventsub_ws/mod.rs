//! A fake of Twitch's EventSub WebSocket (`twitch.md` E) and its Helix subscription endpoint
//! (E.2), on loopback: a welcome first, keepalives only when idle, notifications, a
//! `session_reconnect` whose `reconnect_url` works and carries the subscriptions, revocations,
//! close codes on demand, 4003 when no subscription arrives in time, and 4001 on any inbound
//! text or binary frame. Helix answers 202, 409 for a duplicate on the session, 403 for a
//! missing scope, and takes user tokens only. Tests steer it through [`FakeEventSub`].

mod frames;
mod helix;
mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::twitch_auth::FakeAuth;

/// What a socket task is told to do.
#[derive(Debug)]
enum Cmd {
    /// Send this text frame.
    Send(String),
    /// Close with this code.
    Close(u16),
    /// Send nothing more (not even keepalives) while keeping the socket open.
    Silence,
}

#[derive(Debug)]
struct Session {
    tx: mpsc::UnboundedSender<Cmd>,
    connected_at: String,
}

/// What the fake holds and has seen; read it through [`FakeEventSub::with`].
#[derive(Debug)]
pub struct WsState {
    /// `keepalive_timeout_seconds` announced in welcomes and used for keepalives.
    pub keepalive_s: u64,
    /// Close with 4003 when a fresh session has no subscription after this long.
    pub unused_after: Duration,
    /// Subscriptions (E.3 objects), oldest first; disconnected ones keep their final status.
    pub subs: Vec<Value>,
    /// Every create request as (type, status answered).
    pub creates: Vec<(String, u16)>,
    /// Every text or binary frame a client sent (Twitch closes with 4001 on one).
    pub inbound: Vec<String>,
    /// Every connection's query (`""`, or `reconnect_id=...`), in order.
    pub connects: Vec<String>,
    /// Close codes the fake sent or received, per session id.
    pub closes: Vec<(String, Option<u16>)>,
    /// Open sessions, the newest last.
    open: Vec<String>,
    sessions: HashMap<String, Session>,
    base: String,
}

/// A running fake.
#[derive(Debug, Clone)]
pub struct FakeEventSub {
    /// `ws://127.0.0.1:PORT/ws`: the value for `twitch.eventsub_url`.
    pub ws_url: String,
    /// `http://127.0.0.1:PORT/helix`: the value for `twitch.helix_url`.
    pub helix_url: String,
    /// The streamer's actions and user lookups on the same Helix (`twitch.md` G).
    pub actions: crate::helix_actions::FakeActions,
    state: Arc<Mutex<WsState>>,
    changed: watch::Receiver<u64>,
    bump: Arc<watch::Sender<u64>>,
}

#[derive(Clone)]
struct Ctx {
    state: Arc<Mutex<WsState>>,
    auth: FakeAuth,
    bump: Arc<watch::Sender<u64>>,
}

impl Ctx {
    fn read<T>(&self, f: impl FnOnce(&WsState) -> T) -> T {
        f(&self.state.lock().unwrap())
    }

    fn with<T>(&self, f: impl FnOnce(&mut WsState) -> T) -> T {
        let r = f(&mut self.state.lock().unwrap());
        self.bump.send_modify(|n| *n += 1);
        r
    }
}

impl FakeEventSub {
    /// Starts the fake; tokens are checked against `auth`.
    pub async fn start(auth: FakeAuth) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(WsState {
            keepalive_s: 10,
            unused_after: Duration::from_secs(10),
            subs: Vec::new(),
            creates: Vec::new(),
            inbound: Vec::new(),
            connects: Vec::new(),
            closes: Vec::new(),
            open: Vec::new(),
            sessions: HashMap::new(),
            base: format!("ws://{addr}/ws"),
        }));
        let (bump, changed) = watch::channel(0);
        let bump = Arc::new(bump);
        let (actions_router, actions) = crate::helix_actions::router(auth.clone());
        let ctx = Ctx {
            state: state.clone(),
            auth,
            bump: bump.clone(),
        };
        let app = Router::new()
            .route("/ws", get(socket::upgrade))
            .route("/helix/eventsub/subscriptions", post(helix::create))
            .with_state(ctx)
            .merge(actions_router);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            ws_url: format!("ws://{addr}/ws"),
            helix_url: format!("http://{addr}/helix"),
            actions,
            state,
            changed,
            bump,
        }
    }

    /// Reads or changes the fake's state.
    pub fn with<T>(&self, f: impl FnOnce(&mut WsState) -> T) -> T {
        let r = f(&mut self.state.lock().unwrap());
        self.bump.send_modify(|n| *n += 1);
        r
    }

    /// Waits (at most 10 s) until `cond` holds.
    pub async fn wait(&self, what: &str, cond: impl Fn(&WsState) -> bool) {
        let mut changed = self.changed.clone();
        let wait = async {
            loop {
                if cond(&self.state.lock().unwrap()) {
                    return;
                }
                changed.changed().await.unwrap();
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .is_err()
        {
            panic!("the fake EventSub never saw: {what}");
        }
    }

    /// The newest open session's id.
    pub fn session(&self) -> String {
        self.with(|s| s.open.last().cloned().expect("no open EventSub session"))
    }

    /// Enabled subscriptions on the newest open session.
    pub fn enabled(&self) -> usize {
        self.with(|s| {
            let id = s.open.last().cloned().unwrap_or_default();
            s.subs
                .iter()
                .filter(|v| v["status"] == "enabled" && v["transport"]["session_id"] == id.as_str())
                .count()
        })
    }

    /// Sends a notification of `kind` (the fixture's event) with message id `id` for every
    /// enabled subscription of that type, each on its session. Panics when there is none.
    pub fn notify_as(&self, kind: &str, id: &str) {
        let event: Value = serde_json::from_str(&crate::eventsub::fixture(kind)).unwrap();
        self.with(|s| {
            let subs: Vec<&Value> = s
                .subs
                .iter()
                .filter(|v| v["type"] == kind && v["status"] == "enabled")
                .collect();
            assert!(!subs.is_empty(), "no enabled {kind} subscription");
            for sub in subs {
                let session = sub["transport"]["session_id"].as_str().unwrap();
                let frame = frames::notification(id, sub, &event["event"]);
                if let Some(sess) = s.sessions.get(session) {
                    let _ = sess.tx.send(Cmd::Send(frame));
                }
            }
        });
    }

    /// Whether some session holds an enabled subscription of `kind`.
    pub fn has(&self, kind: &str) -> bool {
        self.with(|s| {
            s.subs
                .iter()
                .any(|v| v["type"] == kind && v["status"] == "enabled")
        })
    }

    /// [`FakeEventSub::notify_as`] with a new message id, which it returns.
    pub fn notify(&self, kind: &str) -> String {
        let id = crate::eventsub::message_id();
        self.notify_as(kind, &id);
        id
    }

    /// Sends `session_reconnect` on the newest session and then, on that same old socket,
    /// a notification of each of `then`; returns their message ids.
    pub fn reconnect_then(&self, then: &[&str]) -> Vec<String> {
        let old = self.session();
        self.with(|s| {
            let url = format!("{}?reconnect_id={old}", s.base);
            let sess = &s.sessions[&old];
            let frame = frames::reconnect(&old, &sess.connected_at, &url);
            sess.tx.send(Cmd::Send(frame)).unwrap();
        });
        then.iter().map(|k| self.notify(k)).collect()
    }

    /// Revokes the enabled subscription of `kind` with `status` as the reason.
    pub fn revoke(&self, kind: &str, status: &str) {
        self.with(|s| {
            let Some(sub) = s
                .subs
                .iter_mut()
                .find(|v| v["type"] == kind && v["status"] == "enabled")
            else {
                panic!("no enabled {kind} subscription");
            };
            sub["status"] = status.into();
            let session = sub["transport"]["session_id"].as_str().unwrap().to_owned();
            let frame = frames::revocation(sub);
            s.sessions[&session].tx.send(Cmd::Send(frame)).unwrap();
        });
    }

    /// Closes the newest session with `code` (`twitch.md` E.5).
    pub fn close(&self, code: u16) {
        let id = self.session();
        self.with(|s| s.sessions[&id].tx.send(Cmd::Close(code)).unwrap());
    }

    /// The newest session goes silent: no keepalive, nothing, the socket still open.
    pub fn silence(&self) {
        let id = self.session();
        self.with(|s| s.sessions[&id].tx.send(Cmd::Silence).unwrap());
    }
}
