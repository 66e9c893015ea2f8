//! The collector function: INIT reads the configuration and builds the collector once; each
//! EventBridge scheduled event runs one collection cycle ([`handler`]).

mod handler;

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use webex_quality::clock::SystemClock;
use webex_quality::collect::Collector;
use webex_quality::config::CollectorConfig;
use webex_quality::webex::ClientOptions;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = CollectorConfig::from_env()?;
    let store = webex_quality::storage::open(&config.store).await?;
    let collector = Collector::from_config(
        store,
        &config,
        ClientOptions::default(),
        Arc::new(SystemClock),
    )?;
    let collector = &collector;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        handler::function_handler(collector, event)
    }))
    .await
}
