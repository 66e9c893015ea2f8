//! `webex-quality`: the whole product on one machine. See the crate's library for the commands.

fn main() -> std::process::ExitCode {
    webex_quality_cli::main()
}
