//! `onair chat tail` and `onair chat send`.

use std::io::IsTerminal;
use std::process::ExitCode;

use onair_common::Config;
use onair_common::config::check_login;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::{Auth, StoredToken, chat_refresh};
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

/// The connection settings; a logged-in connection refreshes its token once if Twitch refuses it.
fn chat_config(config: &Config, channel: &str, login: Option<&(Auth, StoredToken)>) -> ChatConfig {
    let creds = login.map(|(_, t)| (t.login.clone(), t.access_token.clone()));
    let mut cfg = ChatConfig::new(config.twitch.irc_url.clone(), creds, channel.to_owned());
    if let Some((auth, token)) = login {
        cfg.refresh = Some(chat_refresh(auth.clone(), token.clone(), |_| {
            eprintln!("chat refused the login; refreshed the token");
        }));
    }
    cfg
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
    let cfg = chat_config(config, &channel, login.as_ref());
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
                    plain(&line, color)
                };
                if let Some(text) = text {
                    println!("{text}");
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
    let cfg = chat_config(config, &channel, Some(&login));
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
fn plain(line: &ChatLine, color: bool) -> Option<String> {
    let paint = |name: &str, rgb: Option<(u8, u8, u8)>| match (color, rgb) {
        (true, Some((r, g, b))) => format!("\x1b[1;38;2;{r};{g};{b}m{name}\x1b[0m"),
        (true, None) => format!("\x1b[1m{name}\x1b[0m"),
        _ => name.to_owned(),
    };
    Some(match line {
        ChatLine::Message(m) => {
            let time = clock(m.sent_at);
            let name = paint(&m.user.name, m.user.rgb());
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
    onair_common::time::local(ms, "%H:%M:%S").unwrap_or_default()
}
