//! The collector's lease: one object that says which run is collecting until when, and which
//! meetings it is about to call. A second run that finds a live lease stands down (two runs would
//! call the same meetings and break the 5-minute rule); a run that finds an expired lease (its owner
//! crashed) takes over and counts the crashed run's planned calls as made, so the 5-minute rule
//! holds across crashes too.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::{ETag, Fetched, PutCondition, SharedStore, StoreError};

/// The lease's key in the data store.
pub const LEASE_KEY: &str = "collector-lease.json";

/// The lease object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The run holding it.
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
}

/// What trying to take the lease found.
#[derive(Debug)]
pub enum Acquired {
    /// Taken; `crashed` is the expired lease it replaced, if any.
    Taken {
        /// ETag of our lease.
        etag: ETag,
        /// The lease of a run that never finished.
        crashed: Option<Lease>,
    },
    /// Another run holds it.
    Held(Lease),
}

/// Takes the lease for `lease.run_id` unless a live one exists.
///
/// # Errors
/// Store failures.
pub async fn acquire(
    store: &SharedStore,
    lease: &Lease,
    now: DateTime<Utc>,
) -> Result<Acquired, StoreError> {
    let (condition, crashed) = match store.get(LEASE_KEY, None).await? {
        Fetched::Found(object) => match serde_json::from_slice::<Lease>(&object.bytes) {
            Ok(existing) if existing.expires_at > now => return Ok(Acquired::Held(existing)),
            Ok(expired) => (PutCondition::IfMatch(object.etag), Some(expired)),
            // Unreadable: replace it, but only that version of it.
            Err(_) => (PutCondition::IfMatch(object.etag), None),
        },
        Fetched::NotFound | Fetched::NotModified => (PutCondition::IfAbsent, None),
    };
    match write(store, lease, condition).await {
        Ok(etag) => Ok(Acquired::Taken { etag, crashed }),
        Err(StoreError::PreconditionFailed { .. }) => match store.get(LEASE_KEY, None).await? {
            Fetched::Found(object) => match serde_json::from_slice::<Lease>(&object.bytes) {
                Ok(winner) => Ok(Acquired::Held(winner)),
                Err(e) => Err(StoreError::backend("get", LEASE_KEY, e)),
            },
            _ => Err(StoreError::PreconditionFailed {
                key: LEASE_KEY.into(),
            }),
        },
        Err(other) => Err(other),
    }
}

/// Rewrites our lease (with the planned calls) if it is still ours.
///
/// # Errors
/// [`StoreError::PreconditionFailed`] if someone took it over.
pub async fn update(store: &SharedStore, lease: &Lease, etag: &ETag) -> Result<ETag, StoreError> {
    write(store, lease, PutCondition::IfMatch(etag.clone())).await
}

/// Releases the lease if it is still ours.
///
/// # Errors
/// Store failures.
pub async fn release(store: &SharedStore, run_id: &str) -> Result<(), StoreError> {
    if let Fetched::Found(object) = store.get(LEASE_KEY, None).await?
        && serde_json::from_slice::<Lease>(&object.bytes).is_ok_and(|l| l.run_id == run_id)
    {
        store.delete(LEASE_KEY).await?;
    }
    Ok(())
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
