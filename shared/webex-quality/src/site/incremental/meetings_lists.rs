//! The meetings list's pages: the recent days' list and one page per day, each with its exports (a
//! day's also with every participant session of its meetings).

use std::collections::BTreeMap;

use super::{Meeting, Previous, SiteBuild};
use crate::quality::Thresholds;
use crate::site::SiteOptions;
use crate::site::build::{BuildError, render};
use crate::site::exports::{SessionRow, meeting_export, to_csv_and_json};
use crate::site::list_pages::{DayLink, MeetingsPage, day_path};
use crate::site::render_cache::{self, CachedFiles, ContentHash, FileHashes, MeetingSummary};
use crate::site::texts::Texts;

/// The days the meetings list shows on its first page.
const RECENT_DAYS: i64 = 7;

/// The meetings list: the last 7 days on `meetings.html` (and in `meetings.csv` and `.json`), with
/// a link to every day; each day (UTC, by start) on a page of its own with its exports, kept from the
/// previous build while that day's meetings are unchanged. No page lists the whole history.
/// Returns the days to render ([`render_day`]).
pub(super) fn meetings_lists(
    build: &mut SiteBuild,
    mut previous: Option<&mut Previous<'_>>,
    (history, keys, texts): (&[Meeting<'_>], &[&ContentHash], &Texts),
    (options, thresholds): (&SiteOptions, &Thresholds),
) -> Result<Vec<DayTodo>, BuildError> {
    let recent_from = options.generated - chrono::Duration::days(RECENT_DAYS);
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<usize>> = BTreeMap::new();
    for (index, (_, meeting)) in history.iter().enumerate() {
        by_day
            .entry(meeting.summary.start().date_naive())
            .or_default()
            .push(index);
    }
    // The last 7 days' summaries read back (the rest of the history is not held).
    let recent = history
        .iter()
        .rev()
        .filter(|(_, m)| m.summary.start() >= recent_from)
        .map(|(_, m)| m.summary.get())
        .collect::<Result<Vec<_>, _>>()?;
    let recent: Vec<&MeetingSummary> = recent.iter().map(AsRef::as_ref).collect();
    // Written as the rows are made, none of them held (7 days of rows were 4 MB at 1,000
    // meetings a day).
    let (csv, json) = to_csv_and_json(recent.iter().map(|a| meeting_export(a, texts)))?;
    build.insert("meetings.csv".into(), csv);
    build.insert("meetings.json".into(), json);
    let rule = thresholds.meeting.describe();
    let page = MeetingsPage::new(
        (
            crate::site::Chrome::new("Meetings", "", options),
            format!("Meetings, last {RECENT_DAYS} days"),
            "meetings".into(),
        ),
        recent,
        "",
        (
            by_day
                .iter()
                .rev()
                .map(|(day, meetings)| DayLink {
                    day: day.to_string(),
                    href: day_path(*day),
                    meetings: meetings.len(),
                })
                .collect(),
            rule,
        ),
        (texts, options),
    );
    build.insert("meetings.html".into(), render("meetings.html", &page)?);
    // A day whose meetings changed is rendered later, a batch of days at a time
    // ([`render_day`]): a day's exports list every session of it, and holding every day's at
    // once made a full rebuild's memory grow with history.
    let mut todo = Vec::new();
    for (day, meetings) in &by_day {
        let path = day_path(*day);
        let key = render_cache::combined_key(meetings.iter().map(|i| keys[*i]));
        if let Some(cached) = previous
            .as_mut()
            .and_then(|p| p.take_unchanged(|c| &mut c.days, &path, &key))
        {
            build.keep(&cached.files);
            build.cache.days.insert(path, cached);
            continue;
        }
        todo.push(DayTodo {
            day: *day,
            key,
            meetings: meetings.clone(),
        });
    }
    Ok(todo)
}

/// A day of the meetings list to render: its meetings, as indexes into the build's meetings
/// (oldest first).
#[derive(Debug)]
pub(super) struct DayTodo {
    day: chrono::NaiveDate,
    key: ContentHash,
    meetings: Vec<usize>,
}

impl DayTodo {
    /// The day's files: its page and exports.
    pub(super) fn paths(&self) -> [String; 5] {
        let path = day_path(self.day);
        let stem = path.trim_end_matches(".html").to_owned();
        [
            path,
            format!("{stem}.csv"),
            format!("{stem}.json"),
            format!("{stem}.sessions.csv"),
            format!("{stem}.sessions.json"),
        ]
    }
}

/// Renders `todo`'s page and exports into `build` (hashes and cache entry) and returns them.
pub(super) fn render_day(
    build: &mut SiteBuild,
    todo: &DayTodo,
    (ids, rule): (&[std::sync::Arc<str>], &str),
    options: &SiteOptions,
) -> Result<crate::site::Files, BuildError> {
    let cache = &build.cache;
    let loaded = todo
        .meetings
        .iter()
        .filter_map(|i| cache.meetings.get(&**ids.get(*i)?))
        .map(|m| m.summary.get())
        .collect::<Result<Vec<_>, _>>()?;
    let analyzed: Vec<&MeetingSummary> = loaded.iter().map(AsRef::as_ref).collect();
    let day = todo.day;
    let rows: Vec<&MeetingSummary> = analyzed.iter().rev().copied().collect();
    let (list_csv, list_json) =
        to_csv_and_json(rows.iter().map(|a| meeting_export(a, &cache.texts)))?;
    // Every participant session of the day, oldest meeting first, written as they are made.
    let (sessions_csv_bytes, sessions_json_bytes) = to_csv_and_json(
        analyzed
            .iter()
            .flat_map(|a| SessionRow::of_meeting(a, &cache.texts, options)),
    )?;
    let mut page = MeetingsPage::new(
        (
            crate::site::Chrome::new(&format!("Meetings, {day}"), "../", options),
            format!("Meetings on {day} (UTC)"),
            day.to_string(),
        ),
        rows,
        "../",
        (Vec::new(), rule.to_owned()),
        (&cache.texts, options),
    );
    page.sessions_export = true;
    let [path, csv, json, sessions_csv, sessions_json] = todo.paths();
    let rendered = [
        (path.clone(), render("day", &page)?),
        (csv, list_csv),
        (json, list_json),
        (sessions_csv, sessions_csv_bytes),
        (sessions_json, sessions_json_bytes),
    ];
    drop((page, analyzed));
    drop(loaded);
    let mut files = crate::site::Files::new();
    let mut hashes = FileHashes::default();
    for (file, bytes) in rendered {
        let (shared, hash) = build.record(&file, &bytes);
        hashes.insert(shared, hash);
        files.insert(file, bytes);
    }
    build.cache.days.insert(
        path,
        CachedFiles {
            key: todo.key,
            files: hashes,
            rendered: None,
        },
    );
    Ok(files)
}
