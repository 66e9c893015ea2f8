//! The whole site from the database: overview (7, 30 and 90 days), meetings list, a page per meeting
//! and per person, breakdowns, status, and CSV/JSON exports. Pure: database (and the previous build's
//! cache) in, files out.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::summary::{MeetingSummary, SessionSummary};
use super::{
    Chrome, SiteOptions, StatusView, VerdictView, charts, mask_email, render_meeting, verdict_view,
};
use crate::db::{Database, DbError, StoredMeeting, sha256_hex};
use crate::quality::{MeetingReport, Metric, StreamKind, Thresholds, Verdict, meeting_report};

/// The site's files: path from the site root to content.
pub type Files = BTreeMap<String, Vec<u8>>;

/// A site build failure.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A template failed.
    #[error("rendering {page}: {source}")]
    Render {
        /// The page.
        page: String,
        /// The engine's error.
        #[source]
        source: askama::Error,
    },
    /// An export failed.
    #[error("export {0}")]
    Export(String),
}

/// The page of a meeting, from the site root.
#[must_use]
pub fn meeting_path(instance_id: &str) -> String {
    format!("meetings/{instance_id}.html")
}

/// A person's page, from the site root: a hash, so no email reaches a URL.
#[must_use]
pub fn person_path(key: &str) -> String {
    format!("people/{}.html", &sha256_hex(key.as_bytes())[..16])
}

pub(super) fn render<T: Template>(page: &str, template: &T) -> Result<Vec<u8>, BuildError> {
    template
        .render()
        .map(String::into_bytes)
        .map_err(|source| BuildError::Render {
            page: page.to_owned(),
            source,
        })
}

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

#[derive(Serialize)]
struct SessionRow {
    meeting_id: String,
    meeting_start: String,
    meeting_title: String,
    #[serde(flatten)]
    session: SessionExport,
}

/// [`csv_tables`] over several databases (the hot one and the archives): a meeting already added
/// is skipped, and the rows come out oldest meeting first whichever database held it.
#[derive(Default)]
pub struct CsvTables {
    meetings: Vec<(DateTime<Utc>, String, MeetingExport, Vec<SessionRow>)>,
    seen: std::collections::HashSet<String>,
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
            let pages = db.latest_complete_pages(&meeting.instance_id)?;
            if pages.is_empty() {
                continue;
            }
            let report = meeting_report(pages.iter().map(|p| p.body.as_ref()), start, thresholds);
            let export = meeting_export(&MeetingSummary::new(&meeting, start, &report));
            let sessions = session_exports(&report, options)
                .into_iter()
                .map(|session| SessionRow {
                    meeting_id: meeting.instance_id.clone(),
                    meeting_start: start.to_rfc3339(),
                    meeting_title: meeting.title.clone(),
                    session,
                })
                .collect();
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

/// A meeting's page and its CSV and JSON exports.
pub(super) fn render_meeting_files(
    meeting: &StoredMeeting,
    start: DateTime<Utc>,
    report: &MeetingReport,
    options: &SiteOptions,
) -> Result<[(String, Vec<u8>); 3], BuildError> {
    let meta = super::MeetingMeta {
        instance_id: meeting.instance_id.clone(),
        title: meeting.title.clone(),
        host_name: meeting.host_name.clone(),
        start,
        end: meeting.end.filter(|_| meeting.state != "inProgress"),
    };
    let path = meeting_path(&meeting.instance_id);
    let html = render_meeting(&meta, report, options).map_err(|source| BuildError::Render {
        page: path.clone(),
        source,
    })?;
    let rows = session_exports(report, options);
    Ok([
        (path, html.into_bytes()),
        (
            format!("meetings/{}.csv", meeting.instance_id),
            to_csv(&rows)?,
        ),
        (
            format!("meetings/{}.json", meeting.instance_id),
            to_json(&rows)?,
        ),
    ])
}

pub(super) const PERIODS: &[(i64, &str)] = &[
    (7, "index.html"),
    (30, "overview-30.html"),
    (90, "overview-90.html"),
];

fn rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::NoData => 0,
        Verdict::Good => 1,
        Verdict::Fair => 2,
        Verdict::Poor => 3,
    }
}

pub(super) struct MeetingRow {
    date: String,
    href: String,
    title: String,
    host: String,
    participants: usize,
    duration: String,
    verdict: VerdictView,
    rank: u8,
}

