//! `status`: the status page in the terminal.

use webex_quality::history;
use webex_quality::site::StatusView;
use webex_quality::status::StatusStore;

use crate::args::Global;
use crate::error::CliError;
use crate::partitions::with_database;

/// `status`: what the status page says.
pub(crate) async fn status(global: &Global) -> Result<(), CliError> {
    let (data, store) = global.data_store(false)?;
    let now = chrono::Utc::now();
    let archived_days = history::days_archived(
        &history::list_archives(&store)
            .await
            .map_err(|e| CliError::failed("archives", e))?,
    );
    with_database(&store, &data, "status", async |db| {
        let status = StatusStore::new(store.clone())
            .load()
            .await
            .map_err(|e| CliError::failed("status object", e))?
            .map(|(status, _)| status);
        let view = StatusView::from_sources(db, status.as_ref(), now)
            .map_err(|e| CliError::failed("database", e))?;
        println!("Last run:          {} {}", view.last_run, view.last_outcome);
        println!("Meetings collected: {}", view.collected);
        println!("Meetings pending:   {}", view.pending);
        println!("Days archived:      {archived_days}");
        println!("Rate limited (24h): {}", view.rate_limited);
        println!("Token expires in:   {}", view.token_days);
        if let Some(banner) = webex_quality::site::banner(status.as_ref(), now) {
            println!("AUTHORIZATION NEEDED: {banner} Run `webex-quality login`.");
        }
        if !view.errors.is_empty() {
            println!("Recent errors:");
            for e in &view.errors {
                println!(
                    "  {} {} {}: {} (tracking id {})",
                    e.at, e.meeting, e.kind, e.message, e.tracking_id
                );
            }
        }
        Ok(())
    })
    .await
}
