//! The commands that run once: demo, collect, render, status, export, sim.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use webex_quality::clock::{SharedClock, SystemClock};
use webex_quality::collect::{Collector, CycleReport, Outcome};
use webex_quality::config::{
    Access, CollectorConfig, CycleConfig, LoginConfig, OAuthSettings, Secret, WebexUrls, base_url,
};
use webex_quality::db::Database;
use webex_quality::history::{self, Replica};
use webex_quality::login::LoginService;
use webex_quality::quality::Thresholds;
use webex_quality::site::{Refreshed, SiteOptions, StatusView, render_from_store};
use webex_quality::status::StatusStore;
use webex_quality::storage::{FolderStore, SharedStore, StoreLocation};
use webex_quality::webex::ClientOptions;
use webex_sim::{SimClock, SimConfig, Simulator};

use crate::{
    Cli, CliError, Command, DemoArgs, ExportArgs, Global, OutArgs, SimArgs, sim_clock, site_folder,
    web, work_folder,
};

/// Runs one command.
///
/// # Errors
/// A [`CliError`] that says what went wrong and how to fix it.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    match cli.command {
        Command::Demo(args) => demo(&global, args).await,
        Command::Serve(args) => {
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            web::serve_until(&global, args, shutdown).await
        }
        Command::Login(args) => web::login(&global, args).await,
        Command::Collect => collect(&global).await,
        Command::Render(out) => render(&global, &out).await.map(|_| ()),
        Command::Status => status(&global).await,
        Command::Export(args) => export(&global, &args).await,
        Command::Sim(args) => sim(args).await,
    }
}

