//! The local web side that `serve`, `login` and `demo` share: listening, and the router of the
//! dashboard's files with the login routes beside them.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;
use webex_quality::login::LoginService;

use crate::args::Global;
use crate::error::CliError;
use crate::output::say;

/// Listens on `addr`; a taken address is an error that names `flag`, the way to change it.
pub(crate) async fn bind(addr: &str, flag: &'static str) -> Result<TcpListener, CliError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| CliError::AddressInUse {
            addr: addr.to_owned(),
            flag,
            source,
        })
}

/// The dashboard's files, with the login routes beside them when given.
pub(crate) fn site_router(site: &Path, login: Option<Arc<LoginService>>) -> Router {
    let files = ServeDir::new(site);
    let router = match login {
        Some(service) => webex_quality::login::router(service),
        None => Router::new(),
    };
    router.fallback_service(files)
}

/// Serves the dashboard's folder on `listener` until `shutdown`.
pub(crate) async fn serve_site(
    listener: TcpListener,
    site: &Path,
    global: &Global,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CliError> {
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failed("listener", e))?;
    say(
        global,
        &format!("dashboard: http://{local}/ (Ctrl-C stops)"),
    );
    axum::serve(listener, site_router(site, None))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| CliError::failed("server", e))
}
