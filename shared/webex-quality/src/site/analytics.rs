//! The analytics copy: every finalised meeting as rows for SQL (Athena, DuckDB), written once per
//! archived day as gzipped JSON Lines under `analytics/<table>/date=YYYY-MM-DD/part-N.json.gz`
//! (Hive-style partitions, one file per archive part):
//!
//! - `intervals`: one row per participant session, stream (audio, video, sharing) and minute,
//!   with the minute's values and verdict (the worst of sent and received, as the meeting page's
//!   timeline shows it);
//! - `sessions`: one row per participant session, as the day's sessions export has it;
//! - `meetings`: one row per meeting, as the meetings list export has it.
//!
//! A day is copied once it is archived (a day after it ends, every meeting of it final): archives
//! never change, so the copy is written once. The `meetings` file of a part is written last and
//! marks the part done; a part whose `meetings` file is missing is written again whole (the same
//! rows: they depend only on the archive, the thresholds and the masking setting).
//! Personal data follows the masking setting: emails masked by default, people named in
//! `intervals` by the same keyed hash as their dashboard page, never by email.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::exports::{MeetingExport, SessionExport, analysed, meeting_export, session_export};
use super::person_key::PersonKey;
use super::{BuildError, SiteOptions};
use crate::db::{Database, DbError};
use crate::history::{self, ArchiveKey};
use crate::quality::Thresholds;
use crate::storage::work_files::WorkFile;
use crate::storage::{ObjectStore, PutCondition, SharedStore, StoreError};

/// Where the analytics copy lives, in the data store (or under an export folder).
pub const ANALYTICS_PREFIX: &str = "analytics/";

/// The tables, in the order a part's files are written (`meetings` last: it marks the part done).
pub const TABLES: [&str; 3] = ["intervals", "sessions", "meetings"];

/// The key of `table`'s file for an archive part.
#[must_use]
pub fn object_key(table: &str, archive: ArchiveKey) -> String {
    format!(
        "{ANALYTICS_PREFIX}{table}/date={}/part-{}.json.gz",
        archive.day.format("%Y-%m-%d"),
        archive.part
    )
}

/// An analytics failure.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An archive could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Rows could not be made.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A local file failed.
    #[error("analytics file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// What [`write_analytics`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyticsWritten {
    /// Archive parts copied now.
    pub parts: usize,
    /// Rows written, per table (intervals, sessions, meetings).
    pub rows: [usize; 3],
    /// Archive parts left for later (the deadline came first).
    pub left: usize,
}

/// One minute of one stream of a participant session.
#[derive(Serialize)]
struct IntervalRow<'a> {
    meeting_id: &'a str,
    /// The session's place in the meeting (as the meeting page lists them), from 0.
    session_index: usize,
    participant_session_id: &'a str,
    /// The person, by the keyed hash of their dashboard page.
    person_id: &'a str,
    office: &'a str,
    stream: &'static str,
    /// Minutes from the meeting's start.
    minute: usize,
    /// The minute's start, UTC, RFC 3339.
    at: String,
    packet_loss: Option<f64>,
    latency_ms: Option<f64>,
    jitter_ms: Option<f64>,
    frame_rate: Option<f64>,
    bit_rate_kbps: Option<f64>,
    resolution_height: Option<f64>,
    verdict: &'static str,
    /// The metric that decided a fair or poor verdict.
    metric: &'static str,
}

/// One participant session.
#[derive(Serialize)]
struct SessionRow<'a> {
    meeting_id: &'a str,
    meeting_start: String,
    meeting_title: &'a str,
    session_index: usize,
    participant_session_id: &'a str,
    person_id: &'a str,
    #[serde(flatten)]
    session: SessionExport,
}

/// A gzipped JSON Lines file being written.
struct JsonLines {
    path: PathBuf,
    out: std::io::BufWriter<flate2::write::GzEncoder<std::fs::File>>,
    rows: usize,
}

impl JsonLines {
    fn create(path: PathBuf) -> Result<Self, AnalyticsError> {
        let file = std::fs::File::create(&path).map_err(|source| AnalyticsError::File {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            path,
            out: std::io::BufWriter::with_capacity(
                1 << 18,
                flate2::write::GzEncoder::new(file, flate2::Compression::fast()),
            ),
            rows: 0,
        })
    }

