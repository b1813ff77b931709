//! `GET /ws`: one task per client socket, one `select!` over everything that socket does: the
//! client's frames, sending (a frame at a time from an outbox), store pages during replay, the
//! live feed, status frames, pings, client removal and shutdown. Because sending is a branch and
//! not an `await` inside one, a long catch-up to a slow reader never keeps pings, removal or
//! shutdown waiting.
//!
//! Replay and live never overlap or leave a gap: the live receiver is taken before the store is
//! read, and `cursor` (the highest seq covered, matched or not) skips what replay covered.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use onair_common::wire::{ClientFrame, PROTOCOL_VERSION, ServerFrame, Subscribe};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

use super::auth::Client;
use super::error::AppError;
use crate::app::AppState;
use crate::hub::{Published, SocketSlot};
use crate::store::{Page, Row, StoreError};
use clock::Clock;
use outbox::Outbox;
use replay::page_of;
use wake::{Step, Woke, poll_socket};

mod clock;
mod outbox;
mod replay;
mod wake;

/// Our frames are small; the 128 KiB defaults would cost that much per socket.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const MAX_CLIENT_FRAME_BYTES: usize = 64 * 1024;
/// The next page is read, and live events taken, only while fewer frames than this wait.
const LOW_WATER: usize = 64;
/// How long the closing frame may take.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Authenticates, takes a connection slot, and upgrades.
pub async fn upgrade(
    State(state): State<AppState>,
    Client(client): Client,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let slot = state
        .hub()
        .open(client, state.settings().max_connections_per_client)
        .map_err(|_| AppError::TooManyConnections)?;
    let ws = ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(MAX_CLIENT_FRAME_BYTES)
        .max_frame_size(MAX_CLIENT_FRAME_BYTES);
    Ok(ws
        .on_upgrade(move |socket| {
            let tasks = state.tasks().clone();
            tasks.track_future(run(socket, state, slot))
        })
        .into_response())
}

