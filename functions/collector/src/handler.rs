//! One EventBridge scheduled event: one collection cycle, within the invocation's deadline less a
//! safety margin, reported as one structured log line. A cycle that failed is an error, so that it
//! counts as a failed invocation for the alarms; the lease it held is released (or lapses) either
//! way, so the next cycle is never blocked.

use std::time::{Duration, SystemTime};

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use webex_quality::collect::{CollectError, Collector, CycleReport, Outcome};

/// Time kept between the cycle's end and the invocation's deadline: the upload after the last call,
/// the lease's release and the status object.
const SAFETY_MARGIN: Duration = Duration::from_secs(15);

/// What the invocation returns (and logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CycleLog {
    run_id: String,
    outcome: &'static str,
    detail: Option<String>,
    listed: usize,
    due: usize,
    calls: usize,
    deferred: usize,
    pages: usize,
    rate_limited: usize,
    bytes: usize,
    errors: usize,
    upload_attempts: usize,
    downloaded: bool,
    duration_ms: u128,
    authorization_needed: bool,
}

impl CycleLog {
    fn from_report(report: &CycleReport) -> Self {
        Self {
            run_id: report.run_id.clone(),
            outcome: report.outcome.label(),
            detail: report.outcome.detail(),
            listed: report.listed,
            due: report.due,
            calls: report.calls,
            deferred: report.deferred,
            pages: report.pages,
            rate_limited: report.rate_limited,
            bytes: report.bytes,
            errors: report.errors,
            upload_attempts: report.upload_attempts,
            downloaded: report.downloaded,
            duration_ms: report.wall_time.as_millis(),
            authorization_needed: matches!(report.outcome, Outcome::AuthorizationRequired(_)),
        }
    }

