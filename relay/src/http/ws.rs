//! `GET /ws`: one task per client socket. One `select!` over the client's frames, the live feed,
//! status frames, the ping timer, and shutdown. Replay and live never overlap or leave a gap: the
//! live receiver is taken before the store is read, and `cursor` (the highest seq covered, matched
//! or not) skips what the replay already covered.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use onair_common::wire::{ClientFrame, PROTOCOL_VERSION, ServerFrame, Subscribe};
use tokio::sync::broadcast::{self, error::RecvError};

use super::auth::Client;
use super::error::AppError;
use crate::app::AppState;
use crate::hub::SocketSlot;
use crate::store::{Published, Query, StoreError};

/// Our frames are small; the 128 KiB defaults would cost that much per socket.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const MAX_CLIENT_FRAME_BYTES: usize = 64 * 1024;
/// Events read from the store per query during replay and resync.
const PAGE: u32 = 500;

/// Authenticates, takes a connection slot, and upgrades.
pub async fn upgrade(
    State(state): State<AppState>,
    Client(client): Client,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let slot = state
        .hub
        .open(client, state.settings.max_connections_per_client)
        .map_err(|_| AppError::TooManyConnections)?;
    let ws = ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(MAX_CLIENT_FRAME_BYTES)
        .max_frame_size(MAX_CLIENT_FRAME_BYTES);
    Ok(ws
        .on_upgrade(move |socket| {
            let tasks = state.tasks.clone();
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

struct Conn {
    socket: WebSocket,
    state: AppState,
    filter: Subscribe,
    /// Highest seq this connection has covered; `None` until the client subscribes.
    cursor: Option<u64>,
    live: broadcast::Receiver<Arc<Published>>,
    last_heard: Instant,
}

async fn run(socket: WebSocket, state: AppState, slot: SocketSlot) {
    let live = state.hub.events();
    let mut conn = Conn {
        socket,
        filter: Subscribe::default(),
        cursor: None,
        live,
        last_heard: Instant::now(),
        state,
    };
    let end = match conn.welcome().await {
        Ok(()) => conn.serve(&slot).await,
        Err(end) => end,
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = conn.socket.send(Message::Close(Some(frame))).await;
    }
}

impl Conn {
    async fn welcome(&mut self) -> Result<(), End> {
        let last_seq = self.state.store.last_seq().await.map_err(internal)?;
        let frame = ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            last_seq,
            first_seq: 0,
            epoch: String::new(),
        };
        self.send(frame.to_json().into()).await
    }

    async fn serve(&mut self, slot: &SocketSlot) -> End {
        let shutdown = self.state.shutdown.clone();
        let mut status = self.state.hub.status();
        let period = self.state.settings.ping_interval;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            let step = tokio::select! {
                () = shutdown.cancelled() => Err(End::Close(close_code::AWAY, "relay shutting down")),
                () = slot.revoked.cancelled() => Err(End::Close(close_code::POLICY, "client token removed")),
                msg = self.socket.recv() => self.on_client(msg).await,
                ev = self.live.recv(), if self.cursor.is_some() => self.on_live(ev).await,
                Ok(frame) = status.recv() => self.send(frame).await,
                _ = ping.tick() => self.on_ping().await,
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn on_client(&mut self, msg: Option<Result<Message, axum::Error>>) -> Result<(), End> {
        self.last_heard = Instant::now();
        match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(End::Gone),
            Some(Ok(Message::Text(text))) => match ClientFrame::parse(&text) {
                Ok(ClientFrame::Subscribe(sub)) => self.subscribe(sub).await,
                Err(e) => self.refuse(e.to_string()).await,
            },
            Some(Ok(Message::Binary(_))) => self.refuse("frames must be JSON text".into()).await,
            Some(Ok(_)) => Ok(()), // ping/pong: being heard is all that matters
        }
    }

    /// Sends an `error` frame, then closes.
    async fn refuse(&mut self, message: String) -> Result<(), End> {
        self.send(ServerFrame::Error { message }.to_json().into())
            .await?;
        Err(End::Close(close_code::POLICY, "bad frame"))
    }

    /// (Re)starts the feed: take a fresh live receiver, then replay from the store.
    async fn subscribe(&mut self, filter: Subscribe) -> Result<(), End> {
        self.live = self.state.hub.events();
        let start = match filter.after {
            Some(after) => after,
            None => self.state.store.last_seq().await.map_err(internal)?,
        };
        self.filter = filter;
        self.cursor = Some(start);
        self.catch_up().await
    }

    /// Sends stored events after the cursor until the store has no more.
    async fn catch_up(&mut self) -> Result<(), End> {
        loop {
            let q = Query {
                after: self.cursor.unwrap_or(0),
                channels: self.filter.channels.clone(),
                types: self.filter.types.clone(),
                limit: PAGE,
            };
            let page = self.state.store.events(q).await.map_err(internal)?;
            let full = page.events.len() == PAGE as usize;
            let mut sent = 0;
            for event in page.events {
                let seq = event.seq.unwrap_or(0);
                let frame = ServerFrame::Event {
                    event: Box::new(event),
                };
                self.send(frame.to_json().into()).await?;
                self.cursor = Some(seq);
                sent += 1;
            }
            self.state.metrics.delivered(sent);
            if !full {
                // Everything up to the store's head at the time of the read is covered.
                self.cursor = self.cursor.max(Some(page.last_seq));
                return Ok(());
            }
        }
    }

    async fn on_live(&mut self, ev: Result<Arc<Published>, RecvError>) -> Result<(), End> {
        match ev {
            Ok(p) => {
                if Some(p.seq) <= self.cursor {
                    return Ok(()); // covered by the replay
                }
                self.cursor = Some(p.seq);
                if self.filter.accepts(&p.channel, &p.kind) {
                    self.send(p.frame.clone()).await?;
                    self.state.metrics.delivered(1);
                }
                Ok(())
            }
            Err(RecvError::Lagged(missed)) => {
                // Too slow for the live buffer: catch up from the store, never skip.
                tracing::debug!(missed, "slow client resyncs from the store");
                self.state.metrics.resync();
                self.catch_up().await
            }
            Err(RecvError::Closed) => Err(End::Close(close_code::AWAY, "relay shutting down")),
        }
    }

    async fn on_ping(&mut self) -> Result<(), End> {
        if self.last_heard.elapsed() > self.state.settings.ping_interval * 2 {
            return Err(End::Close(close_code::AWAY, "no answer to pings"));
        }
        self.send_msg(Message::Ping(Default::default())).await
    }

    async fn send(&mut self, text: Utf8Bytes) -> Result<(), End> {
        self.send_msg(Message::Text(text)).await
    }

    /// Sends one frame; a socket that cannot take it within `send_timeout` is dropped.
    async fn send_msg(&mut self, msg: Message) -> Result<(), End> {
        match tokio::time::timeout(self.state.settings.send_timeout, self.socket.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => {
                tracing::info!("dropped a client that stopped reading");
                Err(End::Gone)
            }
        }
    }
}

fn internal(e: StoreError) -> End {
    tracing::error!(error = %e, "store read failed during a WebSocket session");
    End::Close(close_code::ERROR, "relay store error")
}
