//! One Meeting Qualities call, and what it means for the meeting's checkpoint.

use tokio::time::Instant;

use super::{Collector, Due, Reason};
use crate::db::{CallRecord, CheckpointUpdate, RunError};
use crate::webex::{MeetingInstanceId, WebexClient, WebexError};

/// What one call brought: its pages, the checkpoint, an error for the run, and whether Webex said
/// something the whole cycle must act on.
pub(super) struct CallOutcome {
    pub(super) record: Option<CallRecord>,
    pub(super) checkpoint: Option<CheckpointUpdate>,
    pub(super) error: Option<RunError>,
    pub(super) rate_limited: bool,
    pub(super) authorization: Option<String>,
    pub(super) deferred: bool,
}

impl Collector {
    /// One qualities call and what it means for the meeting's checkpoint; none after
    /// `last_start`, since it could not finish by `deadline`.
    pub(super) async fn call(
        &self,
        client: &WebexClient,
        due: &Due,
        deadline: Instant,
        last_start: Instant,
    ) -> CallOutcome {
        let mut outcome = CallOutcome {
            record: None,
            checkpoint: None,
            error: None,
            rate_limited: false,
            authorization: None,
            deferred: false,
        };
        if Instant::now() >= last_start {
            outcome.deferred = true;
            return outcome;
        }
        let Ok(id) = MeetingInstanceId::parse(&due.instance_id) else {
            outcome.deferred = true;
            return outcome;
        };
        let called_at = self.clock.now();
        let span = tracing::info_span!("qualities", meeting_id = %id);
        let fetch =
            tracing::Instrument::instrument(client.meeting_qualities(&id, deadline), span).await;
        let interval = self.settings.rules.call_interval;
        let mut checkpoint = CheckpointUpdate {
            instance_id: due.instance_id.clone(),
            called_at,
            next_allowed_at: called_at + interval,
            attempts: 1,
            failed: fetch.error.is_some(),
            error: fetch.error.as_ref().map(ToString::to_string),
            tracking_id: fetch
                .error
                .as_ref()
                .and_then(|e| e.tracking_id())
                .map(str::to_owned),
            final_: fetch.error.is_none() && due.reason == Reason::Final,
        };
        if let Some(error) = &fetch.error {
            let kind = match error {
                WebexError::RateLimited { until, .. } => {
                    outcome.rate_limited = true;
                    checkpoint.next_allowed_at = (*until).max(checkpoint.next_allowed_at);
                    "rate limited"
                }
                WebexError::AuthorizationRequired { reason, .. } => {
                    outcome.authorization = Some(reason.clone());
                    "authorization required"
                }
                WebexError::Malformed { .. } => "malformed",
                WebexError::Status {
                    status: 404,
                    message,
                    ..
                } if message.contains("7 days") => {
                    checkpoint.final_ = true;
                    "expired"
                }
                WebexError::Status { .. } | WebexError::Refused { .. } => "refused",
                WebexError::Unavailable { .. } | WebexError::DeadlineReached { .. } => {
                    "unavailable"
                }
                WebexError::TokenStore { .. } | WebexError::Config(_) => "client",
                WebexError::BadTokenResponse { .. } => "token endpoint",
            };
            outcome.error = Some(RunError {
                at: called_at,
                instance_id: Some(due.instance_id.clone()),
                kind: kind.into(),
                message: error.to_string(),
                tracking_id: error.tracking_id().map(str::to_owned),
            });
        }
        let mut pages = fetch.pages;
        let mut last_page_malformed = false;
        // A malformed body is still what Webex sent: keep it with the call.
        if let Some(WebexError::Malformed {
            url,
            tracking_id,
            body,
            ..
        }) = &fetch.error
        {
            pages.push(crate::webex::RawPage {
                request_url: url.clone(),
                status: 200,
                tracking_id: tracking_id.clone(),
                fetched_at: self.clock.now(),
                body: body.clone(),
                next: None,
            });
            last_page_malformed = true;
        }
        if !pages.is_empty() || fetch.error.is_none() {
            outcome.record = Some(CallRecord {
                instance_id: due.instance_id.clone(),
                called_at,
                completed: fetch.error.is_none(),
                error: checkpoint.error.clone(),
                tracking_id: checkpoint.tracking_id.clone(),
                pages,
                last_page_malformed,
            });
        }
        outcome.checkpoint = Some(checkpoint);
        outcome
    }
}
