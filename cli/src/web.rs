//! The local web side: the OAuth routes (`/login`, `/oauth/callback`), the dashboard's files, and the
//! 5-minute scheduler of `serve`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::services::ServeDir;
use webex_quality::clock::{SharedClock, SystemClock};
use webex_quality::collect::Collector;
use webex_quality::config::{Access, CollectorConfig, LoginConfig, SetupSecretRule};
use webex_quality::login::LoginService;
use webex_quality::storage::SharedStore;
use webex_quality::webex::ClientOptions;

use crate::commands::{cycle_result, render_with, say};
use crate::{CliError, Global, LoginArgs, ServeArgs, site_folder};

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

/// The login flow on `local`: the redirect URI defaults to `http://localhost:<port>/oauth/callback`,
/// and a listener beyond loopback needs the setup secret.
pub(crate) fn login_service(
    global: &Global,
    local: SocketAddr,
    store: &SharedStore,
    clock: &SharedClock,
) -> Result<Arc<LoginService>, CliError> {
    let lookup = global.with_local_redirect(local.port());
    let config = LoginConfig::from_lookup(&lookup, SetupSecretRule::Optional)?;
    if config.setup_secret.is_none() && !local.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "{local} can be reached from other machines, so starting a login needs a setup secret: set WEBEX_QUALITY_SETUP_SECRET (a long random value), or listen on 127.0.0.1"
        )));
    }
    let service = LoginService::new(
        &config,
        store.clone(),
        ClientOptions::default(),
        clock.clone(),
    )
    .map_err(|e| CliError::failed("login", e))?;
    Ok(Arc::new(service))
}

/// The collector of `serve` and `collect`, configured like the collector function.
pub(crate) fn collector_for(
    global: &Global,
    redirect_port: Option<u16>,
    store: SharedStore,
    clock: SharedClock,
) -> Result<Collector, CliError> {
    let lookup = global.with_local_redirect_opt(redirect_port);
    let config = CollectorConfig::from_lookup(&lookup)?;
    Collector::from_config(store, &config, ClientOptions::default(), clock)
        .map_err(|e| CliError::failed("collector", e))
}

/// The dashboard's files, with the login routes beside them when given.
fn site_router(site: &Path, login: Option<Arc<LoginService>>) -> Router {
    let files = ServeDir::new(site);
    let router = match login {
        Some(service) => webex_quality::login::router(service),
        None => Router::new(),
    };
    router.fallback_service(files)
}

/// `serve`, until `shutdown` completes: OAuth routes and dashboard on `args.listen`, a cycle now and
/// every `args.interval_seconds`, and one right after each login. A cycle in progress is finished
/// before the process stops.
///
/// # Errors
/// Settings, a taken address, or the data folder.
pub async fn serve_until(
    global: &Global,
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CliError> {
    let listener = bind(&args.listen, "--listen").await?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failed("listener", e))?;
    let (data, store) = global.data_store(true)?;
    let site = site_folder(&data, &args.out)?;
    std::fs::create_dir_all(&site)
        .map_err(|e| CliError::failed(&format!("site folder {}", site.display()), e))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let collector = collector_for(global, Some(local.port()), store.clone(), clock.clone())?;
    let login = match collector.access() {
        Access::OAuth(_) => Some(login_service(global, local, &store, &clock)?),
        Access::PersonalToken(_) => None,
    };
    if !local.ip().is_loopback() {
        tracing::warn!(
            %local,
            "the dashboard has no login of its own: anyone who can reach this address sees it; keep serve on a loopback address or behind an authenticating proxy"
        );
    }
    say(global, &format!("dashboard: http://{local}/"));
    if login.is_some() {
        say(global, &format!("authorize:  http://{local}/login"));
    }

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let logged_in = login.clone();
    let scheduler = {
        let global = global.clone();
        let data = data.clone();
        let site = site.clone();
        let store = store.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(args.interval_seconds));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let login = async {
                    match &logged_in {
                        Some(service) => service.logged_in().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = every.tick() => {}
                    () = login => {}
                    _ = stop_rx.changed() => break,
                }
                // The cycle and the render run to the end even when a stop arrives meanwhile.
                match collector.run_cycle().await {
                    Ok(report) => {
                        if let Err(error) = cycle_result(&global, &report) {
                            tracing::warn!(%error, "cycle");
                        }
                    }
                    Err(error) => tracing::error!(%error, "cycle failed"),
                }
                if let Err(error) =
                    render_with(&global, &store, &data, &site, Arc::new(SystemClock)).await
                {
                    tracing::error!(%error, "render failed");
                }
                if *stop_rx.borrow() {
                    break;
                }
            }
        }
    };
    let scheduler = tokio::spawn(scheduler);
    let server =
        axum::serve(listener, site_router(&site, login)).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
    server.await.map_err(|e| CliError::failed("server", e))?;
    say(global, "stopping after the current cycle");
    scheduler
        .await
        .map_err(|e| CliError::failed("scheduler", e))?;
    Ok(())
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
