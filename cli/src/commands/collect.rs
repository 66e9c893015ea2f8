//! `collect`: one cycle, fit for cron.

use std::sync::Arc;

use webex_quality::clock::SystemClock;

use crate::args::Global;
use crate::error::CliError;
use crate::output::{cycle_result, spinner};
use crate::settings::collector_for;

/// `collect`: one collection cycle.
pub(crate) async fn collect(global: &Global) -> Result<(), CliError> {
    let (_, store) = global.data_store(true)?;
    let collector = collector_for(global, None, store, Arc::new(SystemClock))?;
    let bar = spinner(global, "collecting");
    let report = collector.run_cycle().await;
    bar.finish_and_clear();
    let report = report.map_err(|e| CliError::failed("collection", e))?;
    cycle_result(global, &report)
}
