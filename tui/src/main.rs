//! `onair`: the terminal app. For now it only loads and validates the shared config; the app,
//! login and chat commands land with their issues.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use onair_common::Config;

/// Watch your Twitch channel live from a terminal: chat beside a live event pane.
#[derive(Debug, Parser)]
#[command(name = "onair", version)]
struct Cli {
    /// Config file (default: $ONAIR_CONFIG, else <config dir>/onair/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = Config::load(cli.config.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    eprintln!("onair: the terminal app is not built yet; onair-relay is ready (see README.md)");
    ExitCode::FAILURE
}
