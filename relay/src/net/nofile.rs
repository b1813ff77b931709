//! The open-file limit. Every connection is a file descriptor, so `relay.max_connections` only
//! holds if the process may open that many (plus what SQLite, logs and the listener need). At
//! start the relay raises its soft limit to fit, up to the hard limit, and where the hard limit
//! is too low it serves fewer connections rather than failing `accept` at random.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors kept for everything that is not a client connection: the listener, SQLite's
/// files (database, WAL and shared memory for the writer and each of up to
/// `MAX_CONCURRENT_READS` readers), the log, the runtime.
pub const RESERVED: u64 = 128;

/// What [`fit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fitted {
    /// The connection cap that fits.
    pub max_connections: usize,
    /// The soft limit before.
    pub soft_before: u64,
    /// The soft limit now.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
}

/// The plan, pure: the soft limit to ask for and the cap that fits, given the current limits.
pub fn plan(wanted: usize, soft: u64, hard: u64) -> (u64, usize) {
    let need = (wanted as u64).saturating_add(RESERVED);
    let soft_new = need.min(hard).max(soft);
    let cap = soft_new.saturating_sub(RESERVED).min(wanted as u64) as usize;
    (soft_new, cap.max(1))
}

/// Raises the soft open-file limit so `wanted` connections fit; returns the cap that does.
pub fn fit(wanted: usize) -> Fitted {
    let now = getrlimit(Resource::Nofile);
    let infinite = u64::MAX;
    let (soft, hard) = (
        now.current.unwrap_or(infinite),
        now.maximum.unwrap_or(infinite),
    );
    let (soft_new, mut cap) = plan(wanted, soft, hard);
    let mut applied = soft;
    if soft_new > soft {
        let new = Rlimit {
            current: Some(soft_new),
            maximum: now.maximum,
        };
        match setrlimit(Resource::Nofile, new) {
            Ok(()) => applied = soft_new,
            Err(_) => cap = soft.saturating_sub(RESERVED).min(wanted as u64).max(1) as usize,
        }
    }
    Fitted {
        max_connections: cap,
        soft_before: soft,
        soft: applied,
        hard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_the_soft_limit_up_to_the_hard_one() {
        assert_eq!(plan(10_000, 1024, 1_048_576), (10_128, 10_000));
        // A hard limit too low for the wish: the cap shrinks to fit.
        assert_eq!(plan(10_000, 1024, 4096), (4096, 4096 - RESERVED as usize));
        // Never lowers a generous soft limit.
        assert_eq!(plan(100, 65_536, 65_536), (65_536, 100));
    }
}
