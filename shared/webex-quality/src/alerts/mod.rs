//! Alerts after each collection cycle (`WEBEX_QUALITY_ALERTS_FILE`): poor meetings, people poor
//! again and again, offices poor in the last hour, "authorization needed", no successful cycle,
//! meetings about to leave Webex's 7-day window unfetched; posted to a Webex space through a bot
//! and/or to an incoming webhook.
//!
//! Each alert has an id (its rule and what it is about) and is raised once: the alerts' state
//! object ([`state::ALERTS_KEY`]) remembers it, and it is written with conditional writes only,
//! before anything is sent. Delivery then goes destination by destination, each success recorded
//! at once; a failure is retried by the next cycle, and a retry first looks for the alert in the
//! space (an earlier post whose answer was lost), so a retry does not post it twice. Alerts run
//! under the collector's lease, so two runners never deliver at once. Each rule sends at most
//! `max_per_rule_per_hour` alerts an hour; the rest are recorded as suppressed.

mod destinations;
mod evaluate;
pub mod state;
mod text;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::{AlertsConfig, ConfigError};
use crate::db::{Database, DbError};
use crate::history::Replica;
use crate::quality::Thresholds;
use crate::site::PersonKey;
use crate::site::offices::Offices;
use crate::status::StatusStore;
use crate::storage::{SharedStore, StoreError};
use destinations::Destination;
pub use evaluate::Raised;
use evaluate::{Inputs, evaluate};
pub use state::{ALERTS_KEY, AlertState, Delivery, Entry, Rule};
use text::{clock, md};

/// Failed deliveries of one alert before it is given up.
const MAX_ATTEMPTS: u32 = 12;

/// Conditional writes tried before the alerts give way to another writer.
const WRITE_ATTEMPTS: usize = 4;

/// How far back the first run looks for meetings fetched final.
const FIRST_LOOK_BACK: chrono::Duration = chrono::Duration::hours(24);

/// An alerts failure (the cycle itself is not affected: it is logged and the next cycle goes on).
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The status object could not be read.
    #[error(transparent)]
    Status(#[from] crate::status::StatusError),
    /// The HTTP client could not be made.
    #[error("alerts' HTTP client: {0}")]
    Http(String),
    /// Other runners kept writing the alerts' state.
    #[error("the alerts' state kept changing ({0} attempts); the next cycle goes on")]
    Contention(usize),
}

/// What one run of the alerts did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertsReport {
    /// Alerts raised now (new ids).
    pub raised: usize,
    /// Of those, over their rule's hourly limit.
    pub suppressed: usize,
    /// Alerts delivered everywhere by this run.
    pub sent: usize,
    /// Deliveries that failed (retried next time).
    pub failures: usize,
    /// Alerts still waiting for delivery.
    pub pending: usize,
}

/// The cycle the alerts follow.
#[derive(Debug, Clone, Copy)]
pub struct AfterCycle {
    /// Now.
    pub now: DateTime<Utc>,
    /// Whether the cycle succeeded.
    pub cycle_ok: bool,
    /// When the alerts must be done (what is not delivered by then waits for the next cycle).
    pub deadline: Instant,
    /// How long Webex keeps a meeting's qualities (7 days).
    pub retention: chrono::Duration,
}

/// The alerts of one deployment.
#[derive(Debug, Clone)]
pub struct Alerter {
    store: SharedStore,
    config: AlertsConfig,
    offices: Offices,
    thresholds: Thresholds,
    destinations: Vec<Destination>,
    http: reqwest::Client,
    work_dir: PathBuf,
}

impl Alerter {
    /// The alerts of `config`, posting to a space through `api_url` (`WEBEX_API_URL`), reading the
    /// database through the cache in `work_dir` (the collector's: usually no download).
    ///
    /// # Errors
    /// The sites or thresholds file cannot be read; the HTTP client cannot be made.
    pub fn new(
        store: SharedStore,
        config: &AlertsConfig,
        api_url: &str,
        work_dir: PathBuf,
    ) -> Result<Self, ConfigError> {
        let offices = Offices::load(config.sites_file.as_deref())?;
        let thresholds = Thresholds::load(config.thresholds_file.as_deref())?;
        let mut destinations = Vec::new();
        if let (Some(room), Some(token)) = (&config.rules.webex_room_id, &config.bot_token) {
            destinations.push(Destination::Space {
                api: api_url.trim_end_matches('/').to_owned(),
                token: token.clone(),
                room: room.clone(),
            });
        }
        if let Some(url) = &config.webhook_url {
            destinations.push(Destination::Webhook { url: url.clone() });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ConfigError {
                name: "WEBEX_QUALITY_ALERTS_FILE",
                problem: format!("the alerts' HTTP client could not be made ({e})"),
                fix: "Check the machine's TLS set-up.".into(),
            })?;
        Ok(Self {
            store,
            config: config.clone(),
            offices,
            thresholds,
            destinations,
            http,
            work_dir,
        })
    }