/// A spinner on stderr (hidden with `--quiet` or when stderr is not a terminal).
pub(crate) fn spinner(global: &Global, message: &str) -> ProgressBar {
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints a line unless `--quiet`.
pub(crate) fn say(global: &Global, line: &str) {
    if !global.quiet {
        println!("{line}");
    }
}

/// The thresholds (defaults, or `WEBEX_QUALITY_THRESHOLDS_FILE`).
pub(crate) fn thresholds(global: &Global) -> Result<Thresholds, CliError> {
    Ok(Thresholds::from_lookup(&|name| global.lookup(name))?)
}

pub(crate) fn site_options(global: &Global) -> SiteOptions {
    SiteOptions {
        mask_personal: !global.show_personal,
        ..SiteOptions::default()
    }
}

/// A cycle's outcome as the CLI reports it.
pub(crate) fn cycle_result(global: &Global, report: &CycleReport) -> Result<(), CliError> {
    let line = format!(
        "cycle {}: {} meetings listed, {} due, {} calls, {} pages, {} rate limited, {} errors, {:.1} s",
        match report.outcome.detail() {
            Some(detail) => format!("{} ({detail})", report.outcome.label()),
            None => report.outcome.label().to_owned(),
        },
        report.listed,
        report.due,
        report.calls,
        report.pages,
        report.rate_limited,
        report.errors,
        report.wall_time.as_secs_f64()
    );
    match &report.outcome {
        Outcome::AuthorizationRequired(reason) => {
            Err(CliError::AuthorizationNeeded(reason.clone()))
        }
        Outcome::Failed(reason) => Err(CliError::Failed(format!(
            "the cycle failed: {reason} (what was fetched is kept)"
        ))),
        Outcome::Ok | Outcome::Partial | Outcome::Skipped(_) => {
            say(global, &line);
            Ok(())
        }
    }
}

async fn collect(global: &Global) -> Result<(), CliError> {
    let (_, store) = global.data_store(true)?;
    let collector = web::collector_for(global, None, store, Arc::new(SystemClock))?;
    let bar = spinner(global, "collecting");
    let report = collector.run_cycle().await;
    bar.finish_and_clear();
    let report = report.map_err(|e| CliError::failed("collection", e))?;
    cycle_result(global, &report)
}

/// Renders the dashboard from the data folder into the site folder.
pub(crate) async fn render_with(
    global: &Global,
    data_store: &SharedStore,
    data: &Path,
    site: &Path,
    clock: SharedClock,
) -> Result<Refreshed, CliError> {
    let site_store = FolderStore::for_site(site.to_path_buf())
        .map_err(|e| CliError::failed(&format!("site folder {}", site.display()), e))?;
    let bar = spinner(global, "rendering");
    let refreshed = render_from_store(
        data_store,
        &site_store,
        work_folder(data),
        site_options(global),
        &thresholds(global)?,
        clock,
    )
    .await;
    bar.finish_and_clear();
    let refreshed = refreshed.map_err(|e| CliError::failed("rendering", e))?;
    say(
        global,
        &format!(
            "dashboard: {} files in {} ({} meetings rendered, {} unchanged; {} uploaded, {} removed)",
            refreshed.files,
            site.display(),
            refreshed.meetings_rendered,
            refreshed.meetings_reused,
            refreshed.published.uploaded.len(),
            refreshed.published.deleted.len()
        ),
    );
    if refreshed.meetings_failed > 0 {
        eprintln!(
            "warning: {} meeting pages could not be made and show an error page instead (the log says why; their data is kept)",
            refreshed.meetings_failed
        );
    }
    Ok(refreshed)
}

async fn render(global: &Global, out: &OutArgs) -> Result<Refreshed, CliError> {
    let (data, store) = global.data_store(false)?;
    let site = site_folder(&data, out)?;
    render_with(global, &store, &data, &site, Arc::new(SystemClock)).await
}

/// Runs `use_db` on a private copy of the data folder's database, removed afterwards.
async fn with_database<T>(
    store: &SharedStore,
    data: &Path,
    purpose: &str,
    use_db: impl AsyncFnOnce(&Database) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let replica = Replica::new(store.clone(), work_folder(data));
    let copy = replica
        .checkout(purpose)
        .await
        .map_err(|e| CliError::failed("database", e))?;
    let result = match Database::open(&copy.path) {
        Ok(db) => use_db(&db).await,
        Err(e) => Err(CliError::failed("database", e)),
    };
    Replica::discard(&copy);
    result
}

/// Runs `visit` on every partition of the history: the data folder's hot database, then each
/// archive, newest first (each a private copy, removed afterwards). Returns the archives.
async fn for_each_partition(
    store: &SharedStore,
    data: &Path,
    purpose: &str,
    mut visit: impl FnMut(&Database) -> Result<(), CliError>,
) -> Result<Vec<history::ArchiveKey>, CliError> {
    with_database(store, data, purpose, async |db| visit(db)).await?;
    let archives = history::list_archives(store)
        .await
        .map_err(|e| CliError::failed("archives", e))?;
    for archive in &archives {
        let local = history::download(store, *archive, &work_folder(data))
            .await
            .map_err(|e| CliError::failed("archives", e))?;
        let db = Database::open(&local.path).map_err(|e| CliError::failed("archive", e))?;
        visit(&db)?;
    }
    Ok(archives)
}

async fn status(global: &Global) -> Result<(), CliError> {
    let (data, store) = global.data_store(false)?;
    let now = chrono::Utc::now();
    let archived_days = history::days_archived(
        &history::list_archives(&store)
            .await
            .map_err(|e| CliError::failed("archives", e))?,
    );
    with_database(&store, &data, "status", async |db| {
        let status = StatusStore::new(store.clone())
            .load()
            .await
            .map_err(|e| CliError::failed("status object", e))?
            .map(|(status, _)| status);
        let view = StatusView::from_sources(db, status.as_ref(), now)
            .map_err(|e| CliError::failed("database", e))?;
        println!("Last run:          {} {}", view.last_run, view.last_outcome);
        println!("Meetings collected: {}", view.collected);
        println!("Meetings pending:   {}", view.pending);
        println!("Days archived:      {archived_days}");
        println!("Rate limited (24h): {}", view.rate_limited);
        println!("Token expires in:   {}", view.token_days);
        if let Some(banner) = webex_quality::site::banner(status.as_ref(), now) {
            println!("AUTHORIZATION NEEDED: {banner} Run `webex-quality login`.");
        }
        if !view.errors.is_empty() {
            println!("Recent errors:");
            for e in &view.errors {
                println!(
                    "  {} {} {}: {} (tracking id {})",
                    e.at, e.meeting, e.kind, e.message, e.tracking_id
                );
            }
        }
        Ok(())
    })
    .await
}

async fn export(global: &Global, args: &ExportArgs) -> Result<(), CliError> {
    let (data, store) = global.data_store(false)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::failed(&format!("export folder {}", args.out.display()), e))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = args.out.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| CliError::failed(&format!("writing {}", path.display()), e))
    };
    let options = site_options(global);
    let thresholds = thresholds(global)?;
    let mut files = 0;
    let mut seen = std::collections::HashSet::new();
    let mut tables = webex_quality::site::CsvTables::default();
    // Every partition: a meeting is exported from the first one that holds it.
    for_each_partition(&store, &data, "export", |db| {
        if args.raw {
            for meeting in db.meetings().map_err(|e| CliError::failed("database", e))? {
                if !seen.insert(meeting.instance_id.clone()) {
                    continue;
                }
                let pages = db
                    .latest_complete_pages(&meeting.instance_id)
                    .map_err(|e| CliError::failed("database", e))?;
                for page in pages {
                    write(
                        &format!("{}.{}.json", meeting.instance_id, page.page),
                        &page.body,
                    )?;
                    files += 1;
                }
            }
        }
        if args.csv {
            tables
                .add(db, &options, &thresholds)
                .map_err(|e| CliError::failed("export", e))?;
        }
        Ok(())
    })
    .await?;
    if args.csv {
        let tables = tables.finish().map_err(|e| CliError::failed("export", e))?;
        for (name, bytes) in tables {
            write(&name, &bytes)?;
            files += 1;
        }
    }
    say(
        global,
        &format!("exported {files} files to {}", args.out.display()),
    );
    Ok(())
}

