//! The open sockets of each client: the connection limit, each socket's [`Bell`], and closing
//! the sockets of a removed client (or every socket) at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

use super::bell::Bell;
use crate::store::ClientId;

/// Refused: the client has `max` sockets open already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany;

#[derive(Debug, Default)]
pub(super) struct Registry {
    // Held only to count, look up and ring, never across an await.
    clients: Mutex<HashMap<ClientId, Sockets>>,
    // Names each socket, so a slot frees only its own place, never one in a later entry made
    // for the same client after a removal.
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Sockets {
    // Cancelled when the client is removed; its sockets' bells are rung then, and each sees it.
    revoked: CancellationToken,
    bells: HashMap<u64, Arc<Bell>>,
}

/// One open socket of a client; dropping it frees the slot.
#[derive(Debug)]
pub struct SocketSlot {
    registry: Arc<Registry>,
    client: ClientId,
    id: u64,
    /// Cancelled when the client is removed.
    pub revoked: CancellationToken,
    /// Rung when `revoked` is cancelled, when a status frame is published and at shutdown; rung
    /// already when the slot is taken, so the socket's first look misses nothing before it.
    pub bell: Arc<Bell>,
}

impl Registry {
    /// Takes a socket slot for `client`, refusing beyond `max`.
    pub(super) fn open(
        self: &Arc<Self>,
        client: ClientId,
        max: u32,
    ) -> Result<SocketSlot, TooMany> {
        let mut clients = self.lock();
        let entry = clients.entry(client).or_insert_with(|| Sockets {
            revoked: CancellationToken::new(),
            bells: HashMap::new(),
        });
        if entry.bells.len() >= max as usize {
            return Err(TooMany);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bell = Arc::new(Bell::rung());
        entry.bells.insert(id, bell.clone());
        Ok(SocketSlot {
            registry: self.clone(),
            client,
            id,
            revoked: entry.revoked.clone(),
            bell,
        })
    }

    /// Closes every socket of clients not in `existing`; returns how many.
    pub(super) fn retain(&self, existing: &[ClientId]) -> usize {
        let mut closed = 0;
        self.lock().retain(|id, s| {
            let keep = existing.contains(id);
            if !keep {
                s.revoked.cancel();
                s.bells.values().for_each(|b| b.ring());
                closed += s.bells.len();
            }
            keep
        });
        closed
    }

    /// Rings every socket's bell.
    pub(super) fn ring_all(&self) {
        for s in self.lock().values() {
            s.bells.values().for_each(|b| b.ring());
        }
    }

    pub(super) fn count(&self) -> u64 {
        self.lock().values().map(|s| s.bells.len() as u64).sum()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ClientId, Sockets>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut clients = self.registry.lock();
        if let Some(s) = clients.get_mut(&self.client) {
            // Not there when the entry is a later one, made after this client was removed.
            s.bells.remove(&self.id);
            if s.bells.is_empty() && !s.revoked.is_cancelled() {
                clients.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Context, Poll, Waker};

    fn open(r: &Arc<Registry>, client: ClientId, max: u32) -> Result<SocketSlot, TooMany> {
        r.open(client, max)
    }

    fn rung(slot: &SocketSlot) -> bool {
        slot.bell.poll_rung(&mut Context::from_waker(Waker::noop())) == Poll::Ready(())
    }

    #[test]
    fn limit_per_client_and_release_on_drop() {
        let r = Arc::new(Registry::default());
        let a = open(&r, 1, 2).unwrap();
        let _b = open(&r, 1, 2).unwrap();
        assert_eq!(open(&r, 1, 2).unwrap_err(), TooMany);
        let _other = open(&r, 2, 2).unwrap();
        drop(a);
        assert!(open(&r, 1, 2).is_ok());
    }

    #[test]
    fn an_old_slot_does_not_free_a_place_in_a_newer_entry() {
        let r = Arc::new(Registry::default());
        let old = open(&r, 1, 8).unwrap();
        assert_eq!(r.retain(&[]), 1);
        // A socket authenticated just before the removal opens after it: a new entry.
        let new = open(&r, 1, 8).unwrap();
        drop(old);
        assert_eq!(r.count(), 1, "the old slot left the new entry alone");
        assert_eq!(r.retain(&[]), 1);
        assert!(new.revoked.is_cancelled(), "the next poll closes it too");
    }

    #[test]
    fn removed_client_sockets_are_cancelled_and_rung() {
        let r = Arc::new(Registry::default());
        let a = open(&r, 1, 8).unwrap();
        let b = open(&r, 2, 8).unwrap();
        // Each bell starts rung, so a socket looks once when it starts.
        assert!(rung(&a) && rung(&b));
        assert_eq!(r.retain(&[2]), 1);
        assert!(a.revoked.is_cancelled() && rung(&a));
        assert!(
            !b.revoked.is_cancelled() && !rung(&b),
            "the other client is left alone"
        );
        r.ring_all();
        assert!(rung(&b), "a status frame rings every socket");
    }
}
