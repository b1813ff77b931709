//! The fan-out hub: builds each committed event's frame once and broadcasts it on the live feed
//! every WebSocket subscribes to; the status feed; and the open sockets of each client
//! ([`sockets`]: the connection limit, and ringing the sockets a status frame, a removal or
//! shutdown concerns).

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use onair_common::Event;
use onair_common::wire::ServerFrame;
use tokio::sync::{broadcast, mpsc};

use crate::store::{ClientId, Feed, Stored};
use sockets::Registry;
pub use sockets::{SocketSlot, TooMany};

pub use bell::Bell;

mod bell;
mod sockets;

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

/// Cloneable handle to the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    events: broadcast::Sender<Arc<Published>>,
    // Committed events on their way to `events`. The store hands them over from its own thread
    // (the SQLite writer's or sync thread); a task on the runtime broadcasts them, so the wake-ups of thousands
    // of sockets go to that worker's run queue in batches, not one lock of the runtime's shared
    // queue each. `None` outside a runtime (unit tests): broadcast in place.
    committed: Option<mpsc::UnboundedSender<Committed>>,
    status: broadcast::Sender<Utf8Bytes>,
    sockets: Arc<Registry>,
}

impl Hub {
    /// An empty hub buffering `live_buffer` events per receiver before a slow one lags.
    pub fn new(live_buffer: usize) -> Self {
        let events = broadcast::channel(live_buffer.max(1)).0;
        let sockets: Arc<Registry> = Arc::default();
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

    /// Sends a status frame to every socket: onto the status channel, then a ring of each
    /// socket's bell, which is when a socket reads the channel.
    pub fn publish_status(&self, frame: String) {
        let _ = self.status.send(frame.into());
        self.sockets.ring_all();
    }

    /// Takes a socket slot for `client`, refusing beyond `max`.
    pub fn open(&self, client: ClientId, max: u32) -> Result<SocketSlot, TooMany> {
        self.sockets.open(client, max)
    }

    /// Closes every socket of clients not in `existing` (removed by `client remove`).
    pub fn retain_clients(&self, existing: &[ClientId]) -> usize {
        self.sockets.retain(existing)
    }

    /// Rings every socket: at shutdown, once the relay's token is cancelled, each sees it and
    /// closes.
    pub fn ring_all(&self) {
        self.sockets.ring_all();
    }

    /// Open sockets in all.
    pub fn open_sockets(&self) -> u64 {
        self.sockets.count()
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
    sockets: Arc<Registry>,
) {
    while let Some(committed) = rx.recv().await {
        apply(committed, &events, &sockets);
    }
}

fn apply(committed: Committed, events: &broadcast::Sender<Arc<Published>>, sockets: &Registry) {
    match committed {
        Committed::Event(stored) => {
            // No receivers (no clients) is fine: the event is in the store.
            let _ = events.send(Arc::new(Published::of(&stored)));
        }
        Committed::Reset => {
            // The seqs clients hold name another history: each reconnects and starts over.
            let closed = sockets.retain(&[]);
            tracing::warn!(
                sockets = closed,
                "the store's history was replaced; closed every socket so clients start over"
            );
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
}
