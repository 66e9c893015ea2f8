//! One collection cycle, configured by the environment exactly as the collector function is
//! ([`CollectorConfig::from_env`]), in a process of its own: the end-to-end tests run two at once,
//! or kill one part-way. Prints the report; exits 0 when a cycle was recorded or skipped.

use std::process::ExitCode;
use std::sync::Arc;

use webex_quality::collect::Collector;
use webex_quality::config::CollectorConfig;
use webex_quality::webex::ClientOptions;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(report) => {
            println!("{report:?}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("collect-cycle: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<webex_quality::collect::CycleReport, Box<dyn std::error::Error>> {
    let config = CollectorConfig::from_env()?;
    let store = webex_quality::storage::open(&config.store, config.s3).await?;
    let collector = Collector::from_config(
        store,
        &config,
        ClientOptions::default(),
        Arc::new(webex_quality::clock::SystemClock),
    )?;
    Ok(collector.run_cycle().await?)
}