    /// Raises what the rules find after a cycle, then delivers what waits, until `run.deadline`.
    ///
    /// # Errors
    /// Store or database failures, or contention on the state; alerts raised before stay raised.
    pub async fn after_cycle(&self, run: AfterCycle) -> Result<AlertsReport, AlertError> {
        let mut report = AlertsReport::default();
        let (mut alerts, mut version) = self.raise(run, &mut report).await?;
        let mut pending: Vec<(DateTime<Utc>, String)> = alerts
            .alerts
            .iter()
            .filter(|(_, e)| e.delivery == Delivery::Pending)
            .map(|(id, e)| (e.created, id.clone()))
            .collect();
        pending.sort();
        for (_, id) in pending {
            if Instant::now() >= run.deadline {
                break;
            }
            let Some(entry) = alerts.alerts.get(&id).cloned() else {
                continue;
            };
            // The attempt is written down before anything is sent: if this run stops between a
            // post and its record, the next one knows to look for the post first.
            (alerts, version) = self.attempt(alerts, version, &id).await?;
            let mut sent_to = entry.sent_to.clone();
            let mut error = None;
            for destination in &self.destinations {
                if sent_to.contains(destination.name()) {
                    continue;
                }
                if entry.attempts > 0 {
                    match destination.already_has(&self.http, &id).await {
                        Ok(true) => {
                            sent_to.insert(destination.name().to_owned());
                            continue;
                        }
                        Ok(false) => {}
                        Err(e) => {
                            error = Some(e);
                            continue;
                        }
                    }
                }
                match destination
                    .send(&self.http, (&id, entry.rule, &entry.text))
                    .await
                {
                    Ok(()) => {
                        sent_to.insert(destination.name().to_owned());
                    }
                    Err(e) => error = Some(e),
                }
            }
            if let Some(e) = &error {
                tracing::warn!(alert = %id, error = %e, "an alert could not be delivered; the next cycle tries again");
                report.failures += 1;
            }
            (alerts, version) = self.record(alerts, version, &id, (sent_to, error)).await?;
            // Whether it is delivered everywhere is what `record` wrote down.
            if alerts
                .alerts
                .get(&id)
                .is_some_and(|e| e.delivery == Delivery::Sent)
            {
                report.sent += 1;
            }
        }
        report.pending = alerts
            .alerts
            .values()
            .filter(|e| e.delivery == Delivery::Pending)
            .count();
        Ok(report)
    }

