//! `onair events tail` and `onair events list`: events for scripts and pipes (the relay's here,
//! direct ones in `events_direct`).

use std::process::ExitCode;

use onair_common::Event;
use onair_common::wire::Subscribe;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::out::{self, Closed, clean};
use crate::error::{Error, Result};
use crate::relay::{self, RelayEvent, RelayState};
use onair_common::Config;
use onair_common::config::EventsSource;

fn require_relay(
    config: &Config,
    filter: Subscribe,
    after: Option<u64>,
) -> Result<relay::RelayConfig> {
    super::app::relay_config(config, filter, after)?.ok_or_else(|| {
        Error::Missing(config.missing("tui.relay_url", "for events (with tui.relay_token)"))
    })
}

pub(super) fn split(list: Option<String>) -> Vec<String> {
    list.map(|l| {
        l.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Events printed by a tail, against `--count`.
pub(super) struct Printed {
    json: bool,
    count: Option<u64>,
    printed: u64,
}

impl Printed {
    pub(super) fn new(json: bool, count: Option<u64>) -> Self {
        Self {
            json,
            count,
            printed: 0,
        }
    }

    /// Prints one event; `true` when the tail is done: its reader has gone, or `--count` events
    /// are out.
    pub(super) fn event(&mut self, event: &Event) -> bool {
        if print(event, self.json).is_err() {
            return true;
        }
        self.printed += 1;
        self.count.is_some_and(|n| self.printed >= n)
    }
}

/// Prints one event: JSON exact, or a readable line with Twitch's text made terminal-safe.
fn print(event: &Event, json: bool) -> Result<(), Closed> {
    let line = if json {
        match serde_json::to_string(event) {
            Ok(l) => l,
            Err(_) => return Ok(()),
        }
    } else {
        let seq = event
            .seq
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        format!(
            "{seq:>6}  {}  {:<28}  {}",
            clean(&event.occurred_at),
            clean(&event.kind),
            clean(&event.summary)
        )
    };
    out::line(&line)
}

/// `events tail`'s filters.
#[derive(Debug)]
pub struct Filter {
    /// `--channel`.
    pub channel: Option<String>,
    /// `--type`.
    pub types: Option<String>,
    /// `--after`.
    pub after: Option<u64>,
}

/// `events tail`: from the relay or direct, per `--source` or `tui.events`.
pub async fn tail(
    config: &Config,
    filter: Filter,
    source: Option<&str>,
    json: bool,
    count: Option<u64>,
) -> Result<ExitCode> {
    let wanted = match source {
        Some(s) => EventsSource::parse(s).unwrap_or(EventsSource::Auto),
        None => config.tui.events,
    };
    let direct = match wanted {
        EventsSource::Direct => true,
        // `auto` without a relay: direct when logged in; otherwise the relay's own error.
        EventsSource::Auto if config.tui.relay_url.is_none() => {
            super::chat::try_login(config).await?.is_some()
        }
        _ => false,
    };
    if direct {
        super::events_direct::tail(config, filter, json, count).await
    } else {
        tail_relay(config, filter, json, count).await
    }
}

async fn tail_relay(
    config: &Config,
    Filter {
        channel,
        types,
        after,
    }: Filter,
    json: bool,
    count: Option<u64>,
) -> Result<ExitCode> {
    let filter = Subscribe {
        channels: split(channel.map(|c| c.to_lowercase())),
        types: split(types),
        after: None,
    };
    let cfg = require_relay(config, filter, after)?;
    let (tx, mut rx) = mpsc::channel(1024);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay::run(cfg, tx, shutdown.clone()));
    let mut printed = Printed::new(json, count);
    let result = loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::signal::ctrl_c() => break Ok(ExitCode::SUCCESS),
        };
        match ev {
            Some(RelayEvent::Event(e)) => {
                if printed.event(&e) {
                    break Ok(ExitCode::SUCCESS);
                }
            }
            Some(RelayEvent::State(RelayState::Refused(why))) => {
                break Err(Error::Chat(format!("relay: {why}")));
            }
            Some(RelayEvent::State(RelayState::Backoff { reason, retry_in })) => {
                eprintln!(
                    "relay connection lost ({reason}); reconnecting in {:.1}s",
                    retry_in.as_secs_f64()
                );
            }
            Some(RelayEvent::Replayed(n)) if n > 0 => eprintln!("replayed {n} missed events"),
            Some(RelayEvent::Gap { from, to }) => {
                eprintln!(
                    "note: events {from}..{to} were pruned at the relay and cannot be replayed"
                );
            }
            Some(RelayEvent::NewEpoch) => {
                eprintln!("note: the relay's event store is new; replaying it from seq 0");
            }
            Some(RelayEvent::State(RelayState::Live)) => eprintln!("relay: live"),
            Some(_) => {}
            None => break Ok(ExitCode::SUCCESS),
        }
    };
    shutdown.cancel();
    let _ = task.await;
    result
}

