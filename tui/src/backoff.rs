//! The one reconnect and retry delay used by chat, the relay link and the token owner:
//! exponential from a first delay up to a ceiling, with jitter, so that many terminals that lost
//! the same server at the same moment do not all come back in the same second.

use std::time::Duration;

/// Delays for successive attempts; [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    ceiling: Duration,
}

impl Backoff {
    /// Starts at `first` and doubles up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            ceiling: first,
        }
    }

    /// The delay before the next attempt: between half the current ceiling and all of it.
    pub fn next_delay(&mut self) -> Duration {
        let wait = jittered(self.ceiling, rand::random::<f64>());
        self.ceiling = (self.ceiling * 2).min(self.max);
        wait
    }

    /// Back to the first delay (after a connection that worked).
    pub fn reset(&mut self) {
        self.ceiling = self.first;
    }
}

/// `ceiling/2 + r * ceiling/2` for `r` in `[0, 1)`: half fixed so a retry never spins, half
/// random so clients spread out.
pub fn jittered(ceiling: Duration, r: f64) -> Duration {
    let half = ceiling / 2;
    half + half.mul_f64(r.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn jitter_stays_between_half_and_the_whole_ceiling() {
        assert_eq!(jittered(S * 8, 0.0), S * 4);
        assert_eq!(jittered(S * 8, 0.5), S * 6);
        assert_eq!(jittered(S * 8, 1.0), S * 8);
    }

    #[test]
    fn delays_double_to_the_ceiling_spread_out_and_reset() {
        let mut b = Backoff::new(S, S * 8);
        let ceilings = [1, 2, 4, 8, 8, 8];
        for c in ceilings {
            let d = b.next_delay();
            assert!(d >= S * c / 2 && d <= S * c, "{d:?} not within {c} s");
        }
        b.reset();
        assert!(b.next_delay() <= S);
        // Jitter: a hundred clients do not all pick the same delay.
        let picks: std::collections::BTreeSet<Duration> = (0..100)
            .map(|_| Backoff::new(S * 30, S * 30).next_delay())
            .collect();
        assert!(picks.len() > 50, "{} distinct delays", picks.len());
    }
}
