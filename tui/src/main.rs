//! `onair`: parse arguments, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;
use onair::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    onair::logging::init(cli.verbose);
    onair_common::block_on(run(cli))
}
