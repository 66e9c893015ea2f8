//! The request loop every Webex call goes through: bearer token, `TrackingID`, timeouts, and what to do
//! with each kind of failure (retry with backoff, wait for `Retry-After`, refresh once on 401, give up).

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use tokio::time::Instant;
use url::Url;

use super::error::WebexError;
use super::http::{
    TRACKING_ID_HEADER, header_text, new_tracking_id, next_link, retry_after, retry_policy,
    webex_message,
};
use super::session::OAuthSession;
use crate::clock::SharedClock;
use crate::config::{Secret, WebexUrls};

/// Tunables of the client. The defaults suit a 5-minute collection cycle.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time allowed for one request, body included.
    pub request_timeout: Duration,
    /// Retries after a 5xx, a timeout or a dropped connection (so `max_retries + 1` attempts).
    pub max_retries: usize,
    /// First backoff delay; it doubles, with jitter, up to `backoff_max`.
    pub backoff_min: Duration,
    /// Largest backoff delay.
    pub backoff_max: Duration,
    /// The wait assumed when a 429 has no usable `Retry-After` (Webex's Python SDK uses 15 s).
    pub default_retry_after: Duration,
    /// At most this many 429 waits inside one call before it reports "rate limited".
    pub max_rate_limit_waits: usize,
    /// `max` for List Meetings (Webex allows at most 100).
    pub meetings_page_size: u32,
    /// `max` for Meeting Qualities (Webex's default is 100; the upper bound is undocumented).
    pub qualities_page_size: u32,
    /// The most instances one List Meetings query can return (10,000 on Webex): a window that reaches
    /// it is split in two and listed again.
    pub meetings_list_cap: usize,
    /// Long windows are listed in slices no longer than this.
    pub meetings_window_slice: chrono::Duration,
    /// The shortest window that is still split when it reaches the cap.
    pub meetings_min_window: chrono::Duration,
    /// The largest response body read; a longer answer is refused, not retried.
    pub max_body_bytes: usize,
    /// The most pages one listing window or one meeting's qualities may take: a `Link` chain longer
    /// than this is refused (10,000 instances at 100 a page is 100 pages).
    pub max_pages: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_retries: 4,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(20),
            default_retry_after: Duration::from_secs(15),
            max_rate_limit_waits: 3,
            meetings_page_size: 100,
            qualities_page_size: 100,
            meetings_list_cap: 10_000,
            meetings_window_slice: chrono::Duration::days(1),
            meetings_min_window: chrono::Duration::minutes(1),
            max_body_bytes: MAX_BODY_BYTES,
            max_pages: 1_000,
        }
    }
}

/// The default body limit: 64 MiB, hundreds of times a qualities page of 100 participant sessions.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How one request failed before an HTTP status could be acted on.
enum SendError {
    /// The request never reached Webex (no connection): worth another attempt.
    Transient(String),
    /// The request was sent and no whole answer came (a timeout, a connection cut mid-answer):
    /// Webex may have served it. Worth another attempt, except for a call Webex counts against a
    /// per-call limit ([`WebexClient::get_counted`]).
    Unanswered(String),
    /// An answer that will not change by asking again (a body over the limit).
    Refused(String),
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A fixed access token (a personal access token for a trial): no refresh, a 401 is final.
    AccessToken(Secret),
    /// An OAuth integration's tokens, refreshed on 401 and when expired.
    OAuth(Arc<OAuthSession>),
}

/// One HTTP answer exactly as received, with what is needed to store and trace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPage {
    /// The URL requested (never carries a secret: the token travels in a header).
    pub request_url: String,
    /// The HTTP status.
    pub status: u16,
    /// Webex's tracking id (the `trackingid` response header, else the one this client sent).
    pub tracking_id: String,
    /// When the answer arrived, by the client's clock.
    pub fetched_at: DateTime<Utc>,
    /// The body, byte for byte.
    pub body: Bytes,
    /// The `Link: <...>; rel="next"` target, if any, verbatim.
    pub next: Option<Url>,
}

