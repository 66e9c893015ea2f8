//! The Webex API client: OAuth, List Meetings, Meeting Qualities, people/me.
//!
//! Every call goes through one request loop ([`WebexClient`]) that sends a fresh `TrackingID` header,
//! bounds each request by a timeout and the caller's deadline, and handles failures by kind:
//!
//! | answer | what the client does |
//! |---|---|
//! | 429 | waits `Retry-After` (seconds; [`ClientOptions::default_retry_after`] when absent) unless that passes the deadline, then [`WebexError::RateLimited`] with the time to call again |
//! | 401 | refreshes the OAuth token once and retries once; then [`WebexError::AuthorizationRequired`] |
//! | refresh refused (400/401, `invalid_grant`) | [`WebexError::AuthorizationRequired`]: a human must authorize again |
//! | 5xx, timeout, dropped connection | bounded retries with exponential backoff and jitter, then [`WebexError::Unavailable`] |
//! | 451 from analytics | switches to the regional host named in the body and retries |
//! | 200 that is not the JSON expected | [`WebexError::Malformed`] with the raw body and tracking id |
//!
//! Base URLs come from [`crate::config::WebexUrls`] (`WEBEX_API_URL`, `WEBEX_ANALYTICS_URL`). Bodies are
//! returned as received ([`RawPage`]); [`model`] has the lenient typed views.

mod client;
mod error;
pub mod http;
mod meetings;
pub mod model;
mod oauth;
mod people;
mod qualities;
mod session;
mod trust;

pub use client::{
    ClientOptions, Credentials, RawPage, WebexClient, http_client, install_crypto_provider,
};
pub use error::WebexError;
pub use http::{TRACKING_ID_HEADER, new_tracking_id};
pub use meetings::{MeetingListing, MeetingQuery};
pub use model::{MediaSession, MediaStream, Meeting, MeetingInstanceId, QualitiesPage};
pub use oauth::{AuthorizationRequest, OAuthClient, TokenRecord};
pub use people::Person;
pub use qualities::QualitiesFetch;
pub use session::{NoTokenSink, OAuthSession, TokenSink};
pub use trust::token_may_go_to;

/// A deadline `budget` from now, for the `deadline` arguments of the client.
#[must_use]
pub fn deadline_in(budget: std::time::Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + budget
}
