//! The shared engine: one Redis (or Valkey) server that several relays use at once
//! (`relay.redis_url`). Each append is one Lua script ([`scripts::APPEND`]) that dedupes by
//! message id, takes the next global seq and adds the event to a stream under that seq, so
//! instances never disagree on order. Each instance reads the stream on its own connection
//! ([`tail`]) and feeds its own sockets; everything else (client tokens, revocations, the epoch)
//! lives in Redis too, so any instance can answer any request.
//!
//! The 204 promise holds as far as the server's own durability: with `appendonly yes` and
//! `appendfsync always` a script's writes are on disk before it answers (docs/scaling.md).

mod clients;
mod epoch;
mod keys;
mod reads;
mod scripts;
mod tail;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Client, RedisError, Script};
use onair_common::Event;
use onair_common::eventsub::Subscription;

use super::{Appended, Feed, StoreError};

pub(super) use tail::Running;

/// Longest a command may take before the relay treats the server as down (webhooks get 503
/// and Twitch retries).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a request's store call may take in all (a webhook's append, a token check).
pub(super) const REQUEST_LIMIT: Duration = Duration::from_secs(2);
/// Longest a page read may take: it may be several script calls for a sparse filter.
pub(super) const PAGE_LIMIT: Duration = Duration::from_secs(5);
/// How long a message id is remembered, in the seconds `SET EX` takes.
const DEDUPE_TTL_S: u64 = super::DEDUPE_WINDOW.as_secs();
/// Stream entries one script call looks at before it hands control back to the server.
const SCAN_BUDGET: u32 = 4096;

struct Scripts {
    append: Script,
    revoke: Script,
    page: Script,
    head: Script,
    seek: Script,
    count: Script,
    import: Script,
    check: Script,
    add_client: Script,
    remove_client: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            append: Script::new(scripts::APPEND),
            revoke: Script::new(scripts::REVOKE),
            page: Script::new(&scripts::page()),
            head: Script::new(&scripts::head()),
            seek: Script::new(scripts::SEEK),
            count: Script::new(scripts::COUNT),
            import: Script::new(scripts::IMPORT),
            check: Script::new(scripts::CHECK),
            add_client: Script::new(scripts::ADD_CLIENT),
            remove_client: Script::new(scripts::REMOVE_CLIENT),
        }
    }
}

/// A handle to the Redis engine; cheap to clone.
#[derive(Clone)]
pub(super) struct Redis {
    client: Client,
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
    epoch: Arc<RwLock<Arc<str>>>,
    /// The last command failed for want of the server (none succeeded since).
    failing: Arc<AtomicBool>,
    /// The stream reader is connected.
    tailing: Arc<AtomicBool>,
    /// Where, without a password, for logs.
    shown: Arc<str>,
    /// The last seq and status entry when the store was opened: where this instance's reader
    /// starts, so nothing committed between open and serve escapes the fan-out.
    tail_from: (u64, String),
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("at", &self.shown)
            .finish_non_exhaustive()
    }
}

/// `redis://host:port/db` without user or password.
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "a Redis server (unparsable URL)".into(),
    }
}

/// Whether the server may take the same command in a moment: it is away, or says "not now"
/// (reloading its append-only file after a restart, a replica being promoted, out of memory,
/// a script running long).
fn is_transient(e: &RedisError) -> bool {
    e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_io_error()
        || matches!(
            e.code(),
            Some(
                "LOADING"
                    | "READONLY"
                    | "MASTERDOWN"
                    | "TRYAGAIN"
                    | "BUSY"
                    | "OOM"
                    | "MISCONF"
                    | "CLUSTERDOWN"
            )
        )
}

impl Redis {
    /// Connects (within [`COMMAND_TIMEOUT`]) and makes sure the store has an epoch.
    pub(super) async fn connect(url: &str) -> Result<Self, StoreError> {
        let shown: Arc<str> = shown(url).into();
        let open = |e: RedisError| StoreError::Open {
            what: format!("Redis at {shown}"),
            reason: e.to_string(),
        };
        let client = Client::open(url).map_err(open)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let mut conn = tokio::time::timeout(
            COMMAND_TIMEOUT * 2,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| StoreError::Open {
            what: format!("Redis at {shown}"),
            reason: "no answer in time".into(),
        })?
        .map_err(open)?;
        let epoch = epoch::ensure_epoch(&mut conn).await.map_err(open)?;
        let mut redis = Self {
            client,
            conn,
            scripts: Arc::new(Scripts::new()),
            epoch: Arc::new(RwLock::new(epoch.into())),
            failing: Arc::default(),
            tailing: Arc::new(AtomicBool::new(true)),
            shown: shown.clone(),
            tail_from: (0, "0".into()),
        };
        let head = redis.head().await?;
        redis.tail_from = (head.last_seq, redis.newest_status().await.map_err(open)?);
        Ok(redis)
    }

    pub(super) fn describe(&self) -> String {
        self.shown.to_string()
    }

    pub(super) fn start(&self, feed: Arc<dyn Feed>) -> Running {
        tail::spawn(self.clone(), feed)
    }

    /// A command's result, noting whether the server took it (`/healthz`).
    fn checked<T>(&self, r: Result<T, RedisError>) -> Result<T, StoreError> {
        self.failing.store(r.is_err(), Ordering::Relaxed);
        r.map_err(|e| {
            if is_transient(&e) {
                StoreError::Unavailable(e.to_string())
            } else {
                StoreError::Backend(e.to_string())
            }
        })
    }

