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
                // A run that crashed, or finished without recording its calls (its upload
                // failed): its planned calls were made, so they count against the 5-minute rule.
                // They stay in the lease, ours now, until a run records them: if this run cannot
                // record either, the next one must still hold them back.
                let crashed =
                    (!existing.released || !existing.planned_calls.is_empty()).then_some(existing);
                if let Some(crashed) = &crashed {
                    for id in &crashed.planned_calls {
                        if !lease.planned_calls.contains(id) {
                            lease.planned_calls.push(id.clone());
                        }
                    }
                }
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

/// Releases our lease, leaving the run's summary. The planned calls are cleared only when the run
/// recorded them; otherwise (its upload failed) they stay, and the next run counts them as made.
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
    if summary.recorded {
        lease.planned_calls.clear();
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::FolderStore;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn lease(run_id: &str, now: DateTime<Utc>) -> Lease {
        Lease {
            run_id: run_id.into(),
            holder: "test".into(),
            acquired_at: now,
            expires_at: now + chrono::Duration::minutes(4),
            planned_calls: Vec::new(),
            released: false,
            last_run: None,
        }
    }

    fn summary(run_id: &str, ended_at: DateTime<Utc>, recorded: bool) -> RunSummary {
        RunSummary {
            run_id: run_id.into(),
            started_at: ended_at,
            ended_at,
            outcome: if recorded { "ok" } else { "failed" }.into(),
            detail: None,
            listed: 0,
            calls: 1,
            recorded,
            due: 1,
            pages: 1,
            bytes: 1,
            rate_limited: 0,
            errors: 0,
        }
    }

    async fn run(
        store: &SharedStore,
        run_id: &str,
        now: DateTime<Utc>,
        recorded: bool,
    ) -> Option<Lease> {
        let mut mine = lease(run_id, now);
        let Acquired::Taken { etag, crashed } = acquire(store, &mut mine, now).await.unwrap()
        else {
            panic!("{run_id} should take the lease");
        };
        mine.planned_calls.push(format!("{run_id}_I_1"));
        let etag = update(store, &mine, &etag).await.unwrap();
        release(store, mine, &etag, summary(run_id, now, recorded))
            .await
            .unwrap();
        crashed
    }

    #[tokio::test]
    async fn a_live_lease_is_held_and_calls_a_run_did_not_record_count_for_the_next() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        let store: SharedStore = Arc::new(FolderStore::new(dir.clone()).unwrap());
        let t0 = at("2026-01-05T10:00:00Z");
        // A live lease makes a second run stand down.
        let mut first = lease("first", t0);
        assert!(matches!(
            acquire(&store, &mut first, t0).await.unwrap(),
            Acquired::Taken { crashed: None, .. }
        ));
        let mut second = lease("second", t0);
        assert!(matches!(
            acquire(&store, &mut second, t0 + chrono::Duration::minutes(1)).await.unwrap(),
            Acquired::Held(holder) if holder.run_id == "first"
        ));
        // Lapsed without a release (a crash): taken over, its planned calls handed on.
        let later = t0 + chrono::Duration::minutes(5);
        assert_eq!(run(&store, "a", later, true).await.unwrap().run_id, "first");
        // Released having recorded its calls: nothing handed on.
        let later = later + chrono::Duration::minutes(5);
        assert!(run(&store, "b", later, false).await.is_none());
        // "b" released without recording (its upload failed): its calls are handed on.
        let later = later + chrono::Duration::minutes(5);
        let handed = run(&store, "c", later, true).await.unwrap();
        assert_eq!(handed.run_id, "b");
        assert_eq!(handed.planned_calls, vec!["b_I_1".to_owned()]);
        // "c" recorded (its own calls and b's, as held back): nothing handed on to "c2".
        let later = later + chrono::Duration::minutes(5);
        assert_eq!(run(&store, "c2", later, false).await, None);
        // "c2" failed to record; so does "c3", which took its calls over: "c4" still gets both
        // runs' calls (found by the faults run: they used to be dropped after one hand-over).
        let later = later + chrono::Duration::minutes(5);
        assert_eq!(
            run(&store, "c3", later, false).await.unwrap().planned_calls,
            vec!["c2_I_1".to_owned()]
        );
        let later = later + chrono::Duration::minutes(5);
        assert_eq!(
            run(&store, "c4", later, true).await.unwrap().planned_calls,
            vec!["c2_I_1".to_owned(), "c3_I_1".to_owned()]
        );
        // "c4" recorded: the next run starts clean, and sees "c4" as the last run.
        let mut next = lease("d", later + chrono::Duration::minutes(5));
        let Acquired::Taken { crashed, .. } =
            acquire(&store, &mut next, later + chrono::Duration::minutes(5))
                .await
                .unwrap()
        else {
            panic!("d should take the lease");
        };
        assert!(crashed.is_none());
        assert_eq!(next.last_run.unwrap().run_id, "c4");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
