//! Reading the database: what a cycle plans with, what the site and the exports show, the runs.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::codec::decode;
use super::rows::{as_i64, parse_time};
use super::{
    Checkpoint, Database, DbError, MeetingStatus, RunError, RunRecord, StoredCall, StoredMeeting,
    StoredPage, db_time, item_digest,
};

/// What a database holds, counted ([`Database::totals`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Meetings.
    pub meetings: i64,
    /// Meetings whose checkpoint is final (fetched complete, or their window closed).
    pub final_meetings: i64,
    /// Meetings not final yet.
    pub pending_meetings: i64,
    /// Qualities calls.
    pub calls: i64,
    /// Calls whose pages were dropped, superseded by their meeting's final fetch.
    pub pruned_calls: i64,
    /// Pages.
    pub pages: i64,
    /// Bytes of every page as received (a body that several pages share counts for each).
    pub page_bytes: i64,
    /// Distinct bodies.
    pub bodies: i64,
    /// Bodies stored zstd-compressed.
    pub zstd_bodies: i64,
    /// Bytes of the distinct bodies as received.
    pub body_bytes: i64,
    /// Bytes of the distinct bodies as stored.
    pub stored_bytes: i64,
    /// Runs recorded.
    pub runs: i64,
}

impl Database {
    /// The meetings a cycle plans with, oldest start first: every meeting not final yet, and every
    /// meeting that started at or after `listed_from` (what List Meetings can still return). Final
    /// meetings older than that cannot be due again and are not read, however long the history.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn meeting_statuses(
        &self,
        listed_from: DateTime<Utc>,
    ) -> Result<Vec<MeetingStatus>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT m.instance_id, m.start_time, m.end_time, m.state, m.raw_item,
                        c.last_call_at, c.next_allowed_at, coalesce(c.attempts, 0), coalesce(c.failures, 0), c.last_error, coalesce(c.final, 0)
                 FROM meetings m LEFT JOIN checkpoints c USING (instance_id)
                 WHERE NOT coalesce(c.final, 0) OR m.start_time >= ?1
                 ORDER BY m.start_time, m.instance_id",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map([db_time(listed_from)], |r| {
                Ok(MeetingStatus {
                    instance_id: r.get(0)?,
                    start: parse_time(r.get(1)?),
                    end: parse_time(r.get(2)?),
                    state: r.get(3)?,
                    item_digest: Some(item_digest(r.get_ref(4)?.as_str()?)),
                    checkpoint: Checkpoint {
                        last_call_at: parse_time(r.get(5)?),
                        next_allowed_at: parse_time(r.get(6)?),
                        attempts: r.get(7)?,
                        failures: r.get(8)?,
                        last_error: r.get(9)?,
                        final_: r.get(10)?,
                    },
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Per meeting, the content hashes of the pages of its latest completed call, in page order: what
    /// a meeting's rendered pages depend on, read without loading a single body.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn latest_complete_page_hashes(&self) -> Result<HashMap<String, Vec<String>>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT c.instance_id, p.body_sha256
                 FROM quality_calls c JOIN quality_pages p ON p.call_id = c.id
                 WHERE c.id = (SELECT c2.id FROM quality_calls c2
                               WHERE c2.instance_id = c.instance_id AND c2.completed
                               ORDER BY c2.called_at DESC LIMIT 1)
                 ORDER BY c.instance_id, p.page",
            )
            .map_err(self.err())?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        let mut rows = statement.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let id: String = row.get(0).map_err(self.err())?;
            out.entry(id)
                .or_default()
                .push(row.get(1).map_err(self.err())?);
        }
        Ok(out)
    }

    /// The pages of the latest completed call for a meeting (what an export gives), bodies as received.
    ///
    /// # Errors
    /// SQLite errors, or [`DbError::BadBody`].
    pub fn latest_complete_pages(&self, instance_id: &str) -> Result<Vec<StoredPage>, DbError> {
        // Cached statements: a render calls this once per meeting.
        let call: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM quality_calls WHERE instance_id = ?1 AND completed ORDER BY called_at DESC LIMIT 1",
            )
            .and_then(|mut statement| statement.query_row([instance_id], |r| r.get(0)))
            .optional()
            .map_err(self.err())?;
        match call {
            Some(id) => self.call_pages(id),
            None => Ok(Vec::new()),
        }
    }

    /// Every stored meeting, oldest start first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn meetings(&self) -> Result<Vec<StoredMeeting>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT instance_id, title, host_name, host_email, start_time, end_time, state
                 FROM meetings ORDER BY start_time, instance_id",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map([], |r| {
                Ok(StoredMeeting {
                    instance_id: r.get(0)?,
                    title: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    host_name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    host_email: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    start: parse_time(r.get(4)?),
                    end: parse_time(r.get(5)?),
                    state: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Every call recorded for a meeting, oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn calls(&self, instance_id: &str) -> Result<Vec<StoredCall>, DbError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, called_at, completed, error, pages_pruned FROM quality_calls WHERE instance_id = ?1 ORDER BY called_at")
            .map_err(self.err())?;
        let rows = statement
            .query_map([instance_id], |r| {
                Ok(StoredCall {
                    id: r.get(0)?,
                    called_at: parse_time(r.get(1)?).unwrap_or_default(),
                    completed: r.get(2)?,
                    error: r.get(3)?,
                    pages_pruned: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The pages of one call, bodies as received.
    ///
    /// # Errors
    /// SQLite errors, or [`DbError::BadBody`].
    pub fn call_pages(&self, call_id: i64) -> Result<Vec<StoredPage>, DbError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT p.page, p.fetched_at, p.request_url, p.status, p.tracking_id, b.sha256, b.length, b.encoding, b.data
                 FROM quality_pages p JOIN bodies b ON b.sha256 = p.body_sha256
                 WHERE p.call_id = ?1 ORDER BY p.page",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map([call_id], |r| {
                Ok((
                    StoredPage {
                        page: r.get(0)?,
                        fetched_at: r.get(1)?,
                        request_url: r.get(2)?,
                        status: r.get(3)?,
                        tracking_id: r.get(4)?,
                        body: Bytes::new(),
                    },
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Vec<u8>>(8)?,
                ))
            })
            .map_err(self.err())?;
        let mut pages = Vec::new();
        for row in rows {
            let (mut page, sha, length, encoding, data) = row.map_err(self.err())?;
            page.body = decode(&sha, length, &encoding, data)?;
            pages.push(page);
        }
        Ok(pages)
    }

    /// What the database holds, counted (the status page, reports, benchmarks and tests read these
    /// rather than writing SQL of their own).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn totals(&self) -> Result<Totals, DbError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM meetings),
                        (SELECT count(*) FROM checkpoints WHERE final),
                        (SELECT count(*) FROM meetings m LEFT JOIN checkpoints c USING (instance_id)
                         WHERE NOT coalesce(c.final, 0)),
                        (SELECT count(*) FROM quality_calls),
                        (SELECT count(*) FROM quality_calls WHERE pages_pruned),
                        (SELECT count(*) FROM quality_pages),
                        (SELECT coalesce(sum(b.length), 0) FROM quality_pages p JOIN bodies b ON b.sha256 = p.body_sha256),
                        (SELECT count(*) FROM bodies),
                        (SELECT count(*) FROM bodies WHERE encoding = 'zstd'),
                        (SELECT coalesce(sum(length), 0) FROM bodies),
                        (SELECT coalesce(sum(length(data)), 0) FROM bodies),
                        (SELECT count(*) FROM runs)",
                [],
                |r| {
                    Ok(Totals {
                        meetings: r.get(0)?,
                        final_meetings: r.get(1)?,
                        pending_meetings: r.get(2)?,
                        calls: r.get(3)?,
                        pruned_calls: r.get(4)?,
                        pages: r.get(5)?,
                        page_bytes: r.get(6)?,
                        bodies: r.get(7)?,
                        zstd_bodies: r.get(8)?,
                        body_bytes: r.get(9)?,
                        stored_bytes: r.get(10)?,
                        runs: r.get(11)?,
                    })
                },
            )
            .map_err(self.err())
    }

    /// Calls answered 429 by runs that started at or after `since`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn rate_limited_since(&self, since: DateTime<Utc>) -> Result<i64, DbError> {
        self.conn
            .query_row(
                "SELECT coalesce(sum(rate_limited), 0) FROM runs WHERE started_at >= ?1",
                [db_time(since)],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// A meeting's checkpoint, if it has one.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn checkpoint(&self, instance_id: &str) -> Result<Option<Checkpoint>, DbError> {
        self.conn
            .query_row(
                "SELECT last_call_at, next_allowed_at, attempts, failures, last_error, final
                 FROM checkpoints WHERE instance_id = ?1",
                [instance_id],
                |r| {
                    Ok(Checkpoint {
                        last_call_at: parse_time(r.get(0)?),
                        next_allowed_at: parse_time(r.get(1)?),
                        attempts: r.get(2)?,
                        failures: r.get(3)?,
                        last_error: r.get(4)?,
                        final_: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// The most recent run errors, newest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn recent_errors(&self, limit: usize) -> Result<Vec<RunError>, DbError> {
        let mut statement = self
            .conn
            .prepare("SELECT at, instance_id, kind, message, tracking_id FROM run_errors ORDER BY at DESC LIMIT ?1")
            .map_err(self.err())?;
        let rows = statement
            .query_map([as_i64(limit)], |r| {
                Ok(RunError {
                    at: parse_time(r.get(0)?).unwrap_or_default(),
                    instance_id: r.get(1)?,
                    kind: r.get(2)?,
                    message: r.get(3)?,
                    tracking_id: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The most recent runs, newest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, started_at, ended_at, meetings_listed, meetings_due, calls, pages, bytes, rate_limited, errors, outcome, detail
                 FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    started_at: parse_time(r.get(1)?).unwrap_or_default(),
                    ended_at: parse_time(r.get(2)?),
                    meetings_listed: r.get(3)?,
                    meetings_due: r.get(4)?,
                    calls: r.get(5)?,
                    pages: r.get(6)?,
                    bytes: r.get(7)?,
                    rate_limited: r.get(8)?,
                    errors: r.get(9)?,
                    outcome: r.get(10)?,
                    detail: r.get(11)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}
