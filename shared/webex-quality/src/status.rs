//! The status object (`status.json` in the data store): what the status page, the banner and the
//! alarms need, with no secret in it. The collector writes it at the end of every cycle, quiet cycles
//! included, and a login writes it when it stores new tokens; the site-builder reads it instead of
//! the token object, which it has no access to.
//!
//! Writes are conditional on the ETag read and merged on a conflict, so the collector and a login
//! never undo each other's part.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::{ETag, Fetched, PutCondition, SharedStore, StoreError};
use crate::tokens::{AuthorizationNeeded, TokenState};

/// The status object's key in the data store.
pub const STATUS_KEY: &str = "status.json";

/// What the last finished cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: DateTime<Utc>,
    /// `ok`, `partial`, `authorization required`, `failed`.
    pub outcome: String,
    /// Details.
    pub detail: Option<String>,
    /// Meetings listed.
    pub listed: usize,
    /// Qualities calls made.
    pub calls: usize,
    /// Whether it wrote the database (false: nothing new).
    pub recorded: bool,
    /// Meetings due.
    #[serde(default)]
    pub due: usize,
    /// Pages received.
    #[serde(default)]
    pub pages: usize,
    /// Bytes received.
    #[serde(default)]
    pub bytes: usize,
    /// Calls answered 429.
    #[serde(default)]
    pub rate_limited: usize,
    /// Errors recorded.
    #[serde(default)]
    pub errors: usize,
}

/// Who authorized the integration and how long its tokens last; never the tokens themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationStatus {
    /// Set when a human must authorize again.
    pub needed: Option<AuthorizationNeeded>,
    /// Whether any tokens are stored.
    pub has_tokens: bool,
    /// The masked email of the person who authorized.
    pub authorized_by: Option<String>,
    /// When they did.
    pub authorized_at: Option<DateTime<Utc>>,
    /// The organisation the tokens belong to.
    pub org_id: Option<String>,
    /// The scopes granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When the access token expires.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires (a human must authorize again before then).
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl AuthorizationStatus {
    /// The public part of the token object (`None`: nobody has authorized yet).
    #[must_use]
    pub fn from_tokens(tokens: Option<&TokenState>) -> Self {
        let Some(state) = tokens else {
            return Self::default();
        };
        let record = state.record.as_ref();
        Self {
            needed: state.authorization_needed.clone(),
            has_tokens: record.is_some(),
            authorized_by: state.authorized_by.as_ref().map(|a| a.email.clone()),
            authorized_at: state.authorized_by.as_ref().map(|a| a.at),
            org_id: state.org_id.clone(),
            scopes: record.map(|r| r.scopes.clone()).unwrap_or_default(),
            access_expires_at: record.map(|r| r.access_expires_at),
            refresh_expires_at: record.and_then(|r| r.refresh_expires_at),
        }
    }

    /// Days until the refresh token (or, without one, the access token) expires; negative once
    /// past; `None` without tokens.
    #[must_use]
    pub fn days_left(&self, now: DateTime<Utc>) -> Option<i64> {
        if !self.has_tokens {
            return None;
        }
        let expiry = self.refresh_expires_at.or(self.access_expires_at)?;
        Some((expiry - now).num_days())
    }
}

/// The status object's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// The last finished cycle.
    pub last_cycle: Option<RunSummary>,
    /// The authorization's state.
    #[serde(default)]
    pub authorization: AuthorizationStatus,
}

/// A status object failure.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Every conditional write lost a race.
    #[error("{STATUS_KEY} kept changing under this writer ({0} attempts)")]
    Contention(usize),
}

/// Reads and writes the status object.
#[derive(Debug, Clone)]
pub struct StatusStore {
    store: SharedStore,
}

