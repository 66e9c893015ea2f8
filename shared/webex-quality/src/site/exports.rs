//! The site's CSV and JSON exports (the meetings lists, each day's participant sessions) and
//! `webex-quality export --csv`: cells a spreadsheet would run as formulas are defused.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::build::BuildError;
use super::csv_cells::row_cells;
use super::render_cache::{MeetingSummary, SessionSummary};
use super::texts::Texts;
use super::{SiteOptions, mask_email};
use crate::db::Database;
use crate::quality::{StreamKind, Thresholds, meeting_report};

/// The tables a spreadsheet user wants: `meetings.csv` (one row per meeting) and `sessions.csv` (one
/// row per participant session, with its meeting and per-stream verdicts), from one database.
///
/// # Errors
/// Database or export failures.
pub fn csv_tables(
    db: &Database,
    options: &SiteOptions,
    thresholds: &Thresholds,
) -> Result<[(String, Vec<u8>); 2], BuildError> {
    let mut tables = CsvTables::default();
    tables.add(db, options, thresholds)?;
    tables.finish()
}

/// One participant session with its meeting: a row of `sessions.csv` and of a day's sessions
/// export.
#[derive(Serialize)]
pub(super) struct SessionRow {
    meeting_id: String,
    meeting_start: String,
    meeting_title: String,
    #[serde(flatten)]
    session: SessionExport,
}

impl SessionRow {
    /// The rows of `meeting`'s sessions, in the order the meeting page lists them (made as the
    /// iterator goes).
    pub(super) fn of_meeting<'a>(
        meeting: &'a MeetingSummary,
        texts: &'a Texts,
        options: &'a SiteOptions,
    ) -> impl Iterator<Item = Self> + 'a {
        meeting.sessions.iter().map(move |session| Self {
            meeting_id: meeting.instance_id.to_string(),
            meeting_start: meeting.start.to_rfc3339(),
            meeting_title: meeting.title(texts).to_owned(),
            session: session_export(&session, texts, options),
        })
    }
}

/// [`csv_tables`] over several databases (the hot one and the archives): a meeting already added
/// is skipped, and the rows come out oldest meeting first whichever database held it.
#[derive(Default)]
pub struct CsvTables {
    meetings: Vec<(DateTime<Utc>, String, MeetingExport, Vec<SessionRow>)>,
    seen: std::collections::HashSet<String>,
}

/// `meeting`'s report, summary and the summary's strings, from its latest complete fetch in `db`
/// (`None` without one): what the exports take of a meeting.
///
/// # Errors
/// Database failures.
pub(super) fn analysed(
    db: &Database,
    (meeting, start): (&crate::db::StoredMeeting, chrono::DateTime<Utc>),
    (options, thresholds): (&SiteOptions, &Thresholds),
) -> Result<Option<(crate::quality::MeetingReport, MeetingSummary, Texts)>, BuildError> {
    let pages = db.latest_complete_pages(&meeting.instance_id)?;
    if pages.is_empty() {
        return Ok(None);
    }
    let report = meeting_report(pages.iter().map(|p| p.body.as_ref()), start, thresholds);
    drop(pages);
    let headline = crate::quality::headline::of_report(&report, &meeting.host_email, thresholds);
    let mut texts = Texts::default();
    let summary = MeetingSummary::new(
        meeting,
        start,
        (&report, headline),
        (&mut texts, &options.offices),
    );
    Ok(Some((report, summary, texts)))
}

impl CsvTables {
    /// Adds the meetings of `db` not added yet.
    ///
    /// # Errors
    /// Database failures.
    pub fn add(
        &mut self,
        db: &Database,
        options: &SiteOptions,
        thresholds: &Thresholds,
    ) -> Result<(), BuildError> {
        for meeting in db.meetings()? {
            let Some(start) = meeting.start else { continue };
            if self.seen.contains(&meeting.instance_id) {
                continue;
            }
            let Some((_, summary, texts)) = analysed(db, (&meeting, start), (options, thresholds))?
            else {
                continue;
            };
            let export = meeting_export(&summary, &texts);
            let sessions = SessionRow::of_meeting(&summary, &texts, options).collect();
            self.seen.insert(meeting.instance_id.clone());
            self.meetings
                .push((start, meeting.instance_id, export, sessions));
        }
        Ok(())
    }