    /// Bounds a whole call (reconnect, script load and round trips) to `limit`: a server that
    /// swallows packets must not hold a webhook past the point where Twitch gives up.
    pub(super) async fn bounded<T>(
        &self,
        limit: Duration,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(limit, call).await {
            Ok(r) => r,
            Err(_) => {
                self.failing.store(true, Ordering::Relaxed);
                Err(StoreError::Unavailable(format!(
                    "no answer within {} s",
                    limit.as_secs()
                )))
            }
        }
    }

    pub(super) async fn append(
        &self,
        event: Event,
        received_ms: i64,
    ) -> Result<Appended, StoreError> {
        let (event, body) = super::body_of(event);
        let mut conn = self.conn.clone();
        let r: Result<(i64, u64), _> = self
            .scripts
            .append
            .key(keys::seen(&event.id))
            .key(keys::SEQ)
            .key(keys::EVENTS)
            .key(keys::CHANNELS)
            .arg(&body)
            .arg(&event.kind)
            .arg(&event.channel.login)
            .arg(received_ms)
            .arg(&event.id)
            .arg(DEDUPE_TTL_S)
            .arg(&event.channel.id)
            .invoke_async(&mut conn)
            .await;
        Ok(match self.checked(r)? {
            (1, seq) => Appended::Stored(seq),
            _ => Appended::Duplicate,
        })
    }

    pub(super) async fn revoke(
        &self,
        message_id: String,
        sub: &Subscription,
        received_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let id = sub.condition_broadcaster_id().unwrap_or_default();
        let login: Option<String> = self.checked(conn.hget(keys::CHANNELS, id).await)?;
        let info = super::revocation_info(sub, login);
        let record = serde_json::json!({ "subscription": info, "received_ms": received_ms });
        let r: Result<i64, _> = self
            .scripts
            .revoke
            .key(keys::seen(&message_id))
            .key(keys::REVOCATIONS)
            .key(keys::STATUS)
            .arg(&message_id)
            .arg(record.to_string())
            .arg(super::revocation_frame(&info))
            .arg(DEDUPE_TTL_S)
            .invoke_async(&mut conn)
            .await;
        Ok(self.checked(r)? == 1)
    }

    pub(super) async fn publish_status(&self, frame: String) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let r: Result<String, _> = ::redis::cmd("XADD")
            .arg(keys::STATUS)
            .arg("MAXLEN")
            .arg("~")
            .arg(1000)
            .arg("*")
            .arg("f")
            .arg(frame)
            .query_async(&mut conn)
            .await;
        self.checked(r).map(|_| ())
    }

    pub(super) async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let from = self.seek(cutoff_ms).await?;
        let mut conn = self.conn.clone();
        let deleted: usize = if from == 0 {
            0
        } else {
            let r = ::redis::cmd("XTRIM")
                .arg(keys::EVENTS)
                .arg("MINID")
                .arg(format!("{from}-0"))
                .query_async(&mut conn)
                .await;
            self.checked(r)?
        };
        let records: Vec<(String, String)> = self.checked(conn.hgetall(keys::REVOCATIONS).await)?;
        let old: Vec<String> = records
            .into_iter()
            .filter(|(_, json)| {
                serde_json::from_str::<serde_json::Value>(json)
                    .ok()
                    .and_then(|v| v["received_ms"].as_i64())
                    .is_some_and(|ms| ms < cutoff_ms)
            })
            .map(|(id, _)| id)
            .collect();
        if !old.is_empty() {
            let r: Result<i64, _> = conn.hdel(keys::REVOCATIONS, old).await;
            self.checked(r)?;
        }
        Ok(deleted)
    }

    pub(super) fn healthy(&self) -> bool {
        !self.failing.load(Ordering::Relaxed) && self.tailing.load(Ordering::Relaxed)
    }

    pub(super) fn epoch(&self) -> Arc<str> {
        self.epoch.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_epoch(&self, epoch: String) {
        *self.epoch.write().unwrap_or_else(|p| p.into_inner()) = epoch.into();
    }

    pub(super) async fn insert_with_seqs(
        &self,
        events: Vec<(Event, i64)>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let mut call = self.scripts.import.key(keys::EVENTS);
        call.key(keys::SEQ).key(keys::CHANNELS).arg(keys::seen(""));
        for (event, received_ms) in events {
            let seq = event.seq.unwrap_or(0);
            // Twitch may still redeliver what the old store acknowledged in the last hour.
            let age_s = (now_ms - received_ms).max(0) as u64 / 1000;
            let ttl = DEDUPE_TTL_S.saturating_sub(age_s);
            let (event, body) = super::body_of(event);
            call.arg(seq)
                .arg(body)
                .arg(&event.kind)
                .arg(&event.channel.login)
                .arg(received_ms)
                .arg(&event.id)
                .arg(&event.channel.id)
                .arg(ttl);
        }
        let r: Result<u64, _> = call.invoke_async(&mut conn).await;
        match r {
            Err(e) if e.code() == Some("IMPORT") => Err(StoreError::Import(format!(
                "event {}: importing it would give one seq two events; import into an empty \
                 store, or export with --after the store's last seq",
                e.detail().unwrap_or("a seq is taken")
            ))),
            r => self.checked(r).map(|_| ()),
        }
    }

    pub(super) async fn probe(&self) -> Result<(), StoreError> {
        self.head().await.map(|_| ())
    }
}
