//! Messages waiting to be sent: a queue held back by the rate limiter, one message in flight at a
//! time until Twitch confirms it (USERSTATE with its id) or refuses it (a NOTICE `msg_*`).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::irc::escape;
use super::ratelimit::{Limits, RateLimiter};

/// How long Twitch has to confirm a message.
const CONFIRM_WITHIN: Duration = Duration::from_secs(10);

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Refused before sending (too long, empty).
    #[error("{0}")]
    Invalid(String),
    /// Anonymous connections cannot send.
    #[error("not logged in: reading anonymously, so sending is impossible (run `onair login`)")]
    Anonymous,
    /// Twitch refused it with a NOTICE.
    #[error("Twitch refused the message ({msg_id}): {text}")]
    Refused {
        /// e.g. `msg_ratelimit`, `msg_banned`, `msg_duplicate`.
        msg_id: String,
        /// Twitch's explanation.
        text: String,
    },
    /// Twitch refused the login.
    #[error("Twitch refused the chat login: {0}")]
    Rejected(String),
    /// No confirmation arrived (the connection dropped or Twitch stayed silent).
    #[error("Twitch did not confirm the message ({0}); it may or may not have been sent")]
    NotConfirmed(&'static str),
    /// The connection task has ended.
    #[error("the chat connection is closed")]
    Closed,
}

/// A send request from a [`super::connection::ChatHandle`].
#[derive(Debug)]
pub struct Request {
    pub text: String,
    pub reply_to: Option<String>,
    pub done: oneshot::Sender<Result<String, SendError>>,
}

/// The queue, the limiter and the message in flight.
#[derive(Debug)]
pub struct Outbox {
    limiter: RateLimiter,
    queue: VecDeque<Request>,
    in_flight: Option<(Request, Instant)>,
    privileged: bool,
    logged_in: bool,
}

impl Outbox {
    /// An empty outbox; anonymous connections refuse every send.
    pub fn new(limits: Limits, logged_in: bool) -> Self {
        Self {
            limiter: RateLimiter::new(limits),
            queue: VecDeque::new(),
            in_flight: None,
            privileged: false,
            logged_in,
        }
    }

    /// Queues a request.
    pub fn push(&mut self, req: Request) {
        if self.logged_in {
            self.queue.push_back(req);
        } else {
            let _ = req.done.send(Err(SendError::Anonymous));
        }
    }

    /// Moderator, VIP or broadcaster in this channel (from USERSTATE).
    pub fn set_privileged(&mut self, privileged: bool) {
        self.privileged = privileged;
    }

    /// When the next queued message may go, if one waits and none is in flight.
    pub fn next_send_at(&mut self, now: Instant) -> Option<Instant> {
        if self.in_flight.is_some() || self.queue.is_empty() {
            return None;
        }
        Some(self.limiter.next_slot(now, self.privileged))
    }

    /// Takes the next message as a PRIVMSG line and marks it in flight.
    pub fn take_next(&mut self, channel: &str, now: Instant) -> Option<String> {
        let req = self.queue.pop_front()?;
        // A line break would end the command early and let text become another command.
        let text: String = req
            .text
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        let line = match &req.reply_to {
            Some(id) => format!(
                "@reply-parent-msg-id={} PRIVMSG #{channel} :{text}",
                escape(id)
            ),
            None => format!("PRIVMSG #{channel} :{text}"),
        };
        self.limiter.record(now);
        self.in_flight = Some((req, now + CONFIRM_WITHIN));
        Some(line)
    }

    /// When the message in flight stops waiting for its confirmation.
    pub fn confirm_deadline(&self) -> Option<Instant> {
        self.in_flight.as_ref().map(|(_, d)| *d)
    }

    /// Twitch confirmed the message in flight.
    pub fn confirmed(&mut self, id: String) {
        if let Some((req, _)) = self.in_flight.take() {
            let _ = req.done.send(Ok(id));
        }
    }

    /// A NOTICE for the channel: a `msg_*` id refuses the message in flight.
    pub fn refused(&mut self, msg_id: &str, text: &str) {
        if !(msg_id.starts_with("msg_") || msg_id == "unrecognized_cmd") {
            return;
        }
        if let Some((req, _)) = self.in_flight.take() {
            let err = SendError::Refused {
                msg_id: msg_id.to_owned(),
                text: text.to_owned(),
            };
            let _ = req.done.send(Err(err));
        }
    }

    /// Gives up on a message whose confirmation is overdue.
    pub fn expire(&mut self, now: Instant) {
        if self.in_flight.as_ref().is_some_and(|(_, d)| *d <= now) {
            self.fail_in_flight(SendError::NotConfirmed("no answer from Twitch"));
        }
    }

    /// The connection dropped: the message in flight is unconfirmed; the queue waits.
    pub fn connection_lost(&mut self) {
        self.fail_in_flight(SendError::NotConfirmed("the connection dropped"));
    }

    /// Fails everything (the connection ends for good).
    pub fn fail_all(&mut self, err: SendError) {
        self.fail_in_flight(err.clone());
        for req in self.queue.drain(..) {
            let _ = req.done.send(Err(err.clone()));
        }
    }

    fn fail_in_flight(&mut self, err: SendError) {
        if let Some((req, _)) = self.in_flight.take() {
            let _ = req.done.send(Err(err));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> (Request, oneshot::Receiver<Result<String, SendError>>) {
        let (done, rx) = oneshot::channel();
        (
            Request {
                text: text.into(),
                reply_to: None,
                done,
            },
            rx,
        )
    }

    #[test]
    fn one_in_flight_then_confirmed() {
        let now = Instant::now();
        let mut o = Outbox::new(Limits::default(), true);
        let (a, mut ra) = req("hello");
        let (b, _rb) = req("again");
        o.push(a);
        o.push(b);
        assert_eq!(o.next_send_at(now), Some(now));
        assert_eq!(o.take_next("c", now).unwrap(), "PRIVMSG #c :hello");
        assert_eq!(o.next_send_at(now), None, "waits for the confirmation");
        o.confirmed("id-1".into());
        assert_eq!(ra.try_recv().unwrap(), Ok("id-1".into()));
        assert!(
            o.next_send_at(now).unwrap() > now,
            "1 s per channel for ordinary users"
        );
    }

    #[test]
    fn refusals_and_line_breaks() {
        let now = Instant::now();
        let mut o = Outbox::new(Limits::default(), true);
        let (a, mut ra) = req("hi\r\nPRIVMSG #other :injected");
        o.push(a);
        assert_eq!(
            o.take_next("c", now).unwrap(),
            "PRIVMSG #c :hi  PRIVMSG #other :injected"
        );
        o.refused("slow_on", "This room is now in slow mode.");
        assert!(
            ra.try_recv().is_err(),
            "informational notices refuse nothing"
        );
        o.refused(
            "msg_duplicate",
            "Your message is identical to the one you sent less than 30 seconds ago.",
        );
        assert!(
            matches!(ra.try_recv().unwrap(), Err(SendError::Refused { msg_id, .. }) if msg_id == "msg_duplicate")
        );
    }

    #[test]
    fn anonymous_cannot_send() {
        let mut o = Outbox::new(Limits::default(), false);
        let (a, mut ra) = req("hi");
        o.push(a);
        assert_eq!(ra.try_recv().unwrap(), Err(SendError::Anonymous));
    }
}
