//! One file per command, over the crate's shared part (arguments, settings, output, the local web
//! side). A command may use another's public part (`serve` and `demo` render as `render` does), never
//! the other way round.

pub mod collect;
pub mod demo;
pub mod export;
pub mod login;
pub mod render;
pub mod serve;
pub mod sim;
pub mod status;

use crate::args::{Cli, Command};
use crate::error::CliError;

/// Runs one command.
///
/// # Errors
/// A [`CliError`] that says what went wrong and how to fix it.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    match cli.command {
        Command::Demo(args) => demo::demo(&global, args).await,
        Command::Serve(args) => {
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            serve::serve_until(&global, args, shutdown).await
        }
        Command::Login(args) => login::login(&global, args).await,
        Command::Collect => collect::collect(&global).await,
        Command::Render(out) => render::render(&global, &out).await.map(|_| ()),
        Command::Status => status::status(&global).await,
        Command::Export(args) => export::export(&global, &args).await,
        Command::Sim(args) => sim::sim(args).await,
    }
}
