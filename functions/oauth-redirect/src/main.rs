//! The oauth-redirect function: the first request reads the configuration (the setup secret is
//! required; secrets come through the Parameters and Secrets extension, which answers only during
//! an invocation) and builds the login service; every HTTP API request goes through its router
//! ([`handler`]).

mod handler;

use std::sync::Arc;

use lambda_http::tower::ServiceExt;
use lambda_http::{Error, Request, service_fn};
use tokio::sync::OnceCell;
use webex_quality::clock::SystemClock;
use webex_quality::config::{LoginConfig, SetupSecretRule, environment, parameters};
use webex_quality::login::LoginService;
use webex_quality::webex::ClientOptions;

/// The login service, built once from the configuration and its secrets.
async fn service() -> Result<Arc<LoginService>, Error> {
    let resolved = parameters::resolve(&environment).await?;
    let config = LoginConfig::from_lookup(
        &parameters::layered(&resolved, &environment),
        SetupSecretRule::Required,
    )?;
    let store = webex_quality::storage::open(&config.store).await?;
    Ok(Arc::new(LoginService::new(
        &config,
        store,
        ClientOptions::default(),
        Arc::new(SystemClock),
    )?))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let built: &OnceCell<Arc<LoginService>> = Box::leak(Box::new(OnceCell::new()));
    lambda_http::run(service_fn(move |request: Request| async move {
        let service = built.get_or_try_init(service).await?;
        Ok::<_, Error>(handler::app(Arc::clone(service)).oneshot(request).await?)
    }))
    .await
}
