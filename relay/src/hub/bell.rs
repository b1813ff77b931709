//! A socket's doorbell: rung when something outside its own traffic concerns it (a status frame,
//! its client removed, the relay shutting down), so that it can look.
//!
//! Why not wait on the cancellation token and the status channel directly: a socket's loop
//! polls its branches in turn each time it wakes, twice for every event it sends, and a pending
//! token or broadcast receiver is polled under locks that every socket of that client (or of the
//! relay) shares. The bell is the socket's own: until it rings, a look at it is a single read (no
//! write), and the shared state is read only after a ring, which is rare.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// Rung since the socket last looked.
const RUNG: u8 = 1;
/// The socket's waker is in the slot, and no ring has taken it yet.
const WAITING: u8 = 2;

#[derive(Debug)]
pub struct Bell {
    state: AtomicU8,
    // Locked only to put the socket's waker in (once per ring) and by a ring to take it.
    waker: Mutex<Option<Waker>>,
    // The data pointer of the waker in the slot: a look with another waker (the socket's task
    // replaced, or a one-off poll) puts its own in rather than trusting the slot.
    waker_data: AtomicUsize,
}

impl Bell {
    /// A bell that has rung already: a socket's first look finds what happened before it
    /// started waiting.
    pub(super) fn rung() -> Self {
        Self {
            state: AtomicU8::new(RUNG),
            waker: Mutex::new(None),
            waker_data: AtomicUsize::new(0),
        }
    }

    /// Wakes the socket; rings before it looks are seen once.
    pub(super) fn ring(&self) {
        // Release: whatever the ringer did first (a status frame sent, a token cancelled) is
        // visible to the socket that sees the ring.
        self.state.fetch_or(RUNG, Ordering::Release);
        let waker = {
            let mut slot = self.waker.lock().unwrap_or_else(|p| p.into_inner());
            self.state.fetch_and(!WAITING, Ordering::Relaxed);
            slot.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Ready once after one or more rings. The socket's waker stays in the slot from one look
    /// to the next until a ring takes it (or a look comes with another waker).
    pub fn poll_rung(&self, cx: &mut Context<'_>) -> Poll<()> {
        // A socket looks twice for every event it sends, so until a ring a look only reads:
        // a write would take the cache line from the other core, where neighbouring sockets'
        // bells and state are (a swap and a waker registration per look were 2% of the
        // relay's CPU in a fan-out to 1,000 sockets).
        let data = cx.waker().data() as usize;
        match self.state.load(Ordering::Acquire) {
            WAITING if self.waker_data.load(Ordering::Relaxed) == data => return Poll::Pending,
            s if s & RUNG != 0 => return self.take_ring(),
            _ => {}
        }
        {
            let mut slot = self.waker.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some(cx.waker().clone());
            self.waker_data.store(data, Ordering::Relaxed);
            self.state.fetch_or(WAITING, Ordering::Relaxed);
        }
        // A ring before the waker was in its slot woke no one: look again.
        if self.state.load(Ordering::Acquire) & RUNG != 0 {
            self.take_ring()
        } else {
            Poll::Pending
        }
    }

    fn take_ring(&self) -> Poll<()> {
        self.state.fetch_and(!RUNG, Ordering::Acquire);
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(bell: &Bell, wakes: &Arc<Count>) -> Poll<()> {
        let waker = std::task::Waker::from(wakes.clone());
        bell.poll_rung(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_new_bell_is_ready_once_then_waits() {
        let wakes = Arc::new(Count::default());
        let bell = Bell::rung();
        assert_eq!(poll(&bell, &wakes), Poll::Ready(()));
        assert_eq!(poll(&bell, &wakes), Poll::Pending);
        assert_eq!(
            poll(&bell, &wakes),
            Poll::Pending,
            "a second look finds nothing either"
        );
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_ring_wakes_the_waiting_socket_and_rings_before_a_look_count_once() {
        let wakes = Arc::new(Count::default());
        let bell = Bell::rung();
        let _ = poll(&bell, &wakes);
        assert_eq!(poll(&bell, &wakes), Poll::Pending);
        bell.ring();
        bell.ring();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "woken by the first ring");
        assert_eq!(poll(&bell, &wakes), Poll::Ready(()));
        assert_eq!(poll(&bell, &wakes), Poll::Pending);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ring_from_another_thread_is_never_lost() {
        for _ in 0..1_000 {
            let bell = Arc::new(Bell::rung());
            let _ = std::future::poll_fn(|cx| bell.poll_rung(cx)).await;
            let ringer = bell.clone();
            let ring = tokio::spawn(async move { ringer.ring() });
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                std::future::poll_fn(|cx| bell.poll_rung(cx)),
            )
            .await
            .expect("the ring was lost");
            ring.await.unwrap();
        }
    }

    /// A one-off look with another waker (a noop, say) must not leave the socket's own waker
    /// out of the slot.
    #[test]
    fn a_look_with_another_waker_puts_that_waker_in() {
        let wakes = Arc::new(Count::default());
        let bell = Bell::rung();
        assert_eq!(poll(&bell, &wakes), Poll::Ready(()));
        let noop = bell.poll_rung(&mut Context::from_waker(std::task::Waker::noop()));
        assert_eq!(noop, Poll::Pending);
        assert_eq!(poll(&bell, &wakes), Poll::Pending);
        bell.ring();
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            1,
            "the socket's waker was woken"
        );
    }

    /// A ring's wake-up can come after the socket has seen the ring and put its waker back
    /// (the ring takes that waker): a later ring must still wake it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ring_after_a_late_wake_up_is_never_lost() {
        let bell = Arc::new(Bell::rung());
        let _ = std::future::poll_fn(|cx| bell.poll_rung(cx)).await;
        for _ in 0..2_000 {
            let ring = ring_elsewhere_and_look(&bell, "the first ring was lost").await;
            // Put the waker back while the ring may still be taking one.
            let _ = std::future::poll_fn(|cx| Poll::Ready(bell.poll_rung(cx))).await;
            ring.join().unwrap();
            ring_elsewhere_and_look(&bell, "the second ring was lost")
                .await
                .join()
                .unwrap();
        }
    }

    /// Rings from a thread of its own and waits for the socket's look to see it; returns that
    /// thread, which may still be waking the socket.
    async fn ring_elsewhere_and_look(bell: &Arc<Bell>, lost: &str) -> std::thread::JoinHandle<()> {
        let ringer = bell.clone();
        let ring = std::thread::spawn(move || ringer.ring());
        let look = std::future::poll_fn(|cx| bell.poll_rung(cx));
        tokio::time::timeout(std::time::Duration::from_secs(5), look)
            .await
            .expect(lost);
        ring
    }
}
