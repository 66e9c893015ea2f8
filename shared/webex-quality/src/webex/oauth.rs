//! OAuth 2.0 with Webex: the authorize URL (with `state` and PKCE S256), the code exchange and the
//! refresh, through the `oauth2` crate over our own HTTP client (no redirects, `TrackingID`, bounded
//! retries on 5xx and dropped connections), and the token record with absolute expiry times.
//!
//! Webex wants `client_id` and `client_secret` in the form body, answers with `expires_in` and
//! `refresh_token_expires_in` in seconds, may rotate the refresh token on refresh (or give the same one
//! back), and answers a dead refresh token with 400 and either an OAuth `invalid_grant` body or its own
//! `{"message": ...}` shape. Both shapes, and any 400 or 401 on the token endpoint, mean that a human has
//! to authorize again: [`WebexError::AuthorizationRequired`].

use std::fmt;
use std::time::Duration;

use backon::Retryable;
use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::error::WebexError;
use super::http::{TRACKING_ID_HEADER, new_tracking_id, retry_policy, webex_message};
use crate::clock::SharedClock;
use crate::config::{OAuthSettings, Secret};

/// The token record: what the private token object holds.
///
/// Expiry times are absolute, computed when the answer arrived. `Debug` shows the times, never the
/// tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The bearer token.
    pub access_token: Secret,
    /// When it stops working.
    pub access_expires_at: DateTime<Utc>,
    /// The refresh token, if Webex gave one.
    pub refresh_token: Option<Secret>,
    /// When the refresh token stops working (a human must authorize again before then).
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// When this record was obtained.
    pub obtained_at: DateTime<Utc>,
    /// The scopes that were asked for.
    pub scopes: Vec<String>,
}

impl TokenRecord {
    /// True when the access token has expired, or will within `margin`.
    #[must_use]
    pub fn access_expires_within(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        self.access_expires_at <= now + margin
    }
}

/// An authorize URL to send the admin's browser to, with what the callback needs to check it.
///
/// `state` and the PKCE verifier must be kept (privately) until the callback arrives.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// `.../v1/authorize?client_id=...&response_type=code&redirect_uri=...&scope=...&state=...&code_challenge=...&code_challenge_method=S256`.
    pub url: Url,
    /// The CSRF value the callback's `state` must equal.
    pub state: String,
    /// The PKCE verifier to send with the code.
    pub pkce_verifier: Secret,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct WebexTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<u64>,
}

impl ExtraTokenFields for WebexTokenFields {}

type WebexTokenResponse = StandardTokenResponse<WebexTokenFields, BasicTokenType>;

type Oauth2Client = oauth2::Client<
    BasicErrorResponse,
    WebexTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Why the token endpoint's HTTP exchange failed, before `oauth2` parses anything.
#[derive(Debug, thiserror::Error)]
enum TokenHttpError {
    #[error("token endpoint answered HTTP {status} (tracking id {tracking_id}): {message}")]
    Status {
        status: u16,
        tracking_id: String,
        message: String,
        body: bytes::Bytes,
    },
    #[error(
        "token endpoint failed after {attempts} attempts (tracking id {tracking_id}): {detail}"
    )]
    Unavailable {
        attempts: u32,
        tracking_id: String,
        detail: String,
    },
}

