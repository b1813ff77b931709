//! The message ids the writer stored in the last hour ([`crate::store::DEDUPE_WINDOW`]), kept
//! in memory: the dedupe a redelivery from Twitch meets. A UNIQUE index on `events.message_id`
//! did this before, but Twitch's ids are random, so every insert dirtied a page of that index
//! somewhere in the file and each commit's `fdatasync` wrote it: most of what a durable
//! webhook cost. Twitch asks for ids to be kept at least 10 minutes, and the timestamp check
//! refuses a message older than that anyway; the hour matches the Redis engine.
//!
//! The writer thread owns it: it is filled from the database's last hour at start (so a
//! restart, or a crash after a commit that was never acknowledged, still dedupes the retry),
//! and a batch's ids join it only once that batch commits.

use std::collections::{HashSet, VecDeque};

use rusqlite::Connection;

/// Most ids held. Beyond this the oldest go first, so a flood shortens the window rather than
/// growing memory without end: about 64 bytes an id, 13 MB in all. 200,000 an hour is 55 events
/// a second for the whole hour, far above what Twitch sends one channel.
pub(super) const MAX_IDS: usize = 200_000;

/// A message id, compactly: Twitch's are lowercase UUIDs, kept as their 16 bytes; anything else
/// as it came. Two ids are the same only when their text is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Uuid([u8; 16]),
    Text(Box<str>),
}

impl Key {
    fn of(id: &str) -> Self {
        uuid_bytes(id).map_or_else(|| Self::Text(id.into()), Self::Uuid)
    }
}

/// The 16 bytes of a lowercase hyphenated UUID (8-4-4-4-12), or `None` for any other text:
/// uppercase too, so that parsing never makes two different ids equal.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let s = id.as_bytes();
    if s.len() != 36 || [8, 13, 18, 23].iter().any(|&i| s[i] != b'-') {
        return None;
    }
    let mut nibbles = s.iter().filter(|&&c| c != b'-').map(|&c| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    });
    let mut out = [0u8; 16];
    for byte in &mut out {
        *byte = (nibbles.next()?? << 4) | nibbles.next()??;
    }
    Some(out)
}

/// The ids received since ?1, newest first and at most ?2: down the `received_ms` index, so a
/// long history is never read and the cap keeps the most recent.
const RECENT: &str = "SELECT message_id, received_ms FROM events WHERE received_ms >= ?1
                      ORDER BY received_ms DESC LIMIT ?2";

/// Recent message ids, oldest first, with when each was received.
#[derive(Debug)]
pub(super) struct Seen {
    ids: HashSet<Key>,
    order: VecDeque<(i64, Key)>,
    window_ms: i64,
    max: usize,
    /// The newest receive time recorded: "now" for expiry, so this needs no clock.
    newest_ms: i64,
    /// Whether the cap has cut the window short (said once per flood).
    shortened: bool,
}

impl Seen {
    pub(super) fn new(window_ms: i64, max: usize) -> Self {
        Self {
            ids: HashSet::new(),
            order: VecDeque::new(),
            window_ms,
            max,
            newest_ms: i64::MIN,
            shortened: false,
        }
    }

