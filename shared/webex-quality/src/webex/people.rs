//! `GET /v1/people/me`: who authorized the integration (shown on the status page).

use serde::Deserialize;
use tokio::time::Instant;

use super::client::WebexClient;
use super::error::WebexError;

/// The fields of a Webex person the product shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Person {
    /// Webex person id.
    pub id: String,
    /// Email addresses.
    pub emails: Vec<String>,
    /// Display name.
    pub display_name: String,
    /// Organisation id.
    pub org_id: String,
}

impl WebexClient {
    /// The person the token belongs to.
    ///
    /// # Errors
    /// Any [`WebexError`]; a body that is not a person is [`WebexError::Malformed`].
    pub async fn me(&self, deadline: Instant) -> Result<Person, WebexError> {
        let url = self
            .urls
            .api
            .join("people/me")
            .map_err(|e| WebexError::Config(format!("people URL: {e}")))?;
        let page = self.get(&url, deadline).await?;
        serde_json::from_slice(&page.body).map_err(|source| WebexError::Malformed {
            url: page.request_url,
            tracking_id: page.tracking_id,
            body: page.body,
            source,
        })
    }
}
