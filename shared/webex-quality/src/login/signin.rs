//! Viewers sign in with Webex: the dashboard behind CloudFront is served only to browsers holding
//! cookies that CloudFront verifies ([`super::cloudfront`]), and these routes hand them out.
//!
//! | route | answer |
//! |---|---|
//! | `GET /auth/login?return=/path` | 303 to Webex (scope `spark:people_read` only) with a sealed pending sign-in |
//! | `GET /auth/callback` | the signed cookies and 303 back to the page asked for, or a refusal page |
//! | `GET /auth/required` | CloudFront's answer to a viewer without cookies: a page that signs in |
//! | `GET /auth/return.js` | the page's script: on to the sign-in, keeping the path asked for |
//!
//! Who may view: a person of the organisation (`WEBEX_QUALITY_ORG_ID`, else the one the
//! administrator's login pinned), and, when `WEBEX_QUALITY_VIEWERS` is set, listed by email or
//! domain. The viewer's token is used once, for `/people/me`, and forgotten. The return path is a
//! path of this site or `/`: never another site.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::cloudfront::CookieSigner;
use super::pending::{PendingLogin, Sealer};
use super::{Callback, CallbackFault, check_callback, person_of};
use crate::clock::SharedClock;
use crate::config::{LoginConfig, OAuthSettings, SignInConfig, WebexUrls};
use crate::privacy::mask_email;
use crate::storage::SharedStore;
use crate::tokens::TokenStore;
use crate::webex::{ClientOptions, OAuthClient, WebexError, http_client};

/// Why a sign-in was refused; each has a page of our own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Webex or the viewer declined.
    Denied,
    /// The callback matches no sign-in begun in this browser (no cookie, forged, other state, no
    /// code), or it began too long ago.
    Unknown,
    /// Webex refused the code, could not be reached, or answered with something unusable.
    Webex,
    /// No organisation is known yet: no administrator has logged in, none is configured.
    NotSetUp,
    /// The viewer belongs to another organisation.
    OtherOrganisation,
    /// `WEBEX_QUALITY_VIEWERS` does not list them.
    NotListed,
    /// The cookies could not be signed.
    Signing,
}

impl SignInRefusal {
    fn status(self) -> StatusCode {
        match self {
            Self::OtherOrganisation | Self::NotListed => StatusCode::FORBIDDEN,
            Self::Webex => StatusCode::BAD_GATEWAY,
            Self::NotSetUp => StatusCode::SERVICE_UNAVAILABLE,
            Self::Signing => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Denied | Self::Unknown => StatusCode::BAD_REQUEST,
        }
    }

    fn page(self) -> (&'static str, &'static str) {
        match self {
            Self::Denied => ("Sign-in cancelled", "Webex did not sign you in."),
            Self::Unknown => (
                "Sign-in expired",
                "This answer from Webex matches no sign-in started in this browser in the last 15 minutes.",
            ),
            Self::Webex => (
                "Webex unavailable",
                "Webex could not be reached or did not confirm who you are. Try again in a few minutes.",
            ),
            Self::NotSetUp => (
                "Not set up yet",
                "No administrator has connected this dashboard to a Webex organisation yet.",
            ),
            Self::OtherOrganisation => (
                "Another organisation",
                "This dashboard belongs to another Webex organisation than your account's.",
            ),
            Self::NotListed => (
                "Not on the list",
                "Your account is in the organisation but not among the people allowed to view this dashboard. Ask its administrator.",
            ),
            Self::Signing => (
                "Sign-in failed",
                "The dashboard could not sign you in; the log says why.",
            ),
        }
    }
}

/// A finished sign-in: the cookies to set and where to go.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// The path to go back to.
    pub return_to: String,
}

/// The viewers' sign-in: stateless between requests, like the admin's login.
#[derive(Debug)]
pub struct SignIn {
    oauth: OAuthClient,
    urls: WebexUrls,
    http: reqwest::Client,
    options: ClientOptions,
    clock: SharedClock,
    tokens: TokenStore,
    org_id: Option<String>,
    config: SignInConfig,
    signer: CookieSigner,
    sealer: Sealer,
}

