//! The rows a cycle writes and the views the readers get: plain data, no SQL.

use std::path::PathBuf;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::webex::{Meeting, RawPage};

/// Formats a time as the database stores it: RFC 3339, UTC, milliseconds (sorts as text).
#[must_use]
pub fn db_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn parse_time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A meeting as the collector records it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRow {
    /// Instance id.
    pub instance_id: String,
    /// Series id.
    pub series_id: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Host's name.
    pub host_name: Option<String>,
    /// Host's email.
    pub host_email: Option<String>,
    /// Start.
    pub start: Option<DateTime<Utc>>,
    /// End (scheduled while in progress).
    pub end: Option<DateTime<Utc>>,
    /// `inProgress`, `ended`, ...
    pub state: Option<String>,
    /// The List Meetings item as received.
    pub raw_item: String,
    /// When it was listed.
    pub seen_at: DateTime<Utc>,
}

impl MeetingRow {
    /// The row for a listed meeting.
    #[must_use]
    pub fn from_listing(meeting: &Meeting, seen_at: DateTime<Utc>) -> Self {
        Self {
            instance_id: meeting.id.to_string(),
            series_id: meeting.view.meeting_series_id.clone(),
            title: meeting.view.title.clone(),
            host_name: meeting.view.host_display_name.clone(),
            host_email: meeting.view.host_email.clone(),
            start: meeting.view.start,
            end: meeting.view.end,
            state: meeting.view.state.clone(),
            raw_item: meeting.raw.get().to_owned(),
            seen_at,
        }
    }
}

/// One Meeting Qualities call and the pages it got.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The meeting instance.
    pub instance_id: String,
    /// When the call was made.
    pub called_at: DateTime<Utc>,
    /// The pages received, in order.
    pub pages: Vec<RawPage>,
    /// True when the last page was reached.
    pub completed: bool,
    /// Why it did not complete.
    pub error: Option<String>,
    /// Tracking id of the failure, if any.
    pub tracking_id: Option<String>,
    /// The last page is a body that failed the qualities check (kept as Webex sent it).
    pub last_page_malformed: bool,
}

/// What a call did to a meeting's checkpoint. Merged with what is stored: the later call wins,
/// `attempts` adds up, `final` sticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointUpdate {
    /// The meeting instance.
    pub instance_id: String,
    /// When it was called.
    pub called_at: DateTime<Utc>,
    /// When it may be called again.
    pub next_allowed_at: DateTime<Utc>,
    /// Calls this update stands for.
    pub attempts: i64,
    /// Whether this call failed.
    pub failed: bool,
    /// The failure.
    pub error: Option<String>,
    /// Its tracking id.
    pub tracking_id: Option<String>,
    /// Whether no more calls are needed.
    pub final_: bool,
}

/// A meeting's stored checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Last call.
    pub last_call_at: Option<DateTime<Utc>>,
    /// Next call allowed from.
    pub next_allowed_at: Option<DateTime<Utc>>,
    /// Calls made.
    pub attempts: i64,
    /// Consecutive failures.
    pub failures: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// Final fetch done.
    pub final_: bool,
}

/// One run's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRecord {
    /// Run id.
    pub id: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: Option<DateTime<Utc>>,
    /// Meetings listed by Webex.
    pub meetings_listed: i64,
    /// Meetings due.
    pub meetings_due: i64,
    /// Qualities calls made.
    pub calls: i64,
    /// Pages received.
    pub pages: i64,
    /// Bytes received.
    pub bytes: i64,
    /// Calls answered 429.
    pub rate_limited: i64,
    /// Errors.
    pub errors: i64,
    /// `ok`, `partial`, `authorization required`, `failed`.
    pub outcome: String,
    /// Details of the outcome.
    pub detail: Option<String>,
}

/// An error met during a run, for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    /// When.
    pub at: DateTime<Utc>,
    /// Which meeting, if one.
    pub instance_id: Option<String>,
    /// `rate limited`, `unavailable`, `malformed`, ...
    pub kind: String,
    /// The message.
    pub message: String,
    /// Webex's tracking id.
    pub tracking_id: Option<String>,
}

/// Everything one cycle writes, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Meetings listed.
    pub meetings: Vec<MeetingRow>,
    /// Qualities calls with their pages, held in memory (tests, benches, small writes).
    pub calls: Vec<CallRecord>,
    /// Qualities calls with their pages, already stored in a [`Delta`](super::Delta) file (the collector's way:
    /// its memory does not grow with the pages).
    pub delta: Option<PathBuf>,
    /// Checkpoint updates.
    pub checkpoints: Vec<CheckpointUpdate>,
    /// Drop the pages of calls superseded by a meeting's final fetch (see [`Database::apply`](super::Database::apply)).
    pub prune_superseded: bool,
    /// The run.
    pub run: Option<RunRecord>,
    /// The run's errors.
    pub run_errors: Vec<RunError>,
}

/// Counts of what [`Database::apply`](super::Database::apply) wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// New calls.
    pub calls: usize,
    /// New pages.
    pub pages: usize,
    /// New distinct bodies.
    pub bodies: usize,
    /// Calls whose pages were dropped, superseded by their meeting's final fetch.
    pub pruned_calls: usize,
}

/// A meeting with its checkpoint, for planning.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingStatus {
    /// Instance id.
    pub instance_id: String,
    /// Start.
    pub start: Option<DateTime<Utc>>,
    /// End.
    pub end: Option<DateTime<Utc>>,
    /// State.
    pub state: Option<String>,
    /// A digest of the List Meetings item last stored ([`item_digest`]; `None` for a meeting not
    /// stored yet): enough to tell whether a new listing changed it, without holding the item.
    pub item_digest: Option<u64>,
    /// Checkpoint.
    pub checkpoint: Checkpoint,
}

/// A stored page, its body given back byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    /// 1-based page number.
    pub page: i64,
    /// When it arrived.
    pub fetched_at: String,
    /// The request URL.
    pub request_url: String,
    /// HTTP status.
    pub status: i64,
    /// Tracking id.
    pub tracking_id: String,
    /// The body as received.
    pub body: Bytes,
}

/// A stored meeting, as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMeeting {
    /// Instance id.
    pub instance_id: String,
    /// Title.
    pub title: String,
    /// Host's name.
    pub host_name: String,
    /// Host's email.
    pub host_email: String,
    /// Start.
    pub start: Option<DateTime<Utc>>,
    /// End.
    pub end: Option<DateTime<Utc>>,
    /// State.
    pub state: String,
}

/// A stored Meeting Qualities call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    /// Row id (for [`Database::call_pages`](super::Database::call_pages)).
    pub id: i64,
    /// When it was made.
    pub called_at: DateTime<Utc>,
    /// Whether the last page was reached.
    pub completed: bool,
    /// Why not.
    pub error: Option<String>,
    /// Its pages were dropped, superseded by the meeting's final fetch.
    pub pages_pruned: bool,
}

/// A digest of a List Meetings item, to compare a new listing with the stored one (within one
/// process: the hasher's keys are fixed, its algorithm is not promised across Rust versions).
#[must_use]
pub fn item_digest(raw_item: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    raw_item.hash(&mut hasher);
    hasher.finish()
}

pub(super) fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
