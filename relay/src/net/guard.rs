//! A connection's socket wrapped with what it holds: its place under `relay.max_connections`
//! (released when the socket closes, also after an upgrade to WebSocket) and an idle timeout
//! (no byte moving in either direction for that long ends the connection, whatever state hyper
//! or the WebSocket is in).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

/// A socket with its connection permit and idle timer.
#[derive(Debug)]
pub struct Guarded<T = TcpStream> {
    io: T,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    last_active: Instant,
    // Armed at `last_active + idle`; re-armed lazily when it fires early, so activity costs
    // an `Instant::now()` rather than a timer reset per read.
    timer: Pin<Box<Sleep>>,
}

impl<T> Guarded<T> {
    /// Wraps `io`, which keeps `permit` for as long as it is open.
    pub fn new(io: T, permit: OwnedSemaphorePermit, idle: Duration) -> Self {
        let now = Instant::now();
        Self {
            io,
            _permit: permit,
            idle,
            last_active: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
        }
    }

    /// Called when the socket is not ready: errors once it has been idle too long.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            let due = self.last_active + self.idle;
            if Instant::now() >= due {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ));
            }
            self.timer.as_mut().reset(due);
        }
    }

    fn active(&mut self) {
        self.last_active = Instant::now();
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.active();
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.active();
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.poll_idle(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Semaphore;

    #[tokio::test(start_paused = true)]
    async fn activity_keeps_it_open_and_silence_ends_it() {
        let (server, mut client) = tokio::io::duplex(64);
        let permits = Arc::new(Semaphore::new(1));
        let permit = permits.clone().try_acquire_owned().unwrap();
        let mut g = Guarded::new(server, permit, Duration::from_secs(10));
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(7)).await;
            client.write_all(b"x").await.unwrap();
            assert_eq!(g.read(&mut buf).await.unwrap(), 1, "active: still open");
        }
        let err = g.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(permits.available_permits(), 0, "held until dropped");
        drop(g);
        assert_eq!(
            permits.available_permits(),
            1,
            "a closed socket frees its place"
        );
    }
}
