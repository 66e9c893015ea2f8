//! List Meetings: every meeting instance (`meetingType=meeting`) in a time window, following
//! `Link: rel="next"` verbatim, in slices short enough that no query reaches Webex's 10,000-instance
//! cap (a slice that reaches it is halved and listed again).

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;
use url::Url;

use super::client::WebexClient;
use super::error::WebexError;
use super::model::{Meeting, MeetingInstanceId, MeetingView};

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingQuery {
    /// Start of the window (inclusive).
    pub from: DateTime<Utc>,
    /// End of the window (exclusive).
    pub to: DateTime<Utc>,
    /// `state` filter (`ended`, `inProgress`, ...); `None` lists every state.
    pub state: Option<String>,
}

/// The result of listing.
#[derive(Debug, Clone, Default)]
pub struct MeetingListing {
    /// Each instance once, in the order Webex listed them.
    pub meetings: Vec<Meeting>,
    /// HTTP requests made.
    pub requests: usize,
    /// Windows queried (slices and halves).
    pub windows: usize,
    /// Items skipped because they had no usable instance id.
    pub skipped: usize,
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Box<RawValue>>,
}

impl WebexClient {
    /// Lists the meeting instances of `query`.
    ///
    /// # Errors
    /// The first [`WebexError`] of any page (see [`WebexClient`] for retries); a page that is not
    /// `{"items": [...]}` is [`WebexError::Malformed`].
    pub async fn list_meetings(
        &self,
        query: &MeetingQuery,
        deadline: Instant,
    ) -> Result<MeetingListing, WebexError> {
        let mut listing = MeetingListing::default();
        let mut seen = HashSet::new();
        // Windows still to list, last one first so that pop() walks forward in time.
        let mut pending = slices(query.from, query.to, self.options.meetings_window_slice);
        pending.reverse();
        while let Some((from, to)) = pending.pop() {
            listing.windows += 1;
            let window = self
                .list_window(from, to, query.state.as_deref(), deadline)
                .await?;
            listing.requests += window.requests;
            if window.items >= self.options.meetings_list_cap {
                if to - from > self.options.meetings_min_window {
                    let middle = from + (to - from) / 2;
                    tracing::info!(%from, %to, "List Meetings window reached the cap; halving it");
                    pending.push((middle, to));
                    pending.push((from, middle));
                    continue;
                }
                tracing::warn!(%from, %to, cap = self.options.meetings_list_cap, "List Meetings window at the cap cannot be split further; some instances may be missing");
            }
            listing.skipped += window.skipped;
            for meeting in window.meetings {
                if seen.insert(meeting.id.clone()) {
                    listing.meetings.push(meeting);
                }
            }
        }
        Ok(listing)
    }

    async fn list_window(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        state: Option<&str>,
        deadline: Instant,
    ) -> Result<Window, WebexError> {
        let mut url = self
            .urls
            .api
            .join("meetings")
            .map_err(|e| WebexError::Config(format!("meetings URL: {e}")))?;
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("meetingType", "meeting");
            if let Some(state) = state {
                pairs.append_pair("state", state);
            }
            pairs
                .append_pair("from", &from.to_rfc3339_opts(SecondsFormat::Secs, true))
                .append_pair("to", &to.to_rfc3339_opts(SecondsFormat::Secs, true))
                .append_pair("max", &self.options.meetings_page_size.to_string());
        }
        let mut window = Window::default();
        let mut visited: HashSet<Url> = HashSet::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            if !visited.insert(url.clone()) {
                tracing::warn!(%url, "List Meetings Link points back to a page already read; stopping");
                break;
            }
            if window.requests >= self.options.max_pages {
                return Err(WebexError::Refused {
                    url: url.to_string(),
                    reason: format!(
                        "List Meetings paging goes on past {} pages",
                        self.options.max_pages
                    ),
                });
            }
            let page = self.get(&url, deadline).await?;
            window.requests += 1;
            let parsed: Page =
                serde_json::from_slice(&page.body).map_err(|source| WebexError::Malformed {
                    url: page.request_url.clone(),
                    tracking_id: page.tracking_id.clone(),
                    body: page.body.clone(),
                    source,
                })?;
            window.items += parsed.items.len();
            for raw in parsed.items {
                let view: MeetingView = serde_json::from_str(raw.get()).unwrap_or_default();
                match view.id.as_deref().map(MeetingInstanceId::parse) {
                    Some(Ok(id)) => window.meetings.push(Meeting { id, view, raw }),
                    other => {
                        window.skipped += 1;
                        tracing::warn!(tracking_id = %page.tracking_id, problem = ?other.map(|r| r.err()), "List Meetings item without a usable instance id skipped");
                    }
                }
            }
            next = page.next;
        }
        Ok(window)
    }
}

#[derive(Default)]
struct Window {
    meetings: Vec<Meeting>,
    items: usize,
    requests: usize,
    skipped: usize,
}

/// `[from, to)` cut into consecutive slices of at most `slice`.
fn slices(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    slice: chrono::Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let slice = slice.max(chrono::Duration::seconds(1));
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + slice).min(to);
        out.push((start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_is_listed_in_daily_slices_that_tile_it() {
        let from = DateTime::parse_from_rfc3339("2025-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let to = from + chrono::Duration::days(7) + chrono::Duration::hours(3);
        let s = slices(from, to, chrono::Duration::days(1));
        assert_eq!(s.len(), 8);
        assert_eq!(s[0].0, from);
        assert_eq!(s.last().unwrap().1, to);
        assert!(s.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(slices(to, from, chrono::Duration::days(1)).is_empty());
    }
}