    /// `meetings.csv` and `sessions.csv`.
    ///
    /// # Errors
    /// Export failures.
    pub fn finish(mut self) -> Result<[(String, Vec<u8>); 2], BuildError> {
        self.meetings
            .sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut meetings = Vec::with_capacity(self.meetings.len());
        let mut sessions = Vec::new();
        for (_, _, export, rows) in self.meetings {
            meetings.push(export);
            sessions.extend(rows);
        }
        Ok([
            ("meetings.csv".into(), to_csv(&meetings)?),
            ("sessions.csv".into(), to_csv(&sessions)?),
        ])
    }
}

/// One participant session in an export.
#[derive(Debug, Serialize)]
pub(super) struct SessionExport {
    name: String,
    email: String,
    client_type: String,
    client_version: String,
    os: String,
    hardware: String,
    network_type: String,
    server_region: String,
    transport: String,
    /// The office it joined from (`remote` outside every range); empty without a sites file.
    office: String,
    joined: String,
    left: String,
    audio: &'static str,
    audio_metric: &'static str,
    audio_poor_minutes: u32,
    video: &'static str,
    video_metric: &'static str,
    video_poor_minutes: u32,
    sharing: &'static str,
    sharing_metric: &'static str,
    sharing_poor_minutes: u32,
}

/// One session's row, from its summary (masked as `options` say).
pub(super) fn session_export(
    s: &SessionSummary,
    texts: &Texts,
    options: &SiteOptions,
) -> SessionExport {
    let text = |t| texts.get(t).to_owned();
    let stream = |kind| s.streams.iter().find(|v| v.kind == kind);
    let label = |kind| stream(kind).map_or("no data", |v| v.verdict.label());
    let metric = |kind| {
        stream(kind)
            .and_then(|v| v.metric)
            .map_or("", crate::quality::Metric::label)
    };
    let poor = |kind| stream(kind).map_or(0, |v| v.poor_minutes);
    let email = text(s.email);
    SessionExport {
        name: text(s.name),
        email: if options.mask_personal {
            mask_email(&email)
        } else {
            email
        },
        client_type: text(s.client_type),
        client_version: text(s.client_version),
        os: format!("{} {}", texts.get(s.os_type), texts.get(s.os_version))
            .trim()
            .to_owned(),
        hardware: text(s.hardware),
        network_type: text(s.network_type),
        server_region: text(s.server_region),
        transport: text(s.transport),
        office: if options.offices.is_empty() {
            String::new()
        } else {
            super::list_pages::office_of(s, texts)
        },
        joined: s.join.map(|t| t.to_rfc3339()).unwrap_or_default(),
        left: s.leave.map(|t| t.to_rfc3339()).unwrap_or_default(),
        audio: label(StreamKind::Audio),
        audio_metric: metric(StreamKind::Audio),
        audio_poor_minutes: poor(StreamKind::Audio),
        video: label(StreamKind::Video),
        video_metric: metric(StreamKind::Video),
        video_poor_minutes: poor(StreamKind::Video),
        sharing: label(StreamKind::Share),
        sharing_metric: metric(StreamKind::Share),
        sharing_poor_minutes: poor(StreamKind::Share),
    }
}

