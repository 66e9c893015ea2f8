//! Recording a cycle: a working copy, the changes applied in one transaction, old days archived,
//! the integrity checked, a conditional upload; on a conflict, the same on the newer database.

use std::sync::Arc;

use super::{CollectError, Collector, CycleReport};
use crate::db::{ArchivedMeeting, Changes, Database, DbError};
use crate::history::{self, Replica};
use crate::storage::StoreError;

impl Collector {
    /// Checks out a working copy, applies `changes` in one transaction, checks integrity, uploads
    /// conditionally; on a conflict checks out the newer database and does it again.
    pub(super) async fn record(
        &self,
        report: &mut CycleReport,
        replica: &Replica,
        changes: Changes,
        restore: Vec<ArchivedMeeting>,
    ) -> Result<(), CollectError> {
        let changes = Arc::new(changes);
        for attempt in 1..=self.settings.upload_attempts.max(1) {
            let copy = replica.checkout(&report.run_id).await?;
            report.downloaded |= copy.downloaded;
            let mut pending = changes.clone();
            // Archived meetings whose item changed come back first, so that the new item lands
            // beside its data. If that fails they stay archived, their new items unstored: the
            // next cycle lists them again and tries again.
            if !restore.is_empty()
                && let Err(error) =
                    history::restore(&self.store, &copy.path, &restore, &self.work_dir).await
            {
                tracing::warn!(%error, "archived meetings whose item changed could not be brought back; trying again next cycle");
                let mut without = Changes::clone(&changes);
                without
                    .meetings
                    .retain(|row| restore.iter().all(|m| m.instance_id != row.instance_id));
                pending = Arc::new(without);
            }
            let path = copy.path.clone();
            let db = blocking(move || Database::open(&path)).await?;
            blocking(move || {
                let mut db = db;
                let applied = db.apply(&pending)?;
                tracing::debug!(?applied, "changes applied");
                Ok::<_, DbError>(())
            })
            .await?;
            // Days that List Meetings can no longer return go to their archives before the hot
            // object is uploaded. A failure only postpones it: the days stay hot, nothing is lost.
            let rule = history::ArchiveRule::at(self.clock.now(), self.settings.rules.retention);
            // Moving days out may end with a VACUUM: the copy may then be smaller.
            let mut vacuumed = false;
            match history::move_old_days(&self.store, &copy.path, rule, &self.work_dir).await {
                Ok(archived) => {
                    report.archives_written += archived.written.len();
                    vacuumed = archived.compacted;
                }
                Err(error) => {
                    tracing::warn!(%error, "archiving old days failed; they stay in the hot database until the next cycle");
                }
            }
            let path = copy.path.clone();
            let compacted = blocking(move || {
                let db = Database::open(&path)?;
                let compacted = db.compact_if_sparse()?;
                db.integrity_check()?;
                Ok::<_, DbError>(compacted)
            })
            .await?;
            // Only a VACUUM makes an SQLite file smaller: a smaller copy without one means data
            // was removed (a bug, a damaged file), and uploading it would replace the good object.
            let now = std::fs::metadata(&copy.path).map_or(0, |m| m.len());
            if let Err(error) = size_explained(copy.base_len, now, compacted || vacuumed) {
                Replica::discard(&copy);
                return Err(error);
            }
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

/// A copy of `now` bytes may replace one of `base` bytes when it is not smaller, or when a VACUUM
/// (`compacted`) made it so: SQLite files shrink no other way.
fn size_explained(base: u64, now: u64, compacted: bool) -> Result<(), CollectError> {
    if now < base && !compacted {
        Err(CollectError::Shrunk { base, now })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_smaller_than_its_base_is_uploaded_only_after_a_vacuum() {
        assert!(size_explained(1_000, 1_000, false).is_ok());
        assert!(size_explained(1_000, 4_096, false).is_ok());
        assert!(size_explained(0, 4_096, false).is_ok(), "a new database");
        assert!(size_explained(8_192, 4_096, true).is_ok(), "vacuumed");
        let error = size_explained(8_192, 4_096, false).unwrap_err();
        assert!(
            error.to_string().contains("from 8192 to 4096 bytes"),
            "{error}"
        );
    }
}
