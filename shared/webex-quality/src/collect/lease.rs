//! The collector's lease: one object that says which run is collecting until when, and which
//! meetings it is about to call. A second run that finds a live lease stands down (two runs would
//! call the same meetings and break the 5-minute rule); a run that finds a lapsed, unreleased lease
//! (its owner crashed) takes over and counts the crashed run's planned calls as made, so the
//! 5-minute rule holds across crashes too.
//!
//! Released, the object stays, with a summary of the last run: the status page reads it, and a quiet
//! cycle (nothing new) writes only this, not the database.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::status::RunSummary;
use crate::storage::{ETag, Fetched, PutCondition, SharedStore, StoreError};

/// The lease's key in the data store.
pub const LEASE_KEY: &str = "collector-lease.json";

/// The lease object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The run holding it (or that held it last).
    pub run_id: String,
    /// Host and process, for people reading the object.
    pub holder: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// When it lapses if not released (the run's deadline plus a margin).
    pub expires_at: DateTime<Utc>,
    /// Meetings the run calls (written before the calls are made).
    #[serde(default)]
    pub planned_calls: Vec<String>,
    /// Set when the run finished.
    #[serde(default)]
    pub released: bool,
    /// The last finished run.
    #[serde(default)]
    pub last_run: Option<RunSummary>,
}

/// What trying to take the lease found.
#[derive(Debug)]
pub enum Acquired {
    /// Taken; `crashed` is the lapsed lease of a run that never finished, if any.
    Taken {
        /// ETag of our lease.
        etag: ETag,
        /// The lease of a run that never finished.
        crashed: Option<Lease>,
    },
    /// Another run holds it.
    Held(Lease),
}

/// Reads the lease object, if any.
///
/// # Errors
/// Store failures.
pub async fn read(store: &SharedStore) -> Result<Option<(Lease, ETag)>, StoreError> {
    match store.get(LEASE_KEY, None).await? {
        Fetched::Found(object) => Ok(serde_json::from_slice::<Lease>(&object.bytes)
            .ok()
            .map(|l| (l, object.etag))),
        Fetched::NotFound | Fetched::NotModified => Ok(None),
    }
}

/// Takes the lease for `lease.run_id` unless a live one exists. The last run's summary is carried
/// over into `lease`.
///
/// # Errors
/// Store failures.
pub async fn acquire(
    store: &SharedStore,
    lease: &mut Lease,
    now: DateTime<Utc>,
) -> Result<Acquired, StoreError> {
    let (condition, crashed) = match store.get(LEASE_KEY, None).await? {
        Fetched::Found(object) => match serde_json::from_slice::<Lease>(&object.bytes) {
            Ok(existing) if !existing.released && existing.expires_at > now => {
                return Ok(Acquired::Held(existing));
            }
            Ok(existing) => {
                lease.last_run.clone_from(&existing.last_run);
                let crashed = (!existing.released).then_some(existing);
                (PutCondition::IfMatch(object.etag), crashed)
            }
            // Unreadable: replace it, but only that version of it.
            Err(_) => (PutCondition::IfMatch(object.etag), None),
        },
        Fetched::NotFound | Fetched::NotModified => (PutCondition::IfAbsent, None),
    };
    match write(store, lease, condition).await {
        Ok(etag) => Ok(Acquired::Taken { etag, crashed }),
        Err(StoreError::PreconditionFailed { .. }) => match read(store).await? {
            Some((winner, _)) => Ok(Acquired::Held(winner)),
            None => Err(StoreError::PreconditionFailed {
                key: LEASE_KEY.into(),
            }),
        },
        Err(other) => Err(other),
    }
}

/// Rewrites our lease if it is still ours.
///
/// # Errors
/// [`StoreError::PreconditionFailed`] if someone took it over.
pub async fn update(store: &SharedStore, lease: &Lease, etag: &ETag) -> Result<ETag, StoreError> {
    write(store, lease, PutCondition::IfMatch(etag.clone())).await
}

/// Releases our lease, leaving the run's summary.
///
/// # Errors
/// [`StoreError::PreconditionFailed`] if someone took it over meanwhile.
pub async fn release(
    store: &SharedStore,
    mut lease: Lease,
    etag: &ETag,
    summary: RunSummary,
) -> Result<(), StoreError> {
    lease.released = true;
    lease.expires_at = summary.ended_at;
    lease.planned_calls.clear();
    lease.last_run = Some(summary);
    update(store, &lease, etag).await.map(|_| ())
}

async fn write(
    store: &SharedStore,
    lease: &Lease,
    condition: PutCondition,
) -> Result<ETag, StoreError> {
    let bytes =
        serde_json::to_vec_pretty(lease).map_err(|e| StoreError::backend("put", LEASE_KEY, e))?;
    store
        .put(LEASE_KEY, Bytes::from(bytes), condition, "application/json")
        .await
}
