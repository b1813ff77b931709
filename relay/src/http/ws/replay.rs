//! Replay: reading stored events after the cursor a page at a time (at most one read per socket,
//! in its own task, so the session loop keeps serving), and queueing what a read found.

use std::time::Duration;

use onair_common::wire::ServerFrame;
use tokio::task::JoinHandle;

use super::{Conn, End, internal};
use crate::hub::event_frame;
use crate::store::{Page, Query, Row, StoreError};

/// Events read from the store per query during replay and resync.
const PAGE: u32 = 500;

impl Conn {
    /// Starts reading the page after the cursor; later each time in a row the store was
    /// unavailable.
    pub(super) fn read_page(&mut self) {
        let q = Query {
            after: self.cursor.unwrap_or(0),
            channels: self.filter.channels.clone(),
            types: self.filter.types.clone(),
            limit: PAGE,
        };
        let store = self.state.store().clone();
        let wait = match self.read_failures {
            0 => Duration::ZERO,
            n => (Duration::from_millis(100) * 2u32.pow(n.min(5))).min(Duration::from_secs(2)),
        };
        self.reading = Some(tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            store.rows(q).await
        }));
    }

    /// A read finished: its page is queued, unless a later subscription made it stale; a store
    /// that is unavailable for now (a Redis restart) is read again later.
    pub(super) fn on_read(&mut self, page: Result<Page<Row>, StoreError>) -> Result<(), End> {
        self.reading = None;
        if std::mem::take(&mut self.stale_read) {
            return Ok(());
        }
        match page {
            Err(e) if e.is_transient() => {
                self.read_failures += 1;
                tracing::debug!(error = %e, "store unavailable; the replay waits");
                Ok(())
            }
            page => {
                self.read_failures = 0;
                page.map_err(internal).and_then(|p| self.on_page(p))
            }
        }
    }

    /// Queues a page of stored events; a `gap` first when what the client asked for was pruned.
    fn on_page(&mut self, page: Page<Row>) -> Result<(), End> {
        // A resume point past the head (seqs from another store, or garbage) would silently
        // skip live events up to it: resume from the head instead.
        let cursor = self.cursor.unwrap_or(0).min(page.head.last_seq);
        self.cursor = Some(cursor);
        if page.head.first_seq > cursor.saturating_add(1) {
            let (from, to) = (cursor + 1, page.head.first_seq - 1);
            self.out
                .push(ServerFrame::Gap { from, to }.to_json().into());
            self.cursor = Some(to);
        }
        let full = page.more;
        let sent = page.events.len() as u64;
        for row in page.events {
            self.out.push(event_frame(row.seq, &row.body).into());
            self.cursor = Some(row.seq);
        }
        self.state.metrics().delivered(sent);
        if !full {
            // Everything up to the store's head at the time of the read is covered.
            self.cursor = self.cursor.max(Some(page.head.last_seq));
            self.catching_up = false;
        }
        Ok(())
    }
}

/// The page being read (pending forever when none is: the branch is disabled then anyway).
pub(super) async fn page_of(
    reading: &mut Option<JoinHandle<Result<Page<Row>, StoreError>>>,
) -> Result<Page<Row>, StoreError> {
    match reading {
        Some(handle) => handle.await.unwrap_or(Err(StoreError::Closed)),
        None => std::future::pending().await,
    }
}
