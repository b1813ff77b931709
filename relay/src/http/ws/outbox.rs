//! A socket's outbox: frames waiting to be sent, and the socket itself. Sending goes a frame at a
//! time as the socket takes them, so the session's loop can do everything else between frames,
//! and dropping a send in progress loses nothing. The client's frames are read through it too:
//! one owner of the socket, rather than two halves behind a lock each poll of either takes.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};

/// Frames waiting for the socket, and the socket.
pub(super) struct Outbox {
    pub(super) ws: WebSocket,
    queue: VecDeque<Message>,
    /// Frames were handed to the socket and not flushed yet.
    unflushed: bool,
    /// Text frames in `queue` (pings are not counted: they are ours, not the client's load).
    texts: usize,
}

impl Outbox {
    pub(super) fn new(ws: WebSocket) -> Self {
        Self {
            ws,
            queue: VecDeque::new(),
            unflushed: false,
            texts: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn busy(&self) -> bool {
        !self.queue.is_empty() || self.unflushed
    }

    /// Whether frames for the client are waiting (not just our pings).
    pub(super) fn has_data(&self) -> bool {
        self.texts > 0
    }

    pub(super) fn push(&mut self, text: Utf8Bytes) {
        self.queue.push_back(Message::Text(text));
        self.texts += 1;
    }

    /// Pings go ahead of queued data: they measure the client, not our backlog.
    pub(super) fn push_ping(&mut self) {
        self.queue.push_front(Message::Ping(Default::default()));
    }

    /// Forgets queued frames of an earlier subscription.
    pub(super) fn drop_events(&mut self) {
        self.queue.retain(|m| !matches!(m, Message::Text(_)));
        self.texts = 0;
    }

    /// The client's next frame.
    pub(super) fn poll_client(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, axum::Error>>> {
        self.ws.poll_next_unpin(cx)
    }

    /// Hands queued frames to the socket and flushes, as far as it takes them now. Ready once
    /// something moved (or all is flushed); a message leaves the queue only when the socket
    /// has accepted it, so dropping this future loses nothing.
    pub(super) fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        let mut moved = false;
        while !self.queue.is_empty() {
            match self.ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return progress(moved),
            }
            if let Some(msg) = self.queue.pop_front() {
                if matches!(msg, Message::Text(_)) {
                    self.texts -= 1;
                }
                self.ws.start_send_unpin(msg)?;
                self.unflushed = true;
                moved = true;
            }
        }
        if self.queue.capacity() > 0 {
            // Emptied: most sockets sit idle between events, and each holding the slots its
            // last burst needed added up over thousands of them.
            self.queue = VecDeque::new();
        }
        match self.ws.poll_flush_unpin(cx) {
            Poll::Ready(Ok(())) => {
                self.unflushed = false;
                moved = true;
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
        progress(moved)
    }
}

/// Ready once something moved, so the loop can go round (and reset the stall clock).
fn progress(moved: bool) -> Poll<Result<(), axum::Error>> {
    if moved {
        Poll::Ready(Ok(()))
    } else {
        Poll::Pending
    }
}
