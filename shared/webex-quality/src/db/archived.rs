//! Meetings whose day went to an archive while List Meetings can still return them.
//!
//! A day is archived once every meeting of it is final, about a day after it ends, so for a few
//! more days the listing still returns its meetings. The hot database remembers each of them (the
//! archive part that holds it and the SHA-256 of its List Meetings item): the collector skips a
//! meeting listed unchanged, and brings back one whose item changed, with its calls, pages and
//! checkpoint, so that the new item is stored beside its data and goes to a further part. Readers
//! never have to merge a meeting from two partitions.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Transaction;

use super::rows::parse_time;
use super::{Database, DbError, sha256_hex};

/// A meeting whose day is archived while the listing can still return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMeeting {
    /// Instance id.
    pub instance_id: String,
    /// The archive's day.
    pub day: NaiveDate,
    /// The archive part that holds it.
    pub part: u32,
    /// When it started.
    pub start: Option<DateTime<Utc>>,
    /// SHA-256 of its List Meetings item as archived.
    pub item_sha256: String,
}

impl ArchivedMeeting {
    /// Whether `raw_item` (the item listed now) is the one archived.
    #[must_use]
    pub fn same_item(&self, raw_item: &str) -> bool {
        sha256_hex(raw_item.as_bytes()) == self.item_sha256
    }
}

/// Remembers the meetings of `day` (about to be removed in `tx`) as held by archive `part`.
pub(super) fn remember_day(tx: &Transaction<'_>, day: &str, part: u32) -> rusqlite::Result<usize> {
    let mut read = tx.prepare(
        "SELECT instance_id, start_time, raw_item FROM main.meetings
         WHERE substr(coalesce(start_time, first_seen), 1, 10) = ?1",
    )?;
    let mut write = tx.prepare(
        "INSERT OR REPLACE INTO main.archived_meetings (instance_id, day, part, start_time, item_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut rows = read.query([day])?;
    let mut remembered = 0;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let start: Option<String> = row.get(1)?;
        let item = row.get_ref(2)?.as_str()?;
        write.execute(rusqlite::params![
            id,
            day,
            part,
            start,
            sha256_hex(item.as_bytes())
        ])?;
        remembered += 1;
    }
    Ok(remembered)
}

/// Copies the meetings `ids` (their item, checkpoint, calls, pages and bodies) from the attached
/// `archive` into `main`, skipping any `main` already holds, and forgets them as archived.
/// Call ids are given anew; pages follow their call.
fn copy_back(tx: &Transaction<'_>, ids: &[&str]) -> rusqlite::Result<usize> {
    let mut restored = 0;
    for id in ids {
        let present: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM main.meetings WHERE instance_id = ?1)",
            [id],
            |r| r.get(0),
        )?;
        if !present {
            let copied = tx.execute(
                "INSERT INTO main.meetings SELECT * FROM archive.meetings WHERE instance_id = ?1",
                [id],
            )?;
            if copied == 0 {
                continue;
            }
            tx.execute(
                "INSERT OR REPLACE INTO main.checkpoints SELECT * FROM archive.checkpoints WHERE instance_id = ?1",
                [id],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO main.bodies (sha256, length, encoding, data)
                 SELECT b.sha256, b.length, b.encoding, b.data FROM archive.bodies b
                 WHERE b.sha256 IN (SELECT p.body_sha256 FROM archive.quality_pages p
                                    JOIN archive.quality_calls c ON c.id = p.call_id
                                    WHERE c.instance_id = ?1)",
                [id],
            )?;
            let calls: Vec<(i64, String)> = {
                let mut statement = tx.prepare(
                    "SELECT id, called_at FROM archive.quality_calls WHERE instance_id = ?1 ORDER BY id",
                )?;
                statement
                    .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?
            };
            for (old, called_at) in calls {
                tx.execute(
                    "INSERT INTO main.quality_calls (instance_id, called_at, completed, error, tracking_id, pages_pruned)
                     SELECT instance_id, called_at, completed, error, tracking_id, pages_pruned
                     FROM archive.quality_calls WHERE id = ?1",
                    [old],
                )?;
                let new = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO main.quality_pages (call_id, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json)
                     SELECT ?2, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json
                     FROM archive.quality_pages WHERE call_id = ?1",
                    rusqlite::params![old, new],
                )?;
                tracing::debug!(instance_id = %id, %called_at, "call brought back from its archive");
            }
            restored += 1;
        }
        tx.execute(
            "DELETE FROM main.archived_meetings WHERE instance_id = ?1",
            [id],
        )?;
    }
    Ok(restored)
}

