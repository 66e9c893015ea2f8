//! The meetings list's pages: the recent days' list and one page per day, each with its exports (a
//! day's also with every participant session of its meetings).

use std::collections::BTreeMap;

use super::{Previous, SiteBuild};
use crate::quality::Thresholds;
use crate::site::SiteOptions;
use crate::site::build::{BuildError, render};
use crate::site::exports::{SessionRow, meeting_export, to_csv, to_json};
use crate::site::list_pages::{DayLink, MeetingsPage, day_path};
use crate::site::render_cache::{self, CachedFiles, MeetingSummary};
use crate::site::texts::Texts;

/// The days the meetings list shows on its first page.
const RECENT_DAYS: i64 = 7;

/// The meetings list: the last 7 days on `meetings.html` (and in `meetings.csv` and `.json`), with
/// a link to every day; each day (UTC, by start) on a page of its own with its exports, kept from the
/// previous build while that day's meetings are unchanged. No page lists the whole history.
pub(super) fn meetings_lists(
    build: &mut SiteBuild,
    mut previous: Option<&mut Previous<'_>>,
    (analyzed, keys, texts): (&[&MeetingSummary], &[&str], &Texts),
    (options, thresholds): (&SiteOptions, &Thresholds),
) -> Result<(), BuildError> {
    let recent_from = options.generated - chrono::Duration::days(RECENT_DAYS);
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<usize>> = BTreeMap::new();
    for (index, meeting) in analyzed.iter().enumerate() {
        by_day
            .entry(meeting.start.date_naive())
            .or_default()
            .push(index);
    }
    let recent: Vec<&MeetingSummary> = analyzed
        .iter()
        .rev()
        .copied()
        .filter(|a| a.start >= recent_from)
        .collect();
    let list: Vec<_> = recent.iter().map(|a| meeting_export(a)).collect();
    build.insert("meetings.csv".into(), to_csv(&list)?);
    build.insert("meetings.json".into(), to_json(&list)?);
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
            rule.clone(),
        ),
        (texts, options),
    );
    build.insert("meetings.html".into(), render("meetings.html", &page)?);
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
        let rows: Vec<&MeetingSummary> = meetings.iter().rev().map(|i| analyzed[*i]).collect();
        let list: Vec<_> = rows.iter().map(|a| meeting_export(a)).collect();
        // Every participant session of the day, oldest meeting first.
        let sessions: Vec<SessionRow> = meetings
            .iter()
            .flat_map(|i| SessionRow::of_meeting(analyzed[*i], texts, options))
            .collect();
        let mut page = MeetingsPage::new(
            (
                crate::site::Chrome::new(&format!("Meetings, {day}"), "../", options),
                format!("Meetings on {day} (UTC)"),
                day.to_string(),
            ),
            rows,
            "../",
            (Vec::new(), rule.clone()),
            (texts, options),
        );
        page.sessions_export = true;
        let stem = path.trim_end_matches(".html");
        let mut files = BTreeMap::new();
        for (file, bytes) in [
            (path.clone(), render("day", &page)?),
            (format!("{stem}.csv"), to_csv(&list)?),
            (format!("{stem}.json"), to_json(&list)?),
            (format!("{stem}.sessions.csv"), to_csv(&sessions)?),
            (format!("{stem}.sessions.json"), to_json(&sessions)?),
        ] {
            let hash = build.insert(file.clone(), bytes);
            files.insert(file, hash);
        }
        build.cache.days.insert(
            path,
            CachedFiles {
                key,
                files,
                rendered: None,
            },
        );
    }
    Ok(())
}
