//! The alerts' memory, `alerts.json` in the data store: every alert raised (by its id, so it is
//! raised once), whether it was delivered where, and what the rules carry between cycles. Written
//! with conditional writes only, so two runners never both raise or send one alert.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::{ETag, Fetched, PutCondition, SharedStore, StoreError};

/// The alerts' state object in the data store.
pub const ALERTS_KEY: &str = "alerts.json";

/// How long a raised alert is remembered (its id cannot come back after: the rules look at the
/// last 8 days at most).
const REMEMBER_DAYS: i64 = 14;

/// What raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A meeting where enough participants had a poor stream.
    MeetingPoor,
    /// A person poor in enough meetings in 7 days.
    PersonPoor,
    /// An office poor above the limit in the last hour.
    OfficePoor,
    /// Webex needs an administrator to authorize again.
    AuthorizationNeeded,
    /// No successful cycle for too long.
    NoCycle,
    /// A meeting whose 7-day window is closing with its data not fetched.
    WindowClosing,
}

impl Rule {
    /// Its name in the state, the webhook body and the logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::MeetingPoor => "meeting_poor",
            Self::PersonPoor => "person_poor",
            Self::OfficePoor => "office_poor",
            Self::AuthorizationNeeded => "authorization_needed",
            Self::NoCycle => "no_cycle",
            Self::WindowClosing => "window_closing",
        }
    }
}

/// Where an alert is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Raised, not yet delivered everywhere.
    Pending,
    /// Delivered to every destination.
    Sent,
    /// Over its rule's hourly limit: recorded, never sent.
    Suppressed,
    /// Given up after repeated failures.
    Failed,
}

/// One alert raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its rule.
    pub rule: Rule,
    /// Its message, Markdown.
    pub text: String,
    /// When it was raised.
    pub created: DateTime<Utc>,
    /// Where it is.
    pub delivery: Delivery,
    /// Delivery attempts started (written before each attempt: a retry then looks for the post).
    #[serde(default)]
    pub attempts: u32,
    /// The destinations that have it.
    #[serde(default)]
    pub sent_to: BTreeSet<String>,
    /// The last failure.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The state object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// Every alert raised, by id.
    #[serde(default)]
    pub alerts: BTreeMap<String, Entry>,
    /// Meetings fetched final up to this time were looked at.
    #[serde(default)]
    pub evaluated_through: Option<DateTime<Utc>>,
    /// When a cycle last succeeded.
    #[serde(default)]
    pub last_ok_cycle: Option<DateTime<Utc>>,
    /// Per person (their page's id), the meetings of the last 7 days where they had a poor stream,
    /// with the meetings' start.
    #[serde(default)]
    pub poor_meetings: BTreeMap<String, BTreeMap<String, DateTime<Utc>>>,
}

impl AlertState {
    /// Forgets what no rule can look at any more.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let remember = now - chrono::Duration::days(REMEMBER_DAYS);
        self.alerts.retain(|_, e| e.created >= remember);
        let week = now - chrono::Duration::days(7);
        for meetings in self.poor_meetings.values_mut() {
            meetings.retain(|_, start| *start >= week);
        }
        self.poor_meetings.retain(|_, m| !m.is_empty());
    }

    /// Alerts of `rule` raised (and not suppressed) since `from`.
    #[must_use]
    pub fn raised_since(&self, rule: Rule, from: DateTime<Utc>) -> usize {
        self.alerts
            .values()
            .filter(|e| e.rule == rule && e.created >= from && e.delivery != Delivery::Suppressed)
            .count()
    }
}

/// Reads the state and its version.
///
/// # Errors
/// Store failures; an unreadable object is a [`StoreError::Backend`] (it is never overwritten
/// blindly: that would send its alerts again).
pub async fn load(store: &SharedStore) -> Result<(AlertState, Option<ETag>), StoreError> {
    match store.get(ALERTS_KEY, None).await? {
        Fetched::Found(object) => {
            let state = serde_json::from_slice(&object.bytes)
                .map_err(|e| StoreError::backend("get", ALERTS_KEY, e))?;
            Ok((state, Some(object.etag)))
        }
        Fetched::NotFound | Fetched::NotModified => Ok((AlertState::default(), None)),
    }
}

/// Writes the state over `version` (none: only if there is no state yet).
///
/// # Errors
/// [`StoreError::PreconditionFailed`] when another runner wrote first; store failures.
pub async fn save(
    store: &SharedStore,
    state: &AlertState,
    version: Option<&ETag>,
) -> Result<ETag, StoreError> {
    let bytes =
        serde_json::to_vec_pretty(state).map_err(|e| StoreError::backend("put", ALERTS_KEY, e))?;
    let condition = version.map_or(PutCondition::IfAbsent, |v| PutCondition::IfMatch(v.clone()));
    store
        .put(
            ALERTS_KEY,
            Bytes::from(bytes),
            condition,
            "application/json",
        )
        .await
}
