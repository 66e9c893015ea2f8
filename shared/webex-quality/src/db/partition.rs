//! Days out of the hot database: the rows of one UTC day (meetings by the day they started, with their
//! calls, pages, bodies and checkpoints; runs by the day they started, with their errors) copied into
//! an archive file, checked against one, and removed.
//!
//! A day is only archived once nothing of it can change (see `crate::history`), so an archive file
//! is written once and never again.

use std::path::Path;

use chrono::NaiveDate;

use super::{Database, DbError};

/// The meetings of day `?1`: by start, or by when they were first seen if Webex gave no start.
macro_rules! day_meetings {
    () => {
        "SELECT instance_id FROM main.meetings WHERE substr(coalesce(start_time, first_seen), 1, 10) = ?1"
    };
}

/// The calls of the meetings of day `?1`.
macro_rules! day_calls {
    () => {
        concat!(
            "SELECT id FROM main.quality_calls WHERE instance_id IN (",
            day_meetings!(),
            ")"
        )
    };
}

/// Copies day `?1`'s rows from `main` into the attached, empty `archive` (foreign keys in order:
/// calls, then bodies, then pages). Each statement reads `?1`.
const COPY_DAY: &[&str] = &[
    "INSERT INTO archive.meetings (instance_id, series_id, title, host_name, host_email, start_time, end_time, state, raw_item, first_seen, last_seen)
     SELECT instance_id, series_id, title, host_name, host_email, start_time, end_time, state, raw_item, first_seen, last_seen
     FROM main.meetings WHERE substr(coalesce(start_time, first_seen), 1, 10) = ?1",
    concat!("INSERT INTO archive.checkpoints (instance_id, last_call_at, next_allowed_at, attempts, failures, last_error, last_tracking_id, final, final_at)
     SELECT instance_id, last_call_at, next_allowed_at, attempts, failures, last_error, last_tracking_id, final, final_at
     FROM main.checkpoints WHERE instance_id IN (", day_meetings!(), ")"),
    concat!("INSERT INTO archive.quality_calls (id, instance_id, called_at, completed, error, tracking_id, pages_pruned)
     SELECT id, instance_id, called_at, completed, error, tracking_id, pages_pruned
     FROM main.quality_calls WHERE instance_id IN (", day_meetings!(), ")"),
    concat!("INSERT INTO archive.bodies (sha256, length, encoding, data)
     SELECT sha256, length, encoding, data FROM main.bodies
     WHERE sha256 IN (SELECT body_sha256 FROM main.quality_pages WHERE call_id IN (", day_calls!(), "))"),
    concat!("INSERT INTO archive.quality_pages (call_id, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json)
     SELECT call_id, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json
     FROM main.quality_pages WHERE call_id IN (", day_calls!(), ")"),
    "INSERT INTO archive.runs (id, started_at, ended_at, meetings_listed, meetings_due, calls, pages, bytes, rate_limited, errors, outcome, detail)
     SELECT id, started_at, ended_at, meetings_listed, meetings_due, calls, pages, bytes, rate_limited, errors, outcome, detail
     FROM main.runs WHERE substr(started_at, 1, 10) = ?1",
    "INSERT INTO archive.run_errors (run_id, at, instance_id, kind, message, tracking_id)
     SELECT run_id, at, instance_id, kind, message, tracking_id
     FROM main.run_errors WHERE run_id IN (SELECT id FROM main.runs WHERE substr(started_at, 1, 10) = ?1)",
];

/// Rows of day `?1` in `main` that the attached `archive` lacks: meetings with their latest item,
/// calls, pages with their bodies, runs.
const MISSING_FROM_ARCHIVE: &str = "SELECT
    (SELECT count(*) FROM (
        SELECT instance_id, raw_item FROM main.meetings WHERE substr(coalesce(start_time, first_seen), 1, 10) = ?1
        EXCEPT SELECT instance_id, raw_item FROM archive.meetings))
  + (SELECT count(*) FROM (
        SELECT c.instance_id, c.called_at, c.completed FROM main.quality_calls c
        WHERE c.instance_id IN (SELECT instance_id FROM main.meetings WHERE substr(coalesce(start_time, first_seen), 1, 10) = ?1)
        EXCEPT SELECT instance_id, called_at, completed FROM archive.quality_calls))
  + (SELECT count(*) FROM (
        SELECT c.instance_id, c.called_at, p.page, p.body_sha256
        FROM main.quality_pages p JOIN main.quality_calls c ON c.id = p.call_id
        WHERE c.instance_id IN (SELECT instance_id FROM main.meetings WHERE substr(coalesce(start_time, first_seen), 1, 10) = ?1)
        EXCEPT SELECT c.instance_id, c.called_at, p.page, p.body_sha256
        FROM archive.quality_pages p JOIN archive.quality_calls c ON c.id = p.call_id
        JOIN archive.bodies b ON b.sha256 = p.body_sha256))
  + (SELECT count(*) FROM (
        SELECT id FROM main.runs WHERE substr(started_at, 1, 10) = ?1
        EXCEPT SELECT id FROM archive.runs))";

/// What one day holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Meetings.
    pub meetings: usize,
    /// Qualities calls.
    pub calls: usize,
    /// Pages.
    pub pages: usize,
    /// Runs.
    pub runs: usize,
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

impl Database {
    /// The UTC days before `before` that have rows here: meetings by the day they started (or were
    /// first seen), runs by the day they started. Oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn days_before(&self, before: NaiveDate) -> Result<Vec<NaiveDate>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT day FROM (
                    SELECT substr(coalesce(start_time, first_seen), 1, 10) AS day FROM meetings
                    UNION SELECT substr(started_at, 1, 10) FROM runs)
                 WHERE day < ?1 ORDER BY day",
            )
            .map_err(self.err())?;
        self.days_of(&mut statement, &[day_text(before)])
    }

    /// The UTC days ready for their archive: every day before `first_hot` (the listing can no
    /// longer return it), and every day before `settled_before` whose meetings are all final (a
    /// meeting without a start time is never called, so it holds no day back). Oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn days_ready(
        &self,
        settled_before: NaiveDate,
        first_hot: NaiveDate,
    ) -> Result<Vec<NaiveDate>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT day FROM (
                    SELECT substr(coalesce(m.start_time, m.first_seen), 1, 10) AS day,
                           (m.start_time IS NOT NULL AND NOT coalesce(c.final, 0)) AS open
                    FROM meetings m LEFT JOIN checkpoints c USING (instance_id)
                    UNION ALL SELECT substr(started_at, 1, 10), 0 FROM runs)
                 GROUP BY day
                 HAVING day < ?2 OR (day < ?1 AND max(open) = 0)
                 ORDER BY day",
            )
            .map_err(self.err())?;
        self.days_of(
            &mut statement,
            &[day_text(settled_before), day_text(first_hot)],
        )
    }

    /// The days (`YYYY-MM-DD` in the first column) that `statement` answers with `params`.
    fn days_of(
        &self,
        statement: &mut rusqlite::Statement<'_>,
        params: &[String],
    ) -> Result<Vec<NaiveDate>, DbError> {
        let days: Vec<String> = statement
            .query_map(rusqlite::params_from_iter(params), |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        Ok(days
            .iter()
            .filter_map(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
            .collect())
    }

    /// Copies `day`'s rows into a new archive file at `path` (any file there is replaced), bodies
    /// as received (the archive object is compressed whole), checked with `PRAGMA integrity_check`
    /// before it is handed back.
    ///
    /// # Errors
    /// SQLite or file errors.
    pub fn write_day(&self, day: NaiveDate, path: &Path) -> Result<DayCounts, DbError> {
        let _ = std::fs::remove_file(path);
        // The archive gets this build's schema.
        drop(Database::open(path)?);
        let counts = self.with_attached(path, |db| {
            let tx = db.conn.unchecked_transaction().map_err(db.err())?;
            let day = day_text(day);
            let mut copied = Vec::with_capacity(COPY_DAY.len());
            for sql in COPY_DAY {
                copied.push(tx.execute(sql, [&day]).map_err(db.err())?);
            }
            tx.commit().map_err(db.err())?;
            Ok(DayCounts {
                meetings: copied[0],
                calls: copied[2],
                pages: copied[4],
                runs: copied[5],
            })
        })?;
        let archive = Database::open(path)?;
        archive.store_bodies_as_received()?;
        archive.integrity_check()?;
        Ok(counts)
    }

    /// Rewrites every body stored compressed as the bytes received (checked against its hash on
    /// the way): an archive is compressed whole, which finds what bodies have in common and so
    /// stores them smaller than one by one.
    fn store_bodies_as_received(&self) -> Result<(), DbError> {
        let compressed: Vec<String> = {
            let mut statement = self
                .conn
                .prepare("SELECT sha256 FROM bodies WHERE encoding <> 'identity'")
                .map_err(self.err())?;
            statement
                .query_map([], |r| r.get(0))
                .map_err(self.err())?
                .collect::<Result<_, _>>()
                .map_err(self.err())?
        };
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        {
            let mut read = tx
                .prepare("SELECT length, encoding, data FROM bodies WHERE sha256 = ?1")
                .map_err(self.err())?;
            let mut write = tx
                .prepare("UPDATE bodies SET encoding = 'identity', data = ?2 WHERE sha256 = ?1")
                .map_err(self.err())?;
            for sha in &compressed {
                let (length, encoding, data): (i64, String, Vec<u8>) = read
                    .query_row([sha], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(self.err())?;
                let body = super::codec::decode(sha, length, &encoding, data)?;
                write
                    .execute(rusqlite::params![sha, body.as_ref()])
                    .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())?;
        if !compressed.is_empty() {
            self.compact()?;
        }
        Ok(())
    }

    /// Whether the archive file at `path` holds every row of `day` that this database holds (the
    /// same meeting items, calls, pages and bodies, runs).
    ///
    /// # Errors
    /// SQLite errors (a file that is not a database among them).
    pub fn day_is_in(&self, day: NaiveDate, path: &Path) -> Result<bool, DbError> {
        self.with_attached(path, |db| {
            let missing: i64 = db
                .conn
                .query_row(MISSING_FROM_ARCHIVE, [day_text(day)], |r| r.get(0))
                .map_err(db.err())?;
            Ok(missing == 0)
        })
    }

    /// Removes `day`'s rows, and the bodies no page refers to any more, in one transaction, and
    /// remembers its meetings as held by archive part `part` (see [`Database::archived_meetings`]).
    ///
    /// # Errors
    /// SQLite errors; nothing is removed then.
    pub fn remove_day(&mut self, day: NaiveDate, part: u32) -> Result<DayCounts, DbError> {
        let day = day_text(day);
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        super::archived::remember_day(&tx, &day, part).map_err(err)?;
        let bodies: Vec<String> = {
            let mut statement = tx
                .prepare(concat!(
                    "DELETE FROM main.quality_pages WHERE call_id IN (",
                    day_calls!(),
                    ") RETURNING body_sha256"
                ))
                .map_err(err)?;
            statement
                .query_map([&day], |r| r.get(0))
                .map_err(err)?
                .collect::<Result<_, _>>()
                .map_err(err)?
        };
        let pages = bodies.len();
        {
            let mut drop_body = tx
                .prepare(
                    "DELETE FROM bodies WHERE sha256 = ?1
                     AND NOT EXISTS (SELECT 1 FROM quality_pages WHERE body_sha256 = ?1)",
                )
                .map_err(err)?;
            for sha in &bodies {
                drop_body.execute([sha]).map_err(err)?;
            }
        }
        let calls = tx
            .execute(
                concat!(
                    "DELETE FROM main.quality_calls WHERE id IN (",
                    day_calls!(),
                    ")"
                ),
                [&day],
            )
            .map_err(err)?;
        tx.execute(
            concat!(
                "DELETE FROM main.checkpoints WHERE instance_id IN (",
                day_meetings!(),
                ")"
            ),
            [&day],
        )
        .map_err(err)?;
        let meetings = tx
            .execute(
                "DELETE FROM meetings WHERE substr(coalesce(start_time, first_seen), 1, 10) = ?1",
                [&day],
            )
            .map_err(err)?;
        tx.execute(
            "DELETE FROM run_errors WHERE run_id IN (SELECT id FROM runs WHERE substr(started_at, 1, 10) = ?1)",
            [&day],
        )
        .map_err(err)?;
        let runs = tx
            .execute(
                "DELETE FROM runs WHERE substr(started_at, 1, 10) = ?1",
                [&day],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(DayCounts {
            meetings,
            calls,
            pages,
            runs,
        })
    }

    /// Rewrites the file without its free pages (`VACUUM`), after days were removed.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn compact(&self) -> Result<(), DbError> {
        self.conn.execute_batch("VACUUM").map_err(self.err())
    }

    /// Runs `work` with the file at `path` attached as `archive` (attached outside any
    /// transaction, detached afterwards whatever happened).
    pub(super) fn with_attached<T>(
        &self,
        path: &Path,
        work: impl FnOnce(&Self) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.conn
            .execute(
                "ATTACH DATABASE ?1 AS archive",
                [path.display().to_string()],
            )
            .map_err(self.err())?;
        let result = work(self);
        if let Err(source) = self.conn.execute("DETACH DATABASE archive", []) {
            tracing::warn!(error = %source, "detaching an archive");
        }
        result
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::db::test_support::{changes_with_call, t as at};

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "wq-{name}-{}.sqlite",
            uuid::Uuid::new_v4().simple()
        ))
    }

    #[test]
    fn a_day_moves_whole_into_its_archive_and_nothing_else_does() {
        let hot_path = temp_path("partition-hot");
        let mut hot = Database::open(&hot_path).unwrap();
        // Two meetings on 2026-01-05 sharing one body, one on 2026-01-06 with the same body.
        for (id, start) in [
            ("a_1", "2026-01-05T09:00:00Z"),
            ("b_1", "2026-01-05T23:30:00Z"),
            ("c_1", "2026-01-06T00:10:00Z"),
        ] {
            hot.apply(&changes_with_call(id, at(start), b"{\"items\":[]}"))
                .unwrap();
        }
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        assert_eq!(
            hot.days_before(NaiveDate::from_ymd_opt(2026, 1, 6).unwrap())
                .unwrap(),
            vec![day]
        );
        let archive_path = temp_path("partition-archive");
        let written = hot.write_day(day, &archive_path).unwrap();
        assert_eq!((written.meetings, written.calls, written.pages), (2, 2, 2));
        assert!(hot.day_is_in(day, &archive_path).unwrap());
        // The other day is not in that archive.
        let next = NaiveDate::from_ymd_opt(2026, 1, 6).unwrap();
        assert!(!hot.day_is_in(next, &archive_path).unwrap());

        let removed = hot.remove_day(day, 1).unwrap();
        assert_eq!((removed.meetings, removed.calls, removed.pages), (2, 2, 2));
        hot.integrity_check().unwrap();
        let left: Vec<String> = hot
            .meetings()
            .unwrap()
            .into_iter()
            .map(|m| m.instance_id)
            .collect();
        assert_eq!(left, ["c_1"]);
        // The shared body stays for the meeting that still uses it, byte for byte.
        assert_eq!(
            &hot.latest_complete_pages("c_1").unwrap()[0].body[..],
            b"{\"items\":[]}"
        );

        let archive = Database::open(&archive_path).unwrap();
        let archived: Vec<String> = archive
            .meetings()
            .unwrap()
            .into_iter()
            .map(|m| m.instance_id)
            .collect();
        assert_eq!(archived, ["a_1", "b_1"]);
        assert_eq!(
            &archive.latest_complete_pages("b_1").unwrap()[0].body[..],
            b"{\"items\":[]}"
        );
        let _ = std::fs::remove_file(hot_path);
        let _ = std::fs::remove_file(archive_path);
    }

    #[test]
    fn a_day_is_ready_once_settled_with_every_meeting_final_and_its_meetings_are_remembered() {
        let path = temp_path("partition-ready");
        let mut hot = Database::open(&path).unwrap();
        let date = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        hot.apply(&changes_with_call(
            "a_1",
            at("2026-01-05T09:00:00Z"),
            b"{\"items\":[1]}",
        ))
        .unwrap();
        // A meeting of the 6th without a final call holds its day back; one without a start
        // time (never called) does not.
        let mut open = changes_with_call("b_1", at("2026-01-06T09:00:00Z"), b"{\"items\":[2]}");
        open.checkpoints.clear();
        hot.apply(&open).unwrap();
        let mut unscheduled = changes_with_call("c_1", at("2026-01-07T09:00:00Z"), b"{}");
        unscheduled.calls.clear();
        unscheduled.checkpoints.clear();
        unscheduled.meetings[0].start = None;
        unscheduled.meetings[0].seen_at = at("2026-01-07T09:00:00Z");
        hot.apply(&unscheduled).unwrap();
        assert_eq!(hot.days_ready(date(5), date(1)).unwrap(), vec![]);
        assert_eq!(
            hot.days_ready(date(8), date(1)).unwrap(),
            vec![date(5), date(7)]
        );
        // Out of the listing's reach, a day goes whatever its meetings' state.
        assert_eq!(
            hot.days_ready(date(8), date(7)).unwrap(),
            vec![date(5), date(6), date(7)]
        );

        hot.remove_day(date(5), 2).unwrap();
        let archived = hot.archived_meetings().unwrap();
        let a = &archived["a_1"];
        assert_eq!((a.day, a.part), (date(5), 2));
        assert_eq!(a.start, Some(at("2026-01-05T09:00:00Z")));
        assert!(a.same_item("{\"id\":\"a_1\"}"));
        assert!(!a.same_item("{}"));
        // Forgotten once the listing cannot return its day.
        assert_eq!(hot.forget_archived_before(date(5)).unwrap(), 0);
        assert_eq!(hot.forget_archived_before(date(6)).unwrap(), 1);
        assert!(hot.archived_meetings().unwrap().is_empty());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn an_archive_that_lacks_a_row_of_the_day_is_told_apart() {
        let hot_path = temp_path("partition-lacks");
        let mut hot = Database::open(&hot_path).unwrap();
        hot.apply(&changes_with_call(
            "a_1",
            at("2026-01-05T09:00:00Z"),
            b"{\"items\":[1]}",
        ))
        .unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let archive_path = temp_path("partition-lacks-archive");
        hot.write_day(day, &archive_path).unwrap();
        // A meeting of that day turns up after the archive was written.
        hot.apply(&changes_with_call(
            "z_1",
            at("2026-01-05T10:00:00Z"),
            b"{\"items\":[2]}",
        ))
        .unwrap();
        assert!(!hot.day_is_in(day, &archive_path).unwrap());
        let _ = std::fs::remove_file(hot_path);
        let _ = std::fs::remove_file(archive_path);
    }
}
