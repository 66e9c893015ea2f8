//! The `webex-quality` CLI, built as a binary of the test package so that tests can run it as a
//! process (`CARGO_BIN_EXE_webex-quality`): the same `main` as `cli/`.

fn main() -> std::process::ExitCode {
    webex_quality_cli::main()
}
