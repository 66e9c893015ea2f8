//! The collector function: the first EventBridge scheduled event reads the configuration (its
//! secret through the Parameters and Secrets extension, which answers only during an invocation)
//! and builds the collector; each event runs one collection cycle ([`handler`]).

mod handler;

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokio::sync::OnceCell;
use webex_quality::clock::SystemClock;
use webex_quality::collect::Collector;
use webex_quality::config::{CollectorConfig, environment, parameters};
use webex_quality::webex::ClientOptions;

/// The collector, built once from the configuration and its secret.
async fn collector() -> Result<Collector, Error> {
    let resolved = parameters::resolve(&environment).await?;
    let config = CollectorConfig::from_lookup(&parameters::layered(&resolved, &environment))?;
    let store = webex_quality::storage::open(&config.store, config.s3).await?;
    Ok(Collector::from_config(
        store,
        &config,
        ClientOptions::default(),
        Arc::new(SystemClock),
    )?
    .alerts_from_config(&config)?)
}

// One thread: the function has a fraction of one vCPU (512 MB), and a cycle's responses then reach
// the collector without hopping between threads (the CLI's runtime, measured there, is the same).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let built: &OnceCell<Collector> = Box::leak(Box::new(OnceCell::new()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        let collector = built.get_or_try_init(collector).await?;
        handler::function_handler(collector, event)
            .await
            .map_err(Error::from)
    }))
    .await
}
