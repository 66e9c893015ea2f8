//! The history in the data store: one hot database object that moves every cycle, and immutable
//! archive objects, one per UTC day of meeting start.
//!
//! - The hot object, [`DATABASE_KEY`], holds the days that can still change: today, yesterday, and
//!   any older day with a meeting not final yet, with the runs of those days. Its size depends on
//!   the last two days (and the stragglers), not on how long the product has run.
//! - A day is archived once it ended a full day ago (and an hour for clocks) and every meeting of it
//!   is final ([`ArchiveRule`]); at the latest when List Meetings can no longer return any meeting
//!   that started on it (the 7-day window, plus a day and an hour), whatever its meetings' state.
//!   Its rows (meetings, calls, pages, bodies, checkpoints, and the runs that started that day) are
//!   written to `archive/YYYY-MM-DD.sqlite.zst` (an SQLite file with the bodies as received,
//!   compressed whole with zstd) with a create-only write, and only then removed from the hot
//!   object, which remembers each meeting with the part that holds it while the listing can still
//!   return it. An archive is never rewritten: if one already exists and holds every row of the
//!   day, the day is just removed from the hot object (a run that stopped between the two steps);
//!   if it lacks some, the rows go to a further part, `archive/YYYY-MM-DD.2.sqlite.zst`. That
//!   happens when a meeting of the day turns up late, and when a meeting's List Meetings item
//!   changes after its day was archived: the collector brings the meeting back from its part with
//!   its data ([`restore`]), stores the new item, and the day goes again, that meeting whole in the
//!   further part.
//! - Readers (the site, the exports) read the hot object first, then the archives newest first, one
//!   at a time; a meeting found in an earlier one is skipped in later ones.
//!
//! The first run of a version with archives over a single-file database from an older version
//! archives every old day in that run: the migration is the same step.

mod archive;
mod replica;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

pub use archive::{ArchiveError, ArchiveReport, move_old_days, restore};
pub use replica::{DATABASE_KEY, Replica, WorkingCopy};

use crate::storage::work_files::WorkFile;
use crate::storage::{FetchedFile, SharedStore, StoreError};

/// Where the archives live in the data store.
pub const ARCHIVE_PREFIX: &str = "archive/";

/// An archive object is an SQLite file (bodies as received) compressed whole with zstd.
pub const ARCHIVE_SUFFIX: &str = ".sqlite.zst";

/// zstd's level for archives, written once a day. Measured on the demo's week made into one archive
/// (6.1 MB of SQLite holding 5.4 MB of qualities JSON): level 6 kept 15.0 % of the JSON at about
/// 45 MB/s, level 9 14.3 % at about 25 MB/s; body by body at level 1 (the hot object) 18.0 %.
const ARCHIVE_LEVEL: i32 = 9;

/// How long after List Meetings' window closes on a day it is archived, for clocks that disagree.
const LISTING_MARGIN: chrono::Duration = chrono::Duration::hours(1);

/// One archive object: a day, and its part (1, or more when rows of the day turned up after the
/// day was archived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArchiveKey {
    /// The UTC day the meetings in it started.
    pub day: NaiveDate,
    /// The part, from 1.
    pub part: u32,
}

impl ArchiveKey {
    /// The object's key: `archive/2026-11-20.sqlite.zst`, `archive/2026-11-20.2.sqlite.zst`.
    #[must_use]
    pub fn key(&self) -> String {
        let day = self.day.format("%Y-%m-%d");
        if self.part <= 1 {
            format!("{ARCHIVE_PREFIX}{day}{ARCHIVE_SUFFIX}")
        } else {
            format!("{ARCHIVE_PREFIX}{day}.{}{ARCHIVE_SUFFIX}", self.part)
        }
    }

    /// The archive a key names, if it names one.
    #[must_use]
    pub fn parse(key: &str) -> Option<Self> {
        let name = key
            .strip_prefix(ARCHIVE_PREFIX)?
            .strip_suffix(ARCHIVE_SUFFIX)?;
        let (day, part) = match name.split_once('.') {
            Some((day, part)) => (day, part.parse().ok().filter(|p| *p > 1)?),
            None => (name, 1),
        };
        let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        (day.format("%Y-%m-%d").to_string() == name.split('.').next()?)
            .then_some(Self { day, part })
    }
}

/// How long after its end a day waits, at least, before it goes to its archive with all its
/// meetings final: a full day (and an hour for clocks), so that the hot object always holds the last
/// 24 hours of runs (the status's figures) and a meeting listed late still finds its day hot.
const SETTLE: chrono::Duration = chrono::Duration::hours(25);

/// Which days go to their archives at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveRule {
    /// Days before this one go whatever their meetings' state: List Meetings cannot return them.
    pub first_hot: NaiveDate,
    /// Days before this one go once every meeting of them is final.
    pub settled_before: NaiveDate,
}

impl ArchiveRule {
    /// The rule at `now`, for a listing of the last `retention` (7 days).
    #[must_use]
    pub fn at(now: DateTime<Utc>, retention: chrono::Duration) -> Self {
        Self {
            first_hot: first_hot_day(now, retention),
            settled_before: (now - SETTLE).date_naive(),
        }
    }
}

/// The first UTC day that stays in the hot object at `now`: every earlier day is past List
/// Meetings' window (`retention`, 7 days) and is archived.
#[must_use]
pub fn first_hot_day(now: DateTime<Utc>, retention: chrono::Duration) -> NaiveDate {
    (now - retention - LISTING_MARGIN).date_naive()
}