impl Database {
    /// The meetings archived while the listing can still return them, by instance id; a meeting
    /// this database holds itself is not among them.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn archived_meetings(&self) -> Result<HashMap<String, ArchivedMeeting>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT instance_id, day, part, start_time, item_sha256 FROM archived_meetings
                 WHERE instance_id NOT IN (SELECT instance_id FROM meetings)",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map([], |r| {
                let day: String = r.get(1)?;
                Ok(ArchivedMeeting {
                    instance_id: r.get(0)?,
                    day: NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap_or_default(),
                    part: r.get(2)?,
                    start: parse_time(r.get(3)?),
                    item_sha256: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.map(|row| row.map(|m| (m.instance_id.clone(), m)))
            .collect::<Result<_, _>>()
            .map_err(self.err())
    }

    /// Forgets the archived meetings of the days before `first_hot`: the listing cannot return
    /// them any more.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn forget_archived_before(&self, first_hot: NaiveDate) -> Result<usize, DbError> {
        self.conn
            .execute(
                "DELETE FROM archived_meetings WHERE day < ?1",
                [first_hot.format("%Y-%m-%d").to_string()],
            )
            .map_err(self.err())
    }

    /// Copies a whole partition (an archive file at `path`) into this database, keeping what it
    /// already holds: for tools and tests that want the history as one file. Call ids are given
    /// anew; pages follow their call by meeting and time; a run's errors come with the run.
    ///
    /// # Errors
    /// SQLite errors; nothing changes then.
    pub fn merge_partition(&mut self, path: &Path) -> Result<(), DbError> {
        self.with_attached(path, |db| {
            let tx = db.conn.unchecked_transaction().map_err(db.err())?;
            tx.execute_batch(MERGE_PARTITION).map_err(db.err())?;
            tx.commit().map_err(db.err())
        })
    }

    /// Brings the meetings `ids` back from the archive file at `path` (their item, checkpoint,
    /// calls, pages and bodies), in one transaction; returns how many came back (a meeting already
    /// here, or not in that archive, is left alone).
    ///
    /// # Errors
    /// SQLite errors (a file that is not a database among them); nothing changes then.
    pub fn restore_from(&mut self, path: &Path, ids: &[&str]) -> Result<usize, DbError> {
        self.with_attached(path, |db| {
            let tx = db.conn.unchecked_transaction().map_err(db.err())?;
            let restored = copy_back(&tx, ids).map_err(db.err())?;
            tx.commit().map_err(db.err())?;
            Ok(restored)
        })
    }
}

/// [`Database::merge_partition`]'s copy, from the attached `archive` into `main`.
const MERGE_PARTITION: &str = "
    INSERT INTO main.meetings SELECT * FROM archive.meetings WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO main.checkpoints SELECT * FROM archive.checkpoints WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO main.bodies SELECT * FROM archive.bodies WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO main.quality_calls (instance_id, called_at, completed, error, tracking_id, pages_pruned)
        SELECT instance_id, called_at, completed, error, tracking_id, pages_pruned FROM archive.quality_calls
        WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO main.quality_pages (call_id, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json)
        SELECT c.id, p.page, p.fetched_at, p.request_url, p.status, p.tracking_id, p.body_sha256, p.valid_json
        FROM archive.quality_pages p JOIN archive.quality_calls o ON o.id = p.call_id
        JOIN main.quality_calls c ON c.instance_id = o.instance_id AND c.called_at = o.called_at
        WHERE true ON CONFLICT DO NOTHING;
    CREATE TEMP TABLE IF NOT EXISTS merged_runs (id TEXT PRIMARY KEY);
    DELETE FROM merged_runs;
    INSERT INTO merged_runs SELECT id FROM archive.runs WHERE id NOT IN (SELECT id FROM main.runs);
    INSERT INTO main.runs SELECT * FROM archive.runs WHERE true ON CONFLICT DO NOTHING;
    INSERT INTO main.run_errors SELECT * FROM archive.run_errors WHERE run_id IN (SELECT id FROM merged_runs);";