#[derive(Deserialize)]
struct Page {
    events: Vec<Event>,
    last_seq: u64,
}

/// How many seqs each look-back step covers when filters thin the results out.
const STEP: u64 = 1000;

pub async fn list(
    config: &Config,
    channel: Option<String>,
    kind: Option<String>,
    limit: u32,
    json: bool,
) -> Result<ExitCode> {
    let cfg = require_relay(config, Subscribe::default(), None)?;
    let limit = limit.clamp(1, 1000);
    let http = onair_common::twitch::http_client();
    let base = cfg.base.as_str().trim_end_matches('/').to_owned();
    let get = |after: u64, n: u32| {
        let mut q: Vec<(&str, String)> =
            vec![("after", after.to_string()), ("limit", n.to_string())];
        if let Some(c) = &channel {
            q.push(("channel", c.to_lowercase()));
        }
        if let Some(k) = &kind {
            q.push(("type", k.clone()));
        }
        http.get(format!("{base}/api/events"))
            .bearer_auth(cfg.token.expose())
            .query(&q)
            .send()
    };
    let fetch = |after: u64, n: u32| async move {
        let resp = get(after, n)
            .await
            .map_err(|e| Error::Chat(format!("relay: {}", onair_common::twitch::describe(&e))))?;
        match resp.status().as_u16() {
            200 => resp
                .json::<Page>()
                .await
                .map_err(|e| Error::Chat(format!("relay answered garbage: {e}"))),
            401 => Err(Error::Chat(
                "relay: the relay refused the client token (tui.relay_token)".into(),
            )),
            s => Err(Error::Chat(format!("relay answered HTTP {s}"))),
        }
    };
    // The most recent `limit` events: read windows backwards from the head (each seq range
    // once) until enough match the filters or the store's start is reached.
    let head = fetch(i64::MAX as u64, 1).await?.last_seq;
    let mut upper = head;
    let mut from = head.saturating_sub(u64::from(limit));
    let mut found: Vec<Event> = Vec::new();
    loop {
        let mut window = Vec::new();
        let mut after = from;
        while after < upper {
            let page = fetch(after, 1000).await?;
            let Some(last) = page.events.last().and_then(|e| e.seq) else {
                break;
            };
            after = last;
            window.extend(
                page.events
                    .into_iter()
                    .filter(|e| e.seq.is_some_and(|s| s <= upper)),
            );
        }
        window.append(&mut found);
        found = window;
        if found.len() >= limit as usize || from == 0 {
            break;
        }
        upper = from;
        from = from.saturating_sub(STEP.max(u64::from(limit)));
    }
    let skip = found.len().saturating_sub(limit as usize);
    for e in &found[skip..] {
        if print(e, json).is_err() {
            break; // the reader has gone
        }
    }
    Ok(ExitCode::SUCCESS)
}
