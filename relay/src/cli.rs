//! Command-line interface of `onair-relay`: parsing and dispatch. Exit codes follow `design.md`:
//! 0 ok, 1 failure, 2 usage or config error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use onair_common::config::Config;

use crate::net::nofile;
use crate::store::{self, Store};
use crate::tls::Tls;
use crate::{Relay, Settings, check, subs, twitch_cli};

/// Receives Twitch EventSub webhooks, stores them, and republishes them to your onair terminals
/// over WebSocket.
#[derive(Debug, Parser)]
#[command(name = "onair-relay", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Config file (default: $ONAIR_CONFIG, else <config dir>/onair/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More logs on stderr (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

const AFTER_HELP: &str = "\
Any config key can be set by environment, e.g. ONAIR_RELAY_WEBHOOK_SECRET, ONAIR_RELAY_LISTEN.
Start with `onair-relay check`, then `onair-relay client add laptop` and `onair-relay serve`.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default with no command).
    Serve,
    /// Validate the config and database; list every problem; non-zero exit if any.
    Check,
    /// Manage the tokens terminals use to connect.
    #[command(subcommand)]
    Client(ClientCommand),
    /// EventSub subscriptions at Twitch for relay.channels x relay.events.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCommand),
    /// Device flow with relay.client_id, so the broadcaster grants the scopes the events need.
    Authorize,
    /// Write stored events to stdout as JSON Lines (one EVENT per line, ascending seq): a
    /// backup, or the first half of a move between SQLite and Redis.
    Export {
        /// Only events with a seq above this.
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        after: u64,
    },
    /// Load events written by `export` into the configured store, keeping their seqs, so
    /// clients resume where they were. Refused when the store already has a seq as high.
    Import {
        /// The JSON Lines file (`-` for stdin).
        file: PathBuf,
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
enum SubscriptionsCommand {
    /// Each subscription's type, version, channel, status and cost.
    List {
        /// One JSON object per line: id, type, version, channel, status, cost, created_at.
        #[arg(long)]
        json: bool,
    },
    /// Create what is missing, delete what is failed, revoked, stale or unwanted; idempotent.
    Sync {
        /// One JSON object per action.
        #[arg(long)]
        json: bool,
    },
    /// Delete one subscription by id.
    Delete {
        /// The subscription id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Create a client token; it is printed once, alone on the last line of stdout.
    Add {
        /// A name to recognise it by, e.g. `laptop`.
        name: String,
    },
    /// List clients (names and creation times; tokens are never shown).
    List,
    /// Remove a client; a running relay refuses its token and closes its sockets at once.
    Remove {
        /// The client's name.
        name: String,
    },
}

const EXIT_FAILURE: u8 = 1;
const EXIT_CONFIG: u8 = 2;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        // Generated from the parser alone: they must work without a config.
        Some(Command::Completions { shell }) => return completions(shell),
        Some(Command::Man) => return man(),
        _ => {}
    }
    if matches!(cli.command, Some(Command::Check)) {
        // Check reads the config itself, so a bad value is listed with every other problem.
        return check::run(cli.config.as_deref()).await;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Check => check::run(cli.config.as_deref()).await,
        Command::Client(cmd) => client(&config, cmd).await,
        Command::Export { after } => export(&config, after).await,
        Command::Import { file } => import(&config, &file).await,
        Command::Subscriptions(SubscriptionsCommand::List { json }) => {
            twitch_cli::list(&config, json).await
        }
        Command::Subscriptions(SubscriptionsCommand::Sync { json }) => {
            twitch_cli::sync(&config, json).await
        }
        Command::Subscriptions(SubscriptionsCommand::Delete { id }) => {
            twitch_cli::delete(&config, &id).await
        }
        Command::Authorize => twitch_cli::authorize(&config).await,
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
    }
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "onair-relay", &mut script);
    let mut script = String::from_utf8_lossy(&script).into_owned();
    if shell == Shell::Bash {
        // clap_complete 4.6 spells a hyphenated binary's state two ways in bash: the word loop
        // says `onair__relay__subcmd__x`, the case arms `onair__subcmd__relay__subcmd__x`, so
        // nothing after the first subcommand completes (clap-rs/clap#6421, open). One spelling.
        script = script.replace("onair__subcmd__relay", "onair__relay");
    }
    match std::io::Write::write_all(&mut std::io::stdout(), script.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// The man page, with every subcommand's options in it.
pub fn man() -> ExitCode {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn serve(config: Config) -> ExitCode {
    let Some(secret) = config.relay.webhook_secret.clone() else {
        let p = config.missing("relay.webhook_secret", "to serve (10-100 ASCII characters)");
        eprintln!("error: {p}");
        return ExitCode::from(EXIT_CONFIG);
    };
    let store = match Store::from_config(&config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let r = &config.relay;
    if let Some(weak) = check::weak_secret(secret.expose()) {
        tracing::warn!("relay.webhook_secret is weak: {weak}; `onair-relay check` says more");
    }
    let mut settings = Settings::new(secret, r.max_connections_per_client, r.retention_days);
    settings.limits.max_connections = fit_connections(r.max_connections as usize);
    let store_name = store.describe();
    let mut relay = match Relay::new(settings, store) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if r.public_url.is_some() {
        match subs::from_config(&config) {
            Ok((helix, callback, secret)) => {
                relay = relay.with_sync(crate::app::SyncSettings {
                    helix,
                    callback,
                    secret,
                    channels: r.channels.clone(),
                    events: r.events.clone(),
                });
            }
            Err(why) => tracing::warn!(%why, "not syncing EventSub subscriptions"),
        }
    }
    let listener = match tokio::net::TcpListener::bind(r.listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {} (relay.listen): {e}", r.listen)),
    };
    // After the bind: an ACME validation may arrive as soon as the order starts.
    let https = match Tls::from_config(&r.tls, relay.state().shutdown()) {
        Ok(Some(tls)) => {
            relay = relay.with_tls(tls);
            true
        }
        Ok(None) => false,
        Err(e) => return fail(format!("{e}; `onair-relay check` lists every TLS problem")),
    };
    let scheme = if https { "https" } else { "http" };
    tracing::info!(listen = %r.listen, %scheme, store = %store_name, "relay serving");
    match relay.serve(listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Raises the open-file limit for `wanted` connections; returns how many fit.
fn fit_connections(wanted: usize) -> usize {
    let fitted = nofile::fit(wanted);
    if fitted.soft != fitted.soft_before {
        tracing::info!(
            from = fitted.soft_before,
            to = fitted.soft,
            "raised the open-file limit for relay.max_connections"
        );
    }
    if fitted.max_connections < wanted {
        tracing::warn!(
            wanted,
            serving = fitted.max_connections,
            hard_limit = fitted.hard,
            "the open-file hard limit is too low for relay.max_connections; serving fewer \
             connections (raise `ulimit -Hn` or LimitNOFILE= in the systemd unit)"
        );
    }
    fitted.max_connections
}

async fn client(config: &Config, cmd: ClientCommand) -> ExitCode {
    let store = match Store::from_config(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let result = match &cmd {
        ClientCommand::Add { name } => store.add_client(name).await.map(|token| {
            eprintln!("Created client {name:?}. Its token is shown once; give it to `onair` as");
            eprintln!("tui.relay_token or ONAIR_TUI_RELAY_TOKEN:");
            println!("{token}");
        }),
        ClientCommand::List => store.clients().await.map(|list| {
            if list.is_empty() {
                eprintln!("no clients yet: `onair-relay client add NAME` creates one");
            }
            for client in list {
                println!("{}\t{}", client.name, client.created_at);
            }
        }),
        ClientCommand::Remove { name } => store.remove_client(name).await.map(|()| {
            eprintln!("Removed client {name:?}; a running relay refuses its token from now on.");
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn export(config: &Config, after: u64) -> ExitCode {
    let store = match Store::from_config(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match store::export(&store, after, &mut out).await {
        Ok(n) => {
            eprintln!("exported {n} event(s) from {}", store.describe());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn import(config: &Config, file: &std::path::Path) -> ExitCode {
    let store = match Store::from_config(config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let input: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => return fail(format!("cannot read {}: {e}", file.display())),
        }
    };
    match store::import(&store, input).await {
        Ok(n) => {
            eprintln!("imported {n} event(s) into {}", store.describe());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_FAILURE)
}

/// Completes on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
