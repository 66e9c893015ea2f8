//! The SQLite database, the system of record: raw List Meetings items, every Meeting Qualities page
//! byte for byte with its request URL, status, tracking id and fetch time, a checkpoint per meeting,
//! and the runs. Anything derived is rebuilt from the raw rows.
//!
//! All writes of a collection cycle go through [`Changes`] and [`Database::apply`] in one transaction,
//! and applying the same changes twice, or on top of another run's changes, is safe: rows are keyed by
//! what they are (meeting id, call time, page), and checkpoints merge by taking the later call.

mod schema;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::webex::{Meeting, RawPage};

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is from a newer Webex Quality.
    #[error(
        "database {path} has schema version {found}; this build knows up to {known}: upgrade Webex Quality"
    )]
    TooNew {
        /// The file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// `PRAGMA integrity_check` found damage.
    #[error("database {path} failed its integrity check: {report}")]
    Corrupt {
        /// The file.
        path: String,
        /// What SQLite reported.
        report: String,
    },
    /// A stored body could not be inflated, or does not hash to its key.
    #[error("stored body {sha256} is damaged: {detail}")]
    BadBody {
        /// The body's key.
        sha256: String,
        /// What is wrong.
        detail: String,
    },
}

/// Formats a time as the database stores it: RFC 3339, UTC, milliseconds (sorts as text).
#[must_use]
pub fn db_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A meeting as the collector records it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRow {
    /// Instance id.
    pub instance_id: String,
    /// Series id.
    pub series_id: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Host's name.
    pub host_name: Option<String>,
    /// Host's email.
    pub host_email: Option<String>,
    /// Start.
    pub start: Option<DateTime<Utc>>,
    /// End (scheduled while in progress).
    pub end: Option<DateTime<Utc>>,
    /// `inProgress`, `ended`, ...
    pub state: Option<String>,
    /// The List Meetings item as received.
    pub raw_item: String,
    /// When it was listed.
    pub seen_at: DateTime<Utc>,
}

impl MeetingRow {
    /// The row for a listed meeting.
    #[must_use]
    pub fn from_listing(meeting: &Meeting, seen_at: DateTime<Utc>) -> Self {
        Self {
            instance_id: meeting.id.to_string(),
            series_id: meeting.view.meeting_series_id.clone(),
            title: meeting.view.title.clone(),
            host_name: meeting.view.host_display_name.clone(),
            host_email: meeting.view.host_email.clone(),
            start: meeting.view.start,
            end: meeting.view.end,
            state: meeting.view.state.clone(),
            raw_item: meeting.raw.get().to_owned(),
            seen_at,
        }
    }
}

/// One Meeting Qualities call and the pages it got.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The meeting instance.
    pub instance_id: String,
    /// When the call was made.
    pub called_at: DateTime<Utc>,
    /// The pages received, in order.
    pub pages: Vec<RawPage>,
    /// True when the last page was reached.
    pub completed: bool,
    /// Why it did not complete.
    pub error: Option<String>,
    /// Tracking id of the failure, if any.
    pub tracking_id: Option<String>,
}

/// What a call did to a meeting's checkpoint. Merged with what is stored: the later call wins,
/// `attempts` adds up, `final` sticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointUpdate {
    /// The meeting instance.
    pub instance_id: String,
    /// When it was called.
    pub called_at: DateTime<Utc>,
    /// When it may be called again.
    pub next_allowed_at: DateTime<Utc>,
    /// Calls this update stands for.
    pub attempts: i64,
    /// Whether this call failed.
    pub failed: bool,
    /// The failure.
    pub error: Option<String>,
    /// Its tracking id.
    pub tracking_id: Option<String>,
    /// Whether no more calls are needed.
    pub final_: bool,
}

/// A meeting's stored checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Last call.
    pub last_call_at: Option<DateTime<Utc>>,
    /// Next call allowed from.
    pub next_allowed_at: Option<DateTime<Utc>>,
    /// Calls made.
    pub attempts: i64,
    /// Consecutive failures.
    pub failures: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// Final fetch done.
    pub final_: bool,
}

/// One run's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRecord {
    /// Run id.
    pub id: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: Option<DateTime<Utc>>,
    /// Meetings listed by Webex.
    pub meetings_listed: i64,
    /// Meetings due.
    pub meetings_due: i64,
    /// Qualities calls made.
    pub calls: i64,
    /// Pages received.
    pub pages: i64,
    /// Bytes received.
    pub bytes: i64,
    /// Calls answered 429.
    pub rate_limited: i64,
    /// Errors.
    pub errors: i64,
    /// `ok`, `partial`, `authorization required`, `failed`.
    pub outcome: String,
    /// Details of the outcome.
    pub detail: Option<String>,
}

