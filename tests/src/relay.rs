//! Runs a real relay on loopback with a real SQLite file, and a WebSocket client that speaks the
//! wire protocol.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::{SinkExt, StreamExt};
use onair_common::Secret;
use onair_common::wire::{ClientFrame, ServerFrame, Subscribe};
use onair_relay::store::Store;
use onair_relay::{Relay, Settings};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::eventsub::Sender;

/// The webhook secret test relays use (`twitch.md` V3's).
pub const SECRET: &str = "relay-fake-secret-0123456789";

/// A relay serving on 127.0.0.1 with its database in `dir`.
#[derive(Debug)]
pub struct TestRelay {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its database file.
    pub database: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Counters, for assertions.
    pub state: onair_relay::AppState,
}

impl TestRelay {
    /// Starts a relay on `database` with production timings.
    pub async fn start(database: &Path) -> Self {
        Self::start_with(database, |_| {}).await
    }

    /// Starts a relay, letting the test adjust its settings.
    pub async fn start_with(database: &Path, adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::start_at(database, "127.0.0.1:0".parse().unwrap(), adjust).await
    }

    /// Starts a relay that keeps its EventSub subscriptions in sync.
    pub async fn start_synced(database: &Path, sync: onair_relay::app::SyncSettings) -> Self {
        Self::start_full(database, "127.0.0.1:0".parse().unwrap(), |_| {}, Some(sync)).await
    }

    /// Starts a relay on a given address (to restart one where its clients expect it).
    pub async fn start_at(
        database: &Path,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::start_full(database, addr, adjust, None).await
    }

    /// Starts a relay on a store the test opened (a Redis one, say).
    pub async fn start_on(store: Store, adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::start_store(
            store,
            PathBuf::new(),
            "127.0.0.1:0".parse().unwrap(),
            adjust,
            None,
        )
        .await
    }

    async fn start_full(
        database: &Path,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut Settings),
        sync: Option<onair_relay::app::SyncSettings>,
    ) -> Self {
        let store = Store::open(database).unwrap();
        Self::start_store(store, database.to_owned(), addr, adjust, sync).await
    }

    async fn start_store(
        store: Store,
        database: PathBuf,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut Settings),
        sync: Option<onair_relay::app::SyncSettings>,
    ) -> Self {
        let mut settings = Settings::new(Secret::new(SECRET), 8, 30);
        adjust(&mut settings);
        let mut relay = Relay::new(settings, store).unwrap();
        if let Some(sync) = sync {
            relay = relay.with_sync(sync);
        }
        let state = relay.state().clone();
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            base: format!("http://{addr}"),
            database,
            stop: Some(stop),
            task: Some(task),
            state,
        }
    }

    /// A fake Twitch that posts to this relay.
    pub fn twitch(&self) -> Sender {
        Sender::new(&self.base, SECRET)
    }

    /// Posts a fresh notification of `kind` (a fixture) as Twitch would; the answer's status.
    pub async fn post(&self, kind: &str) -> u16 {
        self.twitch()
            .send(&crate::eventsub::Delivery::fixture(kind))
            .await
            .status()
            .as_u16()
    }

    /// Creates a client and returns its token (as `onair-relay client add` does).
    pub fn add_client(&self, name: &str) -> String {
        let store = Store::open(&self.database).unwrap();
        // The SQLite engine answers client commands without waiting on anything.
        store
            .add_client(name)
            .now_or_never()
            .expect("SQLite adds a client at once")
            .unwrap()
    }

    /// Removes a client through a separate connection, as another process would.
    pub fn remove_client(&self, name: &str) {
        let store = Store::open(&self.database).unwrap();
        store
            .remove_client(name)
            .now_or_never()
            .expect("SQLite removes a client at once")
            .unwrap();
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = reqwest::Client::new().get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Stores `n` events of `kind` for `channel` straight through the writer, as if received
    /// at `received_ms` (old ones to test pruning); far faster than posting each.
    pub async fn seed(&self, n: usize, kind: &str, received_ms: i64) {
        let body: serde_json::Value =
            serde_json::from_str(&crate::eventsub::fixture(kind)).unwrap();
        let envelope: onair_common::eventsub::Envelope = serde_json::from_value(body).unwrap();
        let received = jiff::Timestamp::from_millisecond(received_ms).unwrap();
        let mut left = n;
        while left > 0 {
            let batch = left.min(512);
            left -= batch;
            let appends = (0..batch).map(|_| {
                let id = crate::eventsub::message_id();
                let event = onair_common::Event::from_notification(
                    &id,
                    "2026-01-01T00:00:00Z",
                    &envelope,
                    received,
                )
                .unwrap();
                self.state.store().append(event, received_ms)
            });
            for r in futures_util::future::join_all(appends).await {
                r.unwrap();
            }
        }
    }

    /// Graceful shutdown; waits until the relay has stopped.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("relay did not stop in time")
                .unwrap()
                .unwrap();
        }
    }
}

/// Every event the relay at `base` stores, as `(seq, message id)`, paged through `/api/events`
/// as a script would.
pub async fn stored_events(base: &str, token: &str) -> Vec<(u64, String)> {
    let http = reqwest::Client::new();
    let mut stored: Vec<(u64, String)> = Vec::new();
    loop {
        let after = stored.last().map_or(0, |(seq, _)| *seq);
        let page: serde_json::Value = http
            .get(format!("{base}/api/events?after={after}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            return stored;
        }
        stored.extend(events.iter().map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
            )
        }));
    }
}

