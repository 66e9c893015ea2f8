//! The oauth-redirect function: the first request reads the configuration (the setup secret is
//! required; secrets come through the Parameters and Secrets extension, which answers only during
//! an invocation) and builds the login service and the viewers' sign-in; every HTTP API request
//! goes through their routers ([`handler`]).

mod handler;

use std::sync::Arc;

use lambda_http::tower::ServiceExt;
use lambda_http::{Error, Request, service_fn};
use tokio::sync::OnceCell;
use webex_quality::clock::SystemClock;
use webex_quality::config::{LoginConfig, SetupSecretRule, SignInConfig, environment, parameters};
use webex_quality::login::LoginService;
use webex_quality::login::signin::SignIn;
use webex_quality::webex::ClientOptions;

/// The login service and, when configured, the viewers' sign-in, built once from the
/// configuration and its secrets.
async fn services() -> Result<(Arc<LoginService>, Option<Arc<SignIn>>), Error> {
    let resolved = parameters::resolve(&environment).await?;
    // Read before the next await: the lookup is not shared across threads.
    let (config, sign_in) = {
        let settings = parameters::layered(&resolved, &environment);
        (
            LoginConfig::from_lookup(&settings, SetupSecretRule::Required)?,
            SignInConfig::from_lookup(&settings)?,
        )
    };
    let store = webex_quality::storage::open(&config.store, config.s3).await?;
    let login = Arc::new(LoginService::new(
        &config,
        store.clone(),
        ClientOptions::default(),
        Arc::new(SystemClock),
    )?);
    let sign_in = match sign_in {
        Some(sign_in) => Some(Arc::new(SignIn::new(
            &config,
            &sign_in,
            store,
            ClientOptions::default(),
            Arc::new(SystemClock),
        )?)),
        None => None,
    };
    Ok((login, sign_in))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let built: &OnceCell<(Arc<LoginService>, Option<Arc<SignIn>>)> =
        Box::leak(Box::new(OnceCell::new()));
    lambda_http::run(service_fn(move |request: Request| async move {
        let (login, sign_in) = built.get_or_try_init(services).await?;
        Ok::<_, Error>(
            handler::app(Arc::clone(login), sign_in.clone())
                .oneshot(request)
                .await?,
        )
    }))
    .await
}
