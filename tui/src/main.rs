//! `onair`: parse arguments, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;
use onair::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    onair::logging::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}