    /// Raises the rules' new alerts into the state (written before anything is sent).
    async fn raise(
        &self,
        run: AfterCycle,
        report: &mut AlertsReport,
    ) -> Result<(AlertState, Option<crate::storage::ETag>), AlertError> {
        let person_key = PersonKey::load_or_create(self.store.as_ref()).await?;
        let status = StatusStore::new(self.store.clone())
            .load()
            .await?
            .map(|(status, _)| status);
        for _ in 0..WRITE_ATTEMPTS {
            let (mut alerts, version) = state::load(&self.store).await?;
            let now = run.now;
            let previous_ok = alerts.last_ok_cycle;
            if run.cycle_ok {
                alerts.last_ok_cycle = Some(now);
            }
            let inputs = Inputs {
                now,
                since: alerts.evaluated_through.unwrap_or(now - FIRST_LOOK_BACK),
                rules: self.config.rules.clone(),
                thresholds: self.thresholds,
                offices: self.offices.clone(),
                person_key: person_key.clone(),
                show_personal: self.config.show_personal,
                dashboard: self.config.dashboard_url.clone(),
                retention: run.retention,
            };
            let poor = alerts.poor_meetings.clone();
            let replica = Replica::new(self.store.clone(), self.work_dir.clone());
            let (found, _) = replica
                .read_current(move |path| {
                    let db = Database::open(path)?;
                    Ok::<_, AlertError>(evaluate(&db, &inputs, poor)?)
                })
                .await?;
            let mut raised = Vec::new();
            if let Some(found) = found {
                raised = found.raised;
                alerts.poor_meetings = found.poor_meetings;
                alerts.evaluated_through = Some(found.evaluated_through);
            }
            let rules = &self.config.rules;
            if rules.authorization_needed
                && let Some(needed) = status
                    .as_ref()
                    .and_then(|s| s.authorization.needed.as_ref())
            {
                raised.push(Raised {
                    id: format!("authorization_needed:{}", needed.since.to_rfc3339()),
                    rule: Rule::AuthorizationNeeded,
                    text: format!(
                        "**Authorization needed** since {} UTC: {}. Collection has stopped until an administrator logs in again.",
                        clock(needed.since),
                        md(&needed.reason)
                    ),
                });
            }
            if let (Some(minutes), false, Some(last_ok)) =
                (rules.no_cycle_minutes, run.cycle_ok, previous_ok)
                && now - last_ok >= chrono::Duration::minutes(i64::from(minutes))
            {
                raised.push(Raised {
                    id: format!("no_cycle:{}", last_ok.to_rfc3339()),
                    rule: Rule::NoCycle,
                    text: format!(
                        "**Collection failing**: no successful cycle since {} UTC ({} minutes).",
                        clock(last_ok),
                        (now - last_ok).num_minutes()
                    ),
                });
            }
            let mut counts = (0, 0);
            for alert in raised {
                if alerts.alerts.contains_key(&alert.id) {
                    continue;
                }
                let limited = alerts.raised_since(alert.rule, now - chrono::Duration::hours(1))
                    >= usize::try_from(rules.max_per_rule_per_hour).unwrap_or(usize::MAX);
                counts.0 += 1;
                counts.1 += usize::from(limited);
                if limited {
                    tracing::warn!(alert = %alert.id, rule = alert.rule.name(), "over the rule's hourly limit: recorded, not sent");
                }
                alerts.alerts.insert(
                    alert.id,
                    Entry {
                        rule: alert.rule,
                        text: alert.text,
                        created: now,
                        delivery: if limited {
                            Delivery::Suppressed
                        } else {
                            Delivery::Pending
                        },
                        attempts: 0,
                        sent_to: std::collections::BTreeSet::new(),
                        last_error: None,
                    },
                );
            }
            alerts.prune(now);
            match state::save(&self.store, &alerts, version.as_ref()).await {
                Ok(etag) => {
                    report.raised += counts.0;
                    report.suppressed += counts.1;
                    return Ok((alerts, Some(etag)));
                }
                Err(StoreError::PreconditionFailed { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Err(AlertError::Contention(WRITE_ATTEMPTS))
    }

    /// Counts one more delivery attempt of alert `id`.
    async fn attempt(
        &self,
        alerts: AlertState,
        version: Option<crate::storage::ETag>,
        id: &str,
    ) -> Result<(AlertState, Option<crate::storage::ETag>), AlertError> {
        self.change_entry(alerts, version, id, |entry| entry.attempts += 1)
            .await
    }

    /// Records one alert's delivery: the destinations that have it, and the last failure.
    async fn record(
        &self,
        alerts: AlertState,
        version: Option<crate::storage::ETag>,
        id: &str,
        (sent_to, error): (std::collections::BTreeSet<String>, Option<String>),
    ) -> Result<(AlertState, Option<crate::storage::ETag>), AlertError> {
        let names: Vec<&str> = self.destinations.iter().map(Destination::name).collect();
        self.change_entry(alerts, version, id, |entry| {
            entry.sent_to.extend(sent_to.iter().cloned());
            if let Some(e) = &error {
                entry.last_error = Some(e.clone());
            }
            if names.iter().all(|n| entry.sent_to.contains(*n)) {
                entry.delivery = Delivery::Sent;
            } else if entry.attempts >= MAX_ATTEMPTS {
                entry.delivery = Delivery::Failed;
                tracing::error!(alert = %id, "an alert could not be delivered after {MAX_ATTEMPTS} attempts; given up");
            }
        })
        .await
    }

    /// Applies `change` to alert `id` and writes the state; on a conflict, again over the newest
    /// state another writer left.
    async fn change_entry(
        &self,
        mut alerts: AlertState,
        mut version: Option<crate::storage::ETag>,
        id: &str,
        change: impl Fn(&mut Entry),
    ) -> Result<(AlertState, Option<crate::storage::ETag>), AlertError> {
        for _ in 0..WRITE_ATTEMPTS {
            if let Some(entry) = alerts.alerts.get_mut(id) {
                change(entry);
            }
            match state::save(&self.store, &alerts, version.as_ref()).await {
                Ok(etag) => return Ok((alerts, Some(etag))),
                Err(StoreError::PreconditionFailed { .. }) => {
                    (alerts, version) = state::load(&self.store).await?;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AlertError::Contention(WRITE_ATTEMPTS))
    }
}
