//! The relay's store, behind one handle whatever the engine: the embedded SQLite file (the
//! default, `sqlite`) or a Redis server several relays share (`relay.redis_url`, `redis`).
//! Intake, fan-out, the API and the CLI talk to [`Store`] and never learn which engine it is.
//!
//! Both engines promise the same things: a Twitch message id seen in the last [`DEDUPE_WINDOW`]
//! is not stored again; stored events get strictly increasing seqs, and a seq never names two
//! events; an append returns only once the event is durable; and every committed event reaches
//! the [`Feed`] once, in seq order (with Redis, on every instance). The SQLite engine may publish
//! a commit before it is durable (`sqlite/reserve.rs`): after its machine lost power, Twitch
//! re-delivers what was lost and clients may see that event again under a new seq, after a
//! hole in the seqs.

mod export;
mod redis;
mod sqlite;
mod tokens;
mod types;

use std::collections::BTreeMap;
use std::sync::Arc;

use onair_common::Event;
use onair_common::config::Config;
use onair_common::eventsub::Subscription;

pub use export::{export, import};
pub use tokens::{hash_token, new_token};
pub use types::{Appended, ClientId, ClientInfo, Feed, Head, Page, Query, Row, StoreError, Stored};

/// How long both engines remember a message id. Twitch asks for at least 10 minutes, and the
/// timestamp check refuses a redelivery older than that anyway; an hour leaves room for a retry
/// Twitch signs afresh.
const DEDUPE_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Clone)]
enum Engine {
    Sqlite(sqlite::Sqlite),
    // Boxed: its client keeps the connection settings (TLS included) inline.
    Redis(Box<redis::Redis>),
}

/// A cheap, cloneable handle to the store.
#[derive(Debug, Clone)]
pub struct Store(Engine);

/// The store's background work (the SQLite writer thread, or the Redis stream reader); ended by
/// [`Running::stop`] after what was queued is committed.
#[derive(Debug)]
pub struct Running(RunningInner);

#[derive(Debug)]
enum RunningInner {
    Sqlite(sqlite::Running),
    Redis(redis::Running),
}

impl Running {
    /// Commits what is queued, then ends the background work.
    pub async fn stop(self) {
        match self.0 {
            RunningInner::Sqlite(r) => r.stop().await,
            RunningInner::Redis(r) => r.stop().await,
        }
    }
}

