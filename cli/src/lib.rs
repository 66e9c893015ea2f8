//! `webex-quality`: the whole product in one local process, with a data folder instead of S3.
//!
//! - `demo`: the simulator in process, the OAuth flow against it as a browser does it, a simulated
//!   week collected cycle by cycle, the dashboard rendered and served (`--once`: built, then exit).
//! - `serve`: the product for real: the OAuth routes and the dashboard on a local address, a cycle
//!   every 5 minutes; Ctrl-C stops after the current cycle.
//! - `login`, `collect`, `render`, `status`, `export`: one step each, fit for cron.
//! - `sim`: the simulator alone.
//!
//! Settings come from flags or from the environment variables in the README's configuration table
//! (the same names the Lambda functions read); this crate never compiles the AWS SDK.

mod args;
mod commands;
mod error;
mod output;
mod partitions;
mod settings;
mod web;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

pub use args::{
    Cli, Command, DemoArgs, ExportArgs, Global, LoginArgs, OutArgs, ServeArgs, SimArgs,
};
pub use commands::run;
pub use commands::serve::serve_until;
pub use error::CliError;

/// Parses the command line, runs the command, and turns the outcome into an exit code (the binary's
/// whole `main`).
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `RUST_LOG` as `target=level` directives; `Targets` parses them without the regex engine that
    // `EnvFilter` compiles in (a part of the build's time that the first run would pay).
    let default = if cli.global.quiet { "error" } else { "warn" };
    let filter: Targets = webex_quality::config::environment("RUST_LOG")
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| default.parse().unwrap_or_default());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
    // One thread runs every task (blocking work still goes to `spawn_blocking`'s threads): a cycle's
    // HTTP responses no longer hop between worker threads to reach the collector. Measured with
    // `bench/cycle.py` (1,000 meetings, five runs each, 2026-12-02): 0.92 s of CPU against 1.01 s
    // with the multi-threaded runtime.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
