//! One collection cycle, the collector's whole job:
//!
//! take the lease → check out the database (no download when the cached copy is current) → refresh the
//! token if due → list the meeting instances of the last 7 days → plan the due meetings → write the
//! planned calls into the lease → fetch with bounded concurrency, starting no call near the deadline →
//! apply everything in one transaction → integrity check → conditional upload (on a conflict: check
//! out again, re-apply, retry) → release the lease.
//!
//! Never a meeting twice inside 5 minutes: per-meeting checkpoints, persisted with the run, and the
//! lease's planned calls for a run that crashes before it persists. Nothing fetched is thrown away: a
//! failure part-way still records every page received.

mod lease;
pub mod plan;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::time::Instant;

pub use crate::status::RunSummary;
pub use lease::{LEASE_KEY, Lease, read as read_lease};
pub use plan::{Due, Plan, Reason, Rules};

use crate::clock::SharedClock;
pub use crate::config::Access;
use crate::config::{CollectorConfig, CycleConfig, KeepSnapshots, WebexUrls};
use crate::db::{
    CallRecord, Changes, CheckpointUpdate, Database, DbError, MeetingRow, MeetingStatus, RunError,
    RunRecord,
};
use crate::history::{self, Replica};
use crate::status::{AuthorizationStatus, StatusStore};
use crate::storage::{SharedStore, StoreError};
use crate::tokens::{StoredTokens, TokenError, TokenStore};
use crate::webex::{
    ClientOptions, Credentials, MeetingInstanceId, MeetingQuery, OAuthClient, OAuthSession,
    WebexClient, WebexError, http_client,
};
use writer::DeltaWriter;

/// The cycle's tunables.
#[derive(Debug, Clone)]
pub struct CycleSettings {
    /// Wall time the whole cycle may take (the Lambda timeout minus a margin).
    pub budget: Duration,
    /// Time kept at the end for writing and uploading the database: no call starts after
    /// `budget - upload_reserve`.
    pub upload_reserve: Duration,
    /// Qualities calls in flight at once.
    pub concurrency: usize,
    /// Webex's timing rules.
    pub rules: Rules,
    /// Refresh the access token when less than this is left.
    pub refresh_margin: chrono::Duration,
    /// Conditional uploads tried before giving up.
    pub upload_attempts: usize,
    /// Which snapshots stay once a meeting's final fetch is stored.
    pub keep_snapshots: KeepSnapshots,
}

impl Default for CycleSettings {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(240),
            upload_reserve: Duration::from_secs(45),
            concurrency: 4,
            rules: Rules::default(),
            refresh_margin: chrono::Duration::days(1),
            upload_attempts: 5,
            keep_snapshots: KeepSnapshots::Final,
        }
    }
}

impl CycleSettings {
    /// The defaults, with what `config` sets.
    #[must_use]
    pub fn from_config(config: &CycleConfig) -> Self {
        let mut settings = Self::default();
        if let Some(budget) = config.budget {
            settings.budget = budget;
            // Keep a fifth of the budget (at most 45 s) for recording.
            settings.upload_reserve = (budget / 5).min(Duration::from_secs(45));
        }
        if let Some(concurrency) = config.concurrency {
            settings.concurrency = concurrency;
        }
        if let Some(grace) = config.final_grace {
            settings.rules.final_grace = grace;
        }
        if let Some(margin) = config.refresh_margin {
            settings.refresh_margin = margin;
        }
        if let Some(interval) = config.call_interval {
            settings.rules.call_interval = interval;
        }
        settings.keep_snapshots = config.keep_snapshots;
        settings
    }
}

/// How a cycle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every due meeting was called and recorded.
    Ok,
    /// Recorded, but some calls failed or did not fit in the budget.
    Partial,
    /// Webex wants a human to authorize again; recorded in the token object.
    AuthorizationRequired(String),
    /// Another run holds the lease; nothing was done.
    Skipped(String),
    /// Webex could not be listed; what was done is recorded.
    Failed(String),
}

