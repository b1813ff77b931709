//! The relay's shared state, its router, and `serve` with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use onair_common::Secret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::http;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, Writer, clients};

/// Largest webhook body accepted (Twitch's are a few KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How often removed clients are looked for (another process may remove one).
const CLIENT_POLL: Duration = Duration::from_secs(1);
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long shutdown waits for sockets to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Settings the server needs, taken from `[relay]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// EventSub secret.
    pub webhook_secret: Secret,
    /// Concurrent sockets per client token.
    pub max_connections_per_client: u32,
    /// Days events are kept.
    pub retention_days: u32,
    /// WebSocket ping period; a socket silent for two periods is dropped.
    pub ping_interval: Duration,
    /// Longest a socket may take to accept one frame before it is dropped as stuck.
    pub send_timeout: Duration,
    /// Live events buffered per socket before a slow one resyncs from the store.
    pub live_buffer: usize,
    /// Longest a webhook body may take to arrive (slow-body clients are cut off with 408).
    pub body_timeout: Duration,
}

impl Settings {
    /// Production timings with the given secret and limits.
    pub fn new(
        webhook_secret: Secret,
        max_connections_per_client: u32,
        retention_days: u32,
    ) -> Self {
        Self {
            webhook_secret,
            max_connections_per_client,
            retention_days,
            ping_interval: Duration::from_secs(30),
            send_timeout: Duration::from_secs(10),
            live_buffer: 4096,
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub settings: Settings,
    pub store: Store,
    pub writer: Writer,
    pub hub: Hub,
    pub metrics: Metrics,
    /// Cancelled at shutdown: every socket sends a close frame and ends.
    pub shutdown: CancellationToken,
    /// Socket and background tasks, awaited at shutdown.
    pub tasks: TaskTracker,
    /// Woken after a revocation so the subscriptions are synced again.
    pub resync: tokio::sync::Notify,
    /// Webhooks being read, verified or stored at once; beyond it intake sheds with 503 before
    /// reading the body, so memory stays bounded however many connections arrive.
    pub intake: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Webhooks in flight at once (each holds at most a 1 MiB body).
pub const MAX_INTAKE_IN_FLIGHT: usize = 1024;

/// What `serve` needs to keep the EventSub subscriptions in line (when `relay.public_url` is set).
#[derive(Debug)]
pub struct SyncSettings {
    /// Helix with the app token.
    pub helix: crate::helix::Helix,
    /// `<public_url>/eventsub`.
    pub callback: String,
    /// The webhook secret.
    pub secret: Secret,
    /// `relay.channels`.
    pub channels: Vec<String>,
    /// `relay.events`.
    pub events: Vec<String>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A relay ready to serve: its state and the store's writer thread.
#[derive(Debug)]
pub struct Relay {
    state: AppState,
    writer_thread: JoinHandle<()>,
    sync: Option<SyncSettings>,
}

impl Relay {
    /// Opens the store and starts its writer.
    pub fn new(settings: Settings, store: Store) -> Result<Self, StoreError> {
        let hub = Hub::new(settings.live_buffer);
        let (writer, writer_thread) = Writer::start(&store, hub.event_sender())?;
        let state = AppState(Arc::new(Inner {
            settings,
            store,
            writer,
            hub,
            metrics: Metrics::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            resync: tokio::sync::Notify::new(),
            intake: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_INTAKE_IN_FLIGHT)),
        }));
        Ok(Self {
            state,
            writer_thread,
            sync: None,
        })
    }

    /// Syncs the EventSub subscriptions at start and after every revocation.
    pub fn with_sync(mut self, sync: SyncSettings) -> Self {
        self.sync = Some(sync);
        self
    }

    /// The state, for tests that inspect counters.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish,
    /// closes every socket with a close frame, and waits for the store to commit what it holds.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            state,
            writer_thread,
            sync,
        } = self;
        if let Some(sync) = sync {
            state.tasks.spawn(keep_subscribed(state.clone(), sync));
        }
        state.tasks.spawn(watch_clients(state.clone()));
        state.tasks.spawn(prune(state.clone()));
        let token = state.shutdown.clone();
        let signal = async move {
            tokio::select! {
                () = shutdown => {}
                () = token.cancelled() => {}
            }
            token.cancel();
        };
        let result = axum::serve(listener, app(state.clone()))
            .with_graceful_shutdown(signal)
            .await;
        // axum does not wait for upgraded sockets (tokio-rs/axum#3003): our token closes them.
        state.shutdown.cancel();
        state.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sockets did not close in time");
        }
        // In-flight intake has been answered; the writer commits anything left, then ends.
        state.writer.stop().await;
        let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
        tracing::info!("relay stopped");
        result
    }
}

/// The router, without a socket, so route tests can call it directly.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/eventsub",
            post(http::eventsub::handle).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/ws", get(http::ws::upgrade))
        .route("/api/events", get(http::api::events))
        .route("/api/stats", get(http::api::stats))
        .route("/metrics", get(http::api::metrics))
        .route("/healthz", get(http::api::healthz))
        .with_state(state)
}

/// Closes the sockets of clients removed by `onair-relay client remove` in another process.
async fn watch_clients(state: AppState) {
    let mut tick = tokio::time::interval(CLIENT_POLL);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if state.hub.open_sockets() == 0 {
            continue;
        }
        match state.store.read(clients::ids).await {
            Ok(ids) => {
                let closed = state.hub.retain_clients(&ids);
                if closed > 0 {
                    tracing::info!(sockets = closed, "closed the sockets of a removed client");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read clients"),
        }
    }
}

/// Runs the subscription sync at start and again after each revocation (a few seconds later, so
/// a burst of revocations costs one sync), and tells clients the resulting state.
async fn keep_subscribed(state: AppState, s: SyncSettings) {
    loop {
        let sync = crate::subs::Sync {
            helix: &s.helix,
            callback: s.callback.clone(),
            secret: &s.secret,
        };
        match sync.run(&s.channels, &s.events).await {
            Ok(r) => {
                tracing::info!(
                    created = r.created.len(),
                    deleted = r.deleted.len(),
                    kept = r.kept,
                    failed = r.failed.len(),
                    "synced EventSub subscriptions"
                );
                for f in &r.failed {
                    tracing::warn!(problem = %f, "subscription sync");
                }
                if let Ok(list) = crate::subs::list(&s.helix, &s.channels).await {
                    let frame = onair_common::wire::ServerFrame::Status {
                        subscriptions: list,
                    };
                    state.hub.publish_status(frame.to_json());
                }
            }
            Err(e) => tracing::warn!(error = %e, "subscription sync failed"),
        }
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = state.resync.notified() => {}
        }
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Deletes events older than `retention_days`, at start and hourly.
async fn prune(state: AppState) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let keep_ms = i64::from(state.settings.retention_days) * 86_400_000;
        let cutoff = jiff::Timestamp::now().as_millisecond() - keep_ms;
        match state.store.prune(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned old events"),
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
    }
}
