//! A new database, and the real writer (with its sync and checkpoint threads) on one, for tests
//! of what they do end to end.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use onair_common::Event;
use onair_common::event::{Channel, Origin};

use super::schema;
use super::sync::Watermark;
use super::writer::Writer;
use crate::store::{Feed, Stored};

#[derive(Debug)]
struct Nowhere;

impl Feed for Nowhere {
    fn event(&self, _stored: Arc<Stored>) {}
    fn status(&self, _frame: String) {}
    fn reset(&self) {}
}

pub(super) fn event(n: u64) -> Event {
    Event {
        seq: None,
        // Scattered ids, like Twitch's.
        id: format!("{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        kind: "channel.follow".into(),
        version: "2".into(),
        channel: Channel {
            id: "1".into(),
            login: "c".into(),
            name: "C".into(),
        },
        occurred_at: "2026-12-02T12:00:00.000Z".into(),
        received_at: "2026-12-02T12:00:00.000Z".into(),
        origin: Origin::Twitch,
        summary: "x".repeat(500),
        data: serde_json::json!({ "n": n }),
    }
}

/// A new database in `dir`, with its tables and no connection left open.
pub(super) fn new_database(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("relay.sqlite3");
    schema::migrate(&schema::open(&path).unwrap(), &path).unwrap();
    path
}

/// A new database in `dir` and the real writer on it (with its sync and checkpoint threads).
pub(super) fn start(dir: &Path) -> (std::path::PathBuf, Writer, std::thread::JoinHandle<()>) {
    let path = new_database(dir);
    let (writer, thread) = Writer::start(&path, Arc::new(Nowhere), Watermark::at(0)).unwrap();
    (path, writer, thread)
}

/// Commits what is queued and waits for the writer's threads to end.
pub(super) async fn stop(writer: Writer, thread: std::thread::JoinHandle<()>) {
    writer.stop().await;
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
}