/// `raw` when it is a path of this site, else `/`: no scheme, no host (`//x`, `/\x`), no control
/// characters, not absurdly long.
#[must_use]
pub fn safe_return_path(raw: Option<&str>) -> String {
    match raw {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 2000
                && !path.chars().any(|c| c.is_control() || c == '\\')
                && !path.starts_with("/auth/") =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

impl SignIn {
    /// The sign-in for `config`, with the integration of `login` (its client id and secret; its
    /// own redirect URI and a single scope).
    ///
    /// # Errors
    /// A key that cannot sign, or an HTTP client that cannot be built.
    pub fn new(
        login: &LoginConfig,
        config: &SignInConfig,
        store: SharedStore,
        options: ClientOptions,
        clock: SharedClock,
    ) -> Result<Self, String> {
        let http = http_client(&options).map_err(|e| e.to_string())?;
        let settings = OAuthSettings {
            client_id: login.oauth.client_id.clone(),
            client_secret: login.oauth.client_secret.clone(),
            redirect_uri: config.redirect_uri(),
            scopes: vec!["spark:people_read".into()],
        };
        let oauth = OAuthClient::new(
            &settings,
            &login.urls.api,
            http.clone(),
            &options,
            clock.clone(),
        )
        .map_err(|e| e.to_string())?;
        let signer = CookieSigner::new(&config.key, &config.key_id, &config.dashboard)?;
        let sealer = Sealer::named(
            "wq-signin",
            &[&login.oauth.client_secret, &config.key],
            true,
        );
        Ok(Self {
            oauth,
            urls: login.urls.clone(),
            http,
            options,
            tokens: TokenStore::new(store, clock.clone()),
            clock,
            org_id: login.org_id.clone(),
            config: config.clone(),
            signer,
            sealer,
        })
    }

    /// Begins a sign-in that returns to `return_to` (made safe): Webex's authorize URL and the
    /// `Set-Cookie` of the pending sign-in.
    #[must_use]
    pub fn begin(&self, return_to: Option<&str>) -> (String, String) {
        let request = self.oauth.authorize_url();
        let cookie = self.sealer.seal(&PendingLogin {
            state: request.state,
            verifier: request.pkce_verifier,
            issued_at: self.clock.now(),
            return_to: Some(safe_return_path(return_to)),
        });
        (request.url.to_string(), cookie)
    }

    /// The `Set-Cookie` value that removes the pending sign-in.
    #[must_use]
    pub fn clear_cookie(&self) -> String {
        self.sealer.clear()
    }

    /// Finishes a sign-in: the callback against the cookie, the code for a token, `/people/me`
    /// for who it is, their organisation and the list, then the signed cookies.
    ///
    /// # Errors
    /// A [`SignInRefusal`]; no cookie is signed then.
    pub async fn complete(
        &self,
        callback: &Callback,
        cookie_header: Option<&str>,
    ) -> Result<SignedIn, SignInRefusal> {
        let refuse = |refusal: SignInRefusal| {
            tracing::warn!(?refusal, "a sign-in was refused");
            refusal
        };
        let (pending, code) =
            check_callback(&self.sealer, callback, cookie_header, self.clock.now()).map_err(
                |fault| {
                    refuse(match fault {
                        CallbackFault::Denied => SignInRefusal::Denied,
                        _ => SignInRefusal::Unknown,
                    })
                },
            )?;
        let record = self
            .oauth
            .exchange_code(code, &pending.verifier)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "the sign-in's code exchange failed");
                refuse(SignInRefusal::Webex)
            })?;
        let person = person_of(
            (&self.http, &self.urls, &self.options, &self.clock),
            &record.access_token,
        )
        .await
        .map_err(|error: WebexError| {
            tracing::warn!(%error, "people/me failed for a sign-in");
            refuse(SignInRefusal::Webex)
        })?;
        drop(record);
        let organisation = match &self.org_id {
            Some(org) => Some(org.clone()),
            None => self
                .tokens
                .load()
                .await
                .map_err(|error| {
                    tracing::error!(%error, "the token object could not be read for a sign-in");
                    refuse(SignInRefusal::Webex)
                })?
                .and_then(|(state, _)| state.org_id),
        };
        let Some(organisation) = organisation else {
            return Err(refuse(SignInRefusal::NotSetUp));
        };
        if person.org_id.is_empty() || person.org_id != organisation {
            return Err(refuse(SignInRefusal::OtherOrganisation));
        }
        if !person.emails.iter().any(|e| self.config.may_view(e)) {
            return Err(refuse(SignInRefusal::NotListed));
        }
        let now = self.clock.now();
        let expires = now + chrono::Duration::hours(i64::from(self.config.hours));
        let cookies = self.signer.set_cookies(now, expires).map_err(|error| {
            tracing::error!(%error, "the sign-in cookies could not be signed");
            refuse(SignInRefusal::Signing)
        })?;
        tracing::info!(
            viewer = %mask_email(person.emails.first().map_or("", String::as_str)),
            "a viewer signed in"
        );
        Ok(SignedIn {
            cookies,
            return_to: safe_return_path(pending.return_to.as_deref()),
        })
    }
}