/// The archives in `store`, newest first (by day, then part). Keys under the prefix that do not
/// name an archive are left alone, with a warning.
///
/// # Errors
/// Store failures.
pub async fn list_archives(store: &SharedStore) -> Result<Vec<ArchiveKey>, StoreError> {
    let mut archives = Vec::new();
    for key in store.list(ARCHIVE_PREFIX).await? {
        match ArchiveKey::parse(&key) {
            Some(archive) => archives.push(archive),
            None => tracing::warn!(%key, "not an archive name; ignored"),
        }
    }
    archives.sort_unstable_by(|a, b| b.cmp(a));
    Ok(archives)
}

/// How many days `archives` hold (a day may have more than one part).
#[must_use]
pub fn days_archived(archives: &[ArchiveKey]) -> usize {
    archives
        .iter()
        .map(|a| a.day)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// A local copy of an archive object, removed when dropped.
#[derive(Debug)]
pub struct ArchiveCopy {
    /// The file.
    pub path: PathBuf,
}

impl Drop for ArchiveCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Downloads `archive` into a new file under `dir`, decompressed (streamed: an archive is never
/// held in memory).
///
/// # Errors
/// Store or file failures; [`StoreError::Backend`] when the object is gone or not an archive.
pub async fn download(
    store: &SharedStore,
    archive: ArchiveKey,
    dir: &Path,
) -> Result<ArchiveCopy, StoreError> {
    let key = archive.key();
    let fail = |e: &dyn std::fmt::Display| StoreError::backend("get", &key, e);
    crate::storage::private::create_dir_all(dir)
        .map_err(|e| fail(&format!("{}: {e}", dir.display())))?;
    let detail = format!("{}.{}.", archive.day.format("%Y-%m-%d"), archive.part);
    let copy = ArchiveCopy {
        path: WorkFile::Archive.unique(dir, &detail, ".sqlite"),
    };
    let mut compressed = copy.path.clone().into_os_string();
    compressed.push(".zst");
    let compressed = ArchiveCopy {
        path: compressed.into(),
    };
    match store.get_to_file(&key, None, &compressed.path).await? {
        FetchedFile::Found(_) => {}
        FetchedFile::NotFound | FetchedFile::NotModified => {
            return Err(fail(&"the archive is listed but could not be read"));
        }
    }
    let (from, to) = (compressed.path.clone(), copy.path.clone());
    tokio::task::spawn_blocking(move || decompress(&from, &to))
        .await
        .map_err(|e| fail(&e))?
        .map_err(|e| fail(&e))?;
    Ok(copy)
}

/// Compresses the archive file `from` into `to`.
///
/// # Errors
/// File or zstd failures.
pub fn compress(from: &Path, to: &Path) -> std::io::Result<()> {
    let source = std::io::BufReader::new(std::fs::File::open(from)?);
    let destination = std::io::BufWriter::new(std::fs::File::create(to)?);
    zstd::stream::copy_encode(source, destination, ARCHIVE_LEVEL)
}

fn decompress(from: &Path, to: &Path) -> std::io::Result<()> {
    let source = std::io::BufReader::new(std::fs::File::open(from)?);
    let mut destination = std::io::BufWriter::new(std::fs::File::create(to)?);
    zstd::stream::copy_decode(source, &mut destination)?;
    std::io::Write::flush(&mut destination)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_keys_name_a_day_and_a_part_and_nothing_else() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let first = ArchiveKey { day, part: 1 };
        let second = ArchiveKey { day, part: 2 };
        assert_eq!(first.key(), "archive/2026-11-20.sqlite.zst");
        assert_eq!(second.key(), "archive/2026-11-20.2.sqlite.zst");
        assert_eq!(ArchiveKey::parse(&first.key()), Some(first));
        assert_eq!(ArchiveKey::parse(&second.key()), Some(second));
        for other in [
            "archive/2026-11-20.1.sqlite.zst",
            "archive/2026-11-20.x.sqlite.zst",
            "archive/2026-13-01.sqlite.zst",
            "archive/2026-1-01.sqlite.zst",
            "archive/2026-11-20.sqlite",
            "archive/2026-11-20.sqlite.zst.tmp",
            "webex-quality.sqlite",
        ] {
            assert_eq!(ArchiveKey::parse(other), None, "{other}");
        }
        // Newest first: later days first, a day's later parts before its first.
        let mut keys = [
            first,
            ArchiveKey {
                day: day.pred_opt().unwrap(),
                part: 1,
            },
            second,
        ];
        keys.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(keys[0], second);
        assert_eq!(keys[1], first);
    }

    #[test]
    fn a_settled_day_goes_a_full_day_after_its_end() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let week = chrono::Duration::days(7);
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        // 2026-11-20 ends at 21T00:00: it may go from 22T01:00, when all its meetings are final.
        assert_eq!(
            ArchiveRule::at(at("2026-11-22T00:59:00Z"), week).settled_before,
            day
        );
        let rule = ArchiveRule::at(at("2026-11-22T01:00:00Z"), week);
        assert_eq!(rule.settled_before, day.succ_opt().unwrap());
        assert_eq!(
            rule.first_hot,
            NaiveDate::from_ymd_opt(2026, 11, 15).unwrap()
        );
    }

    #[test]
    fn a_day_stays_hot_until_listing_can_no_longer_return_it() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let week = chrono::Duration::days(7);
        // 2026-11-20 ends at 21T00:00; List Meetings returns its meetings until 28T00:00.
        assert_eq!(
            first_hot_day(at("2026-11-28T00:59:00Z"), week),
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
        );
        assert_eq!(
            first_hot_day(at("2026-11-28T01:00:00Z"), week),
            NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
        );
    }
}