/// The OAuth client of a Webex integration.
#[derive(Clone)]
pub struct OAuthClient {
    inner: Oauth2Client,
    http: reqwest::Client,
    scopes: Vec<String>,
    token_url: Url,
    pub(super) clock: SharedClock,
    request_timeout: Duration,
    max_retries: usize,
    backoff: (Duration, Duration),
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", self.inner.client_id())
            .field("token_url", &self.token_url.as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// An OAuth client for the integration in `settings`, with its endpoints under `api_url`
    /// (`.../v1/authorize` and `.../v1/access_token`).
    ///
    /// # Errors
    /// [`WebexError::Config`] when the endpoints cannot be derived from `api_url`.
    pub fn new(
        settings: &OAuthSettings,
        api_url: &Url,
        http: reqwest::Client,
        options: &super::ClientOptions,
        clock: SharedClock,
    ) -> Result<Self, WebexError> {
        let join = |path: &str| {
            api_url
                .join(path)
                .map_err(|e| WebexError::Config(format!("{api_url} cannot take {path}: {e}")))
        };
        let token_url = join("access_token")?;
        let inner = oauth2::Client::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose().to_owned(),
            ))
            .set_auth_uri(AuthUrl::from_url(join("authorize")?))
            .set_token_uri(TokenUrl::from_url(token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(settings.redirect_uri.clone()))
            .set_auth_type(AuthType::RequestBody);
        Ok(Self {
            inner,
            http,
            scopes: settings.scopes.clone(),
            token_url,
            clock,
            request_timeout: options.request_timeout,
            max_retries: options.max_retries,
            backoff: (options.backoff_min, options.backoff_max),
        })
    }

