//! `login`: the OAuth flow through a local redirect; stores the tokens in the data folder.

use std::sync::Arc;

use webex_quality::clock::{SharedClock, SystemClock};

use crate::args::{Global, LoginArgs};
use crate::error::CliError;
use crate::output::say;
use crate::settings::login_service;
use crate::web::bind;

/// `login`: the login routes on the redirect URI's port until one login succeeds.
pub(crate) async fn login(global: &Global, args: LoginArgs) -> Result<(), CliError> {
    let redirect_port = global
        .lookup("WEBEX_REDIRECT_URI")
        .and_then(|r| url::Url::parse(&r).ok())
        .and_then(|u| u.port_or_known_default())
        .unwrap_or(8080);
    let addr = args
        .listen
        .unwrap_or_else(|| format!("127.0.0.1:{redirect_port}"));
    let listener = bind(&addr, "--listen").await?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failed("listener", e))?;
    let (_, store) = global.data_store(true)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let service = login_service(global, local, &store, &clock)?;
    println!("Open http://{local}/login in a browser and sign in as a Webex administrator.");
    let done = service.clone();
    axum::serve(listener, webex_quality::login::router(service))
        .with_graceful_shutdown(async move { done.logged_in().await })
        .await
        .map_err(|e| CliError::failed("server", e))?;
    say(global, "authorized: tokens stored in the data folder");
    Ok(())
}