pub(super) fn meeting_row(a: &MeetingSummary) -> MeetingRow {
    let worst = a.worst();
    MeetingRow {
        date: a.start.format("%Y-%m-%d %H:%M").to_string(),
        href: meeting_path(&a.instance_id),
        title: a.title.clone(),
        host: a.host.clone(),
        participants: a.sessions.len(),
        duration: a
            .end
            .map_or_else(String::new, |end| (end - a.start).num_minutes().to_string()),
        verdict: verdict_view(worst),
        rank: rank(worst),
    }
}

#[derive(Template)]
#[template(path = "meetings.html")]
pub(super) struct MeetingsPage {
    pub(super) chrome: Chrome,
    pub(super) rows: Vec<MeetingRow>,
}

struct WorstMeeting {
    date: String,
    href: String,
    title: String,
    host: String,
    poor_streams: usize,
    verdict: VerdictView,
}

struct Affected {
    href: String,
    name: String,
    poor: usize,
    sessions: usize,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub(super) struct OverviewPage {
    chrome: Chrome,
    days: i64,
    periods: Vec<(i64, String)>,
    last_collected: String,
    meetings: usize,
    sessions: usize,
    minutes: i64,
    shares: Vec<(&'static str, String)>,
    trend: String,
    worst: Vec<WorstMeeting>,
    affected: Vec<Affected>,
}

/// Poor streams among streams with data, as text.
fn share_text(poor: usize, judged: usize) -> String {
    if judged == 0 {
        "no data".into()
    } else {
        #[allow(clippy::cast_precision_loss)]
        let share = poor as f64 * 100.0 / judged as f64;
        format!("{share:.1} %")
    }
}

fn poor_and_judged<'a>(
    sessions: impl Iterator<Item = &'a SessionSummary>,
    kind: Option<StreamKind>,
) -> (usize, usize) {
    let mut poor = 0;
    let mut judged = 0;
    for s in sessions {
        for v in &s.streams {
            if kind.is_some_and(|k| k != v.kind) || v.verdict == Verdict::NoData {
                continue;
            }
            judged += 1;
            poor += usize::from(v.verdict == Verdict::Poor);
        }
    }
    (poor, judged)
}

/// A breakdown key, with `unknown` for what Webex did not say.
fn unknown(value: Option<&str>) -> String {
    value.unwrap_or("unknown").to_owned()
}

pub(super) fn overview(
    all: &[MeetingSummary],
    days: i64,
    now: DateTime<Utc>,
    status: &StatusView,
    options: &SiteOptions,
) -> OverviewPage {
    let from = now - chrono::Duration::days(days);
    let period: Vec<&MeetingSummary> = all
        .iter()
        .filter(|a| a.start >= from && a.start <= now)
        .collect();
    let sessions = || period.iter().flat_map(|a| a.sessions.iter());
    let minutes: i64 = sessions()
        .filter_map(|s| Some((s.leave.unwrap_or(now) - s.join?).num_minutes().max(0)))
        .sum();
    let shares = StreamKind::ALL
        .iter()
        .map(|kind| {
            let (poor, judged) = poor_and_judged(sessions(), Some(*kind));
            (kind.label(), share_text(poor, judged))
        })
        .collect();
    let points: Vec<(usize, Option<f64>)> = (0..days)
        .map(|d| {
            let day_start = from + chrono::Duration::days(d);
            let day_end = day_start + chrono::Duration::days(1);
            let (poor, judged) = poor_and_judged(
                period
                    .iter()
                    .filter(|a| a.start >= day_start && a.start < day_end)
                    .flat_map(|a| a.sessions.iter()),
                None,
            );
            #[allow(clippy::cast_precision_loss)]
            let value = (judged > 0).then(|| poor as f64 * 100.0 / judged as f64);
            (usize::try_from(d).unwrap_or(0), value)
        })
        .collect();
    let trend = charts::line_chart(
        &format!("Poor share by day, last {days} days (days without meetings are gaps)"),
        "%",
        usize::try_from(days).unwrap_or(1),
        &[("all streams", &points)],
    );
    let mut worst: Vec<(&MeetingSummary, usize)> = period
        .iter()
        .map(|a| (*a, poor_and_judged(a.sessions.iter(), None).0))
        .filter(|(_, p)| *p > 0)
        .collect();
    worst.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.start.cmp(&a.0.start)));
    let mut affected: HashMap<String, Affected> = HashMap::new();
    for s in sessions() {
        let entry = affected
            .entry(s.person.clone())
            .or_insert_with(|| Affected {
                href: person_path(&s.person),
                name: s.name.clone(),
                poor: 0,
                sessions: 0,
            });
        entry.sessions += 1;
        entry.poor += usize::from(s.worst() == Verdict::Poor);
    }
    let mut affected: Vec<Affected> = affected.into_values().filter(|a| a.poor > 0).collect();
    affected.sort_by(|a, b| b.poor.cmp(&a.poor).then(a.name.cmp(&b.name)));
    affected.truncate(10);
    OverviewPage {
        chrome: Chrome::new(&format!("Overview, {days} days"), "", options),
        days,
        periods: PERIODS.iter().map(|(d, p)| (*d, (*p).to_owned())).collect(),
        last_collected: status.last_run.clone(),
        meetings: period.len(),
        sessions: sessions().count(),
        minutes,
        shares,
        trend,
        worst: worst
            .into_iter()
            .take(10)
            .map(|(a, poor)| WorstMeeting {
                date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                href: meeting_path(&a.instance_id),
                title: a.title.clone(),
                host: a.host.clone(),
                poor_streams: poor,
                verdict: verdict_view(a.worst()),
            })
            .collect(),
        affected,
    }
}

