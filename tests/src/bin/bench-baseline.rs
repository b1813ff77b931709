//! The baseline `relay-bench` measures the relay against, in its own process as the relay is:
//! the least a server must do for the same job, so a ratio says what the relay's own work costs.
//!
//! - `POST /eventsub`: reads the body, answers 204 (no verification, no storage);
//! - `GET /ws`: a WebSocket with the relay's buffer sizes that forwards every broadcast frame
//!   (no auth, no replay, no filters, no pings);
//! - `POST /publish`: broadcasts the body as one text frame to every socket.
//!
//! ```sh
//! target/release/bench-baseline 127.0.0.1:PORT
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // A benchmark peer: panics report.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::broadcast;

type Feed = broadcast::Sender<Utf8Bytes>;

#[tokio::main]
async fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let (feed, _) = broadcast::channel::<Utf8Bytes>(256);
    let app = Router::new()
        .route(
            "/eventsub",
            post(|_body: Bytes| async { StatusCode::NO_CONTENT }),
        )
        .route("/publish", post(publish))
        .route("/ws", get(upgrade))
        .with_state(feed);
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

async fn publish(State(feed): State<Feed>, body: String) -> StatusCode {
    let _ = feed.send(body.into());
    StatusCode::NO_CONTENT
}

async fn upgrade(State(feed): State<Feed>, ws: WebSocketUpgrade) -> Response {
    // The relay's sizes: a 4 KiB read buffer and no write buffer.
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| forward(socket, feed.subscribe()))
}

async fn forward(mut socket: WebSocket, mut rx: broadcast::Receiver<Utf8Bytes>) {
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Ok(text) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}
