//! The `webex-quality` CLI, built as a binary of the test package so that tests can run it as a
//! process (`CARGO_BIN_EXE_cli-under-test`; named apart from the real binary so that `cargo run --bin webex-quality` is unambiguous): the same `main` as `cli/`.

fn main() -> std::process::ExitCode {
    webex_quality_cli::main()
}
