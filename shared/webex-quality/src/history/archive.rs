//! The collector's step that moves finished days out of the hot database into archive objects.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::{ArchiveKey, ArchiveRule, download};
use crate::db::{ArchivedMeeting, Database, DayCounts, DbError};
use crate::storage::work_files::WorkFile;
use crate::storage::{PutCondition, SharedStore, StoreError};

/// Parts tried for one day before giving up (each a day's late rows: more means something is wrong).
const MAX_PARTS: u32 = 20;

/// What [`move_old_days`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// The archive objects written, and what each holds.
    pub written: Vec<(ArchiveKey, DayCounts)>,
    /// Days found already archived whole (a run stopped after writing the archive).
    pub already_archived: Vec<NaiveDate>,
    /// Meetings removed from the hot database.
    pub meetings_moved: usize,
    /// Whether the hot database was rewritten without its free pages (`VACUUM`) afterwards: it
    /// may then be smaller than before.
    pub compacted: bool,
}

/// An archive step failure: nothing is removed from the hot database for the day it happened on.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Every part of a day exists and none holds the day's rows.
    #[error("day {0}: {MAX_PARTS} archive parts exist and none holds the day's rows")]
    TooManyParts(NaiveDate),
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, ArchiveError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(join) => Err(StoreError::backend("task", "archive", join).into()),
    }
}

/// Moves the days ready by `rule` out of the hot database file at `hot` (a working copy, not yet
/// uploaded): each day is written to its archive object (create-only), and removed from the file
/// only once the store holds it, its meetings remembered with the part that holds them. The file is
/// compacted afterwards when a day was removed.
///
/// Run before the hot object's upload: a run that stops in between leaves the day in both, and
/// the next run finds the archive whole and only removes the day.
///
/// # Errors
/// Store or database failures. The days moved before the failure stay moved (the file is
/// consistent after each day); the rest stay hot for the next run.
pub async fn move_old_days(
    store: &SharedStore,
    hot: &Path,
    rule: ArchiveRule,
    work_dir: &Path,
) -> Result<ArchiveReport, ArchiveError> {
    let mut report = ArchiveReport::default();
    let path = hot.to_owned();
    let days = blocking(move || {
        let db = Database::open(&path)?;
        db.forget_archived_before(rule.first_hot)?;
        db.days_ready(rule.settled_before, rule.first_hot)
    })
    .await?;
    for day in days {
        let file =
            WorkFile::Archive.unique(work_dir, &format!("{}-", day.format("%Y-%m-%d")), ".sqlite");
        let result = archive_day(store, hot, day, &file, work_dir, &mut report).await;
        let _ = std::fs::remove_file(&file);
        let part = result?;
        let path = hot.to_owned();
        let removed = blocking(move || Database::open(&path)?.remove_day(day, part)).await?;
        tracing::info!(%day, meetings = removed.meetings, calls = removed.calls, pages = removed.pages, runs = removed.runs, "day archived, removed from the hot database");
        report.meetings_moved += removed.meetings;
    }
    if report.meetings_moved > 0 || !report.written.is_empty() {
        let path = hot.to_owned();
        blocking(move || Database::open(&path)?.compact()).await?;
        report.compacted = true;
    }
    Ok(report)
}

/// Makes sure the store holds `day`'s rows: an existing part that holds them all, or a new part.
/// Returns that part.
async fn archive_day(
    store: &SharedStore,
    hot: &Path,
    day: NaiveDate,
    file: &Path,
    work_dir: &Path,
    report: &mut ArchiveReport,
) -> Result<u32, ArchiveError> {
    let (path, written): (PathBuf, PathBuf) = (hot.to_owned(), file.to_owned());
    let counts = blocking(move || Database::open(&path)?.write_day(day, &written)).await?;
    let mut zst = file.as_os_str().to_owned();
    zst.push(".zst");
    let zst = PathBuf::from(zst);
    let result = upload_day(store, hot, day, (file, &zst), work_dir, counts, report).await;
    let _ = std::fs::remove_file(&zst);
    result
}

async fn upload_day(
    store: &SharedStore,
    hot: &Path,
    day: NaiveDate,
    (file, zst): (&Path, &Path),
    work_dir: &Path,
    counts: DayCounts,
    report: &mut ArchiveReport,
) -> Result<u32, ArchiveError> {
    let (from, to) = (file.to_owned(), zst.to_owned());
    match tokio::task::spawn_blocking(move || super::compress(&from, &to)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(StoreError::backend("archive", &zst.display().to_string(), e).into());
        }
        Err(e) => return Err(StoreError::backend("task", "archive", e).into()),
    }
    for part in 1..=MAX_PARTS {
        let archive = ArchiveKey { day, part };
        let put = store
            .put_file(
                &archive.key(),
                zst,
                PutCondition::IfAbsent,
                "application/zstd",
            )
            .await;
        match put {
            Ok(_) => {
                report.written.push((archive, counts));
                return Ok(part);
            }
            Err(StoreError::PreconditionFailed { .. }) => {
                let existing = download(store, archive, work_dir).await?;
                let (path, existing_path) = (hot.to_owned(), existing.path.clone());
                let whole =
                    blocking(move || Database::open(&path)?.day_is_in(day, &existing_path)).await?;
                if whole {
                    report.already_archived.push(day);
                    return Ok(part);
                }
                tracing::warn!(key = %archive.key(), "the archive lacks rows of its day; writing a further part");
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(ArchiveError::TooManyParts(day))
}

/// Brings back into the hot database file at `hot` (a working copy) the archived meetings
/// `wanted`, whose List Meetings items changed: their calls, pages and checkpoints come back from
/// the archive parts that hold them (each downloaded once), so that the new item is stored beside
/// its data and goes, with it, to a further part of the day. Returns how many came back.
///
/// # Errors
/// Store or database failures: the meetings not brought back stay archived.
pub async fn restore(
    store: &SharedStore,
    hot: &Path,
    wanted: &[ArchivedMeeting],
    work_dir: &Path,
) -> Result<usize, ArchiveError> {
    let mut by_part: std::collections::BTreeMap<ArchiveKey, Vec<String>> =
        std::collections::BTreeMap::new();
    for meeting in wanted {
        by_part
            .entry(ArchiveKey {
                day: meeting.day,
                part: meeting.part,
            })
            .or_default()
            .push(meeting.instance_id.clone());
    }
    let mut restored = 0;
    for (archive, ids) in by_part {
        let local = download(store, archive, work_dir).await?;
        let (path, from) = (hot.to_owned(), local.path.clone());
        let count = blocking(move || {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            Database::open(&path)?.restore_from(&from, &ids)
        })
        .await?;
        tracing::info!(key = %archive.key(), meetings = count, "meetings whose List Meetings item changed brought back from their archive");
        restored += count;
    }
    Ok(restored)
}
