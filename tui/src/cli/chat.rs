//! `onair chat tail` and `onair chat send`.

use std::io::IsTerminal;
use std::process::ExitCode;

use onair_common::Config;
use onair_common::config::check_login;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::out::{self, clean};
use crate::auth::{Auth, StoredToken, TokenHandle, owner};
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

/// The connection settings; a logged-in connection gets its token from the owner.
fn chat_config(config: &Config, channel: &str, tokens: Option<TokenHandle>) -> ChatConfig {
    let mut cfg = ChatConfig::new(config.twitch.irc_url.clone(), None, channel.to_owned());
    cfg.tokens = tokens;
    cfg
}

/// Starts this process's token owner for a login.
pub(super) fn own(
    login: Option<(Auth, StoredToken)>,
    shutdown: &CancellationToken,
) -> Option<TokenHandle> {
    login.map(|(auth, token)| owner::spawn(auth, token, shutdown.clone()).0)
}

fn refused(why: String) -> Error {
    Error::Rejected(format!("chat login refused: {why}"))
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
    let login = try_login(config).await?;
    let channel = channel_of(config, channel.as_deref(), login.as_ref().map(|l| &l.1))?;
    if login.is_none() {
        eprintln!("reading #{channel} anonymously (read-only)");
    }
    let color = !json && std::io::stdout().is_terminal();
    let mut printed = 0u64;
    let shutdown = CancellationToken::new();
    let (events_tx, mut events) = mpsc::channel(1024);
    let cfg = chat_config(config, &channel, own(login, &shutdown));
    let (_handle, task) = connection::spawn(cfg, events_tx, shutdown.clone());
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
                    Some(plain(&line, color))
                };
                if let Some(text) = text {
                    if out::line(&text).is_err() {
                        break; // the reader has gone: exit 0 quietly
                    }
                    printed += 1;
                }
                if count.is_some_and(|n| printed >= n) {
                    break;
                }
            }
            ChatEvent::Incoming(_) => {}
        }
    }
    shutdown.cancel();
    match task.await {
        Ok(Err(ChatError::AuthFailed(why))) => Err(refused(why)),
        _ => Ok(ExitCode::SUCCESS),
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
    let Some(login) = try_login(config).await? else {
        return Err(Error::NotLoggedIn);
    };
    let channel = channel_of(config, channel_arg, Some(&login.1))?;
    crate::chat::ratelimit::check_length(&text).map_err(Error::Usage)?;
    let shutdown = CancellationToken::new();
    let (events_tx, mut events) = mpsc::channel(1024);
    let cfg = chat_config(config, &channel, own(Some(login), &shutdown));
    let (handle, task) = connection::spawn(cfg, events_tx, shutdown.clone());
    let joined = async {
        while let Some(ev) = events.recv().await {
            if ev == ChatEvent::State(ChatState::Joined) {
                return true;
            }
        }
        false
    };
    if !joined.await {
        shutdown.cancel();
        return match task.await {
            Ok(Err(ChatError::AuthFailed(why))) => Err(refused(why)),
            _ => Err(Error::Chat(
                "the chat connection closed before joining".into(),
            )),
        };
    }
    // Keep draining events while the send waits for Twitch's answer.
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    let result = handle.send(text, None).await;
    shutdown.cancel();
    let _ = task.await;
    drain.abort();
    match result {
        Ok(id) => {
            eprintln!("sent to #{channel} (message id {id})");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(Error::Chat(e.to_string())),
    }
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
/// Every piece of Twitch's text goes through [`clean`]; only our own colour codes are escapes.
fn plain(line: &ChatLine, color: bool) -> String {
    let paint = |name: &str, rgb: Option<(u8, u8, u8)>| match (color, rgb) {
        (true, Some((r, g, b))) => format!("\x1b[1;38;2;{r};{g};{b}m{}\x1b[0m", clean(name)),
        (true, None) => format!("\x1b[1m{}\x1b[0m", clean(name)),
        _ => clean(name).into_owned(),
    };
    match line {
        ChatLine::Message(m) => {
            let time = clock(m.sent_at);
            let name = paint(&m.user.name, m.user.rgb());
            let reply = m
                .reply_to
                .as_ref()
                .map(|r| format!("(re @{}) ", clean(&r.login)))
                .unwrap_or_default();
            let text = clean(&m.text);
            if m.action {
                format!("{time} * {name} {reply}{text}")
            } else {
                format!("{time} {name}: {reply}{text}")
            }
        }
        ChatLine::Notice(n) => {
            let system = clean(if n.system_text.is_empty() {
                &n.msg_id
            } else {
                &n.system_text
            });
            match &n.text {
                Some(t) => format!(
                    "{} ** {system} ({}: {})",
                    clock(n.sent_at),
                    clean(&n.user.name),
                    clean(t)
                ),
                None => format!("{} ** {system}", clock(n.sent_at)),
            }
        }
        ChatLine::Clear {
            target: Some(t),
            duration_s: Some(d),
            ..
        } => format!("-- {} was timed out for {d} s", clean(t)),
        ChatLine::Clear {
            target: Some(t),
            duration_s: None,
            ..
        } => format!("-- {} was banned", clean(t)),
        ChatLine::Clear { target: None, .. } => "-- chat was cleared".to_owned(),
        ChatLine::Delete { login, text, .. } => {
            format!(
                "-- a message by {} was deleted: {}",
                clean(login),
                clean(text)
            )
        }
        ChatLine::Room { state, .. } => {
            let parts: Vec<String> = state
                .iter()
                .map(|(k, v)| format!("{}={}", clean(k), clean(v)))
                .collect();
            format!("-- room: {}", parts.join(" "))
        }
        ChatLine::Server { text, .. } => format!("-- {}", clean(text)),
    }
}

fn clock(ms: i64) -> String {
    onair_common::time::local(ms, "%H:%M:%S").unwrap_or_default()
}