struct PersonSession {
    date: String,
    href: String,
    title: String,
    client: String,
    network: String,
    verdicts: Vec<super::StreamCell>,
}

#[derive(Template)]
#[template(path = "person.html")]
pub(super) struct PersonPage {
    chrome: Chrome,
    name: String,
    email: String,
    finding: String,
    sessions: Vec<PersonSession>,
}

/// A person's sessions: the key of the meeting's inputs, the meeting, the session.
type PersonSessions<'a> = Vec<(&'a str, &'a MeetingSummary, &'a SessionSummary)>;

/// Every person's sessions, oldest first.
pub(super) fn people<'a>(
    all: &'a [MeetingSummary],
    keys: &'a [String],
) -> BTreeMap<String, PersonSessions<'a>> {
    let mut by_person: BTreeMap<String, PersonSessions<'a>> = BTreeMap::new();
    for (a, key) in all.iter().zip(keys) {
        for s in &a.sessions {
            by_person
                .entry(s.person.clone())
                .or_default()
                .push((key.as_str(), a, s));
        }
    }
    by_person
}

pub(super) fn person_page(sessions: &PersonSessions<'_>, options: &SiteOptions) -> PersonPage {
    let first = sessions[0].2;
    // The recurring problem: the most frequent network and deciding metric of poor streams.
    let mut problems: BTreeMap<(&str, &'static str), usize> = BTreeMap::new();
    let mut poor_sessions = 0;
    for (_, _, s) in sessions {
        let mut any = false;
        for v in s.streams.iter().filter(|v| v.verdict == Verdict::Poor) {
            any = true;
            let network = s.network_type.as_deref().unwrap_or("unknown network");
            let metric = v.metric.map_or("several metrics", Metric::label);
            *problems.entry((network, metric)).or_default() += 1;
        }
        poor_sessions += usize::from(any);
    }
    let finding = match problems.iter().max_by_key(|(_, n)| **n) {
        None => format!("none: no poor stream in {} sessions.", sessions.len()),
        Some(((network, metric), _)) => format!(
            "{poor_sessions} of {} sessions had a poor stream, most often on {network} with {metric}.",
            sessions.len()
        ),
    };
    let name = if first.name.is_empty() {
        "Participant"
    } else {
        &first.name
    };
    PersonPage {
        chrome: Chrome::new(name, "../", options),
        name: first.name.clone(),
        email: if options.mask_personal {
            mask_email(&first.email)
        } else {
            first.email.clone()
        },
        finding,
        sessions: sessions
            .iter()
            .rev()
            .map(|(_, a, s)| PersonSession {
                date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                href: format!("../{}", meeting_path(&a.instance_id)),
                title: a.title.clone(),
                client: s.client_type.clone().unwrap_or_default(),
                network: s.network_type.clone().unwrap_or_default(),
                verdicts: super::verdict_cells(|kind| {
                    s.stream(kind).map(|v| (v.verdict, v.metric))
                }),
            })
            .collect(),
    }
}

struct BreakdownRow {
    key: String,
    sessions: usize,
    shares: Vec<(String, String)>,
}

struct BreakdownTable {
    name: &'static str,
    rows: Vec<BreakdownRow>,
}

#[derive(Template)]
#[template(path = "breakdowns.html")]
pub(super) struct BreakdownsPage {
    chrome: Chrome,
    tables: Vec<BreakdownTable>,
}

pub(super) fn breakdowns(all: &[MeetingSummary], options: &SiteOptions) -> BreakdownsPage {
    type Key = fn(&SessionSummary) -> String;
    let keys: [(&'static str, Key); 6] = [
        ("client type", |s| unknown(s.client_type.as_deref())),
        ("client version", |s| {
            format!(
                "{} {}",
                s.client_type.as_deref().unwrap_or("unknown"),
                s.client_version.as_deref().unwrap_or("")
            )
        }),
        ("operating system", |s| unknown(s.os_type.as_deref())),
        ("network type", |s| unknown(s.network_type.as_deref())),
        ("server region", |s| unknown(s.server_region.as_deref())),
        ("transport", |s| {
            unknown(Some(s.transport.as_str()).filter(|t| !t.is_empty()))
        }),
    ];
    let tables = keys
        .iter()
        .map(|(name, key)| {
            let mut groups: BTreeMap<String, Vec<&SessionSummary>> = BTreeMap::new();
            for s in all.iter().flat_map(|a| a.sessions.iter()) {
                groups.entry(key(s)).or_default().push(s);
            }
            BreakdownTable {
                name,
                rows: groups
                    .into_iter()
                    .map(|(key, sessions)| BreakdownRow {
                        key,
                        sessions: sessions.len(),
                        shares: StreamKind::ALL
                            .iter()
                            .map(|kind| {
                                let (poor, judged) =
                                    poor_and_judged(sessions.iter().copied(), Some(*kind));
                                #[allow(clippy::cast_precision_loss)]
                                let sort = if judged == 0 {
                                    -1.0
                                } else {
                                    poor as f64 / judged as f64
                                };
                                (format!("{sort:.4}"), share_text(poor, judged))
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect();
    BreakdownsPage {
        chrome: Chrome::new("Breakdowns", "", options),
        tables,
    }
}

/// One participant session in an export.
#[derive(Debug, Serialize)]
struct SessionExport {
    name: String,
    email: String,
    client_type: String,
    client_version: String,
    os: String,
    hardware: String,
    network_type: String,
    server_region: String,
    transport: String,
    joined: String,
    left: String,
    audio: &'static str,
    audio_metric: &'static str,
    audio_poor_minutes: usize,
    video: &'static str,
    video_metric: &'static str,
    video_poor_minutes: usize,
    sharing: &'static str,
    sharing_metric: &'static str,
    sharing_poor_minutes: usize,
}

fn session_exports(report: &MeetingReport, options: &SiteOptions) -> Vec<SessionExport> {
    report
        .sessions
        .iter()
        .map(|s| {
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            let v = |kind| s.quality.verdict(kind);
            let label = |kind| v(kind).map_or("no data", |v| v.verdict.label());
            let metric = |kind| {
                v(kind)
                    .and_then(|v| v.metric)
                    .map_or("", crate::quality::Metric::label)
            };
            let poor = |kind| v(kind).map_or(0, |v| v.poor_minutes);
            let email = text(&s.session.webex_user_email);
            SessionExport {
                name: text(&s.session.webex_user_name),
                email: if options.mask_personal {
                    mask_email(&email)
                } else {
                    email
                },
                client_type: text(&s.session.client_type),
                client_version: text(&s.session.client_version),
                os: format!(
                    "{} {}",
                    text(&s.session.os_type),
                    text(&s.session.os_version)
                )
                .trim()
                .to_owned(),
                hardware: text(&s.session.hardware_type),
                network_type: text(&s.session.network_type),
                server_region: text(&s.session.server_region),
                transport: s.transport.clone(),
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
        })
        .collect()
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
    worst_verdict: &'static str,
}

pub(super) fn meeting_export(a: &MeetingSummary) -> MeetingExport {
    MeetingExport {
        start: a.start.to_rfc3339(),
        instance_id: a.instance_id.clone(),
        title: a.title.clone(),
        host: a.host.clone(),
        participant_sessions: a.sessions.len(),
        duration_minutes: a.end.map(|end| (end - a.start).num_minutes()),
        worst_verdict: a.worst().label(),
    }
}

/// Spreadsheets run cells that start with these as formulas: such cells get a leading quote.
fn defuse(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

pub(super) fn to_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, BuildError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = false;
    for row in rows {
        let value = serde_json::to_value(row).map_err(|e| BuildError::Export(e.to_string()))?;
        let serde_json::Value::Object(map) = value else {
            continue;
        };
        if !header {
            writer
                .write_record(map.keys())
                .map_err(|e| BuildError::Export(e.to_string()))?;
            header = true;
        }
        let cells: Vec<String> = map
            .values()
            .map(|v| match v {
                serde_json::Value::String(s) => defuse(s),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            })
            .collect();
        writer
            .write_record(&cells)
            .map_err(|e| BuildError::Export(e.to_string()))?;
    }
    writer
        .into_inner()
        .map_err(|e| BuildError::Export(e.to_string()))
}

pub(super) fn to_json<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, BuildError> {
    serde_json::to_vec_pretty(rows).map_err(|e| BuildError::Export(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
