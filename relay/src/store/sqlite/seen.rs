//! The message ids the writer stored in the last hour ([`crate::store::DEDUPE_WINDOW`]), kept
//! in memory: the dedupe a redelivery from Twitch meets. A UNIQUE index on `events.message_id`
//! did this before, but Twitch's ids are random, so every insert dirtied a page of that index
//! somewhere in the file and each commit's `fdatasync` wrote it: most of what a durable
//! webhook cost. Twitch asks for ids to be kept at least 10 minutes, and the timestamp check
//! refuses a message older than that anyway; the hour matches the Redis engine.
//!
//! The writer thread owns it: it is filled from the database's last hour at start (so a
//! restart, or a crash after a commit that was never acknowledged, still dedupes the retry),
//! and a batch's ids join it only once that batch commits. Ages run on the monotonic clock, so
//! a wall clock set forward and back again forgets nothing.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long ids are kept, and how many.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Ids older than this go.
    pub(super) window: Duration,
    /// Ids younger than this stay while there is room under `hard`: Twitch's own window.
    pub(super) floor: Duration,
    /// Beyond this many ids, those older than `floor` go first.
    pub(super) soft: usize,
    /// Never more than this many ids.
    pub(super) hard: usize,
}

/// About 75 bytes an id: 15 MB at the soft cap, which holds the hour up to 55 webhooks a
/// second (a busy evening of every event type on several channels is a few a second). Only a
/// sustained 3,300 a second for 10 minutes, which only Twitch can sign, reaches the hard cap.
pub(super) const LIMITS: Limits = Limits {
    window: crate::store::DEDUPE_WINDOW,
    floor: Duration::from_secs(600),
    soft: 200_000,
    hard: 2_000_000,
};

/// The ids received since ?1 (ms), newest first and at most ?2: down the `received_ms` index,
/// so a long history is never read and the cap keeps the most recent.
const RECENT: &str = "SELECT message_id, received_ms FROM events WHERE received_ms >= ?1
                      ORDER BY received_ms DESC LIMIT ?2";

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

/// Recent message ids, oldest first, with when each was recorded.
#[derive(Debug)]
pub(super) struct Seen {
    ids: HashSet<Key>,
    order: VecDeque<(Instant, Key)>,
    limits: Limits,
    /// Whether the hard cap has cut into Twitch's 10 minutes (said once per flood).
    short: bool,
}

