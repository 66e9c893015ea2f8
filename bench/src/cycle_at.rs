//! `bench-cycle TIME`: one collection cycle, configured by the environment exactly as the
//! collector function is ([`CollectorConfig::from_env`]), on a clock that starts at `TIME` (RFC 3339)
//! and runs at the machine's pace. `bench/history.py` runs one such process per cycle against a
//! simulator whose clock it moves, so weeks of collection take minutes and each cycle's CPU time and
//! peak memory are its process's own. Prints the cycle's report; exits 0 when a cycle was recorded or
//! skipped.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use webex_quality::collect::{Collector, CycleReport};
use webex_quality::config::CollectorConfig;
use webex_quality::webex::ClientOptions;
use webex_quality_bench::StartedAt;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(report) => {
            println!("{report:?}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench-cycle: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<CycleReport, Box<dyn std::error::Error>> {
    let began = Instant::now();
    let clock = Arc::new(StartedAt::from_first_argument(began, "bench-cycle")?);
    let config = CollectorConfig::from_env()?;
    let store = webex_quality::storage::open(&config.store, config.s3).await?;
    let collector = Collector::from_config(store, &config, ClientOptions::default(), clock)?;
    Ok(collector.run_cycle().await?)
}
