//! The relay's shared state, its router, and `serve` with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
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
use crate::intake::Gate;
use crate::metrics::Metrics;
use crate::net;
use crate::store::{Running, Store, StoreError};

/// Largest webhook body accepted (Twitch's are a few KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How often removed clients are looked for (another process, or with Redis another machine,
/// may remove one): twice a second, so a removal takes effect everywhere within a second.
const CLIENT_POLL: Duration = Duration::from_millis(500);
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
    /// Longest a socket may take to accept the next frame before it is dropped as stuck.
    pub send_timeout: Duration,
    /// Live events buffered per socket before a slow one resyncs from the store.
    pub live_buffer: usize,
    /// TCP connections, header-read and idle timeouts.
    pub limits: net::Limits,
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
            limits: net::Limits {
                max_connections: 10_000,
                header_read_timeout: Duration::from_secs(10),
                // Above two ping periods, so a quiet WebSocket is never idle (pings move bytes).
                idle_timeout: Duration::from_secs(75),
            },
        }
    }
}

/// Everything handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    settings: Settings,
    store: Store,
    hub: Hub,
    metrics: Metrics,
    /// Cancelled at shutdown: every socket sends a close frame and ends.
    shutdown: CancellationToken,
    /// Socket and background tasks, awaited at shutdown.
    tasks: TaskTracker,
    /// Woken after a revocation so the subscriptions are synced again.
    resync: tokio::sync::Notify,
    /// Who may start sending a webhook body.
    intake: Gate,
}

impl AppState {
    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The fan-out hub.
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Webhook admission.
    pub fn intake(&self) -> &Gate {
        &self.0.intake
    }

    /// Cancelled when the relay shuts down.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.0.shutdown
    }

    /// Tasks awaited at shutdown.
    pub fn tasks(&self) -> &TaskTracker {
        &self.0.tasks
    }

    /// Asks for a subscription sync soon (after a revocation).
    pub fn request_resync(&self) {
        self.0.resync.notify_one();
    }

    /// Whether the relay can take webhooks: the store answers and its last commit did not fail.
    pub fn healthy(&self) -> bool {
        self.0.store.healthy()
    }
}

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

/// A relay ready to serve: its state and the store's background work.
#[derive(Debug)]
pub struct Relay {
    state: AppState,
    running: Running,
    sync: Option<SyncSettings>,
    tls: Option<net::Tls>,
}

impl Relay {
    /// Starts the store's background work, which feeds committed events to the hub.
    pub fn new(settings: Settings, mut store: Store) -> Result<Self, StoreError> {
        let shutdown = CancellationToken::new();
        let hub = Hub::new(settings.live_buffer);
        let running = store.start(Arc::new(hub.clone()))?;
        let state = AppState(Arc::new(Inner {
            settings,
            store,
            hub,
            metrics: Metrics::default(),
            shutdown,
            tasks: TaskTracker::new(),
            resync: tokio::sync::Notify::new(),
            intake: Gate::default(),
        }));
        Ok(Self {
            state,
            running,
            sync: None,
            tls: None,
        })
    }

    /// Syncs the EventSub subscriptions at start and after every revocation.
    pub fn with_sync(mut self, sync: SyncSettings) -> Self {
        self.sync = Some(sync);
        self
    }

    /// Serves HTTPS with `tls` instead of plain HTTP.
    pub fn with_tls(mut self, tls: net::Tls) -> Self {
        self.tls = Some(tls);
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
            running,
            sync,
            tls,
        } = self;
        if let Some(sync) = sync {
            state.tasks().spawn(keep_subscribed(state.clone(), sync));
        }
        state.tasks().spawn(watch_clients(state.clone()));
        state.tasks().spawn(prune(state.clone()));
        let (token, hub) = (state.shutdown().clone(), state.hub().clone());
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown => token.cancel(),
                () = token.cancelled() => {}
            }
            // Sockets wait on their bells, not on the token.
            hub.ring_all();
        });
        let limits = state.settings().limits;
        // Connections finish the request they are in; upgraded sockets close once the token is
        // cancelled and their bells rung (axum's graceful shutdown does not wait for them:
        // tokio-rs/axum#3003).
        let result = net::serve(
            listener,
            app(state.clone()),
            limits,
            tls,
            state.shutdown().clone(),
            SHUTDOWN_GRACE,
        )
        .await;
        state.tasks().close();
        if tokio::time::timeout(SHUTDOWN_GRACE, state.tasks().wait())
            .await
            .is_err()
        {
            tracing::warn!("some sockets did not close in time");
        }
        // In-flight intake has been answered; the store commits anything left, then ends.
        running.stop().await;
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
            () = state.shutdown().cancelled() => return,
            _ = tick.tick() => {}
        }
        if state.hub().open_sockets() == 0 {
            continue;
        }
        match state.store().client_ids().await {
            Ok(ids) => {
                let closed = state.hub().retain_clients(&ids);
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
                    if let Err(e) = state.store().publish_status(frame.to_json()).await {
                        tracing::warn!(error = %e, "cannot tell clients the subscriptions");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "subscription sync failed"),
        }
        tokio::select! {
            () = state.shutdown().cancelled() => return,
            () = state.0.resync.notified() => {}
        }
        tokio::select! {
            () = state.shutdown().cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Deletes events older than `retention_days`, at start and hourly.
async fn prune(state: AppState) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = state.shutdown().cancelled() => return,
            _ = tick.tick() => {}
        }
        let keep_ms = i64::from(state.settings().retention_days) * 86_400_000;
        let cutoff = jiff::Timestamp::now().as_millisecond() - keep_ms;
        let pruned = tokio::select! {
            () = state.shutdown().cancelled() => return,
            r = state.store().prune(cutoff) => r,
        };
        match pruned {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned old events"),
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
    }
}
