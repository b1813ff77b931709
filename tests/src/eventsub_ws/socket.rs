//! One fake EventSub socket: the welcome, keepalives only after `keepalive_s` of silence,
//! commands from the test, 4003 for a fresh session left without a subscription, and 4001 for
//! any text or binary frame the client sends. A `reconnect_id` moves the old session's
//! subscriptions to the new one.

use std::collections::HashMap;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant, sleep_until};

use super::{Cmd, Ctx, Session, frames};

pub(super) async fn upgrade(
    State(ctx): State<Ctx>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| run(ctx, q.get("reconnect_id").cloned(), socket))
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

async fn run(ctx: Ctx, reconnect_id: Option<String>, mut ws: WebSocket) {
    let id = crate::eventsub::message_id().replace('-', "");
    let connected_at = crate::eventsub::twitch_timestamp(jiff::Timestamp::now());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (keepalive, unused_after) = ctx.with(|s| {
        s.connects.push(
            reconnect_id
                .as_ref()
                .map(|r| format!("reconnect_id={r}"))
                .unwrap_or_default(),
        );
        s.sessions.insert(
            id.clone(),
            Session {
                tx,
                connected_at: connected_at.clone(),
            },
        );
        s.open.push(id.clone());
        if let Some(old) = &reconnect_id {
            // The new socket carries the old one's subscriptions (E.4).
            for sub in s.subs.iter_mut() {
                if sub["transport"]["session_id"] == old.as_str() && sub["status"] == "enabled" {
                    sub["transport"]["session_id"] = json!(id);
                }
            }
        }
        (Duration::from_secs(s.keepalive_s), s.unused_after)
    });
    let welcome = frames::welcome(&id, &connected_at, keepalive.as_secs());
    let mut sent_at = Instant::now();
    let mut silent = false;
    let unused_at = Instant::now() + unused_after;
    let mut close_code = None;
    if ws.send(Message::Text(welcome.into())).await.is_ok() {
        loop {
            let has_subs = reconnect_id.is_some()
                || ctx.read(|s| {
                    s.subs
                        .iter()
                        .any(|v| v["transport"]["session_id"] == id.as_str())
                });
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Send(_)) if silent => {}
                    Some(Cmd::Send(text)) => {
                        if ws.send(Message::Text(text.into())).await.is_err() { break; }
                        sent_at = Instant::now();
                    }
                    Some(Cmd::Close(code)) => {
                        let _ = ws.send(close_frame(code, "closed by the test")).await;
                        close_code = Some(code);
                        break;
                    }
                    Some(Cmd::Silence) => silent = true,
                    None => break,
                },
                msg = ws.recv() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        ctx.with(|s| s.inbound.push(t.to_string()));
                        let _ = ws.send(close_frame(4001, "client sent inbound traffic")).await;
                        close_code = Some(4001);
                        break;
                    }
                    Some(Ok(Message::Binary(b))) => {
                        ctx.with(|s| s.inbound.push(format!("<{} binary bytes>", b.len())));
                        let _ = ws.send(close_frame(4001, "client sent inbound traffic")).await;
                        close_code = Some(4001);
                        break;
                    }
                    Some(Ok(Message::Close(f))) => {
                        close_code = f.map(|f| f.code);
                        break;
                    }
                    Some(Ok(_)) => {} // ping, pong
                    Some(Err(_)) | None => break,
                },
                () = sleep_until(sent_at + keepalive), if !silent => {
                    if ws.send(Message::Text(frames::keepalive().into())).await.is_err() { break; }
                    sent_at = Instant::now();
                }
                () = sleep_until(unused_at), if !has_subs => {
                    let _ = ws.send(close_frame(4003, "connection unused")).await;
                    close_code = Some(4003);
                    break;
                }
            }
        }
    }
    ctx.with(|s| {
        s.closes.push((id.clone(), close_code));
        s.open.retain(|o| *o != id);
        s.sessions.remove(&id);
        // A lost connection disables its subscriptions (E.1).
        for sub in s.subs.iter_mut() {
            if sub["transport"]["session_id"] == id.as_str() && sub["status"] == "enabled" {
                sub["status"] = json!("websocket_disconnected");
            }
        }
    });
}
