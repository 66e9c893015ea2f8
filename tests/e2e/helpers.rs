//! Shared set-up: a simulator on a simulated clock, and clients aimed at it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use webex_quality::clock::{Clock, SharedClock};
use webex_quality::config::{OAuthSettings, Secret, WebexUrls, base_url};
use webex_quality::webex::{
    ClientOptions, Credentials, OAuthClient, OAuthSession, TokenRecord, TokenSink, WebexClient,
    http_client,
};
use webex_sim::{SimClock, SimConfig, SimHandle, Simulator};

/// Monday 2026-01-05, midnight UTC: the first day of the simulated week.
pub fn week_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

pub const REDIRECT_URI: &str = "http://localhost:8080/oauth/callback";

/// The simulator's clock, as the core's [`Clock`] port.
#[derive(Debug, Clone)]
pub struct SimTime(pub SimClock);

impl Clock for SimTime {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// A simulator whose week starts at [`week_start`], with the clock at `now`.
pub async fn spawn_sim_at(now: DateTime<Utc>, config: SimConfig) -> SimHandle {
    let config = SimConfig {
        first_day: Some(week_start()),
        ..config
    };
    Simulator::with_clock(config, SimClock::simulated(now))
        .spawn("127.0.0.1:0")
        .await
        .expect("simulator listens")
}

/// A simulator at the end of the simulated week (every meeting has ended, all within 7 days).
pub async fn spawn_sim() -> SimHandle {
    spawn_sim_at(
        week_start() + chrono::Duration::days(7),
        SimConfig::default(),
    )
    .await
}

pub fn urls(sim: &SimHandle) -> WebexUrls {
    WebexUrls {
        api: base_url(&sim.api_url()).unwrap(),
        analytics: base_url(&sim.analytics_url()).unwrap(),
    }
}

/// Options with short waits so that retries finish quickly.
pub fn quick_options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(5),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        default_retry_after: Duration::from_millis(200),
        ..ClientOptions::default()
    }
}

pub fn sim_clock(sim: &SimHandle) -> SharedClock {
    Arc::new(SimTime(sim.clock().clone()))
}

pub fn oauth_settings(sim: &SimHandle) -> OAuthSettings {
    OAuthSettings {
        client_id: sim.config().client_id.clone(),
        client_secret: Secret::new(sim.config().client_secret.clone()),
        redirect_uri: REDIRECT_URI.parse().unwrap(),
        scopes: webex_sim::INTEGRATION_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    }
}

pub fn oauth_client(sim: &SimHandle, options: &ClientOptions) -> OAuthClient {
    OAuthClient::new(
        &oauth_settings(sim),
        &urls(sim).api,
        http_client(options).unwrap(),
        options,
        sim_clock(sim),
    )
    .unwrap()
}

/// What a browser does: open the authorize URL, take the redirect's `code` (checking `state`), then
/// the server exchanges it.
pub async fn login(sim: &SimHandle, oauth: &OAuthClient) -> TokenRecord {
    let request = oauth.authorize_url();
    let location = browser_redirect(&request.url).await;
    let pairs: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(
        pairs.get("state"),
        Some(&request.state),
        "state comes back unchanged"
    );
    let code = pairs.get("code").expect("the redirect carries a code");
    let _ = sim;
    oauth
        .exchange_code(code, &request.pkce_verifier)
        .await
        .expect("code exchange")
}

/// Opens a new authorize URL as a browser would and returns the request and the `code` it got.
pub async fn authorize_code(
    oauth: &OAuthClient,
) -> (webex_quality::webex::AuthorizationRequest, String) {
    let request = oauth.authorize_url();
    let location = browser_redirect(&request.url).await;
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("the redirect carries a code")
        .1
        .into_owned();
    (request, code)
}

/// Follows nothing: returns where the authorize endpoint redirects the browser.
pub async fn browser_redirect(url: &url::Url) -> url::Url {
    let browser = webex_sim::browser::client().unwrap();
    let response = browser.get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 302, "authorize redirects");
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap()
}

/// Keeps every record it is given, in order.
#[derive(Debug, Default)]
pub struct RecordingSink(pub Mutex<Vec<TokenRecord>>);

#[async_trait::async_trait]
impl TokenSink for RecordingSink {
    async fn save(&self, record: &TokenRecord) -> Result<(), String> {
        self.0.lock().unwrap().push(record.clone());
        Ok(())
    }
}

/// A logged-in client and the sink its refreshed tokens go to.
pub async fn oauth_webex_client(
    sim: &SimHandle,
    options: ClientOptions,
) -> (WebexClient, Arc<OAuthSession>, Arc<RecordingSink>) {
    let oauth = oauth_client(sim, &options);
    let record = login(sim, &oauth).await;
    let sink = Arc::new(RecordingSink::default());
    let session = Arc::new(OAuthSession::new(oauth, record, sink.clone()));
    let client = WebexClient::new(
        urls(sim),
        Credentials::OAuth(session.clone()),
        options,
        sim_clock(sim),
    )
    .unwrap();
    (client, session, sink)
}