/// One meeting in the list export.
#[derive(Debug, Serialize)]
pub(super) struct MeetingExport {
    start: String,
    instance_id: String,
    title: String,
    host: String,
    participant_sessions: usize,
    duration_minutes: Option<i64>,
    /// The meeting's verdict by the meeting rule.
    verdict: &'static str,
    /// The same in words ("good for 24 of 27").
    verdict_detail: String,
    participants: u32,
    participants_poor: u32,
    participants_fair: u32,
    participants_good: u32,
    /// Percent of the participant-minutes with data judged poor.
    poor_minutes_percent: Option<f64>,
    /// Poor participant-minutes (the list's order).
    poor_participant_minutes: u32,
    /// `host`, `presenter`, `host and presenter` or empty.
    leaders_poor: &'static str,
    cause: String,
    cause_category: &'static str,
    /// The worst verdict of any participant's stream.
    worst_verdict: &'static str,
}

pub(super) fn meeting_export(a: &MeetingSummary, texts: &Texts) -> MeetingExport {
    let h = &a.headline;
    MeetingExport {
        start: a.start.to_rfc3339(),
        instance_id: a.instance_id.to_string(),
        title: a.title(texts).to_owned(),
        host: a.host(texts).to_owned(),
        participant_sessions: a.sessions.len(),
        duration_minutes: a.end.map(|end| (end - a.start).num_minutes()),
        verdict: h.verdict.label(),
        verdict_detail: h.label(),
        participants: h.participants.total(),
        participants_poor: h.participants.poor,
        participants_fair: h.participants.fair,
        participants_good: h.participants.good,
        poor_minutes_percent: h.minutes.poor_share().map(|s| (s * 1000.0).round() / 10.0),
        poor_participant_minutes: h.minutes.poor,
        leaders_poor: h.leaders_affected(),
        cause: h
            .cause
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        cause_category: h.cause.as_ref().map_or("", |c| c.category()),
        worst_verdict: a.worst().label(),
    }
}

