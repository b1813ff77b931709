//! `onair events tail --source direct`: events straight from Twitch's EventSub WebSocket with
//! the user's own login, printed like the relay's (`seq` null, `origin` `direct`).

use std::process::ExitCode;

use onair_common::Config;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::events::{Filter, Printed, split};
use crate::direct::{self, DirectEvent, DirectState};
use crate::error::{Error, Result};

pub async fn tail(
    config: &Config,
    filter: Filter,
    json: bool,
    count: Option<u64>,
) -> Result<ExitCode> {
    if filter.after.is_some() {
        return Err(Error::Usage(
            "direct events have no history: --after works only with --source relay".into(),
        ));
    }
    let login = super::chat::try_login(config)
        .await?
        .ok_or(Error::NotLoggedIn)?;
    let channels = split(filter.channel.map(|c| c.to_lowercase()));
    if channels.len() > 1 {
        return Err(Error::Usage(
            "direct events follow one channel: give one --channel".into(),
        ));
    }
    let channel =
        super::chat::channel_of(config, channels.first().map(String::as_str), Some(&login.1))?;
    let mut cfg = super::app::direct_config(config, &channel, &login.1);
    cfg.types = split(filter.types);
    let shutdown = CancellationToken::new();
    let tokens = super::chat::own(Some(login), &shutdown).ok_or(Error::NotLoggedIn)?;
    let (tx, mut rx) = mpsc::channel(1024);
    let task = tokio::spawn(direct::run(cfg, tokens, tx, shutdown.clone()));
    let mut printed = Printed::new(json, count);
    let result = loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::signal::ctrl_c() => break Ok(ExitCode::SUCCESS),
        };
        match ev {
            Some(DirectEvent::Event(e)) => {
                if printed.event(&e) {
                    break Ok(ExitCode::SUCCESS);
                }
            }
            Some(DirectEvent::State(DirectState::Stopped(why))) => {
                break Err(Error::Chat(format!("direct events: {why}")));
            }
            Some(DirectEvent::State(DirectState::Backoff { reason, retry_in })) => {
                eprintln!(
                    "EventSub connection lost ({reason}); reconnecting in {:.1}s",
                    retry_in.as_secs_f64()
                );
            }
            Some(DirectEvent::Subscribed(n)) => {
                eprintln!("direct: live on #{channel}, subscribed to {n} event types");
            }
            Some(DirectEvent::Gap { from_ms, to_ms }) => {
                let at = |ms| onair_common::time::local(ms, "%H:%M:%S").unwrap_or_default();
                eprintln!(
                    "note: gap: events from {} to {} may be missing (EventSub reconnected)",
                    at(from_ms),
                    at(to_ms)
                );
            }
            Some(DirectEvent::MissingScopes(note)) => eprintln!("note: {note}"),
            Some(DirectEvent::Revoked { kind, status }) => {
                eprintln!("note: Twitch stopped the subscription for {kind} ({status})");
            }
            Some(DirectEvent::State(_)) => {}
            None => break Ok(ExitCode::SUCCESS),
        }
    };
    shutdown.cancel();
    let _ = task.await;
    result
}
