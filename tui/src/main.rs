//! `onair`: parse arguments, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;
use onair::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held to the end of main: dropping it flushes the log queue.
    let _log = onair::logging::init(cli.verbose);
    onair_common::block_on_single(run(cli))
}
