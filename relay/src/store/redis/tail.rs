//! The instance's stream reader: a blocking `XREAD` on a connection of its own (on the shared
//! one it would stall every command behind it) over the events and status streams, feeding
//! this instance's sockets in seq order. It resumes from the last entry it fed, so a Redis that
//! goes away and comes back costs clients a delay, never a gap or a repeat.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ::redis::AsyncConnectionConfig;
use ::redis::aio::MultiplexedConnection;
use ::redis::streams::StreamReadReply;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::reads::text;
use super::{Redis, keys};
use crate::store::{Feed, Stored};

/// How long one `XREAD` blocks on the server.
const BLOCK: Duration = Duration::from_secs(5);
/// Entries per read.
const COUNT: usize = 512;
/// How often a connected reader checks that the server still holds its history: a flushed
/// Redis is noticed within this, even while events keep coming.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Waits between reconnects grow to this.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The running reader; [`Running::stop`] ends it.
#[derive(Debug)]
pub(in crate::store) struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    pub(in crate::store) async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

pub(super) fn spawn(redis: Redis, feed: Arc<dyn Feed>) -> Running {
    let stop = CancellationToken::new();
    let task = tokio::spawn(Tail::new(redis, feed).run(stop.clone()));
    Running { stop, task }
}

struct Tail {
    redis: Redis,
    feed: Arc<dyn Feed>,
    /// The last seq fed.
    last_event: u64,
    /// The last status entry fed.
    last_status: String,
    backoff: Duration,
    /// When the server's history was last checked.
    checked_at: Instant,
}

enum Read {
    Entries(StreamReadReply),
    Failed(String),
}

impl Tail {
    fn new(redis: Redis, feed: Arc<dyn Feed>) -> Self {
        let (last_event, last_status) = redis.tail_from.clone();
        Self {
            redis,
            feed,
            last_event,
            last_status,
            backoff: Duration::from_millis(50),
            checked_at: Instant::now(),
        }
    }

    async fn run(mut self, stop: CancellationToken) {
        let mut conn: Option<MultiplexedConnection> = None;
        loop {
            let read = async {
                let c = match &mut conn {
                    Some(c) => c,
                    None => match self.connect().await {
                        Ok(c) => {
                            // Answering again: healthy now, not after the first blocking read.
                            self.redis.tailing.store(true, Ordering::Relaxed);
                            conn.insert(c)
                        }
                        Err(why) => return Read::Failed(why),
                    },
                };
                self.read(c).await
            };
            let read = tokio::select! {
                () = stop.cancelled() => return,
                r = read => r,
            };
            match read {
                Read::Entries(reply) => {
                    self.redis.tailing.store(true, Ordering::Relaxed);
                    self.backoff = Duration::from_millis(50);
                    self.feed_entries(reply);
                    if self.checked_at.elapsed() >= CHECK_EVERY
                        && let Err(why) = self.verify_history().await
                    {
                        tracing::warn!(error = %why, "cannot check Redis's history; reconnecting");
                        conn = None;
                    }
                }
                Read::Failed(why) => {
                    if self.redis.tailing.swap(false, Ordering::Relaxed) {
                        tracing::warn!(error = %why, "lost Redis; clients wait for events until it is back");
                    }
                    conn = None;
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(self.backoff) => {}
                    }
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// A fresh connection, after checking that the server still holds this reader's history.
    async fn connect(&mut self) -> Result<MultiplexedConnection, String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(super::COMMAND_TIMEOUT))
            .set_response_timeout(Some(BLOCK + super::COMMAND_TIMEOUT));
        let conn = self
            .redis
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| e.to_string())?;
        self.verify_history().await?;
        Ok(conn)
    }

    /// Asks the server whether it still holds the history this reader feeds from (same epoch,
    /// counter not below what was fed). When not (flushed, restored from an older file, a
    /// replica that was behind), the seqs clients hold mean nothing: a new epoch begins, every
    /// socket is closed so its client starts over, and reading goes on from the new head.
    async fn verify_history(&mut self) -> Result<(), String> {
        let ours = self.redis.epoch();
        let (epoch, last) = self
            .redis
            .check(&ours, self.last_event)
            .await
            .map_err(|e| e.to_string())?;
        self.checked_at = Instant::now();
        // The server answers: whatever failed before (`/healthz`) has passed.
        self.redis.failing.store(false, Ordering::Relaxed);
        if *epoch != *ours {
            tracing::error!(
                "Redis no longer holds the relay's history (flushed, restored or failed over): \
                 a new epoch begins and every client starts over"
            );
            self.redis.set_epoch(epoch);
            self.last_event = last;
            self.last_status = self
                .redis
                .newest_status()
                .await
                .map_err(|e| e.to_string())?;
            self.feed.reset();
        }
        Ok(())
    }

    async fn read(&self, conn: &mut MultiplexedConnection) -> Read {
        let after = self.last_event;
        let r: Result<Option<StreamReadReply>, _> = ::redis::cmd("XREAD")
            .arg("COUNT")
            .arg(COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(keys::EVENTS)
            .arg(keys::STATUS)
            .arg(format!("{after}-0"))
            .arg(&self.last_status)
            .query_async(conn)
            .await;
        match r {
            Ok(reply) => Read::Entries(reply.unwrap_or_default()),
            Err(e) => Read::Failed(e.to_string()),
        }
    }

    fn feed_entries(&mut self, reply: StreamReadReply) {
        for key in reply.keys {
            if key.key == keys::EVENTS {
                for entry in key.ids {
                    let Some(seq) = entry.id.split('-').next().and_then(|s| s.parse().ok()) else {
                        continue;
                    };
                    if seq <= self.last_event {
                        continue;
                    }
                    self.last_event = seq;
                    let field = |name: &str| entry.map.get(name).and_then(text).unwrap_or_default();
                    self.feed.event(Arc::new(Stored {
                        seq,
                        kind: field("t"),
                        channel: field("c"),
                        body: field("b"),
                    }));
                }
            } else if key.key == keys::STATUS {
                for entry in key.ids {
                    if let Some(frame) = entry.map.get("f").and_then(text) {
                        self.feed.status(frame);
                    }
                    self.last_status = entry.id;
                }
            }
        }
    }
}