async fn sim(args: SimArgs) -> Result<(), CliError> {
    let config = SimConfig {
        seed: args.seed,
        client_id: args.client_id,
        client_secret: args.client_secret,
        ..SimConfig::default()
    };
    let addr = format!("127.0.0.1:{}", args.port);
    let handle = Simulator::new(config)
        .spawn(&addr)
        .await
        .map_err(|source| CliError::AddressInUse {
            addr: addr.clone(),
            flag: "--port",
            source,
        })?;
    println!("WEBEX_API_URL={}", handle.api_url());
    println!("WEBEX_ANALYTICS_URL={}", handle.analytics_url());
    println!("Simulating Webex; Ctrl-C stops.");
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(())
}

/// Midnight, UTC, `days` days before today.
fn days_ago(days: i64) -> chrono::DateTime<chrono::Utc> {
    let today = chrono::Utc::now().date_naive();
    (today - chrono::Duration::days(days))
        .and_hms_opt(0, 0, 0)
        .map_or_else(chrono::Utc::now, |t| t.and_utc())
}

async fn demo(global: &Global, args: DemoArgs) -> Result<(), CliError> {
    let (data, store) = global.data_store(true)?;
    let site = site_folder(&data, &args.out)?;
    // Claim the dashboard's port first: a port in use fails now, not after the week is collected.
    let listener = if args.once {
        None
    } else {
        Some(web::bind(&format!("127.0.0.1:{}", args.port), "--port").await?)
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
        urls,
        access: Access::OAuth(oauth),
        work_dir: work_folder(&data),
        cycle: CycleConfig::from_lookup(&|name| global.lookup(name))?,
    };
    let collector = Collector::from_config(
        store.clone(),
        &collector_config,
        ClientOptions::default(),
        clock.clone(),
    )
    .map_err(|e| CliError::failed("collector", e))?;
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
            web::serve_site(listener, &site, global, shutdown).await
        }
    }
}
