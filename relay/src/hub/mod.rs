//! The fan-out hub: builds each committed event's frame once and broadcasts it on the live feed
//! every WebSocket subscribes to; the status feed; and the registry of open sockets per client
//! (for the connection limit and for closing the sockets of a removed client at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use onair_common::Event;
use onair_common::wire::ServerFrame;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::store::{ClientId, Feed, Stored};

/// A committed event as the fan-out sends it: the frame is serialized once for every client.
#[derive(Debug)]
pub struct Published {
    /// The event's seq.
    pub seq: u64,
    /// Its type, for filters.
    pub kind: String,
    /// Its channel login, for filters.
    pub channel: String,
    /// `{"type":"event","event":{...}}`.
    pub frame: Utf8Bytes,
}

impl Published {
    fn of(stored: &Stored) -> Self {
        Self {
            seq: stored.seq,
            kind: stored.kind.clone(),
            channel: stored.channel.clone(),
            frame: event_frame(stored.seq, &stored.body).into(),
        }
    }
}

/// `{"type":"event","event":EVENT}` for a stored body (the EVENT with `"seq":null` first, the
/// struct's field order) with the seq spliced in: no parse and re-serialization per event.
pub fn event_frame(seq: u64, body: &str) -> String {
    const NULL_SEQ: &str = "{\"seq\":null,";
    match body.strip_prefix(NULL_SEQ) {
        Some(rest) => format!("{{\"type\":\"event\",\"event\":{{\"seq\":{seq},{rest}}}"),
        // Not the shape we write; go the long way rather than send something wrong.
        None => match serde_json::from_str::<Event>(body) {
            Ok(mut event) => {
                event.seq = Some(seq);
                ServerFrame::Event {
                    event: Box::new(event),
                }
                .to_json()
            }
            Err(e) => ServerFrame::Error {
                message: format!("stored event {seq} is unreadable: {e}"),
            }
            .to_json(),
        },
    }
}

/// Status frames buffered per receiver.
const STATUS_BUFFER: usize = 16;

#[derive(Debug)]
struct Sockets {
    count: u32,
    // Cancelled when the client is removed (or the relay shuts down): each of its sockets closes.
    revoked: CancellationToken,
    // Tells this entry from a later one for the same client (made after a removal), so a slot
    // of the old one never decrements the new one.
    generation: u64,
}

/// Cloneable handle to the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    events: broadcast::Sender<Arc<Published>>,
    // Committed events on their way to `events`. The store hands them over from its own thread
    // (SQLite's sync thread); a task on the runtime broadcasts them, so the wake-ups of thousands
    // of sockets go to that worker's run queue in batches, not one lock of the runtime's shared
    // queue each. `None` outside a runtime (unit tests): broadcast in place.
    committed: Option<mpsc::UnboundedSender<Committed>>,
    status: broadcast::Sender<Utf8Bytes>,
    // Held only to count and look up, never across an await.
    sockets: Arc<Mutex<HashMap<ClientId, Sockets>>>,
    generations: Arc<std::sync::atomic::AtomicU64>,
    // The relay's shutdown: each client's `revoked` is its child, so a socket waits on one
    // token for both ways its session can be ended from outside.
    shutdown: CancellationToken,
}

/// Refused: the client has `max` sockets open already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany;

/// One open socket of a client; dropping it frees the slot.
#[derive(Debug)]
pub struct SocketSlot {
    hub: Hub,
    client: ClientId,
    generation: u64,
    /// Cancelled when the client is removed, or the relay shuts down.
    pub revoked: CancellationToken,
}

impl Hub {
    /// An empty hub buffering `live_buffer` events per receiver before a slow one lags.
    pub fn new(live_buffer: usize, shutdown: CancellationToken) -> Self {
        let events = broadcast::channel(live_buffer.max(1)).0;
        let sockets: Arc<Mutex<HashMap<ClientId, Sockets>>> = Arc::default();
        let committed = tokio::runtime::Handle::try_current().ok().map(|rt| {
            let (tx, rx) = mpsc::unbounded_channel();
            rt.spawn(forward(rx, events.clone(), sockets.clone()));
            tx
        });
        Self {
            events,
            committed,
            status: broadcast::channel(STATUS_BUFFER).0,
            sockets,
            generations: Arc::default(),
            shutdown,
        }
    }

    /// A receiver of live events from now on.
    pub fn events(&self) -> broadcast::Receiver<Arc<Published>> {
        self.events.subscribe()
    }

    /// A receiver of status frames from now on.
    pub fn status(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.status.subscribe()
    }

    /// Sends a status frame to every socket.
    pub fn publish_status(&self, frame: String) {
        let _ = self.status.send(frame.into());
    }

    /// Takes a socket slot for `client`, refusing beyond `max`.
    pub fn open(&self, client: ClientId, max: u32) -> Result<SocketSlot, TooMany> {
        let mut sockets = self.lock();
        let entry = sockets.entry(client).or_insert_with(|| Sockets {
            generation: self
                .generations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            revoked: self.shutdown.child_token(),
            count: 0,
        });
        if entry.count >= max {
            return Err(TooMany);
        }
        entry.count += 1;
        Ok(SocketSlot {
            hub: self.clone(),
            client,
            generation: entry.generation,
            revoked: entry.revoked.clone(),
        })
    }

    /// Closes every socket of clients not in `existing` (removed by `client remove`).
    pub fn retain_clients(&self, existing: &[ClientId]) -> usize {
        retain(&self.sockets, existing)
    }

