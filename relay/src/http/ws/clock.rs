//! When a socket's one timer is due: at the next ping, and, while frames wait to be sent, when
//! a client that stopped reading is dropped. One deadline instead of an interval and a sleep:
//! each is a timer entry in every idle socket's state.

use tokio::time::{Duration, Instant};

/// What the timer found when it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alarm {
    /// Time to ping.
    Ping,
    /// Frames have waited for the client longer than the send timeout.
    Stalled,
    /// Nothing: the deadline it was set for has moved since.
    Early,
}

#[derive(Debug)]
pub(super) struct Clock {
    period: Duration,
    send_timeout: Duration,
    next_ping: Instant,
    /// The next send must make progress by then (it counts only while sending).
    stall_at: Instant,
}

impl Clock {
    pub(super) fn new(period: Duration, send_timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            period,
            send_timeout,
            next_ping: now + period,
            stall_at: now + send_timeout,
        }
    }

    /// A frame went out, or frames started waiting: the stall clock starts over.
    pub(super) fn progress(&mut self) {
        self.stall_at = Instant::now() + self.send_timeout;
    }

    /// When the timer must fire next.
    pub(super) fn due(&self, sending: bool) -> Instant {
        if sending {
            self.next_ping.min(self.stall_at)
        } else {
            self.next_ping
        }
    }

    /// The timer fired: what is due now.
    pub(super) fn fired(&mut self, sending: bool) -> Alarm {
        let now = Instant::now();
        if sending && now >= self.stall_at {
            Alarm::Stalled
        } else if now >= self.next_ping {
            self.next_ping = now + self.period;
            Alarm::Ping
        } else {
            Alarm::Early
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(30);
    const SEND: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn an_idle_socket_is_due_only_for_pings() {
        let start = Instant::now();
        let mut c = Clock::new(PERIOD, SEND);
        assert_eq!(c.due(false), start + PERIOD);
        tokio::time::advance(SEND * 2).await;
        assert_eq!(c.fired(false), Alarm::Early, "no stall while nothing waits");
        tokio::time::advance(PERIOD).await;
        assert_eq!(c.fired(false), Alarm::Ping);
        assert_eq!(
            c.due(false),
            Instant::now() + PERIOD,
            "the next ping a period on"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_without_progress_stalls_and_progress_moves_the_deadline() {
        let mut c = Clock::new(PERIOD, SEND);
        tokio::time::advance(Duration::from_secs(5)).await;
        c.progress();
        assert_eq!(c.due(true), Instant::now() + SEND);
        tokio::time::advance(SEND - Duration::from_secs(1)).await;
        c.progress();
        tokio::time::advance(SEND - Duration::from_secs(1)).await;
        assert_eq!(c.fired(true), Alarm::Early, "it kept sending");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(c.fired(true), Alarm::Stalled);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_wins_over_a_ping_due_at_the_same_time() {
        let mut c = Clock::new(SEND, SEND);
        tokio::time::advance(SEND).await;
        assert_eq!(c.fired(true), Alarm::Stalled);
        assert_eq!(c.fired(false), Alarm::Ping);
    }
}
