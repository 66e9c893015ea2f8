//! What can go wrong when talking to Webex, kept apart by what the caller does about it.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

/// An error from the Webex API client. Every variant that followed a request carries the tracking
/// id Webex support asks for.
#[derive(Debug, thiserror::Error)]
pub enum WebexError {
    /// 429 and the wait would pass the caller's deadline: call again after `until`.
    #[error("rate limited until {until} on {url} (tracking id {tracking_id})")]
    RateLimited {
        /// When the call may be made again.
        until: DateTime<Utc>,
        /// The wait Webex asked for (`Retry-After`, or the default when absent).
        retry_after: Duration,
        /// The request URL.
        url: String,
        /// Tracking id of the 429 answer.
        tracking_id: String,
    },

    /// The refresh token is expired, revoked or refused, or there is no way to get a new access
    /// token: a human must authorize the integration again.
    #[error("authorization required: {reason}")]
    AuthorizationRequired {
        /// Why, as Webex or the client put it.
        reason: String,
        /// Tracking id of the answer that said so, when there was one.
        tracking_id: Option<String>,
    },

    /// A final HTTP status the client does not retry (4xx other than 401/429/451, or 401 after a
    /// refresh).
    #[error("{url} answered HTTP {status} (tracking id {tracking_id}): {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The request URL.
        url: String,
        /// Tracking id of the answer.
        tracking_id: String,
        /// Webex's `message`, or the start of the body.
        message: String,
        /// The body as received.
        body: Bytes,
    },

    /// 5xx answers, timeouts or dropped connections, still failing after the bounded retries.
    #[error("{url} failed after {attempts} attempts (tracking id {tracking_id}): {detail}")]
    Unavailable {
        /// The request URL.
        url: String,
        /// How many requests were made.
        attempts: u32,
        /// Tracking id of the last attempt.
        tracking_id: String,
        /// The last failure: a status, a timeout or a transport error.
        detail: String,
    },

    /// The answer was 200 but not the JSON expected. The raw body is kept.
    #[error("malformed JSON from {url} (tracking id {tracking_id}): {source}")]
    Malformed {
        /// The request URL.
        url: String,
        /// Tracking id of the answer.
        tracking_id: String,
        /// The body exactly as received.
        body: Bytes,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },

    /// The token endpoint answered 200 with something that is not a token response. Its body is
    /// not kept, nor the parser's words about it: it may hold a token.
    #[error(
        "the token endpoint {url} answered with something that is not a token response ({length} bytes, not kept: it may hold a token)"
    )]
    BadTokenResponse {
        /// The token endpoint.
        url: String,
        /// The body's length.
        length: usize,
    },

    /// The caller's deadline passed before a request could be made or completed.
    #[error("deadline reached before {url} answered")]
    DeadlineReached {
        /// The request URL.
        url: String,
    },

    /// New tokens could not be saved, so they were not used (the old refresh token may be spent).
    #[error("could not save refreshed tokens: {reason}")]
    TokenStore {
        /// What the token store said.
        reason: String,
    },

    /// An answer the client would not use: a `Link` or a 451 pointing away from Webex's hosts and the
    /// configured base URLs (the access token is never sent there), a body over the size limit, or
    /// paging past the page limit.
    #[error("refused {url}: {reason}")]
    Refused {
        /// The URL requested, or the one Webex pointed to.
        url: String,
        /// Why.
        reason: String,
    },

    /// The client is misconfigured (a base URL that cannot take a path, a bad redirect URI).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl WebexError {
    /// The tracking id of the answer this error came from, if any.
    #[must_use]
    pub fn tracking_id(&self) -> Option<&str> {
        match self {
            Self::RateLimited { tracking_id, .. }
            | Self::Status { tracking_id, .. }
            | Self::Unavailable { tracking_id, .. }
            | Self::Malformed { tracking_id, .. } => Some(tracking_id),
            Self::AuthorizationRequired { tracking_id, .. } => tracking_id.as_deref(),
            Self::DeadlineReached { .. }
            | Self::TokenStore { .. }
            | Self::BadTokenResponse { .. }
            | Self::Refused { .. }
            | Self::Config(_) => None,
        }
    }

    /// True when a human has to authorize again before anything else can work.
    #[must_use]
    pub fn is_authorization_required(&self) -> bool {
        matches!(self, Self::AuthorizationRequired { .. })
    }
}
