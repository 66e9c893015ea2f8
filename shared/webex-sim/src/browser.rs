//! A scripted browser for the product's login: what an administrator's browser does between the
//! product's login routes and Webex's authorize page (this simulator). The demo logs in with it, and
//! the tests walk (and break) the login with its steps.
//!
//! The product's routes are called in process through its router (`oneshot`, no socket); Webex's
//! authorize page is called over HTTP, as a browser would, following no redirect.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use tower::ServiceExt;
use url::Url;

/// `POST /login` with the form field `setup_secret` (when given).
///
/// # Errors
/// When the router fails (it never does: axum routers are infallible).
pub async fn post_login(app: Router, setup_secret: Option<&str>) -> Result<Response<Body>, String> {
    let body = setup_secret.map_or_else(String::new, |secret| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("setup_secret", secret)
            .finish()
    });
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .map_err(|e| e.to_string())?;
    app.oneshot(request).await.map_err(|e| e.to_string())
}

/// `GET path_and_query` with `cookie` (a `name=value` pair), as the browser follows a redirect.
///
/// # Errors
/// When the request cannot be built.
pub async fn get(
    app: Router,
    path_and_query: &str,
    cookie: Option<&str>,
) -> Result<Response<Body>, String> {
    let mut request = Request::get(path_and_query);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request.body(Body::empty()).map_err(|e| e.to_string())?;
    app.oneshot(request).await.map_err(|e| e.to_string())
}

/// The `name=value` pair of the first cookie a response sets, as a browser would send it back.
#[must_use]
pub fn cookie_of<B>(response: &Response<B>) -> Option<String> {
    response
        .headers()
        .get(header::SET_COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .next()
        .map(str::to_owned)
}

/// Where a response redirects to.
#[must_use]
pub fn location_of<B>(response: &Response<B>) -> Option<String> {
    Some(
        response
            .headers()
            .get(header::LOCATION)?
            .to_str()
            .ok()?
            .to_owned(),
    )
}

/// A browser's HTTP client: follows no redirect (the steps look at each one), and speaks TLS with
/// ring (installed as the process's rustls provider unless one is already).
///
/// # Errors
/// When the TLS stack cannot be initialised.
pub fn client() -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// Opens Webex's authorize page and returns where it sends the browser back (the redirect URI with
/// `code` and `state`, or `error`).
///
/// # Errors
/// When the page cannot be reached or does not redirect.
pub async fn approve(authorize_url: &str) -> Result<Url, String> {
    let response = client()?
        .get(authorize_url)
        .send()
        .await
        .map_err(|e| format!("authorize: {e}"))?;
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| Url::parse(l).ok())
        .ok_or_else(|| {
            format!(
                "authorize answered {} without a redirect",
                response.status()
            )
        })
}

/// The path and query of a URL, as the router sees a request to it.
#[must_use]
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The whole login as an administrator does it: the form posted (with `setup_secret`), Webex's
/// authorize page approved, the callback followed with the cookie. Returns the callback's answer.
///
/// # Errors
/// A description of the step that went wrong.
pub async fn walk_login(app: Router, setup_secret: Option<&str>) -> Result<Response<Body>, String> {
    let started = post_login(app.clone(), setup_secret).await?;
    if started.status() != StatusCode::SEE_OTHER {
        return Err(format!("POST /login answered {}", started.status()));
    }
    let authorize = location_of(&started).ok_or("POST /login did not redirect")?;
    let cookie = cookie_of(&started).ok_or("POST /login set no cookie")?;
    let back = approve(&authorize).await?;
    get(app, &path_and_query(&back), Some(&cookie)).await
}
