//! Twitch's chat limits, enforced before sending so the account is never ignored for an hour
//! (`twitch.md` D.6): 20 messages per 30 s, or 100 per 30 s as broadcaster, moderator or VIP,
//! and 1 per second per channel for everyone else. Pure: callers pass the time.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Longest chat message Twitch takes, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The sliding window (30 s, plus a margin for network jitter).
    pub window: Duration,
    /// Messages per window for ordinary users.
    pub normal: usize,
    /// Messages per window for the broadcaster, moderators and VIPs.
    pub privileged: usize,
    /// Gap between two messages of an ordinary user in one channel.
    pub per_channel_gap: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Twitch counts on its own clock; a second of margin absorbs latency differences.
            window: Duration::from_secs(31),
            normal: 20,
            privileged: 100,
            per_channel_gap: Duration::from_millis(1100),
        }
    }
}

/// The send history of one connection.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limits: Limits,
    sent: VecDeque<Instant>,
}

impl RateLimiter {
    /// An empty history.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            sent: VecDeque::new(),
        }
    }

    /// When the next message may go: `now` or later.
    pub fn next_slot(&mut self, now: Instant, privileged: bool) -> Instant {
        let window = self.limits.window;
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.sent.pop_front();
        }
        let cap = if privileged {
            self.limits.privileged
        } else {
            self.limits.normal
        };
        let mut at = now;
        if self.sent.len() >= cap {
            // The oldest message inside the window must leave it first.
            at = at.max(self.sent[self.sent.len() - cap] + window);
        }
        if !privileged && let Some(last) = self.sent.back() {
            at = at.max(*last + self.limits.per_channel_gap);
        }
        at
    }

    /// Records a message sent at `at`.
    pub fn record(&mut self, at: Instant) {
        self.sent.push_back(at);
    }
}

/// Checks a message before it is queued.
pub fn check_length(text: &str) -> Result<(), String> {
    let n = text.chars().count();
    if text.trim().is_empty() {
        return Err("the message is empty".into());
    }
    if n > MAX_MESSAGE_CHARS {
        return Err(format!(
            "the message is {n} characters; Twitch takes at most {MAX_MESSAGE_CHARS}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            window: Duration::from_secs(30),
            normal: 20,
            privileged: 100,
            per_channel_gap: Duration::from_secs(1),
        }
    }

    #[test]
    fn ordinary_user_one_per_second_and_twenty_per_window() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(limits());
        let mut now = t0;
        for i in 0..20 {
            let slot = r.next_slot(now, false);
            assert_eq!(slot, t0 + Duration::from_secs(i), "message {i}");
            r.record(slot);
            now = slot;
        }
        // The 21st waits until the first leaves the window.
        assert_eq!(r.next_slot(now, false), t0 + Duration::from_secs(30));
    }

    #[test]
    fn privileged_user_bursts_up_to_one_hundred() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(limits());
        for _ in 0..100 {
            assert_eq!(r.next_slot(t0, true), t0);
            r.record(t0);
        }
        assert_eq!(r.next_slot(t0, true), t0 + Duration::from_secs(30));
    }

    #[test]
    fn the_window_slides() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(limits());
        for i in 0..20 {
            r.record(t0 + Duration::from_secs(i));
        }
        let later = t0 + Duration::from_secs(45);
        assert_eq!(r.next_slot(later, false), later);
    }

    #[test]
    fn length_is_checked_in_characters() {
        assert!(check_length(&"é".repeat(500)).is_ok());
        assert_eq!(
            check_length(&"x".repeat(501)).unwrap_err(),
            "the message is 501 characters; Twitch takes at most 500"
        );
        assert!(check_length("   ").is_err());
    }
}
