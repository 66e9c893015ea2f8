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

/// Where [`Database::meetings_after`] goes on from: the last meeting it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingsCursor {
    /// Its start as stored.
    start: String,
    instance_id: String,
}

/// Meetings in [`Database::meetings`]'s order ([`Database::meetings_after`]).
#[derive(Debug)]
pub struct MeetingsPage {
    /// Each meeting with the content hashes of its latest completed call's pages (empty without
    /// one).
    pub meetings: Vec<(StoredMeeting, Vec<String>)>,
    /// Where the next page starts; `None` when there are no more.
    pub next: Option<MeetingsCursor>,
}

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
        self.page_hashes_of(&mut statement, [])
    }

    /// The rows of `statement` with `params` (a meeting's id and one of its pages' hashes, in
    /// page order), gathered by meeting.
    fn page_hashes_of(
        &self,
        statement: &mut rusqlite::Statement<'_>,
        params: impl rusqlite::Params,
    ) -> Result<HashMap<String, Vec<String>>, DbError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        let mut rows = statement.query(params).map_err(self.err())?;
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

    /// The next `limit` meetings with a start in [`Database::meetings`]'s order after `after`
    /// (the first ones without it), each with the content hashes of its latest completed call's
    /// pages in page order (none without one: [`Database::latest_complete_page_hashes`]). A
    /// meeting without a start is not listed. Two queries a page, so that a reader can go through
    /// a database of any size holding one page.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn meetings_after(
        &self,
        after: Option<&MeetingsCursor>,
        limit: usize,
    ) -> Result<MeetingsPage, DbError> {
        let (start, id) = after.map_or(("", ""), |c| (c.start.as_str(), c.instance_id.as_str()));
        let wanted = limit;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT instance_id, title, host_name, host_email, start_time, end_time, state
                 FROM meetings
                 WHERE start_time IS NOT NULL AND (start_time, instance_id) > (?1, ?2)
                 ORDER BY start_time, instance_id LIMIT ?3",
            )
            .map_err(self.err())?;
        let mut meetings = Vec::new();
        let mut last = None;
        let mut rows = statement
            .query(rusqlite::params![start, id, limit])
            .map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let start: String = r.get(4).map_err(self.err())?;
            let meeting = StoredMeeting {
                instance_id: r.get(0).map_err(self.err())?,
                title: r
                    .get::<_, Option<String>>(1)
                    .map_err(self.err())?
                    .unwrap_or_default(),
                host_name: r
                    .get::<_, Option<String>>(2)
                    .map_err(self.err())?
                    .unwrap_or_default(),
                host_email: r
                    .get::<_, Option<String>>(3)
                    .map_err(self.err())?
                    .unwrap_or_default(),
                start: parse_time(Some(start.clone())),
                end: parse_time(r.get(5).map_err(self.err())?),
                state: r
                    .get::<_, Option<String>>(6)
                    .map_err(self.err())?
                    .unwrap_or_default(),
            };
            last = Some(MeetingsCursor {
                start,
                instance_id: meeting.instance_id.clone(),
            });
            meetings.push((meeting, Vec::new()));
        }
        drop(rows);
        let Some(last) = last else {
            return Ok(MeetingsPage {
                meetings,
                next: None,
            });
        };
        // The pages' hashes of the meetings of this page, and of no other.
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT c.instance_id, p.body_sha256
                 FROM quality_calls c JOIN quality_pages p ON p.call_id = c.id
                 WHERE c.instance_id IN (
                     SELECT instance_id FROM meetings
                     WHERE start_time IS NOT NULL AND (start_time, instance_id) > (?1, ?2)
                       AND (start_time, instance_id) <= (?3, ?4))
                   AND c.id = (SELECT c2.id FROM quality_calls c2
                               WHERE c2.instance_id = c.instance_id AND c2.completed
                               ORDER BY c2.called_at DESC LIMIT 1)
                 ORDER BY c.instance_id, p.page",
            )
            .map_err(self.err())?;
        let mut hashes = self.page_hashes_of(
            &mut statement,
            rusqlite::params![start, id, last.start, last.instance_id],
        )?;
        for (meeting, pages) in &mut meetings {
            if let Some(found) = hashes.remove(&meeting.instance_id) {
                *pages = found;
            }
        }
        // A page shorter than asked for is the last.
        let next = (meetings.len() == wanted).then_some(last);
        Ok(MeetingsPage { meetings, next })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_support::{call, changes_with_call, t, tempdir};
    use crate::db::{Changes, MeetingRow};

    #[test]
    fn meetings_read_a_page_at_a_time_are_the_list_with_each_ones_pages_hashes() {
        let scratch = tempdir();
        let mut db = Database::open(&scratch.path().join("db.sqlite")).unwrap();
        // Seven meetings, three of them starting together (ordered by id), one with two pages.
        let start = t("2026-11-02T09:00:00Z");
        let hour = chrono::Duration::hours(1);
        for (id, at) in [
            ("g_I_7", start + hour * 3),
            ("b_I_2", start),
            ("c_I_3", start),
            ("a_I_1", start),
            ("e_I_5", start + hour),
            ("f_I_6", start + hour * 2),
        ] {
            db.apply(&changes_with_call(
                id,
                at,
                format!("{{\"{id}\":1}}").as_bytes(),
            ))
            .unwrap();
        }
        let mut two = changes_with_call("d_I_4", start + hour, b"{\"d\":1}");
        let at = "2026-11-02T12:00:00Z";
        two.calls = vec![call(
            "d_I_4",
            at,
            &[b"{\"p\":1}", b"{\"p\":2}"],
            true,
            false,
        )];
        db.apply(&two).unwrap();
        // Listed without a start, and listed with no completed call.
        let mut listed = |id: &str, start: Option<DateTime<Utc>>| {
            let mut row = changes_with_call(id, t(at), b"{}").meetings.remove(0);
            row.start = start;
            let changes = Changes {
                meetings: vec![MeetingRow { ..row }],
                ..Changes::default()
            };
            db.apply(&changes).unwrap();
        };
        listed("x_I_8", None);
        listed("h_I_9", Some(start + hour * 4));

        let every = db.meetings().unwrap();
        let hashes = db.latest_complete_page_hashes().unwrap();
        let expected: Vec<(StoredMeeting, Vec<String>)> = every
            .into_iter()
            .filter(|m| m.start.is_some())
            .map(|m| {
                let pages = hashes.get(&m.instance_id).cloned().unwrap_or_default();
                (m, pages)
            })
            .collect();
        assert_eq!(expected.len(), 8);
        assert_eq!(expected.iter().filter(|(_, p)| p.len() == 2).count(), 1);
        for limit in [1, 2, 3, 8, 100] {
            let mut read = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let page = db.meetings_after(after.as_ref(), limit).unwrap();
                assert!(page.meetings.len() <= limit);
                read.extend(page.meetings);
                pages += 1;
                assert!(pages <= 9, "each meeting read once: {limit}");
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(read, expected, "pages of {limit}");
            // The last page is the first shorter than asked for (empty after full ones).
            assert_eq!(pages, 8 / limit + 1, "{limit}");
        }
    }
}
