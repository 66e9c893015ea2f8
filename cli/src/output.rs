//! What the commands print: progress on stderr, results on stdout (both quiet with `--quiet`).

use std::time::Duration;

use indicatif::ProgressBar;
use webex_quality::collect::{CycleReport, Outcome};

use crate::args::Global;
use crate::error::CliError;

/// A spinner on stderr (hidden with `--quiet` or when stderr is not a terminal).
pub(crate) fn spinner(global: &Global, message: &str) -> ProgressBar {
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints a line unless `--quiet`.
pub(crate) fn say(global: &Global, line: &str) {
    if !global.quiet {
        println!("{line}");
    }
}

/// A cycle's outcome as the CLI reports it.
pub(crate) fn cycle_result(global: &Global, report: &CycleReport) -> Result<(), CliError> {
    let line = format!(
        "cycle {}: {} meetings listed, {} due, {} calls, {} pages, {} rate limited, {} errors, {:.1} s",
        match report.outcome.detail() {
            Some(detail) => format!("{} ({detail})", report.outcome.label()),
            None => report.outcome.label().to_owned(),
        },
        report.listed,
        report.due,
        report.calls,
        report.pages,
        report.rate_limited,
        report.errors,
        report.wall_time.as_secs_f64()
    );
    match &report.outcome {
        Outcome::AuthorizationRequired(reason) => {
            Err(CliError::AuthorizationNeeded(reason.clone()))
        }
        Outcome::Failed(reason) => Err(CliError::Failed(format!(
            "the cycle failed: {reason} (what was fetched is kept)"
        ))),
        Outcome::Ok | Outcome::Partial | Outcome::Skipped(_) => {
            say(global, &line);
            Ok(())
        }
    }
}
