//! `serve`: the product for real on one machine: the OAuth routes and the dashboard on a local
//! address, a cycle every 5 minutes (and one right after each login).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use webex_quality::clock::{SharedClock, SystemClock};
use webex_quality::config::Access;

use super::render::render_with;
use crate::args::{Global, ServeArgs};
use crate::error::CliError;
use crate::output::{cycle_result, say};
use crate::settings::{collector_for, login_service, site_folder};
use crate::web::{bind, site_router};

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
