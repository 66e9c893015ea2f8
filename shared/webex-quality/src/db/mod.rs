//! The SQLite database, the system of record: raw List Meetings items, every Meeting Qualities page
//! byte for byte with its request URL, status, tracking id and fetch time, a checkpoint per meeting,
//! and the runs. Anything derived is rebuilt from the raw rows.
//!
//! All writes of a collection cycle go through [`Changes`] and [`Database::apply`] in one transaction,
//! and applying the same changes twice, or on top of another run's changes, is safe: rows are keyed by
//! what they are (meeting id, call time, page), and checkpoints merge by taking the later call.

mod codec;
mod delta;
mod partition;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use codec::decode;
pub use codec::{hex, sha256_hex};
pub use delta::{Delta, DeltaCounts};
pub use partition::DayCounts;

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
    /// A run's delta file could not be read or copied.
    #[error("delta {path}: {detail}")]
    Delta {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
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
    /// The last page is a body that failed the qualities check (kept as Webex sent it).
    pub last_page_malformed: bool,
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
    /// Qualities calls with their pages, held in memory (tests, benches, small writes).
    pub calls: Vec<CallRecord>,
    /// Qualities calls with their pages, already stored in a [`Delta`] file (the collector's way:
    /// its memory does not grow with the pages).
    pub delta: Option<PathBuf>,
    /// Checkpoint updates.
    pub checkpoints: Vec<CheckpointUpdate>,
    /// Drop the pages of calls superseded by a meeting's final fetch (see [`Database::apply`]).
    pub prune_superseded: bool,
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
    /// Calls whose pages were dropped, superseded by their meeting's final fetch.
    pub pruned_calls: usize,
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
    /// A digest of the List Meetings item last stored ([`item_digest`]; `None` for a meeting not
    /// stored yet): enough to tell whether a new listing changed it, without holding the item.
    pub item_digest: Option<u64>,
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
    /// Its pages were dropped, superseded by the meeting's final fetch.
    pub pages_pruned: bool,
}

/// An open database file.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

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
        if version == known {
            return Ok(());
        }
        // Migrations rebuild tables that others reference: foreign keys are checked once, after.
        self.conn
            .pragma_update(None, "foreign_keys", false)
            .map_err(err)?;
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
        self.conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        let dangling: i64 = self
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        if dangling > 0 {
            return Err(DbError::Corrupt {
                path: path.clone(),
                report: format!("{dangling} rows refer to rows that are missing"),
            });
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

    /// Rewrites the file (`VACUUM`) when more than a quarter of it is free pages (left by pruned
    /// snapshots), so that the object uploaded every cycle does not keep their size. Returns
    /// whether it did.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn compact_if_sparse(&self) -> Result<bool, DbError> {
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .map_err(self.err())?;
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .map_err(self.err())?;
        if free < 256 || free * 4 < pages {
            return Ok(false);
        }
        self.conn.execute_batch("VACUUM").map_err(self.err())?;
        Ok(true)
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
        // Calls held in memory go through a delta file too (one way of storing pages): a new one,
        // or a copy of the changes' own delta with them added.
        let in_memory = if changes.calls.is_empty() {
            None
        } else {
            let mut path = self.path.clone().into_os_string();
            path.push(format!(".{}.delta", uuid::Uuid::new_v4().simple()));
            let path = PathBuf::from(path);
            let mut delta = match &changes.delta {
                Some(given) => {
                    std::fs::copy(given, &path).map_err(|e| DbError::Delta {
                        path: given.display().to_string(),
                        detail: e.to_string(),
                    })?;
                    Delta::open(&path)?
                }
                None => Delta::create(&path)?,
            };
            for call in &changes.calls {
                delta.add(call)?;
            }
            Some(delta.finish())
        };
        let applied = self.apply_with(changes, in_memory.as_deref().or(changes.delta.as_deref()));
        if let Some(path) = in_memory {
            let _ = std::fs::remove_file(path);
        }
        applied
    }

    fn apply_with(&mut self, changes: &Changes, delta: Option<&Path>) -> Result<Applied, DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        // A database can only be attached outside a transaction.
        if let Some(delta) = delta {
            self.conn
                .execute("ATTACH DATABASE ?1 AS delta", [delta.display().to_string()])
                .map_err(err)?;
        }
        let applied = self.apply_in_one_transaction(changes, delta.is_some());
        if delta.is_some()
            && let Err(source) = self.conn.execute("DETACH DATABASE delta", [])
        {
            tracing::warn!(error = %source, "detaching the delta");
        }
        applied
    }

    fn apply_in_one_transaction(
        &mut self,
        changes: &Changes,
        with_delta: bool,
    ) -> Result<Applied, DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let applied = if with_delta {
            delta::merge(&tx).map_err(err)?
        } else {
            Applied::default()
        };
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
        let mut applied = applied;
        if changes.prune_superseded {
            applied.pruned_calls = prune_superseded(&tx).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(applied)
    }

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