/// What makes a spreadsheet read a cell as a formula when it comes first: `= + - @` and their
/// full-width forms (which some spreadsheets fold to ASCII).
const FORMULA_STARTS: [char; 8] = [
    '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// Cells a spreadsheet would run as formulas get a leading quote: those starting with a formula
/// character, also after leading spaces or control characters (which spreadsheets skip), and those
/// starting with a tab or carriage return (OWASP's list).
fn defuse(cell: &str) -> String {
    let visible = cell.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
    if cell.starts_with(['\t', '\r']) || visible.starts_with(FORMULA_STARTS) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

pub(super) fn to_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, BuildError> {
    csv_of(rows.iter())
}

/// The CSV table of `rows`, written as they are made.
pub(super) fn csv_of<T: Serialize>(rows: impl Iterator<Item = T>) -> Result<Vec<u8>, BuildError> {
    csv_into(rows, Vec::new())
}

/// [`csv_of`] written into `out`, which is returned.
pub(super) fn csv_into<T: Serialize, W: Write>(
    rows: impl Iterator<Item = T>,
    out: W,
) -> Result<W, BuildError> {
    let mut csv = CsvRows::new(out);
    for row in rows {
        csv.push(&row)?;
    }
    csv.finish()
}

/// The table of `rows` written into `out` as they are made, as its `path` says: a CSV table
/// ([`csv_into`]) for a `.csv` file, else a pretty JSON array ([`json_into`]).
pub(super) fn table_into<T: Serialize>(
    path: &str,
    rows: impl Iterator<Item = T>,
    out: &mut dyn Write,
) -> Result<(), BuildError> {
    if path.ends_with(".csv") {
        csv_into(rows, out).map(drop)
    } else {
        json_into(rows, out).map(drop)
    }
}

/// The pretty JSON array of `rows` written into `out` as they are made; `out` is returned.
pub(super) fn json_into<T: Serialize, W: Write>(
    rows: impl Iterator<Item = T>,
    out: W,
) -> Result<W, BuildError> {
    use serde::ser::{SerializeSeq, Serializer};
    let fail = |e: serde_json::Error| BuildError::Export(e.to_string());
    let mut serializer = serde_json::Serializer::pretty(out);
    let mut seq = serializer.serialize_seq(None).map_err(fail)?;
    for row in rows {
        seq.serialize_element(&row).map_err(fail)?;
    }
    seq.end().map_err(fail)?;
    Ok(serializer.into_inner())
}

/// A CSV table written a row at a time: the first row's field names are its header, and string
/// cells are defused.
struct CsvRows<W: Write> {
    /// Writes nothing until a record is written (an empty table is no bytes).
    writer: csv::Writer<W>,
    /// The header is written (with the first row).
    started: bool,
    cells: Vec<String>,
    /// No row had cells (not a struct): the table is empty.
    empty: bool,
}

impl<W: Write> CsvRows<W> {
    fn new(out: W) -> Self {
        Self {
            writer: csv::Writer::from_writer(out),
            started: false,
            cells: Vec::new(),
            empty: false,
        }
    }

    fn push<T: Serialize>(&mut self, row: &T) -> Result<(), BuildError> {
        let fail = |e: &dyn std::fmt::Display| BuildError::Export(e.to_string());
        if self.empty {
            return Ok(());
        }
        self.cells.clear();
        if self.started {
            row_cells(row, None, &mut self.cells, defuse).map_err(|e| fail(&e))?;
        } else {
            let mut names = Vec::new();
            row_cells(row, Some(&mut names), &mut self.cells, defuse).map_err(|e| fail(&e))?;
            if self.cells.is_empty() {
                self.empty = true;
                return Ok(());
            }
            self.writer.write_record(&names).map_err(|e| fail(&e))?;
            self.started = true;
        }
        self.writer.write_record(&self.cells).map_err(|e| fail(&e))
    }

    fn finish(self) -> Result<W, BuildError> {
        self.writer
            .into_inner()
            .map_err(|e| BuildError::Export(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exports_written_as_rows_are_made_are_the_csv_table_and_the_pretty_json_array() {
        #[derive(Serialize)]
        struct Row {
            name: String,
            minutes: Option<u32>,
        }
        let rows = |n: u32| -> Vec<Row> {
            (0..n)
                .map(|i| Row {
                    name: format!("P{i}, \"q\""),
                    minutes: (i % 2 == 0).then_some(i),
                })
                .collect()
        };
        for n in [0, 1, 3] {
            let csv = csv_into(rows(n).into_iter(), Vec::new()).unwrap();
            let json = json_into(rows(n).into_iter(), Vec::new()).unwrap();
            // What the csv crate writes for the same rows (none has a cell to defuse).
            let mut expected = csv::Writer::from_writer(Vec::new());
            for row in rows(n) {
                expected.serialize(row).unwrap();
            }
            assert_eq!(csv, expected.into_inner().unwrap(), "{n} rows");
            assert_eq!(
                json,
                serde_json::to_vec_pretty(&rows(n)).unwrap(),
                "{n} rows"
            );
        }
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_defused() {
        #[derive(Serialize)]
        struct Row {
            name: &'static str,
        }
        let csv = String::from_utf8(
            to_csv(&[
                Row {
                    name: "=HYPERLINK(\"x\")",
                },
                Row {
                    name: "Zoë, \"quoted\"",
                },
            ])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            csv,
            "name\n\"'=HYPERLINK(\"\"x\"\")\"\n\"Zoë, \"\"quoted\"\"\"\n"
        );
    }

    #[test]
    fn formulas_behind_spaces_or_in_full_width_are_defused_too() {
        for hostile in [
            " =1+1",
            "\u{a0}\u{3000}+cmd",
            "\n-2+3",
            "\u{FF1D}HYPERLINK(\"x\")",
            "\u{FF0B}1",
            "\u{FF0D}1",
            "\u{FF20}SUM(A1)",
            "\tTAB",
            "\rCR",
            "@user",
        ] {
            assert_eq!(defuse(hostile), format!("'{hostile}"), "{hostile:?}");
        }
        for harmless in ["Zoë", "a=b", "Mo-Fri", "", "  spaced name", "100%"] {
            assert_eq!(defuse(harmless), harmless, "{harmless:?}");
        }
    }
}