/// Why a connection ended.
enum End {
    /// The client closed or vanished.
    Gone,
    /// We close with this code and reason.
    Close(u16, &'static str),
}

/// The socket's session. Not an async fn: one moves its arguments into locals and keeps room
/// for both all its life, and the socket (about 400 bytes) would take its room twice. This block
/// uses what it captured in place.
fn run(socket: WebSocket, state: AppState, slot: SocketSlot) -> impl Future<Output = ()> {
    let mut conn = Conn {
        out: Outbox::new(socket),
        live: state.hub().events(),
        filter: Subscribe::default(),
        cursor: None,
        catching_up: false,
        reading: None,
        stale_read: false,
        read_failures: 0,
        last_heard: Instant::now(),
        last_busy: Instant::now(),
        state,
    };
    async move {
        // The welcome, a client's frame and the close await the store or the socket; boxed,
        // their state takes memory only while they run, not in every idle socket's task.
        let end = match Box::pin(conn.welcome()).await {
            Ok(()) => conn.serve(&slot).await,
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            let close = conn.close(CloseFrame {
                code,
                reason: reason.into(),
            });
            let _ = Box::pin(tokio::time::timeout(CLOSE_WAIT, close)).await;
        }
    }
}

struct Conn {
    out: Outbox,
    state: AppState,
    filter: Subscribe,
    /// Highest seq this connection has covered; `None` until the client subscribes.
    cursor: Option<u64>,
    live: broadcast::Receiver<Arc<Published>>,
    /// Stored events after the cursor still have to be read and sent before live ones.
    catching_up: bool,
    /// The store page being read. At most one per socket: a new `subscribe` does not start
    /// another while one runs, it makes the running one stale.
    reading: Option<JoinHandle<Result<Page<Row>, StoreError>>>,
    /// The page being read was asked for by an earlier subscription; its rows are not wanted.
    stale_read: bool,
    /// Page reads in a row that found the store unavailable (a Redis restart): the socket
    /// stays open and tries again, later each time.
    read_failures: u32,
    /// Last frame from the client.
    last_heard: Instant,
    /// Last time frames were waiting to be sent. Our ping queues behind what the socket
    /// buffers, so a client busy reading a catch-up answers late through no fault of its own:
    /// missed pings count only from when we were done sending (a client that stops reading
    /// altogether is dropped by the stall timeout instead).
    last_busy: Instant,
}

impl Conn {
    async fn welcome(&mut self) -> Result<(), End> {
        let store = self.state.store();
        let head = store.head().await.map_err(internal)?;
        let frame = ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            last_seq: head.last_seq,
            first_seq: head.first_seq,
            epoch: store.epoch().to_string(),
        };
        self.out.push(frame.to_json().into());
        let send = std::future::poll_fn(|cx| self.out.poll_send(cx));
        match tokio::time::timeout(self.state.settings().send_timeout, send).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(End::Gone),
        }
    }

    /// Sends what is queued (an `error` frame, say), then the close frame.
    async fn close(&mut self, frame: CloseFrame) -> Result<(), axum::Error> {
        while self.out.busy() {
            std::future::poll_fn(|cx| self.out.poll_send(cx)).await?;
        }
        self.out.ws.send(Message::Close(Some(frame))).await
    }

    /// Not an async fn, which would keep room for its two arguments twice in every idle
    /// socket's state: the block uses what it captured in place.
    #[allow(clippy::manual_async_fn)]
    fn serve<'a>(&'a mut self, slot: &'a SocketSlot) -> impl Future<Output = End> + 'a {
        async move {
            let mut status = self.state.hub().status();
            // The two timings only: the settings hold the webhook secret, no socket needs a copy.
            let (period, send_timeout) = {
                let s = self.state.settings();
                (s.ping_interval, s.send_timeout)
            };
            let mut clock = Clock::new(period, send_timeout);
            // One timer for pings and stalls, rather than two in every socket's state.
            let timer = tokio::time::sleep_until(clock.due(false));
            tokio::pin!(timer);
            loop {
                if self.catching_up && self.reading.is_none() && self.out.len() < LOW_WATER {
                    self.read_page();
                }
                let sending = self.out.busy();
                {
                    // Moved only when something is due sooner: a later deadline just lets the timer
                    // fire early once, rather than touching the timer wheel at every frame sent.
                    let due = clock.due(sending);
                    if due < timer.deadline() {
                        timer.as_mut().reset(due);
                    }
                }
                let take_live =
                    self.cursor.is_some() && !self.catching_up && self.out.len() < LOW_WATER;
                let was_idle;
                // A client's frame may wait on the store: its boxed future is made in this block
                // and awaited after it, so the step (64 bytes) is not kept in every idle socket's
                // state.
                let handled = {
                    let woke = tokio::select! {
                        biased;
                        () = std::future::poll_fn(|cx| slot.bell.poll_rung(cx)) => Woke::Step(Step::Rung),
                        woke = std::future::poll_fn(|cx| {
                            poll_socket(cx, &mut self.out, timer.as_mut(), &mut clock, sending)
                        }) => woke,
                        r = page_of(&mut self.reading), if self.reading.is_some() => {
                            Woke::Step(Step::Page(r))
                        }
                        ev = self.live.recv(), if take_live => Woke::Step(Step::Live(ev)),
                    };
                    was_idle = !self.out.busy();
                    match woke {
                        Woke::Client(msg) => Either::Right(Box::pin(self.on_client(msg))),
                        Woke::Step(step) => Either::Left(std::future::ready(self.on_step(
                            step,
                            &mut clock,
                            &mut status,
                            slot,
                        ))),
                    }
                };
                let result = handled.await;
                if let Err(end) = result {
                    return end;
                }
                // Send what this step queued now, rather than a round of the select later.
                if self.out.busy() {
                    let sent = std::future::poll_fn(|cx| Poll::Ready(self.out.poll_send(cx))).await;
                    match sent {
                        Poll::Ready(Ok(())) => clock.progress(),
                        Poll::Ready(Err(_)) => return End::Gone,
                        Poll::Pending => {}
                    }
                }
                if self.out.has_data() {
                    self.last_busy = Instant::now();
                }
                if was_idle && self.out.busy() {
                    // The stall clock starts when there is something to send.
                    clock.progress();
                }
                if timer.is_elapsed() {
                    // It fired: wait for whatever is due next (after the stall clock moved, or an
                    // idle socket's ping would wake it once more for a stale stall deadline).
                    timer.as_mut().reset(clock.due(self.out.busy()));
                }
            }
        }
    }

    async fn on_client(&mut self, msg: Option<Result<Message, axum::Error>>) -> Result<(), End> {
        self.last_heard = Instant::now();
        match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(End::Gone),
            Some(Ok(Message::Text(text))) => match ClientFrame::parse(&text) {
                Ok(ClientFrame::Subscribe(sub)) => self.subscribe(sub).await,
                Err(e) => self.refuse(e.to_string()),
            },
            Some(Ok(Message::Binary(_))) => self.refuse("frames must be JSON text".into()),
            Some(Ok(_)) => Ok(()), // ping/pong: being heard is all that matters
        }
    }

    /// Queues an `error` frame, then closes (the close waits for it to be sent).
    fn refuse(&mut self, message: String) -> Result<(), End> {
        self.out
            .push(ServerFrame::Error { message }.to_json().into());
        Err(End::Close(close_code::POLICY, "bad frame"))
    }

    /// (Re)starts the feed: a fresh live receiver, then replay from the store after `after`
    /// (or from the head when the client gave none).
    async fn subscribe(&mut self, filter: Subscribe) -> Result<(), End> {
        self.live = self.state.hub().events();
        // Without `after` the client wants live events only: everything up to the head is
        // covered, and there is no page to read (a reconnect storm of live-only clients costs
        // one head read each, not a store query).
        let (start, catching_up) = match filter.after {
            Some(after) => (after, true),
            None => (
                self.state.store().head().await.map_err(internal)?.last_seq,
                false,
            ),
        };
        // Frames of an earlier subscription that were not sent yet are not wanted any more.
        self.out.drop_events();
        self.stale_read = self.reading.is_some();
        self.filter = filter;
        self.cursor = Some(start);
        self.catching_up = catching_up;
        Ok(())
    }

    fn on_live(&mut self, ev: Result<Arc<Published>, RecvError>) -> Result<(), End> {
        match ev {
            Ok(p) => {
                if Some(p.seq) <= self.cursor {
                    return Ok(()); // covered by the replay
                }
                self.cursor = Some(p.seq);
                if self.filter.accepts(&p.channel, &p.kind) {
                    self.out.push(p.frame.clone());
                    self.state.metrics().delivered(1);
                }
                Ok(())
            }
            Err(RecvError::Lagged(missed)) => {
                // Too slow for the live buffer: catch up from the store, never skip.
                tracing::debug!(missed, "slow client resyncs from the store");
                self.state.metrics().resync();
                self.catching_up = true;
                Ok(())
            }
            Err(RecvError::Closed) => Err(End::Close(close_code::AWAY, "relay shutting down")),
        }
    }

    fn on_ping(&mut self) -> Result<(), End> {
        let quiet_since = self.last_heard.max(self.last_busy);
        if !self.out.has_data() && quiet_since.elapsed() > self.state.settings().ping_interval * 2 {
            return Err(End::Close(close_code::AWAY, "no answer to pings"));
        }
        self.out.push_ping();
        Ok(())
    }
}

fn internal(e: StoreError) -> End {
    tracing::error!(error = %e, "store read failed during a WebSocket session");
    End::Close(close_code::ERROR, "relay store error")
}