/// Drops the pages of every call superseded by its meeting's final fetch: for each final meeting
/// whose latest complete call has pages that are all valid (a malformed page supersedes nothing),
/// the pages of its other calls go
/// (those calls stay, marked `pages_pruned`), and so do the bodies no page refers to any more. The
/// final fetch's bodies are never touched. Returns the calls pruned.
fn prune_superseded(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<usize> {
    // Each final meeting with pages in more than one call, and the call that stays.
    let mut candidates = tx.prepare_cached(
        "SELECT k.instance_id, latest.id
         FROM checkpoints k
         JOIN quality_calls latest ON latest.id =
              (SELECT c.id FROM quality_calls c WHERE c.instance_id = k.instance_id AND c.completed
               ORDER BY c.called_at DESC LIMIT 1)
         WHERE k.final
           -- The latest complete call supersedes the others only when it is whole and valid.
           AND EXISTS (SELECT 1 FROM quality_pages p WHERE p.call_id = latest.id)
           AND NOT EXISTS (SELECT 1 FROM quality_pages p WHERE p.call_id = latest.id AND NOT p.valid_json)
           AND (SELECT count(*) FROM quality_calls c
                WHERE c.instance_id = k.instance_id
                  AND EXISTS (SELECT 1 FROM quality_pages p WHERE p.call_id = c.id)) > 1",
    )?;
    let meetings: Vec<(String, i64)> = candidates
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut drop_pages = tx.prepare_cached(
        "DELETE FROM quality_pages
         WHERE call_id IN (SELECT id FROM quality_calls WHERE instance_id = ?1 AND id <> ?2)
         RETURNING call_id, body_sha256",
    )?;
    let mut mark = tx.prepare_cached("UPDATE quality_calls SET pages_pruned = 1 WHERE id = ?1")?;
    let mut drop_body = tx.prepare_cached(
        "DELETE FROM bodies WHERE sha256 = ?1
         AND NOT EXISTS (SELECT 1 FROM quality_pages WHERE body_sha256 = ?1)",
    )?;
    let mut pruned = 0;
    for (instance_id, keep) in meetings {
        let dropped: Vec<(i64, String)> = drop_pages
            .query_map(params![instance_id, keep], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut calls: Vec<i64> = dropped.iter().map(|(call, _)| *call).collect();
        calls.sort_unstable();
        calls.dedup();
        for call in &calls {
            mark.execute([call])?;
        }
        pruned += calls.len();
        for (_, sha) in &dropped {
            drop_body.execute([sha])?;
        }
    }
    Ok(pruned)
}

/// A digest of a List Meetings item, to compare a new listing with the stored one (within one
/// process: the hasher's keys are fixed, its algorithm is not promised across Rust versions).
#[must_use]
pub fn item_digest(raw_item: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    raw_item.hash(&mut hasher);
    hasher.finish()
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn page(body: &[u8], at: DateTime<Utc>) -> RawPage {
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
                last_page_malformed: false,
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
                bodies: 2,
                pruned_calls: 0,
            }
        );
        let second = db.apply(&changes).unwrap();
        assert_eq!(
            second,
            Applied {
                calls: 0,
                pages: 0,
                bodies: 0,
                pruned_calls: 0,
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
    fn a_version_1_file_with_deflated_bodies_is_migrated_and_reads_back_byte_for_byte() {
        use std::io::Write;
        let dir = tempdir();
        let path = dir.join("db.sqlite");
        let old_body = br#"{"items":[{"packetLoss":[0.0,0.0,0.1,0.0,0.0,0.0]}]}"#.repeat(30);
        {
            // A file as version 1 wrote it: deflate was the only codec.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let mut deflate =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            deflate.write_all(&old_body).unwrap();
            let data = deflate.finish().unwrap();
            let sha = sha256_hex(&old_body);
            conn.execute(
                "INSERT INTO bodies VALUES (?1, ?2, 'deflate', ?3)",
                params![sha, as_i64(old_body.len()), data],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO quality_calls (instance_id, called_at, completed) VALUES ('a_I_1', '2026-01-05T10:00:00.000Z', 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO quality_pages VALUES (1, 1, '2026-01-05T10:00:00.000Z', 'https://x', 200, 'T', ?1, 1)",
                [sha],
            )
            .unwrap();
        }
        let mut db = Database::open(&path).unwrap();
        assert_eq!(
            db.schema_version().unwrap(),
            i64::try_from(schema::MIGRATIONS.len()).unwrap()
        );
        db.integrity_check().unwrap();
        let pages = db.latest_complete_pages("a_I_1").unwrap();
        assert_eq!(pages[0].body.as_ref(), old_body.as_slice());
        // New bodies go in with zstd beside the old deflated ones.
        let at = t("2026-01-05T10:10:00Z");
        let new_body = br#"{"items":[{"latency":[10,20,30,40,50,60,70,80]}]}"#.repeat(30);
        db.apply(&Changes {
            calls: vec![CallRecord {
                instance_id: "a_I_1".into(),
                called_at: at,
                pages: vec![page(&new_body, at)],
                completed: true,
                error: None,
                tracking_id: None,
                last_page_malformed: false,
            }],
            ..Changes::default()
        })
        .unwrap();
        assert_eq!(
            db.count("SELECT count(*) FROM bodies WHERE encoding = 'zstd'")
                .unwrap(),
            1
        );
        let pages = db.latest_complete_pages("a_I_1").unwrap();
        assert_eq!(pages[0].body.as_ref(), new_body.as_slice());
        let first = db.calls("a_I_1").unwrap()[0].id;
        assert_eq!(
            db.call_pages(first).unwrap()[0].body.as_ref(),
            old_body.as_slice()
        );
    }

    fn call(id: &str, at: &str, bodies: &[&[u8]], completed: bool, malformed: bool) -> CallRecord {
        CallRecord {
            instance_id: id.into(),
            called_at: t(at),
            pages: bodies.iter().map(|b| page(b, t(at))).collect(),
            completed,
            error: None,
            tracking_id: None,
            last_page_malformed: malformed,
        }
    }

    fn final_checkpoint(id: &str, at: &str) -> CheckpointUpdate {
        CheckpointUpdate {
            instance_id: id.into(),
            called_at: t(at),
            next_allowed_at: t(at) + chrono::Duration::minutes(5),
            attempts: 1,
            failed: false,
            error: None,
            tracking_id: None,
            final_: true,
        }
    }

    #[test]
    fn snapshots_superseded_by_a_valid_final_fetch_are_pruned_and_the_final_stays_exact() {
        let dir = tempdir();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        let shared = br#"{"items":[{"same":"in every snapshot"}]}"#;
        let final_body = br#"{"items":[{"latency":[1,2,3]}]}"#;
        // Two in-progress snapshots (one shares a body with the final fetch), then the final one.
        db.apply(&Changes {
            calls: vec![
                call(
                    "a_I_1",
                    "2026-01-05T10:10:00Z",
                    &[b"{\"items\":[1]}", shared],
                    true,
                    false,
                ),
                call(
                    "a_I_1",
                    "2026-01-05T10:15:00Z",
                    &[b"{\"items\":[2]}"],
                    false,
                    false,
                ),
                call(
                    "b_I_2",
                    "2026-01-05T10:10:00Z",
                    &[b"{\"items\":[3]}"],
                    true,
                    false,
                ),
            ],
            ..Changes::default()
        })
        .unwrap();
        let kept_all = Changes {
            calls: vec![call(
                "a_I_1",
                "2026-01-05T10:50:00Z",
                &[final_body, shared],
                true,
                false,
            )],
            checkpoints: vec![final_checkpoint("a_I_1", "2026-01-05T10:50:00Z")],
            ..Changes::default()
        };
        // Without the setting nothing goes.
        assert_eq!(db.apply(&kept_all).unwrap().pruned_calls, 0);
        assert_eq!(db.count("SELECT count(*) FROM quality_pages").unwrap(), 6);
        let applied = db
            .apply(&Changes {
                prune_superseded: true,
                ..Changes::default()
            })
            .unwrap();
        assert_eq!(applied.pruned_calls, 2);
        let calls = db.calls("a_I_1").unwrap();
        assert_eq!(calls.len(), 3, "the calls themselves stay");
        assert_eq!(
            calls.iter().map(|c| c.pages_pruned).collect::<Vec<_>>(),
            [true, true, false]
        );
        assert!(db.call_pages(calls[0].id).unwrap().is_empty());
        let kept = db.latest_complete_pages("a_I_1").unwrap();
        assert_eq!(kept[0].body.as_ref(), final_body.as_slice());
        assert_eq!(
            kept[1].body.as_ref(),
            shared.as_slice(),
            "a shared body stays"
        );
        // Bodies only the pruned pages used are gone; the other meeting is untouched.
        assert_eq!(db.count("SELECT count(*) FROM bodies").unwrap(), 3);
        assert!(!db.calls("b_I_2").unwrap()[0].pages_pruned);
        db.integrity_check().unwrap();
        // Pruning again finds nothing.
        let again = Changes {
            prune_superseded: true,
            ..Changes::default()
        };
        assert_eq!(db.apply(&again).unwrap().pruned_calls, 0);
    }

    #[test]
    fn a_final_fetch_with_a_malformed_page_supersedes_nothing() {
        let dir = tempdir();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        db.apply(&Changes {
            calls: vec![
                call(
                    "a_I_1",
                    "2026-01-05T10:10:00Z",
                    &[b"{\"items\":[1]}"],
                    true,
                    false,
                ),
                call(
                    "a_I_1",
                    "2026-01-05T10:50:00Z",
                    &[b"{\"items\":[2]}", b"{cut"],
                    true,
                    true,
                ),
            ],
            checkpoints: vec![final_checkpoint("a_I_1", "2026-01-05T10:50:00Z")],
            prune_superseded: true,
            ..Changes::default()
        })
        .unwrap();
        // The latest complete call is not valid: every page stays, the malformed one included
        // (it is what Webex sent).
        assert_eq!(db.count("SELECT count(*) FROM quality_pages").unwrap(), 3);
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wq-db-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
