//! What wakes a socket's loop, other than the store and the live feed's own futures: the
//! socket itself (the client's frames, the timer, progress in sending), its bell, and what each
//! of those does.

use std::sync::Arc;
use std::task::Poll;

use axum::extract::ws::{Message, Utf8Bytes, close_code};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::clock::{Alarm, Clock};
use super::outbox::Outbox;
use super::{Conn, End};
use crate::hub::{Published, SocketSlot};
use crate::store::{Page, Row, StoreError};

/// What woke the loop.
pub(super) enum Woke {
    /// A frame from the client (or its end), handled by an await of its own.
    Client(Option<Result<Message, axum::Error>>),
    Step(Step),
}

/// What woke the loop, other than the client.
pub(super) enum Step {
    /// The socket's bell: shutdown, its client removed, or status frames.
    Rung,
    Ping,
    Stalled,
    /// The timer fired for a deadline that has since moved.
    Early,
    Sent(Result<(), axum::Error>),
    Page(Result<Page<Row>, StoreError>),
    Live(Result<Arc<Published>, RecvError>),
}

/// The socket's own wake-ups, in one branch because they share the socket: the client's frames
/// first (a pong counts before a missed ping is judged), then the timer, then progress in
/// sending, which must not keep the timer waiting while a fast reader takes a long catch-up.
pub(super) fn poll_socket(
    cx: &mut std::task::Context<'_>,
    out: &mut Outbox,
    timer: std::pin::Pin<&mut tokio::time::Sleep>,
    clock: &mut Clock,
    sending: bool,
) -> Poll<Woke> {
    if let Poll::Ready(msg) = out.poll_client(cx) {
        return Poll::Ready(Woke::Client(msg));
    }
    if timer.poll(cx).is_ready() {
        return Poll::Ready(Woke::Step(match clock.fired(sending) {
            Alarm::Ping => Step::Ping,
            Alarm::Stalled => Step::Stalled,
            Alarm::Early => Step::Early,
        }));
    }
    if sending && let Poll::Ready(sent) = out.poll_send(cx) {
        return Poll::Ready(Woke::Step(Step::Sent(sent)));
    }
    Poll::Pending
}

impl Conn {
    /// What a step other than a client's frame does.
    pub(super) fn on_step(
        &mut self,
        step: Step,
        clock: &mut Clock,
        status: &mut broadcast::Receiver<Utf8Bytes>,
        slot: &SocketSlot,
    ) -> Result<(), End> {
        match step {
            Step::Rung => self.on_rung(status, slot),
            Step::Ping => self.on_ping(),
            Step::Early => Ok(()),
            Step::Stalled => {
                tracing::info!("dropped a client that stopped reading");
                Err(End::Gone)
            }
            Step::Sent(Ok(())) => {
                clock.progress();
                Ok(())
            }
            Step::Sent(Err(_)) => Err(End::Gone),
            Step::Page(page) => self.on_read(page),
            Step::Live(ev) => self.on_live(ev),
        }
    }

    /// The bell rang: the relay is shutting down, this client was removed, or status frames
    /// wait (after more than the channel holds, it goes on from the oldest still held).
    fn on_rung(
        &mut self,
        status: &mut broadcast::Receiver<Utf8Bytes>,
        slot: &SocketSlot,
    ) -> Result<(), End> {
        if self.state.shutdown().is_cancelled() {
            return Err(End::Close(close_code::AWAY, "relay shutting down"));
        }
        if slot.revoked.is_cancelled() {
            return Err(End::Close(close_code::POLICY, "client token removed"));
        }
        loop {
            match status.try_recv() {
                Ok(frame) => self.out.push(frame),
                Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Ok(()),
            }
        }
    }
}
