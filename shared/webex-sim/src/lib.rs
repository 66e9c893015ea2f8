//! A Webex API simulator that speaks real HTTP: the OAuth integration flow, List Meetings and Meeting
//! Qualities, with Webex's limits (paging by `Link`, the 10,000-instance cap, one qualities call per
//! meeting per 5 minutes, the 10-minute and 7-day data windows, scopes), a deterministic organisation
//! from a seed, a real or simulated clock, and fault injection per route.
//!
//! Routes (one port): the API base `http://HOST:PORT/v1` (`/authorize`, `/access_token`,
//! `/people/me`, `/meetings`) and the analytics base `http://HOST:PORT/analytics/v1`
//! (`/meeting/qualities`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default()).spawn("127.0.0.1:0").await?;
//! println!("WEBEX_API_URL={}", sim.api_url());
//! sim.clock().advance(chrono::Duration::minutes(5));
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![recursion_limit = "256"]
#![warn(missing_docs)]

mod analytics;
mod api;
pub mod browser;
pub mod clock;
mod control;
pub mod faults;
pub mod messages;
mod oauth;
pub mod org;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tokio::net::TcpListener;

pub use clock::SimClock;
pub use faults::{Fault, Faults, Route};
pub use org::Org;

/// The scopes the simulated integration is registered with.
pub const INTEGRATION_SCOPES: &[&str] = &[
    "meeting:schedules_read",
    "meeting:admin_schedule_read",
    "analytics:read_all",
    "spark:people_read",
];

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of the organisation.
    pub seed: u64,
    /// The integration's client id.
    pub client_id: String,
    /// The integration's client secret.
    pub client_secret: String,
    /// Scopes the integration may ask for.
    pub scopes: Vec<String>,
    /// Midnight of the first day with meetings; `None`: six days before the clock's day, so the
    /// week ends tomorrow.
    pub first_day: Option<DateTime<Utc>>,
    /// Days with meetings.
    pub days: u32,
    /// Ad-hoc meetings on every day, for scale runs; `None`: a small organisation's week (12 to 20
    /// meetings a weekday, a few at weekends).
    pub meetings_per_day: Option<u32>,
    /// Authorization codes live this long.
    pub code_lifetime: Duration,
    /// Access tokens live this long (Webex: 14 days).
    pub access_lifetime: Duration,
    /// Refresh tokens live this long from the first grant (Webex: 90 days).
    pub refresh_lifetime: Duration,
    /// The most instances List Meetings returns for one query (Webex: 10,000).
    pub meetings_cap: usize,
    /// The shortest time between two qualities calls for one meeting (Webex: 5 minutes).
    pub qualities_interval: Duration,
    /// Serve `POST /sim/clock?now=...` (sets the simulated clock, answers a personal token valid
    /// from then): for a benchmark that drives a simulator in another process.
    pub clock_control: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            client_id: "C-sim-integration".into(),
            client_secret: "sim-client-secret".into(),
            scopes: INTEGRATION_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            first_day: None,
            days: 7,
            meetings_per_day: None,
            code_lifetime: Duration::minutes(5),
            access_lifetime: Duration::days(14),
            refresh_lifetime: Duration::days(90),
            meetings_cap: 10_000,
            qualities_interval: Duration::minutes(5),
            clock_control: false,
        }
    }
}

/// Someone who can approve an authorize request: what `/v1/people/me` answers for their tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Webex person id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// The organisation they belong to.
    pub org_id: String,
}

/// Counts of what the simulator answered, for tests.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsInner>,
}

#[derive(Debug, Default, Clone)]
struct StatsInner {
    answers: HashMap<(Route, u16), u64>,
    qualities_calls: u64,
    qualities_pages: u64,
    rate_limited: u64,
}

impl Stats {
    fn lock(&self) -> MutexGuard<'_, StatsInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn count(&self, route: Route, status: u16) {
        *self.lock().answers.entry((route, status)).or_default() += 1;
    }
    fn rate_limited(&self) {
        self.lock().rate_limited += 1;
    }
    fn qualities_call(&self, first_page: bool) {
        let mut inner = self.lock();
        inner.qualities_pages += 1;
        if first_page {
            inner.qualities_calls += 1;
        }
    }
    /// Answers of `status` on `route`.
    #[must_use]
    pub fn answers(&self, route: Route, status: u16) -> u64 {
        self.lock()
            .answers
            .get(&(route, status))
            .copied()
            .unwrap_or(0)
    }
    /// Requests to `route`, any status.
    #[must_use]
    pub fn requests(&self, route: Route) -> u64 {
        self.lock()
            .answers
            .iter()
            .filter(|((r, _), _)| *r == route)
            .map(|(_, n)| n)
            .sum()
    }
    /// Qualities calls accepted (first pages).
    #[must_use]
    pub fn qualities_calls(&self) -> u64 {
        self.lock().qualities_calls
    }
    /// Qualities pages served (first and following).
    #[must_use]
    pub fn qualities_pages(&self) -> u64 {
        self.lock().qualities_pages
    }
    /// 429s given for the 5-minute rule.
    #[must_use]
    pub fn rate_limited_calls(&self) -> u64 {
        self.lock().rate_limited
    }
}

