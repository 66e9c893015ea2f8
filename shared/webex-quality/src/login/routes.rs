//! The login's HTTP routes, one axum [`router`] for the oauth-redirect function and for `serve`:
//!
//! | route | answer |
//! |---|---|
//! | `GET /login` | a small form (with a setup-secret field when one is configured) |
//! | `POST /login` | 303 to Webex's authorize URL with the sealed pending-login cookie, or 403 |
//! | `GET /oauth/callback` | the login finished (200) or refused (400/403/502), the cookie cleared |
//!
//! Every answer is `Cache-Control: no-store`, sends no referrer (the callback's URL holds a code),
//! and is written in our own words: no query or form text is echoed. Links and the form's action
//! are relative, so the routes work under an API Gateway stage or `cargo lambda watch`'s prefix.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::{Callback, LoginService};

/// `GET/POST /login` and `GET /oauth/callback`, for a server that serves other things beside
/// (`serve` adds the dashboard as its fallback).
pub fn router(service: Arc<LoginService>) -> Router {
    Router::new()
        .route("/login", get(form).post(start))
        .route("/oauth/callback", get(callback))
        .layer(axum::middleware::map_response(private_headers))
        .with_state(service)
}

/// [`router`], plus `GET /` redirecting to the login page and a 404 page of our own for anything
/// else: the whole oauth-redirect function.
pub fn standalone_router(service: Arc<LoginService>) -> Router {
    router(service)
        .route(
            "/",
            get(|| async {
                let mut response = StatusCode::FOUND.into_response();
                response
                    .headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("login"));
                private_headers(response).await
            }),
        )
        .fallback(|| async {
            private_headers(page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here. The login page is at login.",
                None,
            ))
            .await
        })
}

async fn private_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A page of our own words; `form` adds the login form.
fn page(status: StatusCode, title: &str, text: &str, form: Option<bool>) -> Response {
    let form = match form {
        None => String::new(),
        Some(with_secret) => format!(
            "<form method=\"post\" action=\"login\">{}<button type=\"submit\">Sign in with Webex</button></form>",
            if with_secret {
                "<p><label>Setup secret <input type=\"password\" name=\"setup_secret\" autocomplete=\"off\" required></label></p>"
            } else {
                ""
            }
        ),
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title} - Webex Quality</title><style>body{{font:16px system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}</style></head><body><h1>{title}</h1><p>{text}</p>{form}</body></html>"
    );
    (status, Html(body)).into_response()
}

async fn form(State(service): State<Arc<LoginService>>) -> Response {
    page(
        StatusCode::OK,
        "Authorize Webex Quality",
        "A Webex administrator authorizes Webex Quality to read the organisation's meetings and their quality. The tokens are kept privately; you can revoke them in Webex at any time.",
        Some(service.needs_setup_secret()),
    )
}

async fn start(State(service): State<Arc<LoginService>>, body: Bytes) -> Response {
    let secret = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "setup_secret")
        .map(|(_, value)| value.into_owned());
    match service.begin(secret.as_deref()) {
        Ok(begun) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let (Ok(location), Ok(cookie)) = (
                HeaderValue::from_str(begun.authorize_url.as_str()),
                HeaderValue::from_str(&begun.set_cookie),
            ) {
                headers.insert(header::LOCATION, location);
                headers.insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(refusal) => refused(&refusal, Some(service.needs_setup_secret())),
    }
}

fn refused(refusal: &super::Refusal, form: Option<bool>) -> Response {
    let (title, text) = refusal.page();
    page(
        StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST),
        title,
        text,
        form,
    )
}

async fn callback(
    State(service): State<Arc<LoginService>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let callback = Callback::from_query(query.as_deref().unwrap_or_default());
    let cookies: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let cookie_header = (!cookies.is_empty()).then(|| cookies.join("; "));
    let mut response = match service.complete(&callback, cookie_header.as_deref()).await {
        Ok(done) => page(
            StatusCode::OK,
            "Authorized",
            &format!(
                "Webex Quality can now collect your organisation's meeting qualities (authorized by {}). Collection starts with the next cycle.",
                html_escape(&done.authorized_by)
            ),
            None,
        ),
        Err(refusal) => refused(&refusal, None),
    };
    if let Ok(clear) = HeaderValue::from_str(&service.clear_cookie()) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// The masked email is Webex's text: escaped like every string from Webex.
fn html_escape(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|escaped| escaped.to_string())
        .unwrap_or_default()
}