    /// Open sockets in all.
    pub fn open_sockets(&self) -> u64 {
        self.lock().values().map(|s| u64::from(s.count)).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, Sockets>> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The store hands each committed event here once, in seq order (on every instance, with Redis).
impl Feed for Hub {
    fn event(&self, stored: Arc<Stored>) {
        self.hand(Committed::Event(stored));
    }

    fn status(&self, frame: String) {
        self.publish_status(frame);
    }

    fn reset(&self) {
        // Behind the events of the old history still on their way, never ahead of them.
        self.hand(Committed::Reset);
    }
}

impl Hub {
    /// To the hub's task, or applied in place outside a runtime.
    fn hand(&self, committed: Committed) {
        match &self.committed {
            Some(tx) => {
                let _ = tx.send(committed);
            }
            None => apply(committed, &self.events, &self.sockets),
        }
    }
}

/// Closes every socket of clients not in `existing`; returns how many.
fn retain(sockets: &Mutex<HashMap<ClientId, Sockets>>, existing: &[ClientId]) -> usize {
    let mut sockets = sockets.lock().unwrap_or_else(|p| p.into_inner());
    let mut closed = 0;
    sockets.retain(|id, s| {
        let keep = existing.contains(id);
        if !keep {
            s.revoked.cancel();
            closed += s.count as usize;
        }
        keep
    });
    closed
}

/// What the store hands the hub, in its order.
#[derive(Debug)]
enum Committed {
    Event(Arc<Stored>),
    Reset,
}

/// The hub's task: applies what the store committed, in order; ends with the last hub handle.
async fn forward(
    mut rx: mpsc::UnboundedReceiver<Committed>,
    events: broadcast::Sender<Arc<Published>>,
    sockets: Arc<Mutex<HashMap<ClientId, Sockets>>>,
) {
    while let Some(committed) = rx.recv().await {
        apply(committed, &events, &sockets);
    }
}

fn apply(
    committed: Committed,
    events: &broadcast::Sender<Arc<Published>>,
    sockets: &Mutex<HashMap<ClientId, Sockets>>,
) {
    match committed {
        Committed::Event(stored) => {
            // No receivers (no clients) is fine: the event is in the store.
            let _ = events.send(Arc::new(Published::of(&stored)));
        }
        Committed::Reset => {
            // The seqs clients hold name another history: each reconnects and starts over.
            let closed = retain(sockets, &[]);
            tracing::warn!(
                sockets = closed,
                "the store's history was replaced; closed every socket so clients start over"
            );
        }
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut sockets = self.hub.lock();
        if let Some(s) = sockets
            .get_mut(&self.client)
            .filter(|s| s.generation == self.generation)
        {
            s.count = s.count.saturating_sub(1);
            if s.count == 0 && !s.revoked.is_cancelled() {
                sockets.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_common::event::{Channel, Origin};

    #[test]
    fn spliced_frame_equals_the_serialized_one() {
        let mut event = Event {
            seq: None,
            id: "m".into(),
            kind: "channel.follow".into(),
            version: "2".into(),
            channel: Channel {
                id: "1".into(),
                login: "q".into(),
                name: "Q".into(),
            },
            occurred_at: "2026-01-01T00:00:00.000Z".into(),
            received_at: "2026-01-01T00:00:00.000Z".into(),
            origin: Origin::Twitch,
            summary: "x followed".into(),
            data: serde_json::json!({"user_name": "x", "nested": {"a": [1, 2]}}),
        };
        let body = serde_json::to_string(&event).unwrap();
        let spliced = event_frame(42, &body);
        event.seq = Some(42);
        let full = ServerFrame::Event {
            event: Box::new(event.clone()),
        }
        .to_json();
        assert_eq!(spliced, full);
        // A body in another field order still gives the same frame.
        let reordered = serde_json::to_string(&serde_json::json!({
            "id": "m", "seq": null, "type": "channel.follow", "version": "2",
            "channel": {"id": "1", "login": "q", "name": "Q"},
            "occurred_at": "2026-01-01T00:00:00.000Z", "received_at": "2026-01-01T00:00:00.000Z",
            "origin": "twitch", "summary": "x followed",
            "data": {"user_name": "x", "nested": {"a": [1, 2]}}
        }))
        .unwrap();
        assert_eq!(event_frame(42, &reordered), full);
    }

    #[test]
    fn limit_per_client_and_release_on_drop() {
        let hub = Hub::new(16, CancellationToken::new());
        let a = hub.open(1, 2).unwrap();
        let _b = hub.open(1, 2).unwrap();
        assert_eq!(hub.open(1, 2).unwrap_err(), TooMany);
        let _other = hub.open(2, 2).unwrap();
        drop(a);
        assert!(hub.open(1, 2).is_ok());
    }

    #[test]
    fn an_old_slot_does_not_free_a_place_in_a_newer_entry() {
        let hub = Hub::new(16, CancellationToken::new());
        let old = hub.open(1, 8).unwrap();
        assert_eq!(hub.retain_clients(&[]), 1);
        // A socket authenticated just before the removal opens after it: a new entry.
        let new = hub.open(1, 8).unwrap();
        drop(old);
        assert_eq!(
            hub.open_sockets(),
            1,
            "the old slot left the new entry alone"
        );
        assert_eq!(hub.retain_clients(&[]), 1);
        assert!(new.revoked.is_cancelled(), "the next poll closes it too");
    }

    #[test]
    fn removed_client_sockets_are_cancelled() {
        let hub = Hub::new(16, CancellationToken::new());
        let a = hub.open(1, 8).unwrap();
        let b = hub.open(2, 8).unwrap();
        assert_eq!(hub.retain_clients(&[2]), 1);
        assert!(a.revoked.is_cancelled());
        assert!(!b.revoked.is_cancelled());
    }
}
