//! `demo`: the simulator in process, the OAuth flow against it as a browser does it (the simulator's
//! scripted browser), a simulated week collected cycle by cycle, the dashboard rendered and served.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use webex_quality::collect::{Collector, Outcome};
use webex_quality::config::{
    Access, CollectorConfig, CycleConfig, LoginConfig, OAuthSettings, Secret, WebexUrls, base_url,
};
use webex_quality::login::LoginService;
use webex_quality::storage::StoreLocation;
use webex_quality::webex::ClientOptions;
use webex_sim::{SimClock, SimConfig, Simulator};

use super::render::render_with;
use crate::args::{DemoArgs, Global};
use crate::error::CliError;
use crate::output::say;
use crate::settings::{sim_clock, site_folder, work_folder};
use crate::web::{bind, serve_site};

/// Midnight, UTC, `days` days before today.
fn days_ago(days: i64) -> chrono::DateTime<chrono::Utc> {
    let today = chrono::Utc::now().date_naive();
    (today - chrono::Duration::days(days))
        .and_hms_opt(0, 0, 0)
        .map_or_else(chrono::Utc::now, |t| t.and_utc())
}

/// `demo`: a simulated week, collected, rendered and served.
pub(crate) async fn demo(global: &Global, args: DemoArgs) -> Result<(), CliError> {
    let (data, store) = global.data_store(true)?;
    let site = site_folder(&data, &args.out)?;
    // Claim the dashboard's port first: a port in use fails now, not after the week is collected.
    let listener = if args.once {
        None
    } else {
        Some(bind(&format!("127.0.0.1:{}", args.port), "--port").await?)
    };

    // A week of meetings that ends today; the simulated clock starts when it does.
    let first_day = days_ago(7);
    let end = first_day + chrono::Duration::days(7) + chrono::Duration::hours(1);
    let config = SimConfig {
        seed: args.seed,
        first_day: Some(first_day),
        ..SimConfig::default()
    };
    let sim = Simulator::with_clock(config.clone(), SimClock::simulated(first_day))
        .spawn("127.0.0.1:0")
        .await
        .map_err(|e| CliError::failed("starting the simulator", e))?;
    let clock = sim_clock(sim.clock());
    let urls = WebexUrls {
        api: base_url(&sim.api_url()).map_err(|e| CliError::failed("simulator URL", e))?,
        analytics: base_url(&sim.analytics_url())
            .map_err(|e| CliError::failed("simulator URL", e))?,
    };
    let oauth = OAuthSettings {
        client_id: config.client_id.clone(),
        client_secret: Secret::new(config.client_secret.clone()),
        redirect_uri: format!("http://127.0.0.1:{}/oauth/callback", args.port)
            .parse()
            .map_err(|e| CliError::failed("redirect URI", e))?,
        scopes: config.scopes.clone(),
    };

    // The login, as an administrator's browser does it, through the same routes `serve` and the
    // oauth-redirect function run.
    let login = LoginService::new(
        &LoginConfig {
            store: StoreLocation::Folder(data.clone()),
            s3: webex_quality::storage::S3Settings::default(),
            urls: urls.clone(),
            oauth: oauth.clone(),
            setup_secret: None,
            org_id: None,
        },
        store.clone(),
        ClientOptions::default(),
        clock.clone(),
    )
    .map_err(|e| CliError::failed("login", e))?;
    let answer =
        webex_sim::browser::walk_login(webex_quality::login::router(Arc::new(login)), None)
            .await
            .map_err(|e| CliError::Failed(format!("the demo's login failed: {e}")))?;
    if !answer.status().is_success() {
        return Err(CliError::Failed(format!(
            "the demo's login was refused ({})",
            answer.status()
        )));
    }
    say(
        global,
        "authorized against the simulator (OAuth code flow with PKCE, through the login routes)",
    );

    let collector_config = CollectorConfig {
        store: StoreLocation::Folder(data.clone()),
        s3: webex_quality::storage::S3Settings::default(),
        urls,
        access: Access::OAuth(oauth),
        work_dir: work_folder(&data),
        cycle: CycleConfig::from_lookup(&|name| global.lookup(name))?,
        alerts: webex_quality::config::AlertsConfig::from_lookup(&|name| global.lookup(name))?,
    };
    let collector = Collector::from_config(
        store.clone(),
        &collector_config,
        ClientOptions::default(),
        clock.clone(),
    )
    .map_err(|e| CliError::failed("collector", e))?
    .alerts_from_config(&collector_config)?;
    let step = chrono::Duration::minutes(i64::from(args.step_minutes));
    let cycles = u64::try_from((end - first_day).num_minutes() / step.num_minutes()).unwrap_or(1);
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(cycles)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} cycles, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("collecting");
    let mut calls = 0;
    while sim.clock().now() < end {
        let report = collector
            .run_cycle()
            .await
            .map_err(|e| CliError::failed("collection", e))?;
        if let Outcome::AuthorizationRequired(reason) | Outcome::Failed(reason) = &report.outcome {
            bar.abandon();
            return Err(CliError::Failed(format!(
                "the demo's collection stopped: {reason}"
            )));
        }
        calls += report.calls;
        sim.clock().advance(step);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let meetings = sim.org().meetings.len();
    say(
        global,
        &format!(
            "collected a simulated week: {meetings} meetings, {calls} qualities calls, {} rate limited",
            sim.stats().rate_limited_calls()
        ),
    );
    render_with(global, &store, &data, &site, clock).await?;
    sim.shutdown().await;
    match listener {
        None => {
            say(
                global,
                &format!("open {} in a browser", site.join("index.html").display()),
            );
            Ok(())
        }
        Some(listener) => {
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            serve_site(listener, &site, global, shutdown).await
        }
    }
}