    /// The ids of events received in the window before `now_ms`, read from the database.
    pub(super) fn load(
        conn: &Connection,
        now_ms: i64,
        window_ms: i64,
        max: usize,
    ) -> rusqlite::Result<Self> {
        let mut seen = Self::new(window_ms, max);
        let mut stmt = conn.prepare(RECENT)?;
        let rows = stmt
            .query_map(
                rusqlite::params![now_ms.saturating_sub(window_ms), max as i64],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (id, received_ms) in rows.iter().rev() {
            seen.record(id, *received_ms);
        }
        Ok(seen)
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.ids.contains(&Key::of(id))
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Remembers `id`, received at `received_ms`, and forgets what fell out of the window.
    pub(super) fn record(&mut self, id: &str, received_ms: i64) {
        let key = Key::of(id);
        if !self.ids.insert(key.clone()) {
            return;
        }
        self.order.push_back((received_ms, key));
        self.newest_ms = self.newest_ms.max(received_ms);
        let cutoff = self.newest_ms.saturating_sub(self.window_ms);
        while let Some(at) = self.order.front().map(|(at, _)| *at) {
            let expired = at < cutoff;
            let over = self.order.len() > self.max;
            if !expired && !over {
                break;
            }
            if !expired && !self.shortened {
                self.shortened = true;
                tracing::warn!(
                    max = self.max,
                    "more webhooks than the dedupe window holds: ids are remembered for less \
                     than an hour until the flood passes"
                );
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        if self.shortened && self.order.len() < self.max / 2 {
            self.shortened = false;
        }
        if self.ids.capacity() > 4 * self.ids.len().max(1024) {
            // After a flood drains: give the memory back.
            self.ids.shrink_to_fit();
            self.order.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn uuids_pack_and_other_ids_stay_text() {
        let id = "0b7f5d2a-3c4e-4f6a-8b9c-0d1e2f3a4b5c";
        assert_eq!(
            Key::of(id),
            Key::Uuid([
                0x0b, 0x7f, 0x5d, 0x2a, 0x3c, 0x4e, 0x4f, 0x6a, 0x8b, 0x9c, 0x0d, 0x1e, 0x2f, 0x3a,
                0x4b, 0x5c
            ])
        );
        // Uppercase, a missing hyphen, a stray character: kept as text, never folded into a
        // UUID another id also maps to.
        for other in [
            "0B7F5D2A-3C4E-4F6A-8B9C-0D1E2F3A4B5C",
            "0b7f5d2a3c4e-4f6a-8b9c-0d1e2f3a4b5c-",
            "0b7f5d2a-3c4e-4f6a-8b9c-0d1e2f3a4b5g",
            "befa7b53-d79d-478f-86b9-120f112b044e ",
            "",
            "é",
        ] {
            assert_eq!(Key::of(other), Key::Text(other.into()), "{other:?}");
        }
        let mut seen = Seen::new(HOUR, 10);
        seen.record(id, 0);
        assert!(seen.contains(id));
        assert!(!seen.contains(&id.to_uppercase()));
    }

    #[test]
    fn ids_are_kept_for_the_window_then_forgotten() {
        let mut seen = Seen::new(HOUR, 100);
        seen.record("a", 0);
        seen.record("b", HOUR / 2);
        seen.record("c", HOUR);
        assert!(
            seen.contains("a"),
            "exactly an hour old is still in the window"
        );
        seen.record("d", HOUR + 1);
        assert!(!seen.contains("a"));
        assert!(seen.contains("b") && seen.contains("c") && seen.contains("d"));
        assert_eq!(seen.len(), 3);
        // A late receive time (requests finish out of order) does not move "now" back.
        seen.record("e", 10);
        assert!(seen.contains("e") && seen.contains("b"));
    }

    #[test]
    fn a_flood_shortens_the_window_instead_of_growing() {
        let mut seen = Seen::new(HOUR, 1000);
        for i in 0..5000 {
            seen.record(&format!("id-{i}"), i);
        }
        assert_eq!(seen.len(), 1000);
        assert!(!seen.contains("id-3999"));
        assert!(seen.contains("id-4000") && seen.contains("id-4999"));
        // Recording an id again neither duplicates it nor evicts anything.
        seen.record("id-4999", 6000);
        assert_eq!(seen.len(), 1000);
        assert!(seen.contains("id-4000"));
    }

    #[test]
    fn loads_the_last_hour_from_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.sqlite3");
        let mut conn = super::super::schema::open(&path).unwrap();
        super::super::schema::migrate(&mut conn, &path).unwrap();
        for (id, ms) in [
            ("old", 0),
            ("x", 7_200_000),
            ("y", 7_300_000),
            ("z", 7_400_000),
        ] {
            conn.execute(
                "INSERT INTO events (message_id, type, channel_id, channel_login, received_ms, body)
                 VALUES (?1, 't', '1', 'a', ?2, '{}')",
                rusqlite::params![id, ms],
            )
            .unwrap();
        }
        let seen = Seen::load(&conn, 7_500_000, HOUR, 100).unwrap();
        assert!(!seen.contains("old"));
        assert!(seen.contains("x") && seen.contains("y") && seen.contains("z"));
        // With room for two, the newest two.
        let seen = Seen::load(&conn, 7_500_000, HOUR, 2).unwrap();
        assert!(!seen.contains("x"));
        assert!(seen.contains("y") && seen.contains("z"));
        // A month of history costs a start nothing: only the window's end of the index is read.
        let plan: String = conn
            .query_row(&format!("EXPLAIN QUERY PLAN {RECENT}"), [0, 10], |r| {
                r.get(3)
            })
            .unwrap();
        assert!(plan.contains("INDEX events_received"), "{plan}");
    }
}
