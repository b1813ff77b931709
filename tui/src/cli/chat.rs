//! `onair chat tail` and `onair chat send`.

use std::io::IsTerminal;
use std::process::ExitCode;

use onair_common::Config;
use onair_common::config::check_login;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::{Auth, StoredToken};
use crate::chat::connection::{self, ChatConfig, ChatError, ChatEvent, ChatState};
use crate::chat::message::{ChatLine, Incoming};
use crate::error::{Error, Result};

/// The login to use, if any: `None` reads anonymously.
pub(super) async fn try_login(config: &Config) -> Result<Option<(Auth, StoredToken)>> {
    let auth = match Auth::from_config(config).await {
        Ok(a) => a,
        Err(Error::Missing(_)) => return Ok(None),
        Err(Error::NoKeyring(why)) => {
            eprintln!("note: no keyring reachable ({why}); reading chat anonymously");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match auth.current().await {
        Ok(token) => Ok(Some((auth, token))),
        Err(Error::NotLoggedIn) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn channel_of(
    config: &Config,
    arg: Option<&str>,
    login: Option<&StoredToken>,
) -> Result<String> {
    if let Some(c) = arg {
        return check_login(c).map_err(|why| Error::Usage(format!("CHANNEL {why}")));
    }
    config
        .tui
        .channel
        .clone()
        .or_else(|| login.map(|t| t.login.clone()))
        .ok_or_else(|| {
            Error::Usage("no channel: name one, set tui.channel, or `onair login`".into())
        })
}

fn chat_config(config: &Config, channel: &str, token: Option<&StoredToken>) -> ChatConfig {
    let login = token.map(|t| (t.login.clone(), t.access_token.clone()));
    ChatConfig::new(config.twitch.irc_url.clone(), login, channel.to_owned())
}

fn report_state(state: &ChatState, channel: &str) {
    match state {
        ChatState::Connecting => tracing::debug!("connecting to chat"),
        ChatState::Joined => eprintln!("joined #{channel}"),
        ChatState::Backoff { retry_in, reason } => {
            eprintln!(
                "chat connection lost ({reason}); reconnecting in {:.0?}",
                retry_in
            )
        }
    }
}

pub async fn tail(
    config: &Config,
    channel: Option<String>,
    json: bool,
    count: Option<u64>,
) -> Result<ExitCode> {
    let mut login = try_login(config).await?;
    let channel = channel_of(config, channel.as_deref(), login.as_ref().map(|l| &l.1))?;
    if login.is_none() {
        eprintln!("reading #{channel} anonymously (read-only)");
    }
    let color = !json && std::io::stdout().is_terminal();
    let mut printed = 0u64;
    let mut refreshed = false;
    loop {
        let shutdown = CancellationToken::new();
        let (events_tx, mut events) = mpsc::channel(1024);
        let cfg = chat_config(config, &channel, login.as_ref().map(|l| &l.1));
        let (_handle, task) = connection::spawn(cfg, events_tx, shutdown.clone());
        let mut stop = false;
        while let Some(ev) = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::signal::ctrl_c() => None,
        } {
            match ev {
                ChatEvent::State(s) => report_state(&s, &channel),
                ChatEvent::Incoming(Incoming::Line(line))
                    if line_channel(&line) == Some(channel.as_str()) =>
                {
                    let text = if json {
                        serde_json::to_string(&line).ok()
                    } else {
                        plain(&line, color)
                    };
                    if let Some(text) = text {
                        println!("{text}");
                        printed += 1;
                    }
                    if count.is_some_and(|n| printed >= n) {
                        stop = true;
                        break;
                    }
                }
                ChatEvent::Incoming(_) => {}
            }
        }
        shutdown.cancel();
        match task.await {
            Ok(Err(ChatError::AuthFailed(why))) => match (login.take(), refreshed) {
                (Some((auth, token)), false) => {
                    eprintln!("chat refused the login ({why}); refreshing the token once");
                    let fresh = auth.refresh(token).await?;
                    login = Some((auth, fresh));
                    refreshed = true;
                }
                _ => return Err(Error::Rejected(format!("chat login refused: {why}"))),
            },
            _ if stop => return Ok(ExitCode::SUCCESS),
            _ => return Ok(ExitCode::SUCCESS),
        }
    }
}

pub async fn send(config: &Config, args: Vec<String>) -> Result<ExitCode> {
    let (channel_arg, text) = match args.as_slice() {
        [text] => (None, text.clone()),
        [channel, text] => (Some(channel.as_str()), text.clone()),
        _ => {
            return Err(Error::Usage(
                "usage: onair chat send [CHANNEL] MESSAGE".into(),
            ));
        }
    };
    let Some(mut login) = try_login(config).await? else {
        return Err(Error::NotLoggedIn);
    };
    let channel = channel_of(config, channel_arg, Some(&login.1))?;
    crate::chat::ratelimit::check_length(&text).map_err(Error::Usage)?;
    for attempt in 0..2 {
        let shutdown = CancellationToken::new();
        let (events_tx, mut events) = mpsc::channel(1024);
        let (handle, task) = connection::spawn(
            chat_config(config, &channel, Some(&login.1)),
            events_tx,
            shutdown.clone(),
        );
        let joined = async {
            while let Some(ev) = events.recv().await {
                if ev == ChatEvent::State(ChatState::Joined) {
                    return true;
                }
            }
            false
        };
        if joined.await {
            // Keep draining events while the send waits for Twitch's answer.
            let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
            let result = handle.send(text.clone(), None).await;
            shutdown.cancel();
            let _ = task.await;
            drain.abort();
            return match result {
                Ok(id) => {
                    eprintln!("sent to #{channel} (message id {id})");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(Error::Chat(e.to_string())),
            };
        }
        shutdown.cancel();
        match task.await {
            Ok(Err(ChatError::AuthFailed(why))) if attempt == 0 => {
                eprintln!("chat refused the login ({why}); refreshing the token once");
                let (auth, token) = login;
                let fresh = auth.refresh(token).await?;
                login = (auth, fresh);
            }
            Ok(Err(ChatError::AuthFailed(why))) => {
                return Err(Error::Rejected(format!("chat login refused: {why}")));
            }
            _ => {
                return Err(Error::Chat(
                    "the chat connection closed before joining".into(),
                ));
            }
        }
    }
    Err(Error::Chat("could not join the channel".into()))
}

fn line_channel(line: &ChatLine) -> Option<&str> {
    match line {
        ChatLine::Message(m) => Some(&m.channel),
        ChatLine::Notice(n) => Some(&n.channel),
        ChatLine::Clear { channel, .. }
        | ChatLine::Delete { channel, .. }
        | ChatLine::Room { channel, .. } => Some(channel),
        ChatLine::Server { channel, .. } => channel.as_deref(),
    }
}

/// The readable form: `12:00:01 Mossy_Fern: text`, the name in the user's color on a terminal.
fn plain(line: &ChatLine, color: bool) -> Option<String> {
    let paint = |name: &str, hex: Option<&str>| match (color, hex.and_then(rgb)) {
        (true, Some((r, g, b))) => format!("\x1b[1;38;2;{r};{g};{b}m{name}\x1b[0m"),
        (true, None) => format!("\x1b[1m{name}\x1b[0m"),
        _ => name.to_owned(),
    };
    Some(match line {
        ChatLine::Message(m) => {
            let time = clock(m.sent_at);
            let name = paint(&m.user.name, m.user.color.as_deref());
            let reply = m
                .reply_to
                .as_ref()
                .map(|r| format!("(re @{}) ", r.login))
                .unwrap_or_default();
            if m.action {
                format!("{time} * {name} {reply}{}", m.text)
            } else {
                format!("{time} {name}: {reply}{}", m.text)
            }
        }
        ChatLine::Notice(n) => {
            let system = if n.system_text.is_empty() {
                n.msg_id.clone()
            } else {
                n.system_text.clone()
            };
            match &n.text {
                Some(t) => format!("{} ** {system} ({}: {t})", clock(n.sent_at), n.user.name),
                None => format!("{} ** {system}", clock(n.sent_at)),
            }
        }
        ChatLine::Clear {
            target: Some(t),
            duration_s: Some(d),
            ..
        } => format!("-- {t} was timed out for {d} s"),
        ChatLine::Clear {
            target: Some(t),
            duration_s: None,
            ..
        } => format!("-- {t} was banned"),
        ChatLine::Clear { target: None, .. } => "-- chat was cleared".to_owned(),
        ChatLine::Delete { login, text, .. } => {
            format!("-- a message by {login} was deleted: {text}")
        }
        ChatLine::Room { state, .. } => {
            let parts: Vec<String> = state.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("-- room: {}", parts.join(" "))
        }
        ChatLine::Server { text, .. } => format!("-- {text}"),
    })
}

fn clock(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::system())
                .strftime("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

fn rgb(hex: &str) -> Option<(u8, u8, u8)> {
    let h = hex.strip_prefix('#')?;
    if h.len() != 6 {
        return None;
    }
    let n = u32::from_str_radix(h, 16).ok()?;
    Some(((n >> 16) as u8, (n >> 8) as u8, n as u8))
}