/// An error met during a run, for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    /// When.
    pub at: DateTime<Utc>,
    /// Which meeting, if one.
    pub instance_id: Option<String>,
    /// `rate limited`, `unavailable`, `malformed`, ...
    pub kind: String,
    /// The message.
    pub message: String,
    /// Webex's tracking id.
    pub tracking_id: Option<String>,
}

/// Everything one cycle writes, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Meetings listed.
    pub meetings: Vec<MeetingRow>,
    /// Qualities calls with their pages.
    pub calls: Vec<CallRecord>,
    /// Checkpoint updates.
    pub checkpoints: Vec<CheckpointUpdate>,
    /// The run.
    pub run: Option<RunRecord>,
    /// The run's errors.
    pub run_errors: Vec<RunError>,
}

/// Counts of what [`Database::apply`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// New calls.
    pub calls: usize,
    /// New pages.
    pub pages: usize,
    /// New distinct bodies.
    pub bodies: usize,
}

/// A meeting with its checkpoint, for planning.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingStatus {
    /// Instance id.
    pub instance_id: String,
    /// Start.
    pub start: Option<DateTime<Utc>>,
    /// End.
    pub end: Option<DateTime<Utc>>,
    /// State.
    pub state: Option<String>,
    /// The List Meetings item last stored (empty for a meeting not stored yet).
    pub raw_item: String,
    /// Checkpoint.
    pub checkpoint: Checkpoint,
}

/// A stored page, its body given back byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    /// 1-based page number.
    pub page: i64,
    /// When it arrived.
    pub fetched_at: String,
    /// The request URL.
    pub request_url: String,
    /// HTTP status.
    pub status: i64,
    /// Tracking id.
    pub tracking_id: String,
    /// The body as received.
    pub body: Bytes,
}

/// A stored meeting, as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMeeting {
    /// Instance id.
    pub instance_id: String,
    /// Title.
    pub title: String,
    /// Host's name.
    pub host_name: String,
    /// Host's email.
    pub host_email: String,
    /// Start.
    pub start: Option<DateTime<Utc>>,
    /// End.
    pub end: Option<DateTime<Utc>>,
    /// State.
    pub state: String,
}

/// A stored Meeting Qualities call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    /// Row id (for [`Database::call_pages`]).
    pub id: i64,
    /// When it was made.
    pub called_at: DateTime<Utc>,
    /// Whether the last page was reached.
    pub completed: bool,
    /// Why not.
    pub error: Option<String>,
}

/// An open database file.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

/// Below this share of the original size, a body is stored deflated.
const DEFLATE_WHEN_BELOW: f64 = 0.9;

