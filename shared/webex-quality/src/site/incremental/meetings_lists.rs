//! The meetings list's pages: the recent days' list and one page per day, each with its exports (a
//! day's also with every participant session of its meetings).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use super::history::{History, Meetings};
use super::{Kept, SiteBuild};
use crate::quality::Thresholds;
use crate::site::SiteOptions;
use crate::site::build::{BuildError, render_to};
use crate::site::exports::{SessionRow, meeting_export, table_into};
use crate::site::list_pages::{DayLink, LaterRows, MeetingsPage, day_path};
use crate::site::render_cache::{CachedFiles, CombinedKey, ContentHash, FileHashes};
use crate::site::texts::Texts;
use crate::site::written::{Output, RenderedFiles, WrittenFile};

/// The days the meetings list shows on its first page.
const RECENT_DAYS: i64 = 7;

/// The meetings list: the last 7 days on `meetings.html` (and in `meetings.csv` and `.json`), with
/// a link to every day; each day (UTC, by start) on a page of its own with its exports, kept from the
/// previous build while that day's meetings are unchanged. No page lists the whole history.
/// Returns the days to render ([`render_day`]) and the last 7 days' meetings, as a range of
/// `history` (the build's meetings, oldest first: [`History`]), for their exports
/// ([`render_recent_export`]).
pub(super) fn meetings_lists(
    build: &mut SiteBuild,
    mut previous: Option<&mut Kept<'_>>,
    (meetings, history, texts): (Meetings<'_>, &History, &Texts),
    (options, thresholds, work_dir): (&SiteOptions, &Thresholds, Option<&Path>),
) -> Result<(Vec<DayTodo>, RecentExports), BuildError> {
    let recent_from = options.generated - chrono::Duration::days(RECENT_DAYS);
    // The history is in start order: a day's meetings are next to each other, and the last 7
    // days are its end (ranges of it, not an index a meeting).
    let mut by_day: BTreeMap<chrono::NaiveDate, Range<usize>> = BTreeMap::new();
    for meeting in history.iter(meetings) {
        let (at, meeting) = meeting?;
        let range = by_day.entry(meeting.start().date_naive()).or_insert(at..at);
        range.end = at + 1;
    }
    let recent = history.first_from(meetings, recent_from)?..history.len();
    // The last 7 days' summaries, read back one at a time for what orders the page's rows, then
    // again for each row as the page is written (neither the summaries nor the rows are held
    // beside the page: 7 days of summaries with their sessions were 6 MB at 1,000 meetings a day,
    // their rows 3.3 MB). Their exports are made after the page is published
    // ([`render_recent_export`]): the page and the exports are not held together.
    let mut rows = LaterRows::new("", (texts, options));
    for at in recent.clone().rev() {
        if let Some(meeting) = history.at(at, meetings)? {
            rows.add(at, &*meeting.summary()?);
        }
    }
    let read = move |at: usize| match history.at(at, meetings)? {
        Some(meeting) => meeting.summary(),
        None => Err(std::io::Error::other("a meeting of the last 7 days left the build").into()),
    };
    let page = MeetingsPage::of_later_rows(
        (
            crate::site::Chrome::new("Meetings", "", options),
            format!("Meetings, last {RECENT_DAYS} days"),
            "meetings".into(),
        ),
        (rows, Box::new(read)),
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
            thresholds.meeting.describe(),
        ),
    );
    // Written to the work folder when there is one (3.3 MB at 1,000 meetings a day: the largest
    // thing a render with nothing changed held).
    let (html, hash) = Output::make(work_dir, "meetings.html", |out| {
        render_to("meetings.html", &page, out)
    })?;
    if let Some(error) = page.rows.failure() {
        return Err(error.into());
    }
    drop(page);
    build.record_hash("meetings.html", hash);
    let page = match html {
        Output::Held(bytes) => {
            build.files.insert("meetings.html".into(), bytes);
            None
        }
        Output::Written(file) => Some(file),
    };
    // A day whose meetings changed is rendered later, a part at a time ([`render_day`]): a
    // day's exports list every session of it, and holding every day's at once made a full
    // rebuild's memory grow with history.
    let mut todo = Vec::new();
    for (day, range) in &by_day {
        let path = day_path(*day);
        let mut key = CombinedKey::default();
        for meeting in history.each(range.clone(), meetings) {
            key.add(&meeting?.1.key);
        }
        let key = key.finish();
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
            meetings: range.clone(),
        });
    }
    Ok((todo, RecentExports::new(recent, page)))
}