/// Shared state of a running simulator.
#[derive(Debug)]
pub struct SimState {
    config: SimConfig,
    org: Org,
    clock: SimClock,
    faults: Faults,
    stats: Stats,
    grants: Mutex<oauth::Grants>,
    calls: Mutex<HashMap<String, DateTime<Utc>>>,
    deny_next_authorization: AtomicBool,
    /// Who approves the next authorize request (default: the organisation's admin).
    next_identity: Mutex<Option<Identity>>,
    /// When set, analytics answers 451 to any other `Host` and names this one.
    regional_host: Mutex<Option<String>>,
    /// Meetings renamed after they were planned (instance id to title): their List Meetings
    /// items change, as when a host edits a meeting's title.
    titles: Mutex<HashMap<String, String>>,
    /// Messages and webhook bodies posted (alerts).
    posted: messages::Posted,
}

impl SimState {
    /// A meeting's List Meetings item at `now`, with any title given by [`SimHandle::retitle`].
    pub(crate) fn meeting_item(
        &self,
        meeting: &org::MeetingPlan,
        now: DateTime<Utc>,
    ) -> serde_json::Value {
        let mut item = self.org.meeting_item(meeting, now);
        if let Some(title) = self
            .titles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&meeting.instance_id)
        {
            item["title"] = serde_json::Value::from(title.as_str());
        }
        item
    }

    fn issue_personal_token(&self) -> String {
        let token = oauth::random_token("sim-personal");
        let grant = oauth::AccessGrant {
            scopes: self.config.scopes.clone(),
            expires_at: self.clock.now() + Duration::hours(12),
            identity: self.org.member(0),
        };
        self.grants().access.insert(token.clone(), grant);
        token
    }

    fn grants(&self) -> MutexGuard<'_, oauth::Grants> {
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Who approves this authorize request: the one a test chose, else the organisation's admin.
    fn take_next_identity(&self) -> Identity {
        self.next_identity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| self.org.member(0))
    }

    /// Whose bearer token this request carries, if it is a known one.
    fn token_identity(&self, headers: &HeaderMap) -> Option<Identity> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        self.grants().access.get(token).map(|g| g.identity.clone())
    }

    fn calls(&self) -> MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks the bearer token; the refusal to send, if any: 401 when it is missing, unknown or
    /// expired, 403 without one of `any_scope`.
    fn refuse(
        &self,
        headers: &HeaderMap,
        any_scope: &[&str],
        tracking_id: &str,
    ) -> Option<Response> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let unauthorized = || {
            webex_error(
                StatusCode::UNAUTHORIZED,
                "The request requires a valid access token set in the Authorization request header.",
                tracking_id,
            )
        };
        let grants = self.grants();
        let Some(grant) = token.and_then(|t| grants.access.get(t)) else {
            return Some(unauthorized());
        };
        if grant.expires_at <= self.clock.now() {
            return Some(unauthorized());
        }
        if !grant.scopes.iter().any(|s| any_scope.contains(&s.as_str())) {
            return Some(webex_error(
                StatusCode::FORBIDDEN,
                "The request is understood, but it has been refused or access is not allowed.",
                tracking_id,
            ));
        }
        None
    }

    fn region_redirect_to(&self, headers: &HeaderMap) -> Option<String> {
        let regional = self
            .regional_host
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        (host != regional).then_some(regional)
    }

    /// An absolute `Link` URL on the host the client used.
    fn link(&self, headers: &HeaderMap, path: &str, pairs: &[(String, String)]) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut url = url::Url::parse(&format!("http://{host}{path}"))
            .unwrap_or_else(|_| url::Url::parse("http://127.0.0.1/").expect("static URL parses"));
        url.query_pairs_mut().extend_pairs(pairs);
        format!("<{url}>; rel=\"next\"")
    }
}

