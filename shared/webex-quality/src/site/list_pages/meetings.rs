//! The meetings list's page: a list of meetings with their headlines, filtered by cause and office.

use askama::Template;

use super::{WorstKey, office_name, worst_key};
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

/// The rows of a list page at `root` (the way back to the site root: "" or "../"), made a meeting
/// at a time: a list can be made without holding its meetings' summaries, only their rows.
pub(in crate::site) struct ListRows<'a> {
    root: &'a str,
    texts: &'a Texts,
    /// The offices the list's filter offers.
    names: Vec<&'a str>,
    rows: Vec<(WorstKey, MeetingRow)>,
}

impl<'a> ListRows<'a> {
    /// No rows yet, for a list at `root`.
    pub(in crate::site) fn new(
        root: &'a str,
        (texts, options): (&'a Texts, &'a SiteOptions),
    ) -> Self {
        Self {
            root,
            texts,
            names: options.offices.names(),
            rows: Vec::new(),
        }
    }

    /// Adds `a`'s row.
    pub(in crate::site) fn add(&mut self, a: &MeetingSummary) {
        let row = MeetingRow {
            offices: office_indexes(a, self.texts, &self.names),
            ..meeting_row(a, self.root, self.texts)
        };
        self.rows.push((worst_key(a.headline.impact(), a), row));
    }

    /// The rows by impact: the most poor participant-minutes first, then fair ones, then the
    /// latest ([`worst_key`]).
    fn by_impact(mut self) -> Vec<MeetingRow> {
        self.rows.sort_by(|a, b| a.0.cmp(&b.0));
        self.rows.into_iter().map(|(_, row)| row).collect()
    }
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
        meetings: &[&MeetingSummary],
        root: &str,
        (days, rule): (Vec<DayLink>, String),
        (texts, options): (&Texts, &SiteOptions),
    ) -> Self {
        let mut rows = ListRows::new(root, (texts, options));
        for a in meetings {
            rows.add(a);
        }
        Self::of_rows((chrome, heading, export_stem), rows, (days, rule))
    }

    /// A list of the meetings whose `rows` were made (ordered by impact here).
    pub(in crate::site) fn of_rows(
        (chrome, heading, export_stem): (Chrome, String, String),
        rows: ListRows<'_>,
        (days, rule): (Vec<DayLink>, String),
    ) -> Self {
        let offices = rows.names.iter().map(|n| (*n).to_owned()).collect();
        let rows = rows.by_impact();
        Self {
            chrome,
            heading,
            export_stem,
            causes: cause_filters(&rows),
            offices,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::headline::Minutes;

    #[test]
    fn a_lists_rows_come_by_impact_whatever_order_they_were_made_in() {
        let (options, texts) = (SiteOptions::default(), Texts::default());
        // (id, poor minutes, fair minutes, hours after the epoch)
        let meetings = [
            ("a", 0, 0, 5),
            ("b", 9, 0, 1),
            ("c", 9, 0, 3),
            ("d", 0, 4, 2),
            ("e", 9, 2, 0),
            ("f", 0, 0, 5),
        ];
        let summaries: Vec<MeetingSummary> = meetings
            .iter()
            .map(|(id, poor, fair, hours)| {
                let mut a = super::super::tests::meeting(Vec::new());
                a.instance_id = (*id).into();
                a.start += chrono::Duration::hours(*hours);
                a.headline.minutes = Minutes {
                    with_data: 10,
                    fair: *fair,
                    poor: *poor,
                };
                a
            })
            .collect();
        let mut rows = ListRows::new("", (&texts, &options));
        for a in summaries.iter().rev() {
            rows.add(a);
        }
        let hrefs: Vec<String> = rows.by_impact().into_iter().map(|r| r.href).collect();
        // Most poor minutes, then fair ones, then the latest, then the id.
        assert_eq!(
            hrefs,
            ["e", "c", "b", "d", "a", "f"].map(|id| format!("meetings/{id}.html"))
        );
    }
}