    /// A new authorize URL with a random `state` and a PKCE S256 challenge.
    #[must_use]
    pub fn authorize_url(&self) -> AuthorizationRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .inner
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        AuthorizationRequest {
            url,
            state: state.secret().clone(),
            pkce_verifier: Secret::new(verifier.secret().clone()),
        }
    }

    /// Exchanges the callback's `code` (with the PKCE verifier of its request) for tokens.
    ///
    /// # Errors
    /// [`WebexError::AuthorizationRequired`] when Webex refuses the code (400/401, `invalid_grant`);
    /// [`WebexError::Unavailable`] after bounded retries on 5xx and transport failures;
    /// [`WebexError::Malformed`] when the 200 answer is not a token response.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &Secret,
    ) -> Result<TokenRecord, WebexError> {
        let http = self.http_fn();
        let response = self
            .inner
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose().to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| self.token_error(e))?;
        Ok(self.record(&response, None))
    }

    /// Refreshes `previous`. A rotated refresh token replaces the old one; when Webex sends none, the
    /// old one and its expiry are kept.
    ///
    /// # Errors
    /// As [`OAuthClient::exchange_code`]; [`WebexError::AuthorizationRequired`] also when `previous`
    /// has no refresh token or it has expired.
    pub async fn refresh(&self, previous: &TokenRecord) -> Result<TokenRecord, WebexError> {
        let Some(refresh_token) = &previous.refresh_token else {
            return Err(WebexError::AuthorizationRequired {
                reason: "there is no refresh token; authorize the integration again".into(),
                tracking_id: None,
            });
        };
        if let Some(expired) = previous.refresh_expires_at
            && expired <= self.clock.now()
        {
            return Err(WebexError::AuthorizationRequired {
                reason: format!(
                    "the refresh token expired at {expired}; authorize the integration again"
                ),
                tracking_id: None,
            });
        }
        let http = self.http_fn();
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let response = self
            .inner
            .exchange_refresh_token(&token)
            .request_async(&http)
            .await
            .map_err(|e| self.token_error(e))?;
        Ok(self.record(&response, Some(previous)))
    }

    fn record(&self, response: &WebexTokenResponse, previous: Option<&TokenRecord>) -> TokenRecord {
        let now = self.clock.now();
        let after = |seconds: u64| expires_after(now, seconds);
        let access_expires_at = match response.expires_in() {
            Some(lifetime) => after(lifetime.as_secs()),
            // Webex always says; without it, assume the shortest lifetime any Webex token has.
            None => after(3_600),
        };
        let (refresh_token, refresh_expires_at) = match response.refresh_token() {
            Some(token) => (
                Some(Secret::new(token.secret().clone())),
                response.extra_fields().refresh_token_expires_in.map(after),
            ),
            None => (
                previous.and_then(|p| p.refresh_token.clone()),
                previous.and_then(|p| p.refresh_expires_at),
            ),
        };
        TokenRecord {
            access_token: Secret::new(response.access_token().secret().clone()),
            access_expires_at,
            refresh_token,
            refresh_expires_at,
            obtained_at: now,
            scopes: previous.map_or_else(|| self.scopes.clone(), |p| p.scopes.clone()),
        }
    }

    /// The HTTP function `oauth2` calls: one POST with retries on 5xx and transport failures; any
    /// other non-200 answer becomes a [`TokenHttpError::Status`].
    fn http_fn(
        &self,
    ) -> impl Fn(
        HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<HttpResponse, TokenHttpError>> + Send>,
    > + use<> {
        let http = self.http.clone();
        let timeout = self.request_timeout;
        let max_retries = self.max_retries;
        let (min_delay, max_delay) = self.backoff;
        move |request: HttpRequest| {
            let http = http.clone();
            Box::pin(async move {
                let attempts = std::sync::atomic::AtomicU32::new(0);
                let attempt = || async {
                    let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let sent_tracking_id = new_tracking_id();
                    match send_token_request(&http, &request, &sent_tracking_id, timeout).await {
                        Ok(response) if response.status().is_success() => Ok(response),
                        Ok(response) => {
                            let tracking_id = response
                                .headers()
                                .get("trackingid")
                                .and_then(|v| v.to_str().ok())
                                .map_or_else(|| sent_tracking_id.clone(), str::to_owned);
                            let status = response.status().as_u16();
                            let message = webex_message(response.body());
                            if !response.status().is_server_error() {
                                return Err(TokenHttpError::Status {
                                    status,
                                    tracking_id,
                                    message,
                                    body: bytes::Bytes::from(response.into_body()),
                                });
                            }
                            tracing::warn!(%tracking_id, status, %message, attempt, "token endpoint server error");
                            Err(TokenHttpError::Unavailable {
                                attempts: attempt,
                                tracking_id,
                                detail: format!("HTTP {status}: {message}"),
                            })
                        }
                        Err(detail) => {
                            tracing::warn!(tracking_id = %sent_tracking_id, %detail, attempt, "token endpoint request failed");
                            Err(TokenHttpError::Unavailable {
                                attempts: attempt,
                                tracking_id: sent_tracking_id,
                                detail,
                            })
                        }
                    }
                };
                // Only 5xx answers and failed requests are tried again; a refusal is final.
                attempt
                    .retry(retry_policy(min_delay, max_delay, max_retries))
                    .sleep(tokio::time::sleep)
                    .when(|error| matches!(error, TokenHttpError::Unavailable { .. }))
                    .await
            })
        }
    }

    fn token_error(
        &self,
        error: RequestTokenError<TokenHttpError, BasicErrorResponse>,
    ) -> WebexError {
        let url = self.token_url.to_string();
        match error {
            RequestTokenError::Request(TokenHttpError::Status {
                status: 400 | 401,
                tracking_id,
                message,
                ..
            }) => {
                tracing::warn!(%tracking_id, %message, "Webex refused the grant: authorization required");
                WebexError::AuthorizationRequired {
                    reason: message,
                    tracking_id: Some(tracking_id),
                }
            }
            // The body is not kept: the token endpoint's answers are not Webex data.
            RequestTokenError::Request(TokenHttpError::Status {
                status,
                tracking_id,
                message,
                ..
            }) => WebexError::Status {
                status,
                url,
                tracking_id,
                message,
                body: bytes::Bytes::new(),
            },
            RequestTokenError::Request(TokenHttpError::Unavailable {
                attempts,
                tracking_id,
                detail,
            }) => WebexError::Unavailable {
                url,
                attempts,
                tracking_id,
                detail,
            },
            RequestTokenError::ServerResponse(response) => WebexError::AuthorizationRequired {
                reason: response.to_string(),
                tracking_id: None,
            },
            // Never kept: a token response that does not parse may still hold a token.
            RequestTokenError::Parse(_, body) => WebexError::BadTokenResponse {
                url,
                length: body.len(),
            },
            RequestTokenError::Other(detail) => WebexError::Unavailable {
                url,
                attempts: 1,
                tracking_id: String::new(),
                detail,
            },
        }
    }
}

