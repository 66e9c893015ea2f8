//! Meeting Qualities: every page for one meeting instance, each body kept exactly as received.
//!
//! Webex allows one call per meeting instance every 5 minutes; the caller plans calls so (the
//! collector's checkpoints), and this module makes exactly one first-page request per call. When the
//! default analytics host answers 451 (the org's data lives in another region), the host named in the
//! answer is used from then on.

use tokio::time::Instant;
use url::Url;

use super::client::{RawPage, WebexClient};
use super::error::WebexError;
use super::http::regional_base;
use super::model::{MeetingInstanceId, check_qualities};

/// The pages fetched for one meeting, and how the fetch ended. Pages fetched before a failure are
/// kept, so nothing Webex sent is lost.
#[derive(Debug)]
pub struct QualitiesFetch {
    /// Each page as received, in order (page 1 first).
    pub pages: Vec<RawPage>,
    /// `None` when the last page was reached.
    pub error: Option<WebexError>,
}

impl QualitiesFetch {
    /// The pages, or the error if the fetch did not finish.
    ///
    /// # Errors
    /// The fetch's error.
    pub fn into_result(self) -> Result<Vec<RawPage>, WebexError> {
        match self.error {
            None => Ok(self.pages),
            Some(error) => Err(error),
        }
    }
}

impl WebexClient {
    /// Fetches every page of Meeting Qualities for `meeting`.
    pub async fn meeting_qualities(
        &self,
        meeting: &MeetingInstanceId,
        deadline: Instant,
    ) -> QualitiesFetch {
        let mut pages = Vec::new();
        let error = self
            .qualities_pages(meeting, deadline, &mut pages)
            .await
            .err();
        if let Some(error) = &error {
            tracing::warn!(meeting_id = %meeting, pages = pages.len(), tracking_id = error.tracking_id().unwrap_or(""), %error, "Meeting Qualities fetch did not finish");
        }
        QualitiesFetch { pages, error }
    }

    async fn qualities_pages(
        &self,
        meeting: &MeetingInstanceId,
        deadline: Instant,
        pages: &mut Vec<RawPage>,
    ) -> Result<(), WebexError> {
        let mut moved_region = false;
        let mut visited = std::collections::HashSet::new();
        let mut next = Some(self.first_qualities_url(meeting)?);
        while let Some(url) = next.take() {
            if !visited.insert(url.clone()) {
                tracing::warn!(%url, "Meeting Qualities Link points back to a page already read; stopping");
                break;
            }
            if pages.len() >= self.options.max_pages {
                return Err(WebexError::Refused {
                    url: url.to_string(),
                    reason: format!(
                        "Meeting Qualities paging goes on past {} pages",
                        self.options.max_pages
                    ),
                });
            }
            // The first page is the call Webex limits to one per meeting every 5 minutes: an
            // attempt that may have reached Webex is not repeated.
            let fetched = if pages.is_empty() {
                self.get_counted(&url, deadline).await
            } else {
                self.get(&url, deadline).await
            };
            let page = match fetched {
                Ok(page) => page,
                Err(WebexError::Status {
                    status: 451,
                    message,
                    tracking_id,
                    ..
                }) if !moved_region => {
                    let regional = regional_base(&self.analytics_url(), &message).ok_or_else(|| {
                        WebexError::Config(format!(
                            "analytics answered 451 without a usable host (tracking id {tracking_id}): {message}"
                        ))
                    })?;
                    if !self.may_send_token_to(&regional) {
                        return Err(WebexError::Refused {
                            url: regional.to_string(),
                            reason: format!(
                                "analytics answered 451 naming a host that is not Webex's over HTTPS (tracking id {tracking_id}); the access token is not sent there"
                            ),
                        });
                    }
                    tracing::info!(%regional, %tracking_id, "analytics data lives in another region; switching host");
                    self.set_analytics_url(regional);
                    moved_region = true;
                    next = Some(if pages.is_empty() {
                        self.first_qualities_url(meeting)?
                    } else {
                        rehost(&url, &self.analytics_url())
                    });
                    continue;
                }
                Err(error) => return Err(error),
            };
            if let Err(source) = check_qualities(&page.body) {
                return Err(WebexError::Malformed {
                    url: page.request_url,
                    tracking_id: page.tracking_id,
                    body: page.body,
                    source,
                });
            }
            next.clone_from(&page.next);
            pages.push(page);
        }
        Ok(())
    }

    fn first_qualities_url(&self, meeting: &MeetingInstanceId) -> Result<Url, WebexError> {
        let mut url = self
            .analytics_url()
            .join("meeting/qualities")
            .map_err(|e| WebexError::Config(format!("qualities URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("meetingId", meeting.as_str())
            .append_pair("max", &self.options.qualities_page_size.to_string());
        Ok(url)
    }
}

/// `url` moved onto the host of `base`.
fn rehost(url: &Url, base: &Url) -> Url {
    let mut moved = url.clone();
    // Both come from valid http(s) URLs, so these cannot fail.
    let _ = moved.set_host(base.host_str());
    let _ = moved.set_port(base.port());
    moved
}
