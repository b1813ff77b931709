//! Counters for `/metrics`, rendered as Prometheus text with the names `design.md` fixes.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How a webhook request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new event stored.
    Ok,
    /// Missing, malformed or wrong signature.
    BadSignature,
    /// Timestamp outside the window.
    Stale,
    /// A message id seen before.
    Duplicate,
    /// A verification challenge answered.
    Challenge,
    /// A revocation recorded.
    Revocation,
    /// Missing headers or an unreadable body.
    Malformed,
    /// Over the body limit.
    TooLarge,
    /// The store failed; Twitch will retry.
    Error,
    /// Shed with 503 because intake exceeded what the store commits; Twitch will retry.
    Overloaded,
}

impl Outcome {
    const ALL: [Outcome; 10] = [
        Self::Ok,
        Self::BadSignature,
        Self::Stale,
        Self::Duplicate,
        Self::Challenge,
        Self::Revocation,
        Self::Malformed,
        Self::TooLarge,
        Self::Error,
        Self::Overloaded,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::BadSignature => "bad_signature",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
            Self::Challenge => "challenge",
            Self::Revocation => "revocation",
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::Error => "error",
            Self::Overloaded => "overloaded",
        }
    }
}

/// The relay's counters; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    webhooks: [AtomicU64; 10],
    events_stored: AtomicU64,
    deliveries: AtomicU64,
    resyncs: AtomicU64,
}

impl Metrics {
    /// Counts one webhook request.
    pub fn webhook(&self, outcome: Outcome) {
        self.0.webhooks[outcome as usize].fetch_add(1, Relaxed);
        if outcome == Outcome::Ok {
            self.0.events_stored.fetch_add(1, Relaxed);
        }
    }

    /// Counts frames delivered to clients.
    pub fn delivered(&self, n: u64) {
        self.0.deliveries.fetch_add(n, Relaxed);
    }

    /// Counts a slow client caught up from the store.
    pub fn resync(&self) {
        self.0.resyncs.fetch_add(1, Relaxed);
    }

    /// The count for one outcome.
    pub fn webhooks(&self, outcome: Outcome) -> u64 {
        self.0.webhooks[outcome as usize].load(Relaxed)
    }

    /// Prometheus text exposition; `clients` is the number of open sockets.
    pub fn render(&self, clients: u64) -> String {
        let mut out = String::new();
        let c = &self.0;
        out.push_str("# HELP onair_webhooks_total EventSub webhook requests by outcome.\n");
        out.push_str("# TYPE onair_webhooks_total counter\n");
        for o in Outcome::ALL {
            let n = c.webhooks[o as usize].load(Relaxed);
            let _ = writeln!(out, "onair_webhooks_total{{outcome=\"{}\"}} {n}", o.label());
        }
        let mut one = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        one(
            "onair_events_stored_total",
            "counter",
            "Events stored since start.",
            c.events_stored.load(Relaxed),
        );
        one(
            "onair_ws_clients",
            "gauge",
            "Open client WebSockets.",
            clients,
        );
        one(
            "onair_deliveries_total",
            "counter",
            "Event frames sent to clients.",
            c.deliveries.load(Relaxed),
        );
        one(
            "onair_resyncs_total",
            "counter",
            "Slow clients caught up from the store.",
            c.resyncs.load(Relaxed),
        );
        out
    }
}