impl Seen {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            ids: HashSet::new(),
            order: VecDeque::new(),
            limits,
            short: false,
        }
    }

    /// The ids of events received in the window before `now_ms` (the wall clock, which the
    /// rows carry), aged from `now` (the monotonic clock the writer records with).
    pub(super) fn load(
        conn: &Connection,
        now_ms: i64,
        now: Instant,
        limits: Limits,
    ) -> rusqlite::Result<Self> {
        let mut seen = Self::new(limits);
        let window_ms = i64::try_from(limits.window.as_millis()).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare(RECENT)?;
        let rows = stmt
            .query_map(
                rusqlite::params![now_ms.saturating_sub(window_ms), limits.soft as i64],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (id, received_ms) in rows.iter().rev() {
            // A row from a clock that ran ahead counts as new: kept the longest, never lost.
            let age = Duration::from_millis(now_ms.saturating_sub(*received_ms).max(0) as u64);
            seen.record(id, now.checked_sub(age).unwrap_or(now));
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

    /// Remembers `id` as recorded `now` (never earlier than the last call's), and forgets what
    /// the limits let go.
    pub(super) fn record(&mut self, id: &str, now: Instant) {
        let key = Key::of(id);
        if !self.ids.insert(key.clone()) {
            return;
        }
        self.order.push_back((now, key));
        let Limits {
            window,
            floor,
            soft,
            hard,
        } = self.limits;
        while let Some(at) = self.order.front().map(|(at, _)| *at) {
            let age = now.saturating_duration_since(at);
            let len = self.order.len();
            if age <= window && (len <= soft || age <= floor) && len <= hard {
                break;
            }
            if age <= floor && !self.short {
                self.short = true;
                tracing::warn!(
                    hard,
                    "more webhooks than the dedupe memory holds: message ids are remembered \
                     for less than Twitch's 10 minutes until the flood passes"
                );
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        if self.short && self.order.len() < hard / 2 {
            self.short = false;
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

    const HOUR: Duration = Duration::from_secs(3600);
    const MS: Duration = Duration::from_millis(1);

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
        let mut seen = Seen::new(LIMITS);
        seen.record(id, Instant::now());
        assert!(seen.contains(id));
        assert!(!seen.contains(&id.to_uppercase()));
    }

    #[test]
    fn ids_are_kept_for_the_window_then_forgotten() {
        let t0 = Instant::now();
        let mut seen = Seen::new(LIMITS);
        seen.record("a", t0);
        seen.record("b", t0 + HOUR / 2);
        seen.record("c", t0 + HOUR);
        assert!(
            seen.contains("a"),
            "exactly an hour old is still in the window"
        );
        seen.record("d", t0 + HOUR + MS);
        assert!(!seen.contains("a"));
        assert!(seen.contains("b") && seen.contains("c") && seen.contains("d"));
        assert_eq!(seen.len(), 3);
    }

    fn flood(seen: &mut Seen, t0: Instant, n: u32, every: Duration) {
        for i in 0..n {
            seen.record(&format!("id-{i}"), t0 + every * i);
        }
    }

    #[test]
    fn past_the_soft_cap_only_ids_older_than_ten_minutes_go() {
        let limits = Limits {
            soft: 1000,
            hard: 10_000,
            ..LIMITS
        };
        // 3,000 ids over 30 minutes, one every 600 ms: the oldest 1,000 are past ten minutes.
        let mut seen = Seen::new(limits);
        let t0 = Instant::now();
        flood(&mut seen, t0, 3000, MS * 600);
        assert_eq!(seen.len(), 1001, "ten minutes of ids stay");
        assert!(!seen.contains("id-1998"));
        assert!(seen.contains("id-1999") && seen.contains("id-2999"));
        assert!(!seen.short);
    }

    #[test]
    fn the_hard_cap_holds_even_against_ten_minutes() {
        let limits = Limits {
            soft: 100,
            hard: 1000,
            ..LIMITS
        };
        let mut seen = Seen::new(limits);
        flood(&mut seen, Instant::now(), 5000, MS);
        assert_eq!(seen.len(), 1000);
        assert!(!seen.contains("id-3999"));
        assert!(seen.contains("id-4000") && seen.contains("id-4999"));
        assert!(seen.short, "said once");
        // Recording an id again neither duplicates it nor evicts anything.
        let last = Instant::now() + MS * 5000;
        seen.record("id-4999", last);
        assert_eq!(seen.len(), 1000);
        assert!(seen.contains("id-4000"));
    }

    #[test]
    fn loads_the_last_hour_from_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.sqlite3");
        let conn = super::super::schema::open(&path).unwrap();
        super::super::schema::migrate(&conn, &path).unwrap();
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
        // Later than the machine's boot by more than the window, whatever its uptime.
        let now = Instant::now() + HOUR;
        let seen = Seen::load(&conn, 7_500_000, now, LIMITS).unwrap();
        assert!(!seen.contains("old"));
        assert!(seen.contains("x") && seen.contains("y") && seen.contains("z"));
        // Aged from when they were received, 5, 3.3 and 1.7 minutes ago: "x" goes 55 minutes
        // from now, "y" after 56.7.
        let mut later = seen;
        later.record("new", now + Duration::from_secs(56 * 60));
        assert!(!later.contains("x") && later.contains("y") && later.contains("z"));
        // With room for two, the newest two.
        let two = Limits { soft: 2, ..LIMITS };
        let seen = Seen::load(&conn, 7_500_000, now, two).unwrap();
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
