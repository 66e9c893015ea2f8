//! The meetings list's page: a list of meetings with their headlines, filtered by cause and office.

use askama::Template;

use super::office_name;
use crate::site::build::meeting_path;
use crate::site::render_cache::{MeetingSummary, Texts};
use crate::site::{Chrome, HeadlineView, SiteOptions, headline_view};

pub(in crate::site) struct MeetingRow {
    date: String,
    href: String,
    title: String,
    host: String,
    duration: String,
    headline: HeadlineView,
    /// The offices its participants joined from, as indexes into the list's office filter, each
    /// between spaces (" 0 2 "); empty without offices.
    offices: String,
}

/// A meeting's row in a list page at `root` (the way back to the site root: "" or "../").
fn meeting_row(a: &MeetingSummary, root: &str, texts: &Texts) -> MeetingRow {
    MeetingRow {
        date: a.start.format("%Y-%m-%d %H:%M").to_string(),
        href: format!("{root}{}", meeting_path(&a.instance_id)),
        title: a.title(texts).to_owned(),
        host: a.host(texts).to_owned(),
        duration: a
            .end
            .map_or_else(String::new, |end| (end - a.start).num_minutes().to_string()),
        headline: headline_view(&a.headline),
        offices: String::new(),
    }
}

/// The offices of `a`'s participants as [`MeetingRow::offices`] has them, `names` being the
/// filter's offices.
fn office_indexes(a: &MeetingSummary, texts: &Texts, names: &[&str]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let mut found = vec![false; names.len()];
    for s in a.sessions.iter() {
        let office = office_name(&s, texts);
        if let Some(i) = names.iter().position(|n| *n == office) {
            found[i] = true;
        }
    }
    let mut out = String::from(" ");
    for (i, _) in found.iter().enumerate().filter(|(_, f)| **f) {
        out.push_str(&i.to_string());
        out.push(' ');
    }
    out
}

/// Meetings by impact: the most poor participant-minutes first, then fair ones, then the latest.
pub(in crate::site) fn by_impact(meetings: &mut [&MeetingSummary]) {
    meetings.sort_by(|a, b| {
        b.headline
            .impact()
            .cmp(&a.headline.impact())
            .then(b.start.cmp(&a.start))
            .then(a.instance_id.cmp(&b.instance_id))
    });
}

/// The causes a list's filter offers: the categories of its rows' causes, in order.
fn cause_filters(rows: &[MeetingRow]) -> Vec<&'static str> {
    let mut causes: Vec<&'static str> = rows.iter().map(|r| r.headline.cause_category).collect();
    causes.sort_unstable();
    causes.dedup();
    causes
}

/// A day of the meetings list, as the list links it.
pub(in crate::site) struct DayLink {
    pub(in crate::site) day: String,
    pub(in crate::site) href: String,
    pub(in crate::site) meetings: usize,
}

/// A meetings list: the recent days' (`meetings.html`, with links to every day) or one day's
/// (`days/YYYY-MM-DD.html`).
#[derive(Template)]
#[template(path = "meetings.html")]
pub(in crate::site) struct MeetingsPage {
    pub(in crate::site) chrome: Chrome,
    pub(in crate::site) heading: String,
    /// The exports' path without extension, from the page.
    pub(in crate::site) export_stem: String,
    pub(in crate::site) rows: Vec<MeetingRow>,
    pub(in crate::site) days: Vec<DayLink>,
    /// The meeting rule in words.
    pub(in crate::site) rule: String,
    /// The cause categories the filter offers.
    pub(in crate::site) causes: Vec<&'static str>,
    /// The offices the filter offers (none without a sites file).
    pub(in crate::site) offices: Vec<String>,
    /// Whether the participant sessions' exports sit beside the list's (a day's page).
    pub(in crate::site) sessions_export: bool,
}

impl MeetingsPage {
    /// A list of `meetings` (ordered by impact here) at `root`.
    pub(in crate::site) fn new(
        (chrome, heading, export_stem): (Chrome, String, String),
        mut meetings: Vec<&MeetingSummary>,
        root: &str,
        (days, rule): (Vec<DayLink>, String),
        (texts, options): (&Texts, &SiteOptions),
    ) -> Self {
        by_impact(&mut meetings);
        let names = options.offices.names();
        let rows: Vec<MeetingRow> = meetings
            .iter()
            .map(|a| MeetingRow {
                offices: office_indexes(a, texts, &names),
                ..meeting_row(a, root, texts)
            })
            .collect();
        Self {
            chrome,
            heading,
            export_stem,
            causes: cause_filters(&rows),
            offices: names.iter().map(|n| (*n).to_owned()).collect(),
            rows,
            days,
            rule,
            sessions_export: false,
        }
    }
}

/// Where a day's list page goes, from the site root (its exports: the same with `.csv`, `.json`,
/// `.sessions.csv` and `.sessions.json`).
pub(in crate::site) fn day_path(day: chrono::NaiveDate) -> String {
    format!("days/{day}.html")
}
