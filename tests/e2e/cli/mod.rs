//! The `webex-quality` CLI as a user runs it, one file per area: `demo` (the demo end to end and the
//! commands on its data folder, bad settings, the simulator alone), `serve` (`serve` walked from
//! `/login` to a collected dashboard, `login`, stopping and restarting, a port in use) and `collect`
//! (a revoked token, a personal access token). Here: running the CLI as a process, and checks they
//! share.

mod collect;
mod demo;
mod serve;

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::*;

pub(super) fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cli-under-test"));
    // Only what each test sets: nothing from the machine's environment.
    command.env_clear().env("RUST_LOG", "warn");
    command
}

/// The CLI on the data folder `data`.
pub(super) fn cli_in(data: &Path) -> Command {
    let mut command = cli();
    command.arg("--data-dir").arg(data);
    command
}

/// The CLI as an asynchronous child process, with the same clean environment.
pub(super) fn process() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cli-under-test"));
    command.env_clear().env("RUST_LOG", "warn");
    command
}

pub(super) fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the CLI runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Midnight, UTC, seven days before today: the demo's first day.
pub(super) fn demo_first_day() -> chrono::DateTime<chrono::Utc> {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(7))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

/// `folder` is `0700` and every file in it, at any depth, `0600` (what the data folder holds:
/// tokens, the database, the collector's working copies).
#[cfg(unix)]
pub(super) fn assert_private(folder: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    let mut files = 0;
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        // The dashboard's site folder is for a web server to read: not private data.
        if dir.file_name().is_some_and(|n| n == "site") {
            continue;
        }
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(files > 0, "no files under {}", folder.display());
}

#[cfg(not(unix))]
pub(super) fn assert_private(_: &std::path::Path) {}

/// GET without following redirects; retried while the server comes up.
pub(super) async fn get_when_up(url: &str) -> reqwest::Response {
    let browser = webex_sim::browser::client().unwrap();
    for _ in 0..200 {
        if let Ok(response) = browser.get(url).send().await {
            return response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

/// The token object of the data folder `data`, parsed.
pub(super) fn tokens_json(data: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(data.join(webex_quality::tokens::TOKENS_KEY)).unwrap())
        .unwrap()
}