impl Outcome {
    /// `ok`, `partial`, `authorization required`, `skipped` or `failed`.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Partial => "partial",
            Self::AuthorizationRequired(_) => "authorization required",
            Self::Skipped(_) => "skipped",
            Self::Failed(_) => "failed",
        }
    }

    /// Why it was not ok, when Webex or the store said.
    #[must_use]
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::Ok | Self::Partial => None,
            Self::AuthorizationRequired(d) | Self::Skipped(d) | Self::Failed(d) => Some(d.clone()),
        }
    }
}

/// What a cycle did.
#[derive(Debug, Clone)]
pub struct CycleReport {
    /// Run id.
    pub run_id: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Meeting instances listed.
    pub listed: usize,
    /// Meetings due.
    pub due: usize,
    /// Qualities calls made.
    pub calls: usize,
    /// Calls that did not fit in the budget.
    pub deferred: usize,
    /// Pages received.
    pub pages: usize,
    /// Bytes received.
    pub bytes: usize,
    /// Calls answered 429.
    pub rate_limited: usize,
    /// Errors.
    pub errors: usize,
    /// Uploads tried (more than one after conflicts).
    pub upload_attempts: usize,
    /// Whether the database was downloaded (false: the cache was current).
    pub downloaded: bool,
    /// Archive objects written by this cycle (days that left List Meetings' window).
    pub archives_written: usize,
    /// Wall time.
    pub wall_time: Duration,
}

/// A cycle failure that left nothing recorded (store or database trouble).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The token object failed.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// The Webex client could not be built.
    #[error(transparent)]
    Webex(#[from] WebexError),
    /// Every conditional upload lost a race.
    #[error(
        "the database kept changing under this run ({0} attempts); its work is lost and will be redone"
    )]
    Contention(usize),
}

/// The collector: everything a cycle needs, built once (at Lambda INIT, or once per CLI process).
#[derive(Debug, Clone)]
pub struct Collector {
    store: SharedStore,
    http: reqwest::Client,
    urls: WebexUrls,
    access: Access,
    options: ClientOptions,
    clock: SharedClock,
    work_dir: PathBuf,
    settings: CycleSettings,
}

struct CallOutcome {
    record: Option<CallRecord>,
    checkpoint: Option<CheckpointUpdate>,
    error: Option<RunError>,
    rate_limited: bool,
    authorization: Option<String>,
    deferred: bool,
}