/// A WebSocket client of the relay.
#[derive(Debug)]
pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// `last_seq` from the welcome frame.
    pub welcome_seq: u64,
    /// `first_seq` from the welcome frame.
    pub first_seq: u64,
    /// `epoch` from the welcome frame.
    pub epoch: String,
}

/// How long a test waits for a frame it expects.
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

impl WsClient {
    /// Connects with `?token=` and reads the welcome.
    pub async fn connect(relay: &TestRelay, token: &str) -> Self {
        Self::try_connect(relay, token).await.expect("connect")
    }

    /// Connects to the relay at `base` (`http://HOST:PORT`) and reads the welcome.
    pub async fn connect_to(base: &str, token: &str) -> Self {
        Self::try_connect_to(base, token).await.expect("connect")
    }

    /// Connects with a small kernel receive buffer, as a client on a slow link sees it: what
    /// the relay sends waits in the relay's buffers rather than the client's.
    pub async fn connect_small_buffer(relay: &TestRelay, token: &str) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(32 * 1024).unwrap();
        let tcp = socket.connect(relay.addr).await.unwrap();
        let url = format!("ws://{}/ws?token={token}", relay.addr);
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
        Self::welcomed(ws).await
    }

    /// Connects, or returns the HTTP status the relay refused with.
    pub async fn try_connect(relay: &TestRelay, token: &str) -> Result<Self, u16> {
        Self::try_connect_to(&relay.base, token).await
    }

    /// Connects to `base`, or returns the HTTP status the relay refused with (0: nobody
    /// listens).
    pub async fn try_connect_to(base: &str, token: &str) -> Result<Self, u16> {
        let host = base.trim_start_matches("http://");
        let url = format!("ws://{host}/ws?token={token}");
        let (ws, _) = match tokio_tungstenite::connect_async(url).await {
            Ok(ok) => ok,
            Err(tungstenite::Error::Http(resp)) => return Err(resp.status().as_u16()),
            // Nobody listening (a relay that was killed): no HTTP status at all.
            Err(tungstenite::Error::Io(_)) => return Err(0),
            Err(e) => panic!("connect failed: {e}"),
        };
        Ok(Self::welcomed(ws).await)
    }

    /// Connects over TLS to `name` at 127.0.0.1:`port`, trusting only `roots_pem`.
    pub async fn connect_tls(port: u16, name: &str, token: &str, roots_pem: &str) -> Self {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(roots_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let url = format!("wss://{name}:{port}/ws?token={token}");
        let connector = tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(config));
        let (ws, _) =
            tokio_tungstenite::client_async_tls_with_config(url, tcp, None, Some(connector))
                .await
                .unwrap();
        Self::welcomed(ws).await
    }

    async fn welcomed(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let mut c = Self {
            ws,
            welcome_seq: 0,
            first_seq: 0,
            epoch: String::new(),
        };
        match c.next_frame().await {
            Some(ServerFrame::Welcome {
                protocol: 1,
                last_seq,
                first_seq,
                epoch,
            }) => {
                c.welcome_seq = last_seq;
                c.first_seq = first_seq;
                c.epoch = epoch;
            }
            other => panic!("expected welcome, got {other:?}"),
        }
        c
    }

    /// Sends `subscribe`. Without `after`, resumes from the welcome's `last_seq`: the same feed as
    /// "live from now", but without racing events posted before the relay reads the frame.
    pub async fn subscribe(&mut self, mut sub: Subscribe) {
        sub.after = sub.after.or(Some(self.welcome_seq));
        self.send_text(ClientFrame::Subscribe(sub).to_json()).await;
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next protocol frame, or `None` when the socket closed. Panics after [`FRAME_WAIT`].
    pub async fn next_frame(&mut self) -> Option<ServerFrame> {
        self.next_frame_within(FRAME_WAIT)
            .await
            .expect("no frame in time")
    }

    /// The next protocol frame within `wait`: `Err(())` on time-out, `Ok(None)` on close.
    pub async fn next_frame_within(&mut self, wait: Duration) -> Result<Option<ServerFrame>, ()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| ())?;
            match msg {
                Some(Ok(Message::Text(t))) => return Ok(Some(ServerFrame::parse(&t).unwrap())),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(None),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next message of any kind (pings included), or `None` when the socket closed.
    pub async fn next_message(&mut self) -> Option<Message> {
        match tokio::time::timeout(FRAME_WAIT, self.ws.next())
            .await
            .expect("no message in time")
        {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                eprintln!("websocket error: {e}");
                None
            }
            None => None,
        }
    }

    /// The close frame's code and reason, skipping other frames.
    pub async fn close_reason(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(FRAME_WAIT, self.ws.next())
                .await
                .expect("no close in time")
            {
                Some(Ok(Message::Close(Some(f)))) => {
                    return Some((f.code.into(), f.reason.to_string()));
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next event frame's event.
    pub async fn next_event(&mut self) -> onair_common::Event {
        match self.next_frame().await {
            Some(ServerFrame::Event { event }) => *event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Asserts that no frame arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(frame) = self.next_frame_within(wait).await {
            panic!("expected no frame, got {frame:?}");
        }
    }
}
