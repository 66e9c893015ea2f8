//! The site-builder function: INIT reads the configuration, opens both stores and loads the
//! thresholds once; each S3 event for the database or the status object renders and publishes the
//! dashboard ([`handler`]).

mod handler;

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use webex_quality::clock::SystemClock;
use webex_quality::config::SiteConfig;
use webex_quality::quality::Thresholds;
use webex_quality::site::offices::Offices;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = SiteConfig::from_env()?;
    let builder = handler::Builder {
        data: webex_quality::storage::open(&config.store, config.s3).await?,
        site: webex_quality::storage::open_site(&config.site_store, config.s3).await?,
        thresholds: Thresholds::load(config.thresholds_file.as_deref())?,
        offices: Arc::new(Offices::load(config.sites_file.as_deref())?),
        clock: Arc::new(SystemClock),
        config,
        last_render: std::sync::Mutex::new(None),
    };
    let builder = &builder;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        handler::function_handler(builder, event)
    }))
    .await
}