impl Store {
    /// Opens the SQLite file at `path`, creating it and its tables when missing.
    pub fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        Ok(Self(Engine::Sqlite(sqlite::Sqlite::open(path)?)))
    }

    /// Connects to the Redis (or Valkey) server at `url` (`redis://` or `rediss://`).
    pub async fn open_redis(url: &str) -> Result<Self, StoreError> {
        Ok(Self(Engine::Redis(Box::new(
            redis::Redis::connect(url).await?,
        ))))
    }

    /// Opens the engine the config names: Redis when `relay.redis_url` is set, else the SQLite
    /// file `relay.database`.
    pub async fn from_config(config: &Config) -> Result<Self, StoreError> {
        match &config.relay.redis_url {
            Some(url) => Self::open_redis(url.expose()).await,
            None => Self::open(&config.relay.database),
        }
    }

    /// Where the data is, for logs (never a password).
    pub fn describe(&self) -> String {
        match &self.0 {
            Engine::Sqlite(s) => s.path().display().to_string(),
            Engine::Redis(r) => r.describe(),
        }
    }

    /// Starts the background work that commits writes and feeds `feed`; writes before this
    /// fail with [`StoreError::Closed`] on SQLite.
    pub fn start(&mut self, feed: Arc<dyn Feed>) -> Result<Running, StoreError> {
        Ok(Running(match &mut self.0 {
            Engine::Sqlite(s) => RunningInner::Sqlite(s.start(feed)?),
            Engine::Redis(r) => RunningInner::Redis(r.start(feed)),
        }))
    }

    /// Stores an event received at `received_ms`; returns once it is durable.
    pub async fn append(&self, event: Event, received_ms: i64) -> Result<Appended, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.append(event, received_ms).await,
            Engine::Redis(r) => {
                r.bounded(redis::REQUEST_LIMIT, r.append(event, received_ms))
                    .await
            }
        }
    }

    /// Records a revocation and tells every socket (a `status` frame); `false` when its message
    /// id was seen before.
    pub async fn revoke(
        &self,
        message_id: String,
        sub: &Subscription,
        received_ms: i64,
    ) -> Result<bool, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.revoke(message_id, sub, received_ms).await,
            Engine::Redis(r) => {
                r.bounded(redis::REQUEST_LIMIT, r.revoke(message_id, sub, received_ms))
                    .await
            }
        }
    }

    /// Sends a `status` frame to every socket (on every instance).
    pub async fn publish_status(&self, frame: String) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => {
                s.publish_status(frame);
                Ok(())
            }
            Engine::Redis(r) => {
                r.bounded(redis::REQUEST_LIMIT, r.publish_status(frame))
                    .await
            }
        }
    }

    /// Deletes events and revocations received before `cutoff_ms`; returns how many events went.
    pub async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.prune(cutoff_ms).await,
            Engine::Redis(r) => r.prune(cutoff_ms).await,
        }
    }

    /// Whether the store takes writes: the last commit did not fail and, with Redis, the
    /// server answers.
    pub fn healthy(&self) -> bool {
        match &self.0 {
            Engine::Sqlite(s) => s.healthy(),
            Engine::Redis(r) => r.healthy(),
        }
    }

    /// The seqs stored now.
    pub async fn head(&self) -> Result<Head, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.head().await,
            Engine::Redis(r) => r.bounded(redis::REQUEST_LIMIT, r.head()).await,
        }
    }

    /// The name of this store's history (`welcome.epoch`).
    pub fn epoch(&self) -> Arc<str> {
        match &self.0 {
            Engine::Sqlite(s) => s.epoch(),
            Engine::Redis(r) => r.epoch(),
        }
    }

    /// Stored events matching `q`, ascending, as stored: for senders that splice the seq into
    /// the body rather than parse and serialize every event again.
    pub async fn rows(&self, q: Query) -> Result<Page<Row>, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.rows(q).await,
            Engine::Redis(r) => r.bounded(redis::PAGE_LIMIT, r.rows(q)).await,
        }
    }

    /// Events matching `q`, ascending, with the store's bounds at the time of the read.
    pub async fn events(&self, q: Query) -> Result<Page, StoreError> {
        let page = self.rows(q).await?;
        let events = page
            .events
            .into_iter()
            .map(|r| decode(r.seq, &r.body))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            events,
            head: page.head,
            more: page.more,
        })
    }

    /// Counts per type for a channel (all channels when `None`) received since `since_ms`.
    pub async fn stats(
        &self,
        channel: Option<String>,
        since_ms: i64,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.stats(channel, since_ms).await,
            Engine::Redis(r) => r.stats(channel, since_ms).await,
        }
    }

    /// The client a token belongs to.
    pub async fn authenticate(&self, token: String) -> Result<Option<ClientId>, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.authenticate(token).await,
            Engine::Redis(r) => {
                r.bounded(redis::REQUEST_LIMIT, r.authenticate(&token))
                    .await
            }
        }
    }

    /// The ids of every client, to notice removals made by another process.
    pub async fn client_ids(&self) -> Result<Vec<ClientId>, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.client_ids().await,
            Engine::Redis(r) => r.bounded(redis::REQUEST_LIMIT, r.client_ids()).await,
        }
    }

    /// Adds a client; returns its token, which is stored only as a hash.
    pub async fn add_client(&self, name: &str) -> Result<String, StoreError> {
        let name = valid_client_name(name)?;
        match &self.0 {
            Engine::Sqlite(s) => s.add_client(name),
            Engine::Redis(r) => r.add_client(name).await,
        }
    }

    /// Every client, oldest first.
    pub async fn clients(&self) -> Result<Vec<ClientInfo>, StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.clients(),
            Engine::Redis(r) => r.clients().await,
        }
    }

    /// Removes a client by name.
    pub async fn remove_client(&self, name: &str) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.remove_client(name.trim()),
            Engine::Redis(r) => r.remove_client(name.trim()).await,
        }
    }

    /// Stores events with the seqs they carry (an import), refusing seqs at or below the head.
    pub(crate) async fn insert_with_seqs(
        &self,
        events: Vec<(Event, i64)>,
    ) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.insert_with_seqs(events).await,
            Engine::Redis(r) => r.insert_with_seqs(events).await,
        }
    }

    /// Whether writes and reads work (for `check`).
    pub async fn probe(&self) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Sqlite(s) => s.probe(),
            Engine::Redis(r) => r.probe().await,
        }
    }
}

fn valid_client_name(name: &str) -> Result<&str, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(StoreError::Client(
            "a client name must be 1-64 printable characters".into(),
        ));
    }
    Ok(name)
}

fn taken(name: &str) -> StoreError {
    StoreError::Client(format!(
        "a client named {name:?} exists already; remove it first or pick another name"
    ))
}

fn unknown(name: &str) -> StoreError {
    StoreError::Client(format!("no client named {name:?}"))
}

/// A stored body (EVENT JSON without seq) with its seq filled in.
fn decode(seq: u64, body: &str) -> Result<Event, StoreError> {
    let mut ev: Event = serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        seq,
        reason: e.to_string(),
    })?;
    ev.seq = Some(seq);
    Ok(ev)
}

/// An event's stored form: the EVENT with `"seq":null`, which the fan-out splices a seq into.
fn body_of(mut event: Event) -> (Event, String) {
    event.seq = None;
    let body = serde_json::to_string(&event).unwrap_or_default();
    (event, body)
}

/// A revocation's record: the subscription, naming the channel by login when it is known.
fn revocation_info(
    sub: &Subscription,
    login: Option<String>,
) -> onair_common::wire::SubscriptionInfo {
    let id = sub
        .condition_broadcaster_id()
        .unwrap_or_default()
        .to_owned();
    onair_common::wire::SubscriptionInfo {
        id: sub.id.clone(),
        kind: sub.kind.clone(),
        version: sub.version.clone(),
        channel: login.unwrap_or(id),
        status: sub.status.clone(),
        cost: sub.cost,
        created_at: sub.created_at.clone(),
    }
}

/// The `status` frame telling sockets about one revoked subscription.
fn revocation_frame(info: &onair_common::wire::SubscriptionInfo) -> String {
    onair_common::wire::ServerFrame::Status {
        subscriptions: vec![info.clone()],
    }
    .to_json()
}