impl StatusStore {
    /// The status object in `store`.
    #[must_use]
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// The current status and its ETag; `None` when there is none yet. An unreadable object reads
    /// as none (it is derived data: the next cycle writes it again).
    ///
    /// # Errors
    /// Store failures.
    pub async fn load(&self) -> Result<Option<(Status, ETag)>, StoreError> {
        match self.store.get(STATUS_KEY, None).await? {
            Fetched::Found(object) => match serde_json::from_slice(&object.bytes) {
                Ok(status) => Ok(Some((status, object.etag))),
                Err(error) => {
                    tracing::warn!(%error, "the status object is unreadable; it is written again");
                    Ok(Some((Status::default(), object.etag)))
                }
            },
            Fetched::NotFound | Fetched::NotModified => Ok(None),
        }
    }

    /// Read, change, conditional write; again (with what the other writer wrote) on a conflict.
    ///
    /// # Errors
    /// Store failures, or [`StatusError::Contention`] after repeated conflicts.
    pub async fn update(
        &self,
        now: DateTime<Utc>,
        change: impl Fn(&mut Status),
    ) -> Result<Status, StatusError> {
        const ATTEMPTS: usize = 5;
        for _ in 0..ATTEMPTS {
            let (mut status, etag) = match self.load().await? {
                Some((status, etag)) => (status, Some(etag)),
                None => (Status::default(), None),
            };
            change(&mut status);
            status.updated_at = Some(now);
            let bytes = serde_json::to_vec_pretty(&status)
                .map_err(|e| StoreError::backend("put", STATUS_KEY, e))?;
            let condition = etag.map_or(PutCondition::IfAbsent, PutCondition::IfMatch);
            match self
                .store
                .put(
                    STATUS_KEY,
                    Bytes::from(bytes),
                    condition,
                    "application/json",
                )
                .await
            {
                Ok(_) => return Ok(status),
                Err(StoreError::PreconditionFailed { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Err(StatusError::Contention(ATTEMPTS))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Secret;
    use crate::storage::FolderStore;
    use crate::tokens::Authorizer;
    use crate::webex::TokenRecord;

    /// A folder store in a temporary folder, removed when the guard is dropped.
    fn folder() -> (SharedStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (
            Arc::new(FolderStore::new(dir.path().to_owned()).unwrap()),
            dir,
        )
    }

    #[test]
    fn the_authorization_status_carries_no_token() {
        let now = Utc::now();
        let tokens = TokenState {
            record: Some(TokenRecord {
                access_token: Secret::new("access-secret-value"),
                access_expires_at: now + chrono::Duration::days(14),
                refresh_token: Some(Secret::new("refresh-secret-value")),
                refresh_expires_at: Some(now + chrono::Duration::days(90)),
                obtained_at: now,
                scopes: vec!["analytics:read_all".into()],
            }),
            authorization_needed: None,
            updated_at: now,
            org_id: Some("org-1".into()),
            authorized_by: Some(Authorizer {
                email: "a***@acme.example".into(),
                org_id: "org-1".into(),
                at: now,
                scopes: vec!["analytics:read_all".into()],
            }),
        };
        let status = Status {
            updated_at: Some(now),
            last_cycle: None,
            authorization: AuthorizationStatus::from_tokens(Some(&tokens)),
        };
        let text = serde_json::to_string(&status).unwrap();
        assert!(!text.contains("secret-value"), "{text}");
        assert!(text.contains("a***@acme.example"), "{text}");
        assert_eq!(status.authorization.days_left(now), Some(90));
    }

    #[tokio::test]
    async fn two_writers_keep_each_others_part() {
        let (store, _dir) = folder();
        let statuses = StatusStore::new(store.clone());
        let now = Utc::now();
        statuses
            .update(now, |s| {
                s.last_cycle = Some(RunSummary {
                    run_id: "run-1".into(),
                    ..RunSummary::default()
                });
            })
            .await
            .unwrap();
        statuses
            .update(now, |s| s.authorization.org_id = Some("org-1".into()))
            .await
            .unwrap();
        let (status, _) = statuses.load().await.unwrap().unwrap();
        assert_eq!(status.last_cycle.unwrap().run_id, "run-1");
        assert_eq!(status.authorization.org_id.as_deref(), Some("org-1"));
    }
}