/// The last 7 days' exports still to make: `meetings.csv`, then `meetings.json`, one at a time
/// (each is 2-4 MB at 1,000 meetings a day; made together, they were the largest thing a render
/// with nothing changed held).
#[derive(Debug)]
pub(super) struct RecentExports {
    /// The last 7 days' page, when it waits in the work folder (then it is published first).
    page: Option<WrittenFile>,
    /// The last 7 days' meetings, a range of the build's ([`meetings_lists`]).
    meetings: Range<usize>,
    /// The exports not made yet.
    left: &'static [&'static str],
}

impl RecentExports {
    /// Both exports of `meetings`, still to make, after `page` when it waits to be published.
    fn new(meetings: Range<usize>, page: Option<WrittenFile>) -> Self {
        Self {
            page,
            meetings,
            left: &["meetings.csv", "meetings.json"],
        }
    }

    /// The paths of the exports still to make.
    pub(super) fn paths(&self) -> &'static [&'static str] {
        self.left
    }
}

/// The last 7 days' page when it waits in the work folder, else the next of their exports
/// (`recent`, a range of `history`: [`meetings_lists`]), its rows newest first, each summary read back
/// as its row is written (into a file of `work_dir` when there is one); recorded in `build` and
/// returned to publish. None when both are made.
pub(super) fn render_recent_export(
    build: &mut SiteBuild,
    recent: &mut RecentExports,
    (history, work_dir): (&History, Option<&Path>),
) -> Result<Option<(String, Output)>, BuildError> {
    if let Some(page) = recent.page.take() {
        return Ok(Some((page.path.clone(), Output::Written(page))));
    }
    let Some((path, left)) = recent.left.split_first() else {
        return Ok(None);
    };
    let cache = &build.cache;
    let (output, hash) = Output::make(work_dir, path, |out| {
        let mut failed = None;
        let exports = history
            .each(recent.meetings.clone().rev(), Meetings::of(cache))
            .map_while(|m| match m.and_then(|(_, m)| m.summary()) {
                Ok(a) => Some(meeting_export(&a, &cache.texts)),
                Err(error) => {
                    failed = Some(error);
                    None
                }
            });
        table_into(path, exports, out)?;
        failed.map_or(Ok(()), |error| Err(error.into()))
    })?;
    recent.left = left;
    build.record_hash(path, hash);
    Ok(Some(((*path).to_owned(), output)))
}

/// A day of the meetings list to render: its meetings, as a range of the build's meetings
/// (oldest first).
#[derive(Debug)]
pub(super) struct DayTodo {
    day: chrono::NaiveDate,
    key: ContentHash,
    meetings: Range<usize>,
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

/// A day of the meetings list being rendered, a part at a time: its page with the list's exports,
/// then its sessions' CSV, then their JSON. A day's sessions exports are most of its bytes (13.5 MB
/// at 1,000 meetings a day) and were held together with its page: the largest thing a full
/// rebuild held.
#[derive(Debug)]
pub(super) struct DayRender {
    todo: DayTodo,
    /// Parts rendered so far.
    done: usize,
    /// Their files' hashes.
    hashes: FileHashes,
}

impl DayRender {
    /// `todo`, nothing of it rendered yet.
    pub(super) fn new(todo: DayTodo) -> Self {
        Self {
            todo,
            done: 0,
            hashes: FileHashes::default(),
        }
    }