impl Database {
    /// Opens (or creates) the file at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// SQLite errors, or [`DbError::TooNew`].
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let err = |source| DbError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // One self-contained file: it is uploaded whole, so no WAL beside it.
        conn.pragma_update(None, "journal_mode", "DELETE")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        let mut db = Self {
            conn,
            path: path.to_owned(),
        };
        db.migrate()?;
        Ok(db)
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> DbError + '_ {
        move |source| DbError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let known = i64::try_from(schema::MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(DbError::TooNew {
                path,
                found: version,
                known,
            });
        }
        for (index, sql) in schema::MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(index + 1).unwrap_or(i64::MAX),
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }

    /// The schema version.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn schema_version(&self) -> Result<i64, DbError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err())
    }

    /// `PRAGMA integrity_check`: `Ok` only when SQLite says "ok" (before an upload).
    ///
    /// # Errors
    /// [`DbError::Corrupt`] with SQLite's report.
    pub fn integrity_check(&self) -> Result<(), DbError> {
        self.check("PRAGMA integrity_check")
    }

    /// `PRAGMA quick_check`: the structure without the index contents, quick enough to run on every
    /// read (before publishing the site).
    ///
    /// # Errors
    /// [`DbError::Corrupt`] with SQLite's report.
    pub fn quick_check(&self) -> Result<(), DbError> {
        self.check("PRAGMA quick_check")
    }

    fn check(&self, pragma: &'static str) -> Result<(), DbError> {
        let mut statement = self.conn.prepare(pragma).map_err(self.err())?;
        let report: Vec<String> = statement
            .query_map([], |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        if report == ["ok"] {
            Ok(())
        } else {
            Err(DbError::Corrupt {
                path: self.path.display().to_string(),
                report: report.join("; "),
            })
        }
    }

    /// Applies `changes` in one transaction. Safe to apply twice.
    ///
    /// # Errors
    /// SQLite errors; nothing is written then.
    pub fn apply(&mut self, changes: &Changes) -> Result<Applied, DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut applied = Applied::default();
        {
            let mut upsert_meeting = tx
                .prepare_cached(
                    "INSERT INTO meetings (instance_id, series_id, title, host_name, host_email, start_time, end_time, state, raw_item, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
                     ON CONFLICT (instance_id) DO UPDATE SET
                        series_id = excluded.series_id, title = excluded.title, host_name = excluded.host_name,
                        host_email = excluded.host_email, start_time = excluded.start_time, end_time = excluded.end_time,
                        state = excluded.state, raw_item = excluded.raw_item, last_seen = excluded.last_seen
                     WHERE excluded.last_seen >= meetings.last_seen",
                )
                .map_err(err)?;
            for m in &changes.meetings {
                upsert_meeting
                    .execute(params![
                        m.instance_id,
                        m.series_id,
                        m.title,
                        m.host_name,
                        m.host_email,
                        m.start.map(db_time),
                        m.end.map(db_time),
                        m.state,
                        m.raw_item,
                        db_time(m.seen_at)
                    ])
                    .map_err(err)?;
                tx.execute(
                    "UPDATE meetings SET first_seen = min(first_seen, ?2) WHERE instance_id = ?1",
                    params![m.instance_id, db_time(m.seen_at)],
                )
                .map_err(err)?;
            }
            let mut insert_call = tx
                .prepare_cached(
                    "INSERT INTO quality_calls (instance_id, called_at, completed, error, tracking_id) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (instance_id, called_at) DO NOTHING",
                )
                .map_err(err)?;
            let mut insert_body = tx
                .prepare_cached("INSERT INTO bodies (sha256, length, encoding, data) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sha256) DO NOTHING")
                .map_err(err)?;
            let mut insert_page = tx
                .prepare_cached(
                    "INSERT INTO quality_pages (call_id, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (call_id, page) DO NOTHING",
                )
                .map_err(err)?;
            for call in &changes.calls {
                let new = insert_call
                    .execute(params![
                        call.instance_id,
                        db_time(call.called_at),
                        call.completed,
                        call.error,
                        call.tracking_id
                    ])
                    .map_err(err)?;
                applied.calls += new;
                let call_id: i64 = tx
                    .query_row(
                        "SELECT id FROM quality_calls WHERE instance_id = ?1 AND called_at = ?2",
                        params![call.instance_id, db_time(call.called_at)],
                        |r| r.get(0),
                    )
                    .map_err(err)?;
                for (index, page) in call.pages.iter().enumerate() {
                    let sha = sha256_hex(&page.body);
                    let (encoding, data) = encode(&page.body);
                    applied.bodies += insert_body
                        .execute(params![sha, as_i64(page.body.len()), encoding, data])
                        .map_err(err)?;
                    let valid = serde_json::from_slice::<serde::de::IgnoredAny>(&page.body).is_ok();
                    applied.pages += insert_page
                        .execute(params![
                            call_id,
                            as_i64(index + 1),
                            db_time(page.fetched_at),
                            page.request_url,
                            page.status,
                            page.tracking_id,
                            sha,
                            valid
                        ])
                        .map_err(err)?;
                }
            }
            let mut upsert_checkpoint = tx
                .prepare_cached(
                    "INSERT INTO checkpoints (instance_id, last_call_at, next_allowed_at, attempts, failures, last_error, last_tracking_id, final, final_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?8 THEN ?2 END)
                     ON CONFLICT (instance_id) DO UPDATE SET
                        attempts = checkpoints.attempts + excluded.attempts,
                        next_allowed_at = max(coalesce(checkpoints.next_allowed_at, ''), excluded.next_allowed_at),
                        failures = CASE WHEN excluded.last_call_at >= coalesce(checkpoints.last_call_at, '')
                                        THEN CASE WHEN excluded.failures > 0 THEN checkpoints.failures + 1 ELSE 0 END
                                        ELSE checkpoints.failures END,
                        last_error = CASE WHEN excluded.last_call_at >= coalesce(checkpoints.last_call_at, '')
                                          THEN excluded.last_error ELSE checkpoints.last_error END,
                        last_tracking_id = CASE WHEN excluded.last_call_at >= coalesce(checkpoints.last_call_at, '')
                                          THEN excluded.last_tracking_id ELSE checkpoints.last_tracking_id END,
                        last_call_at = max(coalesce(checkpoints.last_call_at, ''), excluded.last_call_at),
                        final_at = CASE WHEN checkpoints.final THEN checkpoints.final_at ELSE excluded.final_at END,
                        final = checkpoints.final OR excluded.final",
                )
                .map_err(err)?;
            for c in &changes.checkpoints {
                upsert_checkpoint
                    .execute(params![
                        c.instance_id,
                        db_time(c.called_at),
                        db_time(c.next_allowed_at),
                        c.attempts,
                        i64::from(c.failed),
                        c.error,
                        c.tracking_id,
                        c.final_
                    ])
                    .map_err(err)?;
            }
            if let Some(run) = &changes.run {
                tx.execute(
                    "INSERT INTO runs (id, started_at, ended_at, meetings_listed, meetings_due, calls, pages, bytes, rate_limited, errors, outcome, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT (id) DO NOTHING",
                    params![
                        run.id, db_time(run.started_at), run.ended_at.map(db_time), run.meetings_listed, run.meetings_due,
                        run.calls, run.pages, run.bytes, run.rate_limited, run.errors, run.outcome, run.detail
                    ],
                )
                .map_err(err)?;
                let already: i64 = tx
                    .query_row(
                        "SELECT count(*) FROM run_errors WHERE run_id = ?1",
                        [&run.id],
                        |r| r.get(0),
                    )
                    .map_err(err)?;
                if already == 0 {
                    for e in &changes.run_errors {
                        tx.execute(
                            "INSERT INTO run_errors (run_id, at, instance_id, kind, message, tracking_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![run.id, db_time(e.at), e.instance_id, e.kind, e.message, e.tracking_id],
                        )
                        .map_err(err)?;
                    }
                }
            }
        }
        tx.commit().map_err(err)?;
        Ok(applied)
    }

    /// Every known meeting with its checkpoint, oldest start first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn meeting_statuses(&self) -> Result<Vec<MeetingStatus>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT m.instance_id, m.start_time, m.end_time, m.state, m.raw_item,
                        c.last_call_at, c.next_allowed_at, coalesce(c.attempts, 0), coalesce(c.failures, 0), c.last_error, coalesce(c.final, 0)
                 FROM meetings m LEFT JOIN checkpoints c USING (instance_id)
                 ORDER BY m.start_time, m.instance_id",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map([], |r| {
                Ok(MeetingStatus {
                    instance_id: r.get(0)?,
                    start: parse_time(r.get(1)?),
                    end: parse_time(r.get(2)?),
                    state: r.get(3)?,
                    raw_item: r.get(4)?,
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
        let call: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM quality_calls WHERE instance_id = ?1 AND completed ORDER BY called_at DESC LIMIT 1",
                [instance_id],
                |r| r.get(0),
            )
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
            .prepare("SELECT id, called_at, completed, error FROM quality_calls WHERE instance_id = ?1 ORDER BY called_at")
            .map_err(self.err())?;
        let rows = statement
            .query_map([instance_id], |r| {
                Ok(StoredCall {
                    id: r.get(0)?,
                    called_at: parse_time(r.get(1)?).unwrap_or_default(),
                    completed: r.get(2)?,
                    error: r.get(3)?,
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
            .prepare(
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

    /// Runs one read-only query returning a single integer (for reports and tests).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn count(&self, sql: &str) -> Result<i64, DbError> {
        self.conn
            .query_row(sql, [], |r| r.get(0))
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

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes` (a digest, for keys and ETags).
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn encode(body: &[u8]) -> (&'static str, Vec<u8>) {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let deflated = encoder.write_all(body).and_then(|()| encoder.finish());
    match deflated {
        #[allow(clippy::cast_precision_loss)]
        Ok(small) if (small.len() as f64) < body.len() as f64 * DEFLATE_WHEN_BELOW => {
            ("deflate", small)
        }
        _ => ("identity", body.to_vec()),
    }
}

fn decode(sha: &str, length: i64, encoding: &str, data: Vec<u8>) -> Result<Bytes, DbError> {
    let bad = |detail: String| DbError::BadBody {
        sha256: sha.to_owned(),
        detail,
    };
    let body = match encoding {
        "identity" => data,
        "deflate" => {
            let mut out = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
            flate2::read::DeflateDecoder::new(data.as_slice())
                .read_to_end(&mut out)
                .map_err(|e| bad(e.to_string()))?;
            out
        }
        other => return Err(bad(format!("unknown encoding {other:?}"))),
    };
    if sha256_hex(&body) != sha || i64::try_from(body.len()).ok() != Some(length) {
        return Err(bad("content does not match its hash".into()));
    }
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &[u8], at: DateTime<Utc>) -> RawPage {
        RawPage {
            request_url:
                "https://analytics.webexapis.com/v1/meeting/qualities?meetingId=a_I_1&max=100"
                    .into(),
            status: 200,
            tracking_id: "ROUTER_1".into(),
            fetched_at: at,
            body: Bytes::copy_from_slice(body),
            next: None,
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn migrations_bring_a_new_file_to_the_latest_version_and_refuse_newer_ones() {
        let dir = tempdir();
        let path = dir.join("db.sqlite");
        let db = Database::open(&path).unwrap();
        assert_eq!(
            db.schema_version().unwrap(),
            i64::try_from(schema::MIGRATIONS.len()).unwrap()
        );
        db.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(db);
        assert!(matches!(
            Database::open(&path),
            Err(DbError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn applying_the_same_changes_twice_writes_them_once() {
        let dir = tempdir();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        let at = t("2026-01-05T10:00:00Z");
        let changes = Changes {
            calls: vec![CallRecord {
                instance_id: "a_I_1".into(),
                called_at: at,
                pages: vec![page(b"{\"items\":[]}", at), page(b"{\"items\":[1]}", at)],
                completed: true,
                error: None,
                tracking_id: None,
            }],
            checkpoints: vec![CheckpointUpdate {
                instance_id: "a_I_1".into(),
                called_at: at,
                next_allowed_at: at + chrono::Duration::minutes(5),
                attempts: 1,
                failed: false,
                error: None,
                tracking_id: None,
                final_: true,
            }],
            ..Changes::default()
        };
        let first = db.apply(&changes).unwrap();
        assert_eq!(
            first,
            Applied {
                calls: 1,
                pages: 2,
                bodies: 2
            }
        );
        let second = db.apply(&changes).unwrap();
        assert_eq!(
            second,
            Applied {
                calls: 0,
                pages: 0,
                bodies: 0
            }
        );
        assert_eq!(db.count("SELECT count(*) FROM quality_pages").unwrap(), 2);
        // Checkpoints merge: attempts add up (two runs' worth), the later call and final stick.
        assert_eq!(db.count("SELECT attempts FROM checkpoints").unwrap(), 2);
        assert_eq!(db.count("SELECT final FROM checkpoints").unwrap(), 1);
        db.integrity_check().unwrap();
    }

    #[test]
    fn an_older_checkpoint_update_does_not_move_the_last_call_back() {
        let dir = tempdir();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        let update = |at: &str, error: Option<&str>| CheckpointUpdate {
            instance_id: "a_I_1".into(),
            called_at: t(at),
            next_allowed_at: t(at) + chrono::Duration::minutes(5),
            attempts: 1,
            failed: error.is_some(),
            error: error.map(str::to_owned),
            tracking_id: None,
            final_: false,
        };
        db.apply(&Changes {
            checkpoints: vec![update("2026-01-05T10:10:00Z", None)],
            ..Changes::default()
        })
        .unwrap();
        db.apply(&Changes {
            checkpoints: vec![update("2026-01-05T10:00:00Z", Some("boom"))],
            ..Changes::default()
        })
        .unwrap();
        db.apply(&Changes {
            meetings: vec![],
            ..Changes::default()
        })
        .unwrap();
        let next: String = db
            .conn
            .query_row("SELECT next_allowed_at FROM checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(next, "2026-01-05T10:15:00.000Z");
        let error: Option<String> = db
            .conn
            .query_row("SELECT last_error FROM checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(error, None);
    }

    #[test]
    fn bodies_come_back_byte_for_byte_whatever_their_encoding() {
        for body in [
            &b""[..],
            b"{}",
            b"  {\"a\" : \"\\u00e9\\n\" }\r\n\t",
            "é💥 not json".as_bytes(),
            &[0_u8, 255, 10][..],
        ] {
            let (encoding, data) = encode(body);
            let sha = sha256_hex(body);
            let back = decode(&sha, i64::try_from(body.len()).unwrap(), encoding, data).unwrap();
            assert_eq!(back.as_ref(), body);
        }
        let big = br#"{"packetLoss":[0.0,0.0,0.1,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0]}"#
            .repeat(50);
        assert_eq!(encode(&big).0, "deflate");
        assert!(decode("00", 2, "deflate", vec![1, 2]).is_err());
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wq-db-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