/// A Webex error answer: `{"message", "errors": [{"description"}], "trackingId"}`.
#[must_use]
pub fn webex_error(status: StatusCode, message: &str, tracking_id: &str) -> Response {
    let body = serde_json::json!({
        "message": message,
        "errors": [{"description": message}],
        "trackingId": tracking_id,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_response(body: &impl Serialize, link: Option<String>) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        bytes,
    )
        .into_response();
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// A simulator, configured and not yet listening.
#[derive(Debug)]
pub struct Simulator {
    state: Arc<SimState>,
}

impl Simulator {
    /// A simulator on the real clock.
    #[must_use]
    pub fn new(config: SimConfig) -> Self {
        Self::with_clock(config, SimClock::real())
    }

    /// A simulator on `clock` (use [`SimClock::simulated`] to drive time from a test).
    #[must_use]
    pub fn with_clock(config: SimConfig, clock: SimClock) -> Self {
        let first_day = config
            .first_day
            .unwrap_or_else(|| org::days_before(clock.now(), 6));
        let org =
            Org::generate_scaled(config.seed, first_day, config.days, config.meetings_per_day);
        Self {
            state: Arc::new(SimState {
                config,
                org,
                clock,
                faults: Faults::default(),
                stats: Stats::default(),
                grants: Mutex::default(),
                calls: Mutex::default(),
                deny_next_authorization: AtomicBool::new(false),
                next_identity: Mutex::new(None),
                regional_host: Mutex::new(None),
                titles: Mutex::default(),
                posted: messages::Posted::default(),
            }),
        }
    }

    /// The router, for tests that want no socket.
    pub fn router(&self) -> Router {
        let router = if self.state.config.clock_control {
            Router::new().route("/sim/clock", post(control::set_clock))
        } else {
            Router::new()
        };
        router
            .route("/v1/authorize", get(oauth::authorize))
            .route("/v1/access_token", post(oauth::access_token))
            .route("/v1/people/me", get(api::people_me))
            .route("/v1/meetings", get(api::meetings))
            .route("/analytics/v1/meeting/qualities", get(analytics::qualities))
            .route(
                "/v1/messages",
                post(messages::post_message).get(messages::list_messages),
            )
            .route("/sim/webhook", post(messages::webhook))
            .fallback(|axum::Extension(faults::TrackingId(id)): axum::Extension<faults::TrackingId>| async move {
                webex_error(StatusCode::NOT_FOUND, "The requested resource could not be found.", &id)
            })
            .layer(axum::middleware::from_fn_with_state(self.state.clone(), faults::gate))
            .with_state(self.state.clone())
    }

    /// Listens on `addr` (port 0 picks a free port) and serves in the background.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn spawn(self, addr: &str) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let router = self.router();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "simulator stopped");
            }
        });
        Ok(SimHandle {
            state: self.state,
            addr: local,
            stop: Some(stop),
            task,
        })
    }
}

/// A running simulator: its URLs and the controls tests use.
#[derive(Debug)]
pub struct SimHandle {
    state: Arc<SimState>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `WEBEX_API_URL` for this simulator (ends in `/v1`).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// A generic incoming webhook's URL (`POST` any JSON; see [`SimHandle::webhooks`]).
    #[must_use]
    pub fn webhook_url(&self) -> String {
        format!("http://{}/sim/webhook", self.addr)
    }

    /// The messages posted to any space, oldest first.
    #[must_use]
    pub fn messages(&self) -> Vec<messages::Message> {
        self.state.posted.messages()
    }

    /// The webhook bodies posted, oldest first.
    #[must_use]
    pub fn webhooks(&self) -> Vec<serde_json::Value> {
        self.state.posted.webhooks()
    }

    /// `WEBEX_ANALYTICS_URL` for this simulator (ends in `/v1`).
    #[must_use]
    pub fn analytics_url(&self) -> String {
        format!("http://{}/analytics/v1", self.addr)
    }

    /// The clock; tests advance it.
    #[must_use]
    pub fn clock(&self) -> &SimClock {
        &self.state.clock
    }

    /// Fault injection.
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// What it has answered.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// The generated organisation.
    #[must_use]
    pub fn org(&self) -> &Org {
        &self.state.org
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.state.config
    }

    /// The next authorize request is declined (`error=access_denied`).
    pub fn deny_next_authorization(&self) {
        self.state
            .deny_next_authorization
            .store(true, Ordering::SeqCst);
    }

    /// The next authorize request is approved by `identity` (a member of the organisation, see
    /// [`Org::member`], or someone from elsewhere, see [`Org::outsider`]).
    pub fn authorize_next_as(&self, identity: Identity) {
        *self
            .state
            .next_identity
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(identity);
    }

    /// A personal access token of the organisation's admin, with every scope of the integration,
    /// valid for 12 hours (as Webex's are): for `WEBEX_ACCESS_TOKEN` in trials and benchmarks.
    #[must_use]
    pub fn issue_personal_token(&self) -> String {
        self.state.issue_personal_token()
    }

    /// The meeting instance `instance_id` is listed with `title` from now on: its List Meetings
    /// item changes, as when a host renames a meeting.
    pub fn retitle(&self, instance_id: &str, title: &str) {
        self.state
            .titles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(instance_id.to_owned(), title.to_owned());
    }

    /// Every refresh token issued so far stops working (`invalid_grant`).
    pub fn revoke_refresh_tokens(&self) {
        self.state.grants().revoke_refresh_tokens();
    }

    /// Every access token issued so far expires now (the API answers 401).
    pub fn expire_access_tokens(&self) {
        let now = self.state.clock.now();
        self.state.grants().expire_access_tokens(now);
    }

    /// Analytics answers 451 unless addressed as `localhost:PORT`, which it names in the answer
    /// (as Webex names the org's regional analytics host).
    pub fn require_regional_analytics_host(&self) {
        self.name_regional_analytics_host(&format!("localhost:{}", self.addr.port()));
    }

    /// Analytics answers 451 unless addressed as `host`, which it names: any host, to see where a
    /// client is willing to go.
    pub fn name_regional_analytics_host(&self, host: &str) {
        *self
            .state
            .regional_host
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(host.to_owned());
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}