    /// The day's files.
    pub(super) fn paths(&self) -> [String; 5] {
        self.todo.paths()
    }
}

/// Renders the next part of `day` ([`DayRender`]) into `build` (hashes; and the day's cache entry
/// with its last part) and returns its files (written to files of `work_dir` as they are made when
/// there is one: a day's files grow with its meetings, 7 MB for each sessions export at 1,000
/// meetings a day), and whether the day is done. The page and its list exports are made from the
/// day's summaries read once and held (each row made as the page is written); the sessions
/// exports read each meeting's summary back as its rows are written.
pub(super) fn render_day(
    build: &mut SiteBuild,
    day: &mut DayRender,
    (history, rule, work_dir): (&History, &str, Option<&Path>),
    options: &SiteOptions,
) -> Result<(RenderedFiles, bool), BuildError> {
    let cache = &build.cache;
    let texts = &cache.texts;
    let meetings = || {
        history
            .each(day.todo.meetings.clone(), Meetings::of(cache))
            .map(|m| m.and_then(|(_, m)| m.summary()))
    };
    let [path, csv, json, sessions_csv, sessions_json] = day.todo.paths();
    let rendered = if day.done == 0 {
        let loaded = meetings().collect::<Result<Vec<_>, _>>()?;
        let date = day.todo.day;
        // Newest first, each row made from its summary as the page is written.
        let mut rows = LaterRows::new("../", (texts, options));
        for (at, a) in loaded.iter().enumerate().rev() {
            rows.add(at, a);
        }
        let read = |at: usize| match loaded.get(at) {
            Some(a) => Ok(Cow::Borrowed(&**a)),
            None => Err(std::io::Error::other("a meeting of the day left the build").into()),
        };
        let mut page = MeetingsPage::of_later_rows(
            (
                crate::site::Chrome::new(&format!("Meetings, {date}"), "../", options),
                format!("Meetings on {date} (UTC)"),
                date.to_string(),
            ),
            (rows, Box::new(read)),
            (Vec::new(), rule.to_owned()),
        );
        page.sessions_export = true;
        let (html, page_hash) = Output::make(work_dir, &path, |out| render_to("day", &page, out))?;
        if let Some(error) = page.rows.failure() {
            return Err(error.into());
        }
        drop(page);
        let exports = || loaded.iter().rev().map(|a| meeting_export(a, texts));
        let (list_csv, csv_hash) =
            Output::make(work_dir, &csv, |out| table_into(&csv, exports(), out))?;
        let (list_json, json_hash) =
            Output::make(work_dir, &json, |out| table_into(&json, exports(), out))?;
        vec![
            (path.clone(), html, page_hash),
            (csv, list_csv, csv_hash),
            (json, list_json, json_hash),
        ]
    } else {
        // Every participant session of the day, oldest meeting first, each meeting's summary read
        // back as its rows are written.
        let target = if day.done == 1 {
            sessions_csv
        } else {
            sessions_json
        };
        let (output, hash) = Output::make(work_dir, &target, |out| {
            let mut failed = None;
            let rows = meetings()
                .map_while(|m| match m {
                    Ok(a) => Some(a),
                    Err(error) => {
                        failed = Some(error);
                        None
                    }
                })
                .flat_map(|a| SessionRow::of_meeting(&a, texts, options).collect::<Vec<_>>());
            table_into(&target, rows, out)?;
            failed.map_or(Ok(()), |error| Err(error.into()))
        })?;
        vec![(target, output, hash)]
    };
    day.done += 1;
    let mut files = RenderedFiles::default();
    for (file, output, hash) in rendered {
        let (shared, hash) = build.record_hash(&file, hash);
        day.hashes.insert(shared, hash);
        files.push((file, output));
    }
    let finished = day.done == 3;
    if finished {
        build.cache.days.insert(
            path,
            CachedFiles {
                key: day.todo.key,
                files: std::mem::take(&mut day.hashes),
                rendered: None,
            },
        );
    }
    Ok((files, finished))
}
