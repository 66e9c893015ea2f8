//! The local web side: the OAuth routes (`/login`, `/oauth/callback`), the dashboard's files, and the
//! 5-minute scheduler of `serve`.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower_http::services::ServeDir;
use webex_quality::clock::{SharedClock, SystemClock};
use webex_quality::collect::Access;
use webex_quality::config::{OAuthSettings, Secret, WebexSettings};
use webex_quality::storage::SharedStore;
use webex_quality::tokens::TokenStore;
use webex_quality::webex::{ClientOptions, OAuthClient, TokenRecord};

use crate::commands::{collector, cycle_result, render_with, say};
use crate::{CliError, Global, LoginArgs, ServeArgs, site_folder};

/// How long a started login may take before its `state` is forgotten.
const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Logins started and not finished that are remembered at most (the oldest is forgotten first), so
/// that a flood of `/login` requests cannot grow memory.
const MAX_PENDING_LOGINS: usize = 64;

/// Pending logins: `state` to PKCE verifier and when it was issued.
type Pending = Mutex<HashMap<String, (Secret, std::time::Instant)>>;

struct OAuthState {
    oauth: OAuthClient,
    tokens: TokenStore,
    pending: Pending,
    /// Told after every successful login.
    logged_in: Notify,
}

#[derive(serde::Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn start_login(State(state): State<Arc<OAuthState>>) -> Response {
    let request = state.oauth.authorize_url();
    if let Ok(mut pending) = state.pending.lock() {
        pending.retain(|_, (_, at)| at.elapsed() < LOGIN_WINDOW);
        while pending.len() >= MAX_PENDING_LOGINS {
            let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(state, _)| state.clone())
            else {
                break;
            };
            pending.remove(&oldest);
        }
        pending.insert(
            request.state.clone(),
            (request.pkce_verifier, std::time::Instant::now()),
        );
    }
    Redirect::to(request.url.as_str()).into_response()
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    // Only our own words go into this page; the error text from the query is not echoed.
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p><p><a href=\"/\">Dashboard</a></p></body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

async fn callback(State(state): State<Arc<OAuthState>>, Query(query): Query<Callback>) -> Response {
    if let Some(error) = query.error {
        tracing::warn!(%error, description = ?query.error_description, "authorization refused");
        return page(
            StatusCode::BAD_REQUEST,
            "Authorization refused",
            "Webex did not grant access. Try again from /login with an administrator account.",
        );
    }
    let verifier = query.state.as_deref().and_then(|s| {
        state
            .pending
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(s))
            .filter(|(_, at)| at.elapsed() < LOGIN_WINDOW)
    });
    let (Some(code), Some((verifier, _))) = (query.code, verifier) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown or expired login",
            "This callback does not match a login started here. Start again from /login.",
        );
    };
    let record = match state.oauth.exchange_code(&code, &verifier).await {
        Ok(record) => record,
        Err(error) => {
            tracing::warn!(%error, "code exchange failed");
            return page(
                StatusCode::BAD_GATEWAY,
                "Login failed",
                "Webex did not accept the authorization code. Start again from /login.",
            );
        }
    };
    if let Err(error) = state.tokens.store_login(record).await {
        tracing::error!(%error, "storing the tokens failed");
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Login not saved",
            "The tokens could not be stored in the data folder. See the log.",
        );
    }
    state.logged_in.notify_one();
    page(
        StatusCode::OK,
        "Authorized",
        "Webex Quality can now collect meeting qualities. The first cycle starts now.",
    )
}

fn oauth_routes(state: Arc<OAuthState>) -> Router {
    Router::new()
        .route("/login", get(start_login))
        .route("/oauth/callback", get(callback))
        .with_state(state)
}

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

/// The settings with a default redirect URI on the local listener.
fn settings_for(global: &Global, listener: &TcpListener) -> Result<WebexSettings, CliError> {
    let port = listener
        .local_addr()
        .map_err(|e| CliError::failed("listener", e))?
        .port();
    let default_redirect = format!("http://localhost:{port}/oauth/callback");
    Ok(WebexSettings::from_lookup(|name| {
        global.lookup(name).or_else(|| {
            (name == "WEBEX_REDIRECT_URI" && global.lookup("WEBEX_CLIENT_ID").is_some())
                .then(|| default_redirect.clone())
        })
    })?)
}

