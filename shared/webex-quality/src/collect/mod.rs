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

mod access;
mod call;
mod lease;
pub mod plan;
mod record;
mod report;
mod settings;
mod spill;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::time::Instant;

pub use crate::status::RunSummary;
pub use lease::{LEASE_KEY, Lease, read as read_lease};
pub use plan::{Due, Plan, Reason, Rules};

use crate::clock::SharedClock;
pub use crate::config::Access;
use crate::config::{CollectorConfig, KeepSnapshots, WebexUrls};
use crate::db::{
    ArchivedMeeting, Changes, CheckpointUpdate, Database, MeetingRow, MeetingStatus, RunError,
    RunRecord,
};
use crate::history::{self, Replica};
use crate::status::{AuthorizationStatus, StatusStore};
use crate::storage::SharedStore;
use crate::storage::work_files::WorkFile;
use crate::tokens::TokenStore;
use crate::webex::{ClientOptions, MeetingQuery, WebexError, http_client};
use call::CallOutcome;
use writer::DeltaWriter;

pub use report::{CollectError, CycleReport, Outcome};
pub use settings::CycleSettings;
pub use spill::SPILL_PREFIX;

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
    /// The alerts run after each cycle, if configured.
    alerter: Option<crate::alerts::Alerter>,
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
            alerter: None,
        })
    }

    /// This collector, running `alerter` after each cycle (under the cycle's lease and within its
    /// time).
    #[must_use]
    pub fn with_alerts(mut self, alerter: crate::alerts::Alerter) -> Self {
        self.alerter = Some(alerter);
        self
    }

    /// The alerts of `config` for this collector (its store, Webex API and working folder), when
    /// configured.
    ///
    /// # Errors
    /// The alerts' sites or thresholds file cannot be read.
    pub fn alerts_from_config(
        self,
        config: &CollectorConfig,
    ) -> Result<Self, crate::config::ConfigError> {
        let Some(alerts) = &config.alerts else {
            return Ok(self);
        };
        let alerter = crate::alerts::Alerter::new(
            self.store.clone(),
            alerts,
            config.urls.api.as_str(),
            self.work_dir.clone(),
        )?;
        Ok(self.with_alerts(alerter))
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
        // What a stopped run left (its working copy of the hot database, a download, an archive).
        crate::storage::work_files::remove_stale(&self.work_dir);
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
            alerts: None,
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
        // The alerts, still under the lease: two runners never deliver at once.
        if let Some(alerter) = &self.alerter {
            let run = crate::alerts::AfterCycle {
                now: self.clock.now(),
                cycle_ok: result.is_ok() && report.outcome == Outcome::Ok,
                deadline: deadline.into_std(),
                retention: self.settings.rules.retention,
            };
            match alerter.after_cycle(run).await {
                Ok(alerts) => report.alerts = Some(alerts),
                Err(error) => {
                    tracing::warn!(%error, "the alerts failed; the next cycle goes on with them");
                }
            }
        }
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
        let rule = history::ArchiveRule::at(started_at, self.settings.rules.retention);
        let (read, downloaded) = replica
            .read_current(move |path| {
                let db = Database::open(path)?;
                let statuses = db.meeting_statuses(listed_from)?;
                let archived = db.archived_meetings()?;
                let archivable = !db
                    .days_ready(rule.settled_before, rule.first_hot)?
                    .is_empty();
                Ok::<_, CollectError>(((statuses, archived), archivable))
            })
            .await?;
        let ((statuses, archived), archivable) = read.unwrap_or_default();
        report.downloaded = downloaded;

        let mut changes = Changes::default();
        let delta_path =
            WorkFile::Run.path(&self.work_dir, &format!("{}.delta.sqlite", report.run_id));
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

        // What earlier cycles fetched but could not record: their checkpoints count before planning.
        let spills = self.find_spills(&report.run_id).await;
        changes
            .checkpoints
            .extend(spills.checkpoints.iter().cloned());

        let mut restore = Vec::new();
        let outcome = self
            .collect(
                report,
                my_lease,
                lease_etag,
                (&statuses, &archived),
                (&mut changes, &mut restore, &writer),
                deadlines,
            )
            .await;
        let stored_calls = writer.finish().await;
        let stored_calls = match stored_calls {
            Ok(counts) if spills.is_empty() => Ok(counts),
            Ok(_) => self.absorb_spills(&delta_path, &spills).await,
            Err(error) => Err(error),
        };
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
            && changes.run_errors.is_empty()
            && spills.is_empty();
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
        let checkpoints = changes.checkpoints.clone();
        let recorded = self.record(report, &replica, changes, restore).await;
        match &recorded {
            Ok(()) => self.clear_spills(spills).await,
            Err(_) if stored_calls.calls > 0 => {
                self.spill(&report.run_id, &delta_path, checkpoints, spills)
                    .await;
            }
            Err(_) => {}
        }
        let _ = std::fs::remove_file(&delta_path);
        recorded.map(|()| true)
    }

    /// Lists, plans and fetches; everything learnt goes into `changes`.
    async fn collect(
        &self,
        report: &mut CycleReport,
        my_lease: &mut Lease,
        lease_etag: &mut crate::storage::ETag,
        (statuses, archived): (&[MeetingStatus], &HashMap<String, ArchivedMeeting>),
        (changes, restore, writer): (&mut Changes, &mut Vec<ArchivedMeeting>, &DeltaWriter),
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
        // Meetings of days already archived: left there when listed unchanged; brought back (with
        // their data, final as archived) when their item changed.
        let mut known = statuses.to_vec();
        changes
            .meetings
            .retain(|row| match archived.get(&row.instance_id) {
                None => true,
                Some(meeting) if meeting.same_item(&row.raw_item) => false,
                Some(meeting) => {
                    known.push(plan::archived_status(meeting));
                    restore.push(meeting.clone());
                    true
                }
            });

        let merged = plan::merge_statuses(&known, &changes.meetings, &changes.checkpoints);
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

        // The planned calls go into the lease before any is made (beside calls taken over from a
        // run that could not record them, which stay until this run records them).
        for due in &plan.due {
            if !my_lease.planned_calls.contains(&due.instance_id) {
                my_lease.planned_calls.push(due.instance_id.clone());
            }
        }
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
}

fn holder() -> String {
    let host = crate::config::host_name(&crate::config::environment);
    format!("{host} pid {}", std::process::id())
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
