//! A socket's doorbell: rung when something outside its own traffic concerns it (a status frame,
//! its client removed, the relay shutting down), so that it can look.
//!
//! Why not wait on the cancellation token and the status channel directly: a socket's loop
//! polls its branches in turn each time it wakes, twice for every event it sends, and a pending
//! token or broadcast receiver is polled under locks that every socket of that client (or of the
//! relay) shares. The bell is the socket's own: waiting on it is a few atomic operations on memory no
//! other socket touches, and the shared state is read only after a ring, which is rare.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

#[derive(Debug)]
pub struct Bell {
    rung: AtomicBool,
    waker: AtomicWaker,
}

impl Bell {
    /// A bell that has rung already: a socket's first look finds what happened before it
    /// started waiting.
    pub(super) fn rung() -> Self {
        Self {
            rung: AtomicBool::new(true),
            waker: AtomicWaker::new(),
        }
    }

    /// Wakes the socket; rings before it looks are seen once.
    pub(super) fn ring(&self) {
        // Release: whatever the ringer did first (a status frame sent, a token cancelled) is
        // visible to the socket that sees the ring.
        self.rung.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready once after one or more rings.
    pub fn poll_rung(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.rung.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A ring between the first look and the registration woke no one: look again.
        if self.rung.swap(false, Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
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
}
