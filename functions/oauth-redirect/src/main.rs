//! The oauth-redirect function: INIT reads the configuration (the setup secret is required) and
//! builds the login service once; every HTTP API request goes through its router ([`handler`]).

mod handler;

use std::sync::Arc;

use lambda_http::Error;
use webex_quality::clock::SystemClock;
use webex_quality::config::LoginConfig;
use webex_quality::login::LoginService;
use webex_quality::webex::ClientOptions;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = LoginConfig::from_env()?;
    let store = webex_quality::storage::open(&config.store).await?;
    let service = LoginService::new(
        &config,
        store,
        ClientOptions::default(),
        Arc::new(SystemClock),
    )?;
    lambda_http::run(handler::app(Arc::new(service))).await
}