    fn fail(&self, source: std::io::Error) -> AnalyticsError {
        AnalyticsError::File {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn row<T: Serialize>(&mut self, row: &T) -> Result<(), AnalyticsError> {
        serde_json::to_writer(&mut self.out, row).map_err(|e| BuildError::Export(e.to_string()))?;
        self.out.write_all(b"\n").map_err(|e| self.fail(e))?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> Result<(PathBuf, usize), AnalyticsError> {
        let encoder = self.out.into_inner().map_err(|e| AnalyticsError::File {
            path: self.path.display().to_string(),
            source: e.into_error(),
        })?;
        encoder.finish().map_err(|source| AnalyticsError::File {
            path: self.path.display().to_string(),
            source,
        })?;
        Ok((self.path, self.rows))
    }
}

/// A file under `dir` that is removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The rows of every meeting of `db` with a complete fetch, into one file per table under `dir`.
fn rows_of(
    db: &Database,
    dir: &Path,
    (options, person_key, thresholds): (&SiteOptions, &PersonKey, &Thresholds),
) -> Result<[(Scratch, usize); 3], AnalyticsError> {
    let stem = uuid::Uuid::new_v4().simple().to_string();
    let mut files = Vec::new();
    for table in TABLES {
        files.push(JsonLines::create(
            WorkFile::Analytics.path(dir, &format!("{stem}-{table}.json.gz")),
        )?);
    }
    let [mut intervals, mut sessions, mut meetings]: [JsonLines; 3] = files
        .try_into()
        .map_err(|_| BuildError::Export("tables".into()))?;
    for meeting in db.meetings()? {
        let Some(start) = meeting.start else { continue };
        let Some((report, summary, texts)) =
            analysed(db, (&meeting, start), (options, thresholds))?
        else {
            continue;
        };
        for (index, (session, summary_session)) in report
            .sessions
            .iter()
            .zip(summary.sessions.iter())
            .enumerate()
        {
            let person = person_key.person_path(&session.person_key());
            let person_id = person
                .trim_start_matches("people/")
                .trim_end_matches(".html");
            let participant_session_id = session
                .session
                .participant_session_id
                .as_deref()
                .unwrap_or("");
            let export = session_export(&summary_session, &texts, options);
            let office = texts.get(summary_session.office);
            for (kind, cells) in &session.quality.timelines {
                for (minute, cell) in cells.iter() {
                    intervals.row(&IntervalRow {
                        meeting_id: &meeting.instance_id,
                        session_index: index,
                        participant_session_id,
                        person_id,
                        office,
                        stream: kind.label(),
                        minute,
                        at: minute_start(session.quality.origin, minute),
                        packet_loss: cell.sample.packet_loss,
                        latency_ms: cell.sample.latency,
                        jitter_ms: cell.sample.jitter,
                        frame_rate: cell.sample.frame_rate,
                        bit_rate_kbps: cell.sample.bit_rate,
                        resolution_height: cell.sample.resolution,
                        verdict: cell.verdict.label(),
                        metric: cell.metric.map_or("", crate::quality::Metric::label),
                    })?;
                }
            }
            sessions.row(&SessionRow {
                meeting_id: &meeting.instance_id,
                meeting_start: start.to_rfc3339(),
                meeting_title: &meeting.title,
                session_index: index,
                participant_session_id,
                person_id,
                session: export,
            })?;
        }
        let row: MeetingExport = meeting_export(&summary, &texts);
        meetings.row(&row)?;
    }
    let [intervals, sessions, meetings] = [intervals, sessions, meetings].map(JsonLines::finish);
    let (i, s, m) = (intervals?, sessions?, meetings?);
    Ok([
        (Scratch(i.0), i.1),
        (Scratch(s.0), s.1),
        (Scratch(m.0), m.1),
    ])
}

fn minute_start(origin: DateTime<Utc>, minute: usize) -> String {
    let offset = i64::try_from(minute).unwrap_or(i64::MAX);
    origin
        .checked_add_signed(chrono::Duration::minutes(offset))
        .unwrap_or(origin)
        .to_rfc3339()
}

/// Copies every archive part of `data` that `out` has no analytics copy of yet (oldest first),
/// stopping before a part once `deadline` has passed. `out` is the data store itself (the
/// site-builder and `render`) or an export folder (`export --analytics`).
///
/// # Errors
/// Store, archive or file failures; parts copied before the failure stay copied.
pub async fn write_analytics(
    data: &SharedStore,
    out: &dyn ObjectStore,
    work_dir: &Path,
    (options, thresholds): (&SiteOptions, &Thresholds),
    deadline: Option<std::time::Instant>,
) -> Result<AnalyticsWritten, AnalyticsError> {
    let done: HashSet<String> = out
        .list(&format!("{ANALYTICS_PREFIX}meetings/"))
        .await?
        .into_iter()
        .collect();
    let mut todo: Vec<ArchiveKey> = history::list_archives(data)
        .await?
        .into_iter()
        .filter(|a| !done.contains(&object_key("meetings", *a)))
        .collect();
    todo.reverse();
    let mut written = AnalyticsWritten::default();
    if todo.is_empty() {
        return Ok(written);
    }
    let person_key = PersonKey::load_or_create(data.as_ref()).await?;
    for (index, archive) in todo.iter().enumerate() {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            written.left = todo.len() - index;
            break;
        }
        let local = history::download(data, *archive, work_dir).await?;
        let db = Database::open(&local.path)?;
        db.quick_check()?;
        let files = rows_of(&db, work_dir, (options, &person_key, thresholds))?;
        drop(db);
        for (table, (file, rows)) in TABLES.iter().zip(&files) {
            out.put_file(
                &object_key(table, *archive),
                &file.0,
                PutCondition::Always,
                "application/gzip",
            )
            .await?;
            written.rows[TABLES.iter().position(|t| t == table).unwrap_or(0)] += rows;
        }
        written.parts += 1;
        tracing::info!(day = %archive.day, part = archive.part, "analytics copy written");
    }
    Ok(written)
}
