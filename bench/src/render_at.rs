//! `bench-render TIME`: one render of the dashboard, configured by the environment exactly as the
//! site-builder function is ([`SiteConfig::from_env`]), on a clock that starts at `TIME` (RFC 3339)
//! and runs at the machine's pace. `bench/cost.py` runs it after the collection cycles of
//! `bench-cycle`, so that what depends on the date (a person's page is rendered at most once a UTC
//! day, the overviews' periods) follows the simulated days. Prints what the render did, as
//! `webex-quality render` does: `N uploaded, M removed`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use webex_quality::config::SiteConfig;
use webex_quality::quality::Thresholds;
use webex_quality::site::{SiteOptions, render_from_store};
use webex_quality_bench::StartedAt;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench-render: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let began = Instant::now();
    let clock = Arc::new(StartedAt::from_first_argument(began, "bench-render")?);
    let config = SiteConfig::from_env()?;
    let data = webex_quality::storage::open(&config.store, config.s3).await?;
    let site = webex_quality::storage::open(&config.site_store, config.s3).await?;
    let thresholds = Thresholds::load(config.thresholds_file.as_deref())?;
    let options = SiteOptions {
        mask_personal: !config.show_personal,
        ..SiteOptions::default()
    };
    let refreshed = render_from_store(
        &data,
        site.as_ref(),
        config.work_dir.clone(),
        options,
        &thresholds,
        clock,
    )
    .await?;
    Ok(format!(
        "{} files, {} meetings rendered, {} people rendered; {} uploaded, {} removed",
        refreshed.files,
        refreshed.meetings_rendered,
        refreshed.people_rendered,
        refreshed.published.uploaded_count(),
        refreshed.published.deleted.len()
    ))
}