pub fn deadline() -> tokio::time::Instant {
    webex_quality::webex::deadline_in(Duration::from_secs(30))
}

/// Makes the file at `path` look two hours old, past the hour after which a run removes what a
/// stopped run left in its work folder (`webex_quality::storage::work_files::STALE_AFTER`).
pub fn age_past_the_hour(path: &std::path::Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
}

/// A new empty folder for a test, under this run's own folder (`wq-e2e-run-*` in the temp
/// directory, made with `tempfile`). The folders outlive the tests that make them (servers, child
/// processes and stores hold them), and no destructor runs when a test binary exits, so each run
/// removes the run folders of earlier runs whose process is gone.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    static RUN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
        let base = std::env::temp_dir();
        remove_finished_runs(&base);
        tempfile::Builder::new()
            .prefix(&format!("wq-e2e-run-{}-", std::process::id()))
            .tempdir_in(&base)
            .unwrap()
            .keep()
    });
    let dir = run.join(format!("{name}-{}", unique_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes `wq-e2e-run-<pid>-*` folders in `base` whose process no longer runs.
fn remove_finished_runs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("wq-e2e-run-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A suffix no other call in this test run returns (process, counter, time).
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Logs in against the simulator and stores the tokens in `store`'s token object.
pub async fn store_login(
    sim: &SimHandle,
    store: &webex_quality::storage::SharedStore,
) -> TokenRecord {
    let oauth = oauth_client(sim, &quick_options());
    let record = login(sim, &oauth).await;
    webex_quality::tokens::TokenStore::new(store.clone(), sim_clock(sim))
        .store_login(record.clone())
        .await
        .unwrap();
    record
}

/// What a test of the collector as a process needs: a simulator on real time, a bucket on the
/// S3-compatible server (its store and name) with the integration logged in, and a working folder,
/// all named after `name`.
pub async fn process_setup(
    config: SimConfig,
    name: &str,
) -> (
    SimHandle,
    webex_quality::storage::SharedStore,
    String,
    std::path::PathBuf,
) {
    let sim = Simulator::new(config).spawn("127.0.0.1:0").await.unwrap();
    let (store, bucket) = crate::s3::store(name).await;
    store_login(&sim, &store).await;
    (sim, store, bucket, temp_dir(name))
}

/// A collector on `store`, on the simulator's clock, logging in as the integration.
pub fn collector(
    sim: &SimHandle,
    store: &webex_quality::storage::SharedStore,
    work_dir: std::path::PathBuf,
    settings: webex_quality::collect::CycleSettings,
) -> webex_quality::collect::Collector {
    collector_with(sim, store, work_dir, settings, quick_options())
}

/// [`collector`] with the client's options.
pub fn collector_with(
    sim: &SimHandle,
    store: &webex_quality::storage::SharedStore,
    work_dir: std::path::PathBuf,
    settings: webex_quality::collect::CycleSettings,
    options: ClientOptions,
) -> webex_quality::collect::Collector {
    webex_quality::collect::Collector::new(
        store.clone(),
        urls(sim),
        webex_quality::collect::Access::OAuth(oauth_settings(sim)),
        options,
        sim_clock(sim),
        work_dir,
        settings,
    )
    .unwrap()
}

/// Settings of a `collect-cycle` process: the call interval and the cycle's budget in seconds,
/// and how many calls run at once.
pub struct CycleProcess {
    pub call_interval_seconds: u64,
    pub budget_seconds: u64,
    pub concurrency: usize,
}

/// `collect-cycle` (one cycle in a process of its own, configured by the environment as the
/// collector function is) against `sim`, on `bucket`/`prefix` of the S3-compatible server, working
/// in `work`; its output piped.
pub fn collect_cycle_process(
    sim: &SimHandle,
    (bucket, prefix): (&str, &str),
    work: &std::path::Path,
    cycle: &CycleProcess,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_collect-cycle"));
    command
        .envs(crate::s3::env(bucket, prefix))
        .env("WEBEX_API_URL", sim.api_url())
        .env("WEBEX_ANALYTICS_URL", sim.analytics_url())
        .env("WEBEX_CLIENT_ID", &sim.config().client_id)
        .env("WEBEX_CLIENT_SECRET", &sim.config().client_secret)
        .env("WEBEX_REDIRECT_URI", REDIRECT_URI)
        .env(
            "WEBEX_QUALITY_CALL_INTERVAL_SECONDS",
            cycle.call_interval_seconds.to_string(),
        )
        .env(
            "WEBEX_QUALITY_CYCLE_BUDGET_SECONDS",
            cycle.budget_seconds.to_string(),
        )
        .env("WEBEX_QUALITY_CONCURRENCY", cycle.concurrency.to_string())
        .env("WEBEX_QUALITY_WORK_DIR", work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// Cycle settings for tests on the simulated clock: a minute's budget.
pub fn quick_cycle() -> webex_quality::collect::CycleSettings {
    webex_quality::collect::CycleSettings {
        budget: std::time::Duration::from_secs(60),
        upload_reserve: std::time::Duration::from_secs(10),
        ..webex_quality::collect::CycleSettings::default()
    }
}

/// One cycle into a new folder store at the simulator's current time: the store and its database.
pub async fn collect_once(
    sim: &SimHandle,
    name: &str,
) -> (
    webex_quality::storage::SharedStore,
    webex_quality::db::Database,
) {
    let store: webex_quality::storage::SharedStore =
        Arc::new(webex_quality::storage::FolderStore::new(temp_dir(name)).unwrap());
    store_login(sim, &store).await;
    collector(
        sim,
        &store,
        temp_dir(&format!("{name}-work")),
        quick_cycle(),
    )
    .run_cycle()
    .await
    .unwrap();
    let db = stored_history(&store).await;
    (store, db)
}

/// The whole history in `store` as one database: the hot object with every archive merged in, a
/// meeting taken from the first partition that holds it (as readers take it).
pub async fn stored_history(
    store: &webex_quality::storage::SharedStore,
) -> webex_quality::db::Database {
    let hot = stored_database(store).await;
    let path = hot.path().to_owned();
    drop(hot);
    let archives = webex_quality::history::list_archives(store).await.unwrap();
    merge_archives_into(store, &archives, &path).await;
    webex_quality::db::Database::open(&path).unwrap()
}

/// Merges `archives` (downloaded from `store`) into the database file at `path`, keeping what
/// it holds.
pub async fn merge_archives_into(
    store: &webex_quality::storage::SharedStore,
    archives: &[webex_quality::history::ArchiveKey],
    path: &std::path::Path,
) {
    let dir = temp_dir("history-merged");
    let mut db = webex_quality::db::Database::open(path).unwrap();
    for archive in archives {
        let local = webex_quality::history::download(store, *archive, &dir)
            .await
            .unwrap();
        db.merge_partition(&local.path).unwrap();
    }
}

/// The whole history in `store` ([`stored_history`]), if a database was ever uploaded.
pub async fn stored_history_if_any(
    store: &webex_quality::storage::SharedStore,
) -> Option<webex_quality::db::Database> {
    match store
        .get(webex_quality::history::DATABASE_KEY, None)
        .await
        .unwrap()
    {
        webex_quality::storage::Fetched::Found(_) => Some(stored_history(store).await),
        _ => None,
    }
}

/// The database currently in `store`, downloaded into a fresh folder.
pub async fn stored_database(
    store: &webex_quality::storage::SharedStore,
) -> webex_quality::db::Database {
    let replica = webex_quality::history::Replica::new(store.clone(), temp_dir("inspect"));
    let copy = replica.checkout("inspect").await.unwrap();
    assert!(copy.base.is_some(), "a database was uploaded");
    webex_quality::db::Database::open(&copy.path).unwrap()
}

/// One partition of the history in a store: the hot database or an archive, as a local copy.
pub struct StoredPartition {
    /// `hot`, or the archive's key.
    pub name: String,
    /// The database.
    pub db: webex_quality::db::Database,
    _archive: Option<webex_quality::history::ArchiveCopy>,
}

/// Every partition of the history in `store`: the hot database, then the archives newest first.
pub async fn stored_partitions(
    store: &webex_quality::storage::SharedStore,
) -> Vec<StoredPartition> {
    let mut out = vec![StoredPartition {
        name: "hot".into(),
        db: stored_database(store).await,
        _archive: None,
    }];
    for archive in webex_quality::history::list_archives(store).await.unwrap() {
        let copy = webex_quality::history::download(store, archive, &temp_dir("read-archive"))
            .await
            .unwrap();
        let db = webex_quality::db::Database::open(&copy.path).unwrap();
        db.quick_check().unwrap();
        out.push(StoredPartition {
            name: archive.key(),
            db,
            _archive: Some(copy),
        });
    }
    out
}

/// The exact bytes the simulator serves for page `page` (0-based) of `items` in pages of `size`.
pub fn expected_page(items: &[webex_sim::org::QualityItem], page: usize, size: usize) -> Vec<u8> {
    let chunk: Vec<_> = items.iter().skip(page * size).take(size).collect();
    serde_json::to_vec(&serde_json::json!({ "items": chunk })).unwrap()
}

/// `POST /login` over HTTP as the form does (with `setup_secret`, if any): Webex's authorize URL and the pending-login cookie to send back.
pub async fn start_login(
    browser: &reqwest::Client,
    base: &str,
    setup_secret: Option<&str>,
) -> (String, String) {
    let started = browser
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(setup_secret.map_or_else(String::new, |s| format!("setup_secret={s}")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    let cookie = started.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    (authorize, cookie)
}

/// `GET url` over HTTP with a cookie (a `name=value` pair), following nothing.
pub async fn get_with_cookie(
    browser: &reqwest::Client,
    url: &str,
    cookie: &str,
) -> reqwest::Response {
    browser
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// A free port on 127.0.0.1 (bound, then released for the process under test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// List Meetings over the simulated week.
pub fn whole_week() -> webex_quality::webex::MeetingQuery {
    webex_quality::webex::MeetingQuery {
        from: week_start(),
        to: week_start() + chrono::Duration::days(7),
        state: None,
    }
}
