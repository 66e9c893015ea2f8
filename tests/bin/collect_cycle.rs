//! One collection cycle, configured by the environment (the settings of `design.md` section 3a and
//! the optional `WEBEX_QUALITY_*` cycle settings), in a process of its own: the end-to-end tests run
//! two at once, or kill one part-way. Prints the report; exits 0 when a cycle was recorded or skipped.

use std::process::ExitCode;
use std::sync::Arc;

use webex_quality::collect::{Access, Collector, CycleSettings};
use webex_quality::config::{WebexSettings, store_setting};
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
    let lookup = |name: &str| std::env::var(name).ok();
    let webex = WebexSettings::from_lookup(lookup)?;
    let settings = CycleSettings::from_lookup(&lookup)?;
    let location = store_setting(&lookup, "WEBEX_QUALITY_STORE", None)?;
    let store = webex_quality::storage::open(&location).await?;
    let access = match (webex.oauth, webex.access_token) {
        (Some(oauth), _) => Access::OAuth(oauth),
        (None, Some(token)) => Access::PersonalToken(token),
        (None, None) => {
            return Err(
                "set WEBEX_CLIENT_ID (with its secret and redirect URI) or WEBEX_ACCESS_TOKEN"
                    .into(),
            );
        }
    };
    let work_dir = lookup("WEBEX_QUALITY_WORK_DIR")
        .map_or_else(|| std::env::temp_dir().join("webex-quality"), Into::into);
    let collector = Collector::new(
        store,
        webex.urls,
        access,
        ClientOptions::default(),
        Arc::new(webex_quality::clock::SystemClock),
        work_dir,
        settings,
    )?;
    Ok(collector.run_cycle().await?)
}
