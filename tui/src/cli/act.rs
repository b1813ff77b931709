//! `onair mod ...`, `shoutout`, `raid`, `announce`, `marker`: one Helix action each, in
//! `--channel` (default `tui.channel`, else your own). Values are checked while parsing, so a bad
//! duration is a usage error (exit 2) before any request; Twitch's answer object is printed with
//! `--json`, else the line that says it is done.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use onair_common::Config;
use tokio_util::sync::CancellationToken;

use super::chat::{channel_of, own, try_login};
use super::out;
use crate::auth::StoredToken;
use crate::error::{Error, Result};
use crate::helix::request::COLORS;
use crate::helix::settings::{self, SettingsPatch};
use crate::helix::{Actions, Helix, Request, duration};

/// Where an action happens and how its result is printed.
#[derive(Debug, Args)]
pub struct Target {
    /// The channel to act in (login; default: tui.channel, else your own).
    #[arg(long, value_name = "LOGIN")]
    channel: Option<String>,
    /// Print Twitch's answer object as one JSON line ({"ok":true} when it sends none).
    #[arg(long)]
    json: bool,
}

/// Moderation.
#[derive(Debug, Subcommand)]
pub enum ModCommand {
    /// Ban a user for good.
    Ban {
        /// Login.
        user: String,
        /// Why (Twitch shows it to other moderators).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        at: Target,
    },
    /// Lift a ban.
    Unban {
        /// Login.
        user: String,
        #[command(flatten)]
        at: Target,
    },
    /// Time a user out: DURATION is seconds or 30s, 10m, 1h, 2d (1s to 14d).
    Timeout {
        /// Login.
        user: String,
        /// Seconds, or 30s, 10m, 1h, 2d.
        #[arg(value_parser = duration::timeout)]
        duration: u32,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        at: Target,
    },
    /// End a user's timeout.
    Untimeout {
        /// Login.
        user: String,
        #[command(flatten)]
        at: Target,
    },
    /// Delete one message by its id (`chat tail --json` shows ids).
    Delete {
        /// The message's id.
        message_id: String,
        #[command(flatten)]
        at: Target,
    },
    /// Delete every message in chat.
    Clear {
        #[command(flatten)]
        at: Target,
    },
    /// Warn a user; they must acknowledge it before chatting again.
    Warn {
        /// Login.
        user: String,
        /// Why (required).
        reason: String,
        #[command(flatten)]
        at: Target,
    },
    /// Chat settings: with no flag, prints the current ones.
    Settings {
        /// Slow mode: seconds between messages (3-120), or off.
        #[arg(long, value_name = "N|off", value_parser = |t: &str| settings::slow(t).map(OrOff))]
        slow: Option<OrOff>,
        /// Followers-only: how long they must have followed (0, 10m, 1d ...), or off.
        #[arg(long, value_name = "DURATION|off", value_parser = |t: &str| settings::followers(t).map(OrOff))]
        followers: Option<OrOff>,
        /// Subscribers-only.
        #[arg(long, value_name = "on|off", value_parser = settings::switch)]
        subscribers: Option<bool>,
        /// Emote-only.
        #[arg(long, value_name = "on|off", value_parser = settings::switch)]
        emote_only: Option<bool>,
        /// Unique chat (no repeated messages).
        #[arg(long, value_name = "on|off", value_parser = settings::switch)]
        unique: Option<bool>,
        #[command(flatten)]
        at: Target,
    },
}

/// A setting's value or `off`; a newtype because clap reads `Option<Option<_>>` as "the value
/// may be left out".
#[derive(Debug, Clone, Copy)]
pub struct OrOff(Option<u32>);

impl ModCommand {
    /// The request and where to print it.
    pub fn request(self) -> (Request, Target) {
        match self {
            Self::Ban { user, reason, at } => (Request::Ban { user, reason }, at),
            Self::Unban { user, at } => (Request::Unban { user }, at),
            Self::Timeout {
                user,
                duration,
                reason,
                at,
            } => (
                Request::Timeout {
                    user,
                    seconds: duration,
                    reason,
                },
                at,
            ),
            Self::Untimeout { user, at } => (Request::Untimeout { user }, at),
            Self::Delete { message_id, at } => (Request::Delete { message_id }, at),
            Self::Clear { at } => (Request::Clear, at),
            Self::Warn { user, reason, at } => (Request::Warn { user, reason }, at),
            Self::Settings {
                slow,
                followers,
                subscribers,
                emote_only,
                unique,
                at,
            } => (
                Request::Settings(SettingsPatch {
                    slow: slow.map(|s| s.0),
                    followers: followers.map(|f| f.0),
                    subscribers,
                    emote_only,
                    unique,
                }),
                at,
            ),
        }
    }
}

/// `announce --color`: one of Twitch's colors.
pub fn color(text: &str) -> std::result::Result<String, String> {
    let c = text.to_ascii_lowercase();
    if COLORS.contains(&c.as_str()) {
        Ok(c)
    } else {
        Err(format!("the colors are {}", COLORS.join(", ")))
    }
}

/// The Helix client for this login: the configured client id, else the one the token was issued to.
pub fn helix(config: &Config, token: &StoredToken) -> Helix {
    Helix::new(config.twitch.helix_url.clone(), client_id(config, token))
}

/// The client id Helix wants: the one the token was issued to, unless config names one.
pub fn client_id(config: &Config, token: &StoredToken) -> String {
    config
        .twitch
        .client_id
        .clone()
        .unwrap_or_else(|| token.client_id.clone())
}

/// Runs one action and prints its result.
pub async fn run(config: &Config, req: Request, at: Target) -> Result<ExitCode> {
    let Some(login) = try_login(config).await? else {
        return Err(Error::NotLoggedIn);
    };
    let channel = channel_of(config, at.channel.as_deref(), Some(&login.1))?;
    let helix = helix(config, &login.1);
    let shutdown = CancellationToken::new();
    let tokens = own(Some(login), &shutdown).ok_or(Error::NotLoggedIn)?;
    let result = Actions::new(helix, tokens).act(&channel, &req).await;
    shutdown.cancel();
    let answer = result?;
    let line = if at.json {
        answer
            .0
            .clone()
            .unwrap_or_else(|| serde_json::json!({"ok": true}))
            .to_string()
    } else {
        out::clean(&req.done(&answer)).into_owned()
    };
    // A closed stdout after Twitch acted is still success.
    let _ = out::line(&line);
    Ok(ExitCode::SUCCESS)
}
