//! Counters for `/metrics`, rendered as Prometheus text with the names `design.md` fixes.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use crate::intake::Outcome;

/// The relay's counters; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    webhooks: [AtomicU64; Outcome::ALL.len()],
    events_stored: AtomicU64,
    deliveries: AtomicU64,
    resyncs: AtomicU64,
}

impl Metrics {
    /// Counts one webhook request.
    pub fn webhook(&self, outcome: Outcome) {
        self.0.webhooks[outcome.index()].fetch_add(1, Relaxed);
        if outcome.stored() {
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
        self.0.webhooks[outcome.index()].load(Relaxed)
    }

    /// Prometheus text exposition; `clients` is the number of open sockets.
    pub fn render(&self, clients: u64) -> String {
        let mut out = String::new();
        let c = &self.0;
        out.push_str("# HELP onair_webhooks_total EventSub webhook requests by outcome.\n");
        out.push_str("# TYPE onair_webhooks_total counter\n");
        for o in Outcome::ALL {
            let n = c.webhooks[o.index()].load(Relaxed);
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