fn oauth_state(
    settings: &WebexSettings,
    oauth: &OAuthSettings,
    store: &SharedStore,
    clock: &SharedClock,
) -> Result<Arc<OAuthState>, CliError> {
    let options = ClientOptions::default();
    let http = webex_quality::webex::http_client(&options)
        .map_err(|e| CliError::failed("HTTP client", e))?;
    let client = OAuthClient::new(oauth, &settings.urls.api, http, &options, clock.clone())
        .map_err(|e| CliError::failed("OAuth client", e))?;
    Ok(Arc::new(OAuthState {
        oauth: client,
        tokens: TokenStore::new(store.clone(), clock.clone()),
        pending: Mutex::new(HashMap::new()),
        logged_in: Notify::new(),
    }))
}

/// The dashboard's files, with the OAuth routes beside them when given.
fn site_router(site: &Path, oauth: Option<Arc<OAuthState>>) -> Router {
    let files = ServeDir::new(site);
    let router = match oauth {
        Some(state) => oauth_routes(state),
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
    let settings = settings_for(global, &listener)?;
    let (data, store) = global.data_store(true)?;
    let site = site_folder(&data, &args.out)?;
    std::fs::create_dir_all(&site)
        .map_err(|e| CliError::failed(&format!("site folder {}", site.display()), e))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let (access, oauth) = match (&settings.oauth, &settings.access_token) {
        (Some(oauth), _) => (
            Access::OAuth(oauth.clone()),
            Some(oauth_state(&settings, oauth, &store, &clock)?),
        ),
        (None, Some(token)) => (Access::PersonalToken(token.clone()), None),
        (None, None) => {
            return Err(CliError::Usage(
                "serve needs an integration (WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET; the redirect URI defaults to http://localhost:<port>/oauth/callback) or WEBEX_ACCESS_TOKEN".into(),
            ));
        }
    };
    let collector = collector(
        store.clone(),
        &data,
        &settings,
        access,
        clock.clone(),
        global,
    )?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failed("listener", e))?;
    if !local.ip().is_loopback() {
        tracing::warn!(
            %local,
            "the dashboard has no login of its own: anyone who can reach this address sees it; keep serve on a loopback address or behind an authenticating proxy"
        );
    }
    say(global, &format!("dashboard: http://{local}/"));
    if oauth.is_some() {
        say(global, &format!("authorize:  http://{local}/login"));
    }

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let logged_in = oauth.clone();
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
                        Some(state) => state.logged_in.notified().await,
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
        axum::serve(listener, site_router(&site, oauth)).with_graceful_shutdown(async move {
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

/// `login`: the OAuth routes on the redirect URI's port until one login succeeds.
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
    let settings = settings_for(global, &listener)?;
    let Some(oauth) = &settings.oauth else {
        return Err(CliError::Usage(
            "login needs an integration: set WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET (and WEBEX_REDIRECT_URI if it is not http://localhost:8080/oauth/callback)".into(),
        ));
    };
    let (_, store) = global.data_store(true)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let state = oauth_state(&settings, oauth, &store, &clock)?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failed("listener", e))?;
    println!("Open http://{local}/login in a browser and sign in as a Webex administrator.");
    let done = state.clone();
    axum::serve(listener, oauth_routes(state))
        .with_graceful_shutdown(async move { done.logged_in.notified().await })
        .await
        .map_err(|e| CliError::failed("server", e))?;
    say(global, "authorized: tokens stored in the data folder");
    Ok(())
}

/// The authorize step as a browser does it: open the authorize URL, follow nothing, read the code
/// from the redirect, check `state`, exchange the code with the PKCE verifier.
pub(crate) async fn browser_authorize(oauth: &OAuthClient) -> Result<TokenRecord, CliError> {
    let request = oauth.authorize_url();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::failed("browser", e))?;
    let response = browser
        .get(request.url.clone())
        .send()
        .await
        .map_err(|e| CliError::failed("authorize", e))?;
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok())
        .ok_or_else(|| {
            CliError::Failed(format!(
                "authorize answered {} without a redirect",
                response.status()
            ))
        })?;
    let pairs: HashMap<String, String> = location.query_pairs().into_owned().collect();
    if pairs.get("state") != Some(&request.state) {
        return Err(CliError::Failed(
            "the authorize redirect came back with another state".into(),
        ));
    }
    let code = pairs
        .get("code")
        .ok_or_else(|| CliError::Failed("the authorize redirect carries no code".into()))?;
    oauth
        .exchange_code(code, &request.pkce_verifier)
        .await
        .map_err(|e| CliError::failed("code exchange", e))
}