async fn send_token_request(
    http: &reqwest::Client,
    request: &HttpRequest,
    tracking_id: &str,
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let url = request.uri().to_string();
    let mut builder = http
        .request(request.method().clone(), url)
        .headers(request.headers().clone())
        .header(TRACKING_ID_HEADER, tracking_id)
        .body(request.body().clone())
        .timeout(timeout);
    builder = builder.version(request.version());
    let response = builder.send().await.map_err(|e| e.to_string())?;
    let mut out = http::Response::builder()
        .status(response.status())
        .version(response.version());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    out.body(body.to_vec()).map_err(|e| e.to_string())
}

/// The longest token lifetime taken as said (Webex's refresh tokens live 90 days): a longer
/// `expires_in` expires after this long, so that no answer can make a time out of range.
const MAX_TOKEN_LIFETIME_SECONDS: u64 = 10 * 366 * 24 * 60 * 60;

/// When a token said to live `seconds` from `now` expires (capped, see
/// [`MAX_TOKEN_LIFETIME_SECONDS`]).
fn expires_after(now: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    let seconds = i64::try_from(seconds.min(MAX_TOKEN_LIFETIME_SECONDS)).unwrap_or(0);
    now.checked_add_signed(chrono::Duration::seconds(seconds))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::base_url;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Answers every connection with `answer`, counting connections.
    async fn raw_server(answer: String) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0_u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (addr, hits)
    }

    /// An OAuth client whose Webex is at `webex`.
    fn client_of(webex: std::net::SocketAddr) -> OAuthClient {
        let options = super::super::ClientOptions::default();
        let settings = OAuthSettings {
            client_id: "C1".into(),
            client_secret: Secret::new("s3cret"),
            redirect_uri: Url::parse("http://localhost:8080/oauth/callback").unwrap(),
            scopes: vec!["analytics:read_all".into()],
        };
        OAuthClient::new(
            &settings,
            &base_url(&format!("http://{webex}/v1")).unwrap(),
            super::super::http_client(&options).unwrap(),
            &options,
            crate::clock::system(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_token_client_never_follows_a_redirect() {
        let (elsewhere, stolen) =
            raw_server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".into()).await;
        let (webex, _) = raw_server(format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{elsewhere}/steal\r\nContent-Length: 0\r\n\r\n"
        ))
        .await;
        let client = client_of(webex);
        let err = client
            .exchange_code("a-code", &Secret::new("verifier"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, WebexError::Status { status: 302, .. }),
            "{err:?}"
        );
        assert_eq!(
            stolen.load(Ordering::SeqCst),
            0,
            "the redirect was not followed"
        );
    }

    #[tokio::test]
    async fn a_token_answer_that_does_not_parse_keeps_no_token_in_the_error() {
        let body = r#"{"access_token":"leaked-access-token-value","expires_in":"soon","refresh_token":"leaked-refresh"}"#;
        let (webex, _) = raw_server(format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
        let client = client_of(webex);
        let err = client
            .exchange_code("a-code", &Secret::new("verifier"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, WebexError::BadTokenResponse { .. }),
            "{err:?}"
        );
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("leaked"), "{text}");
        }
    }

    #[test]
    fn a_hostile_lifetime_expires_in_ten_years_at_most_and_never_panics() {
        let now = chrono::Utc::now();
        assert_eq!(expires_after(now, 3_600), now + chrono::Duration::hours(1));
        for hostile in [u64::MAX, u64::MAX / 2, i64::MAX as u64] {
            let at = expires_after(now, hostile);
            assert!(
                at > now && at <= now + chrono::Duration::days(3_660),
                "{at}"
            );
        }
        assert_eq!(
            expires_after(DateTime::<Utc>::MAX_UTC, 60),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn a_record_knows_when_it_is_about_to_expire() {
        let now = chrono::Utc::now();
        let record = TokenRecord {
            access_token: Secret::new("a"),
            access_expires_at: now + chrono::Duration::hours(2),
            refresh_token: None,
            refresh_expires_at: None,
            obtained_at: now,
            scopes: vec![],
        };
        assert!(!record.access_expires_within(now, chrono::Duration::hours(1)));
        assert!(record.access_expires_within(now, chrono::Duration::hours(3)));
    }
}