/// The sign-in's routes (`/auth/...`), to merge into the oauth-redirect function's router.
pub fn router(signin: Arc<SignIn>) -> Router {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/required", get(required))
        .route("/auth/return.js", get(return_script))
        .layer(axum::middleware::map_response(private_headers))
        .with_state(signin)
}

async fn private_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn page(status: StatusCode, title: &str, text: &str, sign_in: bool) -> Response {
    let link = if sign_in {
        "<p><a id=\"sign-in\" href=\"/auth/login\">Sign in with Webex</a></p><script src=\"/auth/return.js\" defer></script>"
    } else {
        "<p><a href=\"/auth/login\">Sign in again</a></p>"
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title} · Webex Quality</title></head><body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem\"><h1>{title}</h1><p>{text}</p>{link}</body></html>"
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn login(State(signin): State<Arc<SignIn>>, RawQuery(query): RawQuery) -> Response {
    let return_to = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "return")
            .map(|(_, v)| v.into_owned())
    });
    let (authorize, cookie) = signin.begin(return_to.as_deref());
    see_other(&authorize, &[cookie])
}

async fn callback(
    State(signin): State<Arc<SignIn>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let callback = Callback::from_query(query.as_deref().unwrap_or(""));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let cookie = (!cookie.is_empty()).then_some(cookie);
    let clear = signin.clear_cookie();
    match signin.complete(&callback, cookie.as_deref()).await {
        Ok(signed_in) => {
            let mut cookies = signed_in.cookies;
            cookies.push(clear);
            see_other(&signed_in.return_to, &cookies)
        }
        Err(refusal) => {
            let (title, text) = refusal.page();
            let mut response = page(refusal.status(), title, text, false);
            if let Ok(value) = HeaderValue::from_str(&clear) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
    }
}

/// CloudFront answers a viewer without valid cookies with this page (its 403 error response), at
/// the address they asked for.
async fn required() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Sign in to view",
        "This dashboard is private to its Webex organisation. Sign in with your Webex account to see it.",
        true,
    )
}

/// Points the sign-in link at `/auth/login?return=<the page asked for>` and follows it: a viewer
/// without cookies goes straight to Webex and back. Without JavaScript the link is there to click
/// (and returns to the overview).
async fn return_script() -> Response {
    let mut response = (
        StatusCode::OK,
        "(function(){var a=document.getElementById('sign-in');if(!a){return;}if(location.pathname.indexOf('/auth/')!==0){a.href='/auth/login?return='+encodeURIComponent(location.pathname+location.search);}location.replace(a.href);})();\n",
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(
            safe_return_path(Some("/meetings.html?x=1")),
            "/meetings.html?x=1"
        );
        assert_eq!(
            safe_return_path(Some("/people/ab12.html")),
            "/people/ab12.html"
        );
        for hostile in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "/a\\b",
            "javascript:alert(1)",
            "/x\r\nSet-Cookie: a=b",
            "/auth/callback?code=1",
            "",
        ] {
            assert_eq!(safe_return_path(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_return_path(None), "/");
        assert_eq!(
            safe_return_path(Some(&format!("/{}", "a".repeat(3000)))),
            "/"
        );
    }
}