    fn log(&self) {
        lambda_runtime::tracing::info!(
            run_id = %self.run_id,
            outcome = self.outcome,
            detail = self.detail.as_deref().unwrap_or(""),
            listed = self.listed,
            due = self.due,
            calls = self.calls,
            deferred = self.deferred,
            pages = self.pages,
            rate_limited = self.rate_limited,
            bytes = self.bytes,
            errors = self.errors,
            upload_attempts = self.upload_attempts,
            downloaded = self.downloaded,
            duration_ms = u64::try_from(self.duration_ms).unwrap_or(u64::MAX),
            authorization_needed = self.authorization_needed,
            "cycle"
        );
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CycleFailed {
    /// Nothing could be recorded: the store or the database failed.
    #[error("the cycle could not record anything: {0}")]
    NotRecorded(#[from] CollectError),
    /// The cycle ran, but Webex could not be listed (what was fetched is recorded).
    #[error("the cycle failed: {0}")]
    Failed(String),
}

impl From<CycleFailed> for Diagnostic {
    fn from(error: CycleFailed) -> Self {
        Self {
            error_type: match error {
                CycleFailed::NotRecorded(_) => "CycleNotRecorded",
                CycleFailed::Failed(_) => "CycleFailed",
            }
            .into(),
            error_message: error.to_string(),
        }
    }
}

/// Lambda's longest timeout: a deadline further away than this is not a real one.
const LONGEST_INVOCATION: Duration = Duration::from_secs(15 * 60);

/// The time this invocation may use: until its deadline, less [`SAFETY_MARGIN`]. `None` when the
/// deadline is not credible (already past when the invocation starts, or further than Lambda's
/// longest timeout): `cargo lambda watch` sends a fixed `600000` that is not a time; the
/// configured budget (`WEBEX_QUALITY_CYCLE_BUDGET_SECONDS`) applies then, as it always does as a cap.
pub(crate) fn budget(deadline: SystemTime, now: SystemTime) -> Option<Duration> {
    let left = deadline.duration_since(now).ok()?;
    (left <= LONGEST_INVOCATION).then(|| left.saturating_sub(SAFETY_MARGIN))
}

/// Runs one cycle. "Authorization needed" is not a failed invocation (a human must act, and the
/// log line and the status object say so); a skipped cycle (another holds the lease) is not either.
pub(crate) async fn function_handler(
    collector: &Collector,
    event: LambdaEvent<CloudWatchEvent>,
) -> Result<CycleLog, CycleFailed> {
    let report = match budget(event.context.deadline(), SystemTime::now()) {
        Some(budget) => collector.run_cycle_within(budget).await,
        None => collector.run_cycle().await,
    };
    let report = report.inspect_err(|error| {
        lambda_runtime::tracing::error!(%error, "cycle not recorded");
    })?;
    let line = CycleLog::from_report(&report);
    line.log();
    match report.outcome {
        Outcome::Failed(reason) => Err(CycleFailed::Failed(reason)),
        _ => Ok(line),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use webex_quality::config::{Access, CollectorConfig, CycleConfig, Secret, WebexUrls};
    use webex_quality::storage::{FolderStore, SharedStore, StoreLocation};
    use webex_quality::webex::ClientOptions;

    fn scheduled_event(deadline_in: Duration) -> LambdaEvent<CloudWatchEvent> {
        let payload: CloudWatchEvent = serde_json::from_str(include_str!(
            "../../../tests/fixtures/events/eventbridge-scheduled.json"
        ))
        .expect("the scheduled event parses");
        let mut context = lambda_runtime::Context::default();
        let deadline = SystemTime::now() + deadline_in;
        context.deadline = u64::try_from(
            deadline
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        LambdaEvent::new(payload, context)
    }

    /// A collector over a folder store in a temporary folder (removed when the guard is dropped).
    fn collector(
        sim: &webex_sim::SimHandle,
        token: &str,
    ) -> (Collector, SharedStore, tempfile::TempDir) {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_owned();
        let config = CollectorConfig {
            store: StoreLocation::Folder(dir.clone()),
            s3: webex_quality::storage::S3Settings::default(),
            urls: WebexUrls {
                api: webex_quality::config::base_url(&sim.api_url()).unwrap(),
                analytics: webex_quality::config::base_url(&sim.analytics_url()).unwrap(),
            },
            access: Access::PersonalToken(Secret::new(token)),
            work_dir: dir.join(".work"),
            cycle: CycleConfig::default(),
            alerts: None,
        };
        let store: SharedStore = Arc::new(FolderStore::new(dir).unwrap());
        let collector = Collector::from_config(
            store.clone(),
            &config,
            ClientOptions::default(),
            Arc::new(webex_quality::clock::SystemClock),
        )
        .unwrap();
        (collector, store, scratch)
    }

    #[test]
    fn the_budget_is_the_time_to_the_deadline_less_the_margin() {
        let now = SystemTime::now();
        assert_eq!(
            budget(now + Duration::from_secs(280), now),
            Some(Duration::from_secs(265))
        );
        assert_eq!(
            budget(now + Duration::from_secs(5), now),
            Some(Duration::ZERO)
        );
        // Not credible deadlines: the emulator's fixed 600000 ms after the epoch, or a day away.
        let emulator = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(budget(emulator, now), None);
        assert_eq!(budget(now + Duration::from_secs(86_400), now), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cycle_that_cannot_list_meetings_is_a_failed_invocation_with_its_status_written() {
        let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default())
            .spawn("127.0.0.1:0")
            .await
            .unwrap();
        sim.faults()
            .inject(webex_sim::Route::Meetings, webex_sim::Fault::Status(400), 1);
        let (collector, store, _scratch) = collector(&sim, "any-token");
        let answer = function_handler(&collector, scheduled_event(Duration::from_secs(60))).await;
        let error = answer.expect_err("listing failed, so the invocation fails");
        assert!(matches!(error, CycleFailed::Failed(_)), "{error:?}");
        assert_eq!(Diagnostic::from(error).error_type, "CycleFailed");
        let status = webex_quality::status::StatusStore::new(store)
            .load()
            .await
            .unwrap()
            .expect("the status object is written even by a failed cycle")
            .0;
        assert_eq!(status.last_cycle.unwrap().outcome, "failed");
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_token_is_reported_as_authorization_needed_not_as_a_failure() {
        let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default())
            .spawn("127.0.0.1:0")
            .await
            .unwrap();
        let (collector, _, _scratch) = collector(&sim, "a-token-webex-does-not-know");
        let line = function_handler(&collector, scheduled_event(Duration::from_secs(60)))
            .await
            .expect("a human must act; the invocation itself did its job");
        assert!(line.authorization_needed, "{line:?}");
        assert_eq!(line.outcome, "authorization required");
        sim.shutdown().await;
    }
}