impl Collector {
    /// A collector writing to `store`, working in `work_dir`. Build it once and run many cycles: it
    /// keeps its HTTP connections.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        store: SharedStore,
        urls: WebexUrls,
        access: Access,
        options: ClientOptions,
        clock: SharedClock,
        work_dir: PathBuf,
        settings: CycleSettings,
    ) -> Result<Self, WebexError> {
        let http = http_client(&options)?;
        Ok(Self {
            store,
            http,
            urls,
            access,
            options,
            clock,
            work_dir,
            settings,
        })
    }

    /// A collector as `config` says, writing to `store` (opened from `config.store`).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn from_config(
        store: SharedStore,
        config: &CollectorConfig,
        options: ClientOptions,
        clock: SharedClock,
    ) -> Result<Self, WebexError> {
        Self::new(
            store,
            config.urls.clone(),
            config.access.clone(),
            options,
            clock,
            config.work_dir.clone(),
            CycleSettings::from_config(&config.cycle),
        )
    }

    /// How this collector gets into Webex.
    #[must_use]
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Runs one cycle within the configured budget.
    ///
    /// # Errors
    /// Only when nothing could be recorded (the store or the database failed); Webex failures are
    /// recorded in the run and reported in the [`CycleReport`].
    pub async fn run_cycle(&self) -> Result<CycleReport, CollectError> {
        self.run_cycle_within(self.settings.budget).await
    }

    /// Runs one cycle that ends within `budget` (or the configured budget, if that is shorter): a
    /// Lambda invocation passes the time left before its deadline, less a margin.
    ///
    /// Every cycle that took the lease ends by writing the status object ([`crate::status`]),
    /// quiet cycles included.
    ///
    /// # Errors
    /// As [`Collector::run_cycle`].
    pub async fn run_cycle_within(&self, budget: Duration) -> Result<CycleReport, CollectError> {
        let started_at = self.clock.now();
        let run_id = format!(
            "{}-{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let span = tracing::info_span!("cycle", run_id = %run_id);
        tracing::Instrument::instrument(self.cycle(run_id, started_at, budget), span).await
    }

    async fn cycle(
        &self,
        run_id: String,
        started_at: DateTime<Utc>,
        budget: Duration,
    ) -> Result<CycleReport, CollectError> {
        let started = std::time::Instant::now();
        let budget = budget.min(self.settings.budget);
        let deadline = Instant::now() + budget;
        let fetch_deadline = deadline
            .checked_sub(self.settings.upload_reserve.min(budget / 5))
            .unwrap_or_else(Instant::now);
        // No call starts this close to the fetch deadline: it could not finish.
        let call_reserve = self
            .options
            .request_timeout
            .min(Duration::from_secs(15))
            .min(budget / 4);
        let last_call_start = fetch_deadline
            .checked_sub(call_reserve)
            .unwrap_or_else(Instant::now);
        let mut report = CycleReport {
            run_id: run_id.clone(),
            outcome: Outcome::Ok,
            listed: 0,
            due: 0,
            calls: 0,
            deferred: 0,
            pages: 0,
            bytes: 0,
            rate_limited: 0,
            errors: 0,
            upload_attempts: 0,
            downloaded: false,
            archives_written: 0,
            wall_time: Duration::ZERO,
        };

        // The lease: stand down if another run is collecting.
        // The run stops by its deadline; the lease outlives it by a tenth, in case clocks differ a little.
        let lease_life = chrono::Duration::from_std(budget + budget / 10)
            .unwrap_or(chrono::Duration::minutes(5));
        let mut my_lease = Lease {
            run_id: run_id.clone(),
            holder: holder(),
            acquired_at: started_at,
            expires_at: started_at + lease_life,
            planned_calls: Vec::new(),
            released: false,
            last_run: None,
        };
        let (mut lease_etag, crashed) =
            match lease::acquire(&self.store, &mut my_lease, started_at).await? {
                lease::Acquired::Held(other) => {
                    let why = format!(
                        "run {} ({}) holds the lease until {}",
                        other.run_id, other.holder, other.expires_at
                    );
                    tracing::info!(%why, "another cycle is running; standing down");
                    report.outcome = Outcome::Skipped(why);
                    report.wall_time = started.elapsed();
                    return Ok(report);
                }
                lease::Acquired::Taken { etag, crashed } => (etag, crashed),
            };
        let result = self
            .cycle_with_lease(
                &mut report,
                &mut my_lease,
                &mut lease_etag,
                crashed,
                started_at,
                (fetch_deadline, last_call_start),
            )
            .await;
        let summary = RunSummary {
            run_id: run_id.clone(),
            started_at,
            ended_at: self.clock.now(),
            outcome: match &result {
                Ok(_) => report.outcome.label().to_owned(),
                Err(_) => "failed".to_owned(),
            },
            detail: match &result {
                Ok(_) => report.outcome.detail(),
                Err(error) => Some(error.to_string()),
            },
            listed: report.listed,
            calls: report.calls,
            recorded: matches!(result, Ok(true)),
            due: report.due,
            pages: report.pages,
            bytes: report.bytes,
            rate_limited: report.rate_limited,
            errors: report.errors,
        };
        if let Err(error) =
            lease::release(&self.store, my_lease, &lease_etag, summary.clone()).await
        {
            // The next run would take this for a crash and hold back the meetings called here.
            tracing::warn!(%error, "could not release the lease; it lapses by itself");
        }
        self.write_status(summary).await;
        report.wall_time = started.elapsed();
        result.map(|_| report)
    }

    /// Writes the cycle's summary and the authorization's state into the status object. A failure
    /// is logged, not fatal: the next cycle writes it again.
    async fn write_status(&self, summary: RunSummary) {
        let tokens = match self.access {
            Access::PersonalToken(_) => None,
            Access::OAuth(_) => match TokenStore::new(self.store.clone(), self.clock.clone())
                .load()
                .await
            {
                Ok(found) => found.map(|(state, _)| state),
                Err(error) => {
                    tracing::warn!(%error, "status: the token object could not be read");
                    None
                }
            },
        };
        let authorization = AuthorizationStatus::from_tokens(tokens.as_ref());
        let written = StatusStore::new(self.store.clone())
            .update(self.clock.now(), |status| {
                status.last_cycle = Some(summary.clone());
                status.authorization = authorization.clone();
            })
            .await;
        if let Err(error) = written {
            tracing::warn!(%error, "could not write the status object; the next cycle will");
        }
    }

    /// The cycle proper, under the lease. Returns whether the database was written (a quiet cycle,
    /// with nothing new, does not write it).
    async fn cycle_with_lease(
        &self,
        report: &mut CycleReport,
        my_lease: &mut Lease,
        lease_etag: &mut crate::storage::ETag,
        crashed: Option<Lease>,
        started_at: DateTime<Utc>,
        deadlines: (Instant, Instant),
    ) -> Result<bool, CollectError> {
        let replica = Replica::new(self.store.clone(), self.work_dir.clone());
        // What the listing can return (with an hour to spare), and whatever is not final yet, read
        // from the cached database itself: a working copy is made only if there is something to
        // record.
        let listed_from = started_at - self.settings.rules.retention - chrono::Duration::hours(1);
        // Whether days wait to be archived: then the cycle records even when nothing else is new.
        let first_hot = history::first_hot_day(started_at, self.settings.rules.retention);
        let (read, downloaded) = replica
            .read_current(move |path| {
                let db = Database::open(path)?;
                let statuses = db.meeting_statuses(listed_from)?;
                let archivable = !db.days_before(first_hot)?.is_empty();
                Ok::<_, CollectError>((statuses, archivable))
            })
            .await?;
        let (statuses, archivable) = read.unwrap_or_default();
        report.downloaded = downloaded;

        let mut changes = Changes::default();
        let delta_path = self
            .work_dir
            .join(format!("run-{}.delta.sqlite", report.run_id));
        let writer = DeltaWriter::start(delta_path.clone()).await?;
        if let Some(crashed) = crashed {
            tracing::warn!(crashed_run = %crashed.run_id, planned = crashed.planned_calls.len(), "taking over from a run that did not finish");
            changes
                .checkpoints
                .extend(crashed.planned_calls.iter().map(|id| CheckpointUpdate {
                    instance_id: id.clone(),
                    called_at: crashed.acquired_at,
                    next_allowed_at: crashed.expires_at + self.settings.rules.call_interval,
                    attempts: 1,
                    failed: true,
                    error: Some(format!(
                        "run {} stopped before recording this call",
                        crashed.run_id
                    )),
                    tracking_id: None,
                    final_: false,
                }));
        }

        let outcome = self
            .collect(
                report,
                my_lease,
                lease_etag,
                &statuses,
                (&mut changes, &writer),
                deadlines,
            )
            .await;
        let stored_calls = writer.finish().await;
        let stored_calls = match stored_calls {
            Ok(counts) => counts,
            Err(error) => {
                let _ = std::fs::remove_file(&delta_path);
                return Err(error);
            }
        };
        if stored_calls.calls > 0 {
            changes.delta = Some(delta_path.clone());
        }
        let stored: std::collections::HashMap<&str, Option<u64>> = statuses
            .iter()
            .map(|s| (s.instance_id.as_str(), s.item_digest))
            .collect();
        let changed_meetings = changes.meetings.iter().any(|row| {
            stored.get(row.instance_id.as_str()).copied().flatten()
                != Some(crate::db::item_digest(&row.raw_item))
        });
        let quiet = outcome == Outcome::Ok
            && !archivable
            && !changed_meetings
            && stored_calls.calls == 0
            && changes.checkpoints.is_empty()
            && changes.run_errors.is_empty();
        report.outcome = outcome;
        if quiet {
            tracing::debug!("nothing new: the database is left as it is");
            let _ = std::fs::remove_file(&delta_path);
            return Ok(false);
        }
        changes.prune_superseded = self.settings.keep_snapshots == KeepSnapshots::Final;
        changes.run = Some(RunRecord {
            id: report.run_id.clone(),
            started_at,
            ended_at: Some(self.clock.now()),
            meetings_listed: as_i64(report.listed),
            meetings_due: as_i64(report.due),
            calls: as_i64(report.calls),
            pages: as_i64(report.pages),
            bytes: as_i64(report.bytes),
            rate_limited: as_i64(report.rate_limited),
            errors: as_i64(report.errors),
            outcome: report.outcome.label().to_owned(),
            detail: report.outcome.detail(),
        });
        let recorded = self.record(report, &replica, changes).await;
        let _ = std::fs::remove_file(&delta_path);
        recorded.map(|()| true)
    }

    /// Lists, plans and fetches; everything learnt goes into `changes`.
    async fn collect(
        &self,
        report: &mut CycleReport,
        my_lease: &mut Lease,
        lease_etag: &mut crate::storage::ETag,
        statuses: &[MeetingStatus],
        (changes, writer): (&mut Changes, &DeltaWriter),
        (fetch_deadline, last_call_start): (Instant, Instant),
    ) -> Outcome {
        let client = match self.client().await {
            Ok(client) => client,
            Err(outcome) => return outcome,
        };
        let now = self.clock.now();
        let query = MeetingQuery {
            from: now - self.settings.rules.retention,
            to: now + chrono::Duration::minutes(1),
            state: None,
        };
        let listing = match client.list_meetings(&query, fetch_deadline).await {
            Ok(listing) => listing,
            Err(error) => {
                return self
                    .webex_failure(report, changes, &error, "listing meetings")
                    .await;
            }
        };
        report.listed = listing.meetings.len();
        let seen_at = self.clock.now();
        changes.meetings = listing
            .meetings
            .iter()
            .map(|m| MeetingRow::from_listing(m, seen_at))
            .collect();

        let merged = merge_statuses(statuses, &changes.meetings, &changes.checkpoints);
        let plan = plan::plan(now, &merged, &self.settings.rules);
        for id in &plan.expired {
            report.errors += 1;
            changes.run_errors.push(RunError {
                at: now,
                instance_id: Some(id.clone()),
                kind: "expired".into(),
                message: "the 7-day data window closed before a complete call".into(),
                tracking_id: None,
            });
            changes.checkpoints.push(CheckpointUpdate {
                instance_id: id.clone(),
                called_at: now,
                next_allowed_at: now,
                attempts: 0,
                failed: true,
                error: Some("data window closed".into()),
                tracking_id: None,
                final_: true,
            });
        }
        report.due = plan.due.len();
        if plan.due.is_empty() {
            return Outcome::Ok;
        }

        // The planned calls go into the lease before any is made.
        my_lease.planned_calls = plan.due.iter().map(|d| d.instance_id.clone()).collect();
        match lease::update(&self.store, my_lease, lease_etag).await {
            Ok(etag) => *lease_etag = etag,
            Err(error) => {
                return Outcome::Failed(format!(
                    "could not record the planned calls in the lease: {error}"
                ));
            }
        }

        let client = &client;
        // The calls' futures are made first (they are lazy) and boxed as `Send`: a closure inside the
        // stream would make the cycle's future impossible to prove `Send` (rustc #102211), and a
        // scheduler must be able to spawn it.
        let calls: Vec<std::pin::Pin<Box<dyn Future<Output = CallOutcome> + Send + '_>>> = plan
            .due
            .iter()
            .map(|due| {
                Box::pin(self.call(client, due, fetch_deadline, last_call_start))
                    as std::pin::Pin<Box<dyn Future<Output = CallOutcome> + Send + '_>>
            })
            .collect();
        let mut outcomes =
            futures_util::stream::iter(calls).buffer_unordered(self.settings.concurrency.max(1));
        let mut authorization = None;
        // Each call's pages go to the delta file as the call ends: memory holds only the calls in
        // flight and the few waiting for the writer.
        while let Some(outcome) = outcomes.next().await {
            if outcome.deferred {
                report.deferred += 1;
                continue;
            }
            report.calls += 1;
            report.rate_limited += usize::from(outcome.rate_limited);
            if let Some(record) = outcome.record {
                report.pages += record.pages.len();
                report.bytes += record.pages.iter().map(|p| p.body.len()).sum::<usize>();
                writer.send(record).await;
            }
            changes.checkpoints.extend(outcome.checkpoint);
            if let Some(error) = outcome.error {
                report.errors += 1;
                changes.run_errors.push(error);
            }
            authorization = authorization.or(outcome.authorization);
        }
        if let Some(reason) = authorization {
            return self.authorization_required(&reason).await;
        }
        if report.errors > 0 || report.deferred > 0 {
            Outcome::Partial
        } else {
            Outcome::Ok
        }
    }

    /// One qualities call and what it means for the meeting's checkpoint; none after
    /// `last_start`, since it could not finish by `deadline`.
    async fn call(
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
                WebexError::Status { .. } => "refused",
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

    /// The Webex client, with tokens from the token object (refreshed first when due).
    async fn client(&self) -> Result<WebexClient, Outcome> {
        let credentials = match &self.access {
            Access::PersonalToken(token) => Credentials::AccessToken(token.clone()),
            Access::OAuth(settings) => {
                let tokens = TokenStore::new(self.store.clone(), self.clock.clone());
                let (state, etag) = match tokens.load().await {
                    Ok(Some(found)) => found,
                    Ok(None) => {
                        return Err(Outcome::AuthorizationRequired(
                            "nobody has authorized the integration yet: run the login".into(),
                        ));
                    }
                    Err(error) => return Err(Outcome::Failed(format!("token object: {error}"))),
                };
                if let Some(needed) = &state.authorization_needed {
                    return Err(Outcome::AuthorizationRequired(format!(
                        "since {}: {}",
                        needed.since, needed.reason
                    )));
                }
                let Some(record) = state.record.clone() else {
                    return Err(Outcome::AuthorizationRequired(
                        "the token object holds no tokens: run the login".into(),
                    ));
                };
                let oauth = OAuthClient::new(
                    settings,
                    &self.urls.api,
                    self.http.clone(),
                    &self.options,
                    self.clock.clone(),
                )
                .map_err(|e| Outcome::Failed(e.to_string()))?;
                let due =
                    record.access_expires_within(self.clock.now(), self.settings.refresh_margin);
                let session = Arc::new(OAuthSession::new(
                    oauth,
                    record,
                    StoredTokens::new(tokens, state, Some(etag)),
                ));
                if due {
                    match session.refresh_now().await {
                        Ok(_) => tracing::info!("access token refreshed ahead of expiry"),
                        Err(WebexError::AuthorizationRequired { reason, .. }) => {
                            return Err(self.authorization_required(&reason).await);
                        }
                        // Not fatal: the current token still works for a while.
                        Err(error) => {
                            tracing::warn!(%error, "token refresh failed; using the current token");
                        }
                    }
                }
                Credentials::OAuth(session)
            }
        };
        Ok(WebexClient::with_http(
            self.http.clone(),
            self.urls.clone(),
            credentials,
            self.options.clone(),
            self.clock.clone(),
        ))
    }

    async fn authorization_required(&self, reason: &str) -> Outcome {
        tracing::error!(%reason, "Webex authorization required: an admin must log in again");
        if matches!(self.access, Access::OAuth(_))
            && let Err(error) = TokenStore::new(self.store.clone(), self.clock.clone())
                .mark_authorization_needed(reason)
                .await
        {
            tracing::error!(%error, "could not record that authorization is needed");
        }
        Outcome::AuthorizationRequired(reason.to_owned())
    }

    async fn webex_failure(
        &self,
        report: &mut CycleReport,
        changes: &mut Changes,
        error: &WebexError,
        doing: &str,
    ) -> Outcome {
        report.errors += 1;
        changes.run_errors.push(RunError {
            at: self.clock.now(),
            instance_id: None,
            kind: doing.into(),
            message: error.to_string(),
            tracking_id: error.tracking_id().map(str::to_owned),
        });
        match error {
            WebexError::AuthorizationRequired { reason, .. } => {
                self.authorization_required(reason).await
            }
            WebexError::RateLimited { .. } => {
                report.rate_limited += 1;
                Outcome::Failed(format!("{doing}: {error}"))
            }
            _ => Outcome::Failed(format!("{doing}: {error}")),
        }
    }

    /// Checks out a working copy, applies `changes` in one transaction, checks integrity, uploads
    /// conditionally; on a conflict checks out the newer database and does it again.
    async fn record(
        &self,
        report: &mut CycleReport,
        replica: &Replica,
        changes: Changes,
    ) -> Result<(), CollectError> {
        let changes = Arc::new(changes);
        for attempt in 1..=self.settings.upload_attempts.max(1) {
            let copy = replica.checkout(&report.run_id).await?;
            report.downloaded |= copy.downloaded;
            let path = copy.path.clone();
            let db = blocking(move || Database::open(&path)).await?;
            let pending = changes.clone();
            blocking(move || {
                let mut db = db;
                let applied = db.apply(&pending)?;
                tracing::debug!(?applied, "changes applied");
                Ok::<_, DbError>(())
            })
            .await?;
            // Days that List Meetings can no longer return go to their archives before the hot
            // object is uploaded. A failure only postpones it: the days stay hot, nothing is lost.
            let first_hot = history::first_hot_day(self.clock.now(), self.settings.rules.retention);
            match history::move_old_days(&self.store, &copy.path, first_hot, &self.work_dir).await {
                Ok(archived) => report.archives_written += archived.written.len(),
                Err(error) => {
                    tracing::warn!(%error, "archiving old days failed; they stay in the hot database until the next cycle");
                }
            }
            let path = copy.path.clone();
            blocking(move || {
                let db = Database::open(&path)?;
                db.compact_if_sparse()?;
                db.integrity_check()?;
                Ok::<_, DbError>(())
            })
            .await?;
            report.upload_attempts = attempt;
            match replica.commit(&copy).await {
                Ok(etag) => {
                    tracing::info!(%etag, outcome = report.outcome.label(), calls = report.calls, pages = report.pages, "cycle recorded");
                    Replica::discard(&copy);
                    return Ok(());
                }
                Err(StoreError::PreconditionFailed { .. }) => {
                    tracing::info!(
                        attempt,
                        "the database changed since it was read; merging and trying again"
                    );
                    Replica::discard(&copy);
                }
                Err(other) => {
                    Replica::discard(&copy);
                    return Err(other.into());
                }
            }
        }
        Err(CollectError::Contention(self.settings.upload_attempts))
    }
}

/// Stored statuses updated with this cycle's listing and any crashed run's calls.
fn merge_statuses(
    stored: &[MeetingStatus],
    listed: &[MeetingRow],
    crashed: &[CheckpointUpdate],
) -> Vec<MeetingStatus> {
    let mut by_id: std::collections::BTreeMap<&str, MeetingStatus> = stored
        .iter()
        .map(|s| (s.instance_id.as_str(), s.clone()))
        .collect();
    for row in listed {
        let entry = by_id
            .entry(row.instance_id.as_str())
            .or_insert_with(|| MeetingStatus {
                instance_id: row.instance_id.clone(),
                start: None,
                end: None,
                state: None,
                item_digest: None,
                checkpoint: crate::db::Checkpoint::default(),
            });
        entry.start = row.start;
        entry.end = row.end;
        entry.state.clone_from(&row.state);
    }
    for update in crashed {
        if let Some(entry) = by_id.get_mut(update.instance_id.as_str()) {
            let next = entry
                .checkpoint
                .next_allowed_at
                .map_or(update.next_allowed_at, |n| n.max(update.next_allowed_at));
            entry.checkpoint.next_allowed_at = Some(next);
        }
    }
    by_id.into_values().collect()
}

fn holder() -> String {
    let host = std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_STREAM_NAME"))
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{host} pid {}", std::process::id())
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn blocking<T: Send + 'static, E: Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, CollectError>
where
    CollectError: From<E>,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(CollectError::from),
        Err(join) => Err(CollectError::Store(StoreError::backend(
            "task", "database", join,
        ))),
    }
}