/// The Webex API client. Cheap to clone; clones share connections and credentials.
#[derive(Debug, Clone)]
pub struct WebexClient {
    pub(crate) http: reqwest::Client,
    pub(crate) urls: WebexUrls,
    pub(crate) credentials: Credentials,
    pub(crate) options: ClientOptions,
    pub(crate) clock: SharedClock,
    /// The analytics base in use: starts as configured, moves when Webex answers 451.
    pub(crate) analytics: Arc<std::sync::RwLock<Url>>,
}

pub use crate::tls::install_crypto_provider;

/// Builds the HTTP client every Webex call uses: rustls, no redirects (a token endpoint must never be
/// followed elsewhere, and Webex's API does not redirect), connect timeout.
///
/// # Errors
/// When the TLS stack cannot be initialised.
pub fn http_client(options: &ClientOptions) -> Result<reqwest::Client, WebexError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.request_timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("webex-quality/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| WebexError::Config(format!("HTTP client: {e}")))
}

impl WebexClient {
    /// A client for `urls`, authenticating with `credentials`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        urls: WebexUrls,
        credentials: Credentials,
        options: ClientOptions,
        clock: SharedClock,
    ) -> Result<Self, WebexError> {
        let http = http_client(&options)?;
        Ok(Self::with_http(http, urls, credentials, options, clock))
    }

    /// As [`WebexClient::new`], sharing an existing HTTP client.
    #[must_use]
    pub fn with_http(
        http: reqwest::Client,
        urls: WebexUrls,
        credentials: Credentials,
        options: ClientOptions,
        clock: SharedClock,
    ) -> Self {
        let analytics = Arc::new(std::sync::RwLock::new(urls.analytics.clone()));
        Self {
            http,
            urls,
            credentials,
            options,
            clock,
            analytics,
        }
    }

    /// The options in force.
    #[must_use]
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The analytics base URL in use (it moves to a regional host after a 451).
    #[must_use]
    pub fn analytics_url(&self) -> Url {
        self.analytics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_analytics_url(&self, url: Url) {
        *self
            .analytics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = url;
    }

    /// Whether the access token may go to `url` ([`super::token_may_go_to`] with the configured
    /// base URLs).
    pub(crate) fn may_send_token_to(&self, url: &Url) -> bool {
        super::token_may_go_to(url, &[&self.urls.api, &self.urls.analytics])
    }

    async fn bearer(&self) -> Result<Secret, WebexError> {
        match &self.credentials {
            Credentials::AccessToken(token) => Ok(token.clone()),
            Credentials::OAuth(session) => session.access_token().await,
        }
    }

    /// GETs `url` and returns the 200 answer, after the retries the options allow.
    ///
    /// 401 refreshes once and retries once; 429 waits for `Retry-After` unless that passes `deadline`;
    /// 5xx, timeouts and dropped connections back off with jitter up to `max_retries`. Any other status
    /// is a [`WebexError::Status`] (the caller handles 451).
    pub(crate) async fn get(&self, url: &Url, deadline: Instant) -> Result<RawPage, WebexError> {
        self.get_with(url, deadline, true).await
    }

    /// [`Self::get`] for a call Webex counts against a per-call limit (a meeting's first Meeting
    /// Qualities page: one every 5 minutes): an attempt that may have reached Webex (it timed out,
    /// or the answer was cut off) is not repeated, since the repeat would come within the 5
    /// minutes. It fails as [`WebexError::Unavailable`]; the collector calls again in 5 minutes.
    /// Answers (5xx included) and connections never made are retried as by [`Self::get`].
    pub(crate) async fn get_counted(
        &self,
        url: &Url,
        deadline: Instant,
    ) -> Result<RawPage, WebexError> {
        self.get_with(url, deadline, false).await
    }

    async fn get_with(
        &self,
        url: &Url,
        deadline: Instant,
        retry_unanswered: bool,
    ) -> Result<RawPage, WebexError> {
        let url_text = url.as_str().to_owned();
        if !self.may_send_token_to(url) {
            tracing::warn!(url = %url_text, "not sending the access token: not a Webex host over HTTPS nor a configured base URL");
            return Err(WebexError::Refused {
                url: url_text,
                reason: "not a Webex host over HTTPS nor the origin of a configured base URL: the access token is not sent there".into(),
            });
        }
        // The one retry policy (`http::retry_policy`), stepped by hand: this loop also follows 401s
        // (one refresh), 429s (`Retry-After`, bounded by the deadline) and calls not to repeat, which
        // a generic retry combinator cannot express.
        let mut backoff = retry_policy(
            self.options.backoff_min,
            self.options.backoff_max,
            self.options.max_retries,
        )
        .build();
        let mut refreshed = false;
        let mut rate_limit_waits = 0;
        let mut attempts: u32 = 0;
        loop {
            if Instant::now() >= deadline {
                return Err(WebexError::DeadlineReached { url: url_text });
            }
            let token = self.bearer().await?;
            let sent_tracking_id = new_tracking_id();
            attempts += 1;
            let outcome = self
                .send_once(url, &token, &sent_tracking_id, deadline)
                .await;
            let (status, headers, body) = match outcome {
                Ok(answer) => answer,
                Err(SendError::Refused(reason)) => {
                    tracing::warn!(url = %url_text, tracking_id = %sent_tracking_id, %reason, "Webex answer refused");
                    return Err(WebexError::Refused {
                        url: url_text,
                        reason,
                    });
                }
                Err(SendError::Unanswered(detail)) if !retry_unanswered => {
                    tracing::warn!(url = %url_text, tracking_id = %sent_tracking_id, attempt = attempts, %detail, "Webex request unanswered; not repeated (Webex may have counted it)");
                    return Err(WebexError::Unavailable {
                        url: url_text,
                        attempts,
                        tracking_id: sent_tracking_id,
                        detail: format!(
                            "{detail}; not repeated within 5 minutes, since Webex may have counted the call"
                        ),
                    });
                }
                Err(SendError::Transient(detail) | SendError::Unanswered(detail)) => {
                    tracing::warn!(url = %url_text, tracking_id = %sent_tracking_id, attempt = attempts, %detail, "Webex request failed");
                    self.back_off(&mut backoff, deadline).await.map_err(|()| {
                        WebexError::Unavailable {
                            url: url_text.clone(),
                            attempts,
                            tracking_id: sent_tracking_id.clone(),
                            detail,
                        }
                    })?;
                    continue;
                }
            };
            let tracking_id = header_text(&headers, "trackingid").unwrap_or(sent_tracking_id);
            match status {
                StatusCode::OK => {
                    return Ok(RawPage {
                        request_url: url_text,
                        status: status.as_u16(),
                        tracking_id,
                        fetched_at: self.clock.now(),
                        next: next_link(&headers, url),
                        body,
                    });
                }
                StatusCode::UNAUTHORIZED => {
                    tracing::warn!(url = %url_text, %tracking_id, refreshed, "Webex answered 401");
                    match &self.credentials {
                        Credentials::OAuth(session) if !refreshed => {
                            refreshed = true;
                            session.refresh_rejected(&token).await?;
                        }
                        // Refused again with a token Webex has just issued: this call fails, but
                        // the authorization stands (only a refused refresh or a failed
                        // `/people/me` says it is gone), so the other calls go on.
                        Credentials::OAuth(_) => {
                            let message = format!(
                                "refused a freshly refreshed access token ({})",
                                webex_message(&body)
                            );
                            tracing::warn!(url = %url_text, %tracking_id, %message, "Webex answered 401 again after a refresh");
                            return Err(WebexError::Status {
                                status: 401,
                                url: url_text,
                                tracking_id,
                                message,
                                body,
                            });
                        }
                        Credentials::AccessToken(_) => {
                            return Err(WebexError::AuthorizationRequired {
                                reason: format!(
                                    "Webex refused the access token ({})",
                                    webex_message(&body)
                                ),
                                tracking_id: Some(tracking_id),
                            });
                        }
                    }
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(&headers, self.clock.now())
                        .unwrap_or(self.options.default_retry_after);
                    let until = self.clock.now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    tracing::warn!(url = %url_text, %tracking_id, wait_s = wait.as_secs_f64(), "Webex answered 429");
                    rate_limit_waits += 1;
                    let wake = Instant::now().checked_add(wait);
                    match wake {
                        Some(wake)
                            if wake < deadline
                                && rate_limit_waits <= self.options.max_rate_limit_waits =>
                        {
                            tokio::time::sleep_until(wake).await;
                        }
                        _ => {
                            return Err(WebexError::RateLimited {
                                until,
                                retry_after: wait,
                                url: url_text,
                                tracking_id,
                            });
                        }
                    }
                }
                s if s.is_server_error() => {
                    let detail = format!("HTTP {}: {}", s.as_u16(), webex_message(&body));
                    tracing::warn!(url = %url_text, %tracking_id, attempt = attempts, %detail, "Webex server error");
                    self.back_off(&mut backoff, deadline).await.map_err(|()| {
                        WebexError::Unavailable {
                            url: url_text.clone(),
                            attempts,
                            tracking_id: tracking_id.clone(),
                            detail,
                        }
                    })?;
                }
                s => {
                    let message = webex_message(&body);
                    tracing::warn!(url = %url_text, %tracking_id, status = s.as_u16(), %message, "Webex refused the request");
                    return Err(WebexError::Status {
                        status: s.as_u16(),
                        url: url_text,
                        tracking_id,
                        message,
                        body,
                    });
                }
            }
        }
    }

    /// One request, body included, bounded by the request timeout and the deadline.
    async fn send_once(
        &self,
        url: &Url,
        token: &Secret,
        tracking_id: &str,
        deadline: Instant,
    ) -> Result<(StatusCode, HeaderMap, Bytes), SendError> {
        let limit = (Instant::now() + self.options.request_timeout).min(deadline);
        let max = self.options.max_body_bytes;
        let request = async {
            let mut response = self
                .http
                .get(url.clone())
                .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                .header(TRACKING_ID_HEADER, tracking_id)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| {
                    if e.is_connect() {
                        SendError::Transient(describe(&e))
                    } else {
                        SendError::Unanswered(describe(&e))
                    }
                })?;
            let status = response.status();
            let headers = response.headers().clone();
            let too_long = |length: u64| {
                SendError::Refused(format!(
                    "the answer's body ({length} bytes or more) is over the {max}-byte limit"
                ))
            };
            let announced = response.content_length();
            if let Some(length) = announced.filter(|&n| n > max as u64) {
                return Err(too_long(length));
            }
            let mut body = bytes::BytesMut::with_capacity(
                announced.map_or(0, |n| usize::try_from(n).unwrap_or(max)),
            );
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| SendError::Unanswered(describe(&e)))?
            {
                if body.len() + chunk.len() > max {
                    return Err(too_long((body.len() + chunk.len()) as u64));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, headers, body.freeze()))
        };
        match tokio::time::timeout_at(limit, request).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Unanswered(format!(
                "timed out: no complete answer within the request timeout ({:?}) or before the deadline",
                self.options.request_timeout
            ))),
        }
    }

    /// Sleeps for the next backoff delay, or says the retries (or the time) are used up.
    async fn back_off(
        &self,
        backoff: &mut impl Iterator<Item = Duration>,
        deadline: Instant,
    ) -> Result<(), ()> {
        let delay = backoff.next().ok_or(())?;
        let wake = Instant::now() + delay;
        if wake >= deadline {
            return Err(());
        }
        tokio::time::sleep_until(wake).await;
        Ok(())
    }
}

/// A transport error's whole chain, for logs (reqwest hides the cause behind `source`).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
