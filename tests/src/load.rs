//! What the load scripts share: an intake loader that every intake figure comes from, and the
//! fan-out clock, so figures from different scripts compare.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::eventsub::{Delivery, Sender};
use crate::relay::SECRET;

/// Posts freshly signed notifications from `concurrency` tasks for `seconds`, spread round robin
/// over `bases` and over a pool of loopback source addresses; returns 2xx answers per second.
pub async fn blast(bases: &[String], seconds: u64, concurrency: u64) -> f64 {
    let ok = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let body = crate::eventsub::fixture("channel.follow");
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency as usize)
        .map(|i| {
            let (ok, stop, body) = (ok.clone(), stop.clone(), body.clone());
            let sender = Sender::pooled(&bases[i % bases.len()], SECRET, i);
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut d = Delivery::fixture("channel.follow");
                    d.body.clone_from(&body);
                    if sender
                        .try_send(&d)
                        .await
                        .is_ok_and(|r| r.status().is_success())
                    {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    ok.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// When one event reached its clients, counted from its POST.
#[derive(Debug, Clone, Copy)]
pub struct Arrivals {
    /// The first client's receipt.
    pub first: Duration,
    /// The last client's receipt: the whole fan-out.
    pub last: Duration,
}

/// When the first and the last of `clients` arrival times reported on `arrivals` came in after
/// `sent`, each waited for at most `wait`. Panics when a client does not receive the event.
pub async fn arrivals(
    arrivals: &mut mpsc::UnboundedReceiver<Instant>,
    clients: u64,
    sent: Instant,
    wait: Duration,
) -> Arrivals {
    let (mut first, mut last) = (None::<Instant>, sent);
    for _ in 0..clients {
        let at = tokio::time::timeout(wait, arrivals.recv())
            .await
            .expect("every client receives the event")
            .expect("the clients' channel stays open");
        first = Some(first.map_or(at, |f| f.min(at)));
        last = last.max(at);
    }
    Arrivals {
        first: first.unwrap_or(sent) - sent,
        last: last - sent,
    }
}
