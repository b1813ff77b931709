//! `onair`'s command line: parsing and dispatch.

mod act;
mod app;
mod auth;
mod chat;
mod events;
mod events_direct;
mod out;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use onair_common::Config;

use crate::error::Result;
use crate::helix::Request;

/// Watch your Twitch channel live from a terminal: chat beside a live event pane.
#[derive(Debug, Parser)]
#[command(name = "onair", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Channel to open (default: tui.channel, else your own).
    #[arg(long, value_name = "LOGIN")]
    pub channel: Option<String>,
    /// Config file (default: $ONAIR_CONFIG, else <config dir>/onair/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More detail in the log file (<state dir>/onair/onair.log): -v debug, -vv trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

const AFTER_HELP: &str = "\
Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 not logged in or token rejected, 4 Twitch
refused an action for lack of permission (a scope, or not a moderator).
Any config key can be set by environment, e.g. ONAIR_TWITCH_CLIENT_ID, ONAIR_TUI_TOKEN_STORE=file.";

#[derive(Debug, Subcommand)]
enum Command {
    /// The full app on built-in simulated chat and events: no account, no network.
    Demo,
    /// Sign in with Twitch's device code flow: prints a URL and a code, waits, stores the tokens.
    Login {
        /// Space- or comma-separated scopes to request (default: every scope onair uses).
        #[arg(long, value_name = "SCOPES")]
        scopes: Option<String>,
    },
    /// Revoke the token at Twitch and delete it locally.
    Logout,
    /// Login state.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Read or send chat.
    #[command(subcommand)]
    Chat(ChatCommand),
    /// Events from your onair-relay (tui.relay_url, tui.relay_token) or straight from Twitch.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Moderate chat: ban, timeout, delete, clear, warn, chat settings.
    #[command(name = "mod", subcommand)]
    Mod(act::ModCommand),
    /// Shout out another channel.
    Shoutout {
        /// The channel's login.
        user: String,
        #[command(flatten)]
        at: act::Target,
    },
    /// Raid a channel, or cancel the pending raid.
    Raid {
        /// The channel to raid.
        #[arg(value_name = "CHANNEL", required_unless_present = "cancel")]
        target: Option<String>,
        /// Cancel the pending raid instead.
        #[arg(long, conflicts_with = "target")]
        cancel: bool,
        #[command(flatten)]
        at: act::Target,
    },
    /// Post an announcement in chat.
    Announce {
        /// The text (up to 500 characters).
        text: String,
        /// blue, green, orange, purple or primary (default: the channel's accent color).
        #[arg(long, value_parser = act::color)]
        color: Option<String>,
        #[command(flatten)]
        at: act::Target,
    },
    /// Mark this moment of the live stream.
    Marker {
        /// What happened (up to 140 characters).
        description: Option<String>,
        #[command(flatten)]
        at: act::Target,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Print the man page (roff) on stdout.
    Man,
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Live events (from the relay resuming after SEQ, or direct); reconnects by itself.
    Tail {
        /// Only this channel (login).
        #[arg(long)]
        channel: Option<String>,
        /// Only these types, comma-separated (e.g. channel.follow,channel.raid).
        #[arg(long = "type", value_name = "T,...")]
        types: Option<String>,
        /// Replay stored events after this seq first (relay only: direct has no history).
        #[arg(long, value_name = "SEQ")]
        after: Option<u64>,
        /// Where from: your relay, or Twitch's EventSub WebSocket with your own login
        /// (default: tui.events).
        #[arg(long, value_parser = ["relay", "direct"])]
        source: Option<String>,
        /// One EVENT object per line.
        #[arg(long)]
        json: bool,
        /// Exit after N events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Recent events, oldest first.
    List {
        /// Only this channel (login).
        #[arg(long)]
        channel: Option<String>,
        /// Only this type.
        #[arg(long = "type", value_name = "T")]
        kind: Option<String>,
        /// How many (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// One EVENT object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ChatCommand {
    /// Print chat as it arrives (anonymous, read-only, when not logged in).
    Tail {
        /// Channel login (default: tui.channel, else your own).
        channel: Option<String>,
        /// One JSON object per line: message, notice, clear, delete, room, server.
        #[arg(long)]
        json: bool,
        /// Exit after printing N lines.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Send one message; exits 0 once Twitch accepted it, else prints Twitch's reason.
    Send {
        /// [CHANNEL] MESSAGE (CHANNEL defaults to tui.channel, else your own).
        #[arg(num_args = 1..=2, required = true, value_names = ["CHANNEL", "MESSAGE"])]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Login, user id, scopes, expiry and token store; asks Twitch whether it accepts the token.
    /// Never prints a token.
    Status {
        /// One JSON object: login, user_id, scopes, expires_in_s, store, valid.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the parsed command line and maps errors to exit codes.
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            tracing::warn!(error = %e, "command failed");
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        // Generated from the parser alone: they must work before any config exists.
        Some(Command::Completions { shell }) => return Ok(completions(shell)),
        Some(Command::Man) => return Ok(man()),
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        None => app::app(&config, cli.channel).await,
        Some(Command::Demo) => app::demo(&config).await,
        Some(Command::Events(EventsCommand::Tail {
            channel,
            types,
            after,
            source,
            json,
            count,
        })) => {
            let filter = events::Filter {
                channel,
                types,
                after,
            };
            events::tail(&config, filter, source.as_deref(), json, count).await
        }
        Some(Command::Events(EventsCommand::List {
            channel,
            kind,
            limit,
            json,
        })) => events::list(&config, channel, kind, limit, json).await,
        Some(Command::Login { scopes }) => auth::login(&config, scopes).await,
        Some(Command::Logout) => auth::logout(&config).await,
        Some(Command::Auth(AuthCommand::Status { json })) => auth::status(&config, json).await,
        Some(Command::Chat(ChatCommand::Tail {
            channel,
            json,
            count,
        })) => chat::tail(&config, channel, json, count).await,
        Some(Command::Chat(ChatCommand::Send { args })) => chat::send(&config, args).await,
        Some(Command::Mod(m)) => {
            let (req, at) = m.request();
            act::run(&config, req, at).await
        }
        Some(Command::Shoutout { user, at }) => {
            act::run(&config, Request::Shoutout { user }, at).await
        }
        Some(Command::Raid { target, cancel, at }) => {
            let req = match target {
                Some(channel) if !cancel => Request::Raid { channel },
                _ => Request::CancelRaid,
            };
            act::run(&config, req, at).await
        }
        Some(Command::Announce { text, color, at }) => {
            act::run(&config, Request::Announce { text, color }, at).await
        }
        Some(Command::Marker { description, at }) => {
            act::run(&config, Request::Marker { description }, at).await
        }
        Some(Command::Completions { shell }) => Ok(completions(shell)),
        Some(Command::Man) => Ok(man()),
    }
}

/// The completion script for `shell`.
fn completions(shell: Shell) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "onair", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// The man page, with every subcommand's options in it.
fn man() -> ExitCode {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the man page: {e}");
            ExitCode::FAILURE
        }
    }
}
