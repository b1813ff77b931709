//! The fan-out hub: the live event feed every WebSocket subscribes to, the status feed, and the
//! registry of open sockets per client (for the connection limit and for closing the sockets of a
//! removed client at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::store::{ClientId, Published};

/// Status frames buffered per receiver.
const STATUS_BUFFER: usize = 16;

#[derive(Debug, Default)]
struct Sockets {
    count: u32,
    // Cancelled when the client is removed: each of its sockets closes.
    revoked: CancellationToken,
}

/// Cloneable handle to the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    events: broadcast::Sender<Arc<Published>>,
    status: broadcast::Sender<Utf8Bytes>,
    // Held only to count and look up, never across an await.
    sockets: Arc<Mutex<HashMap<ClientId, Sockets>>>,
}

/// Refused: the client has `max` sockets open already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany;

/// One open socket of a client; dropping it frees the slot.
#[derive(Debug)]
pub struct SocketSlot {
    hub: Hub,
    client: ClientId,
    /// Cancelled when the client is removed.
    pub revoked: CancellationToken,
}

impl Hub {
    /// An empty hub buffering `live_buffer` events per receiver before a slow one lags.
    pub fn new(live_buffer: usize) -> Self {
        Self {
            events: broadcast::channel(live_buffer.max(1)).0,
            status: broadcast::channel(STATUS_BUFFER).0,
            sockets: Arc::default(),
        }
    }

    /// The sender the store's writer publishes committed events on.
    pub fn event_sender(&self) -> broadcast::Sender<Arc<Published>> {
        self.events.clone()
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
        let entry = sockets.entry(client).or_default();
        if entry.count >= max {
            return Err(TooMany);
        }
        entry.count += 1;
        Ok(SocketSlot {
            hub: self.clone(),
            client,
            revoked: entry.revoked.clone(),
        })
    }

    /// Closes every socket of clients not in `existing` (removed by `client remove`).
    pub fn retain_clients(&self, existing: &[ClientId]) -> usize {
        let mut sockets = self.lock();
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

    /// Open sockets in all.
    pub fn open_sockets(&self) -> u64 {
        self.lock().values().map(|s| u64::from(s.count)).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, Sockets>> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut sockets = self.hub.lock();
        if let Some(s) = sockets.get_mut(&self.client) {
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

    #[test]
    fn limit_per_client_and_release_on_drop() {
        let hub = Hub::new(16);
        let a = hub.open(1, 2).unwrap();
        let _b = hub.open(1, 2).unwrap();
        assert_eq!(hub.open(1, 2).unwrap_err(), TooMany);
        let _other = hub.open(2, 2).unwrap();
        drop(a);
        assert!(hub.open(1, 2).is_ok());
    }

    #[test]
    fn removed_client_sockets_are_cancelled() {
        let hub = Hub::new(16);
        let a = hub.open(1, 8).unwrap();
        let b = hub.open(2, 8).unwrap();
        assert_eq!(hub.retain_clients(&[2]), 1);
        assert!(a.revoked.is_cancelled());
        assert!(!b.revoked.is_cancelled());
    }
}
