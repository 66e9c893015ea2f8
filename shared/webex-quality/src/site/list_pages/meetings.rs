//! The meetings list's page: a list of meetings with their headlines, filtered by cause and office.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;

use askama::Template;
use chrono::{DateTime, Utc};

use super::{office_name, worst_key};
use crate::site::build::meeting_path;
use crate::site::render_cache::{MeetingSummary, SpillError, Texts};
use crate::site::{Chrome, HeadlineView, SiteOptions, headline_view};

#[derive(Clone)]
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

/// What makes the rows of a list page at `root` (the way back to the site root: "" or "../"), a
/// meeting at a time (it holds none: [`LaterRows`]).
pub(in crate::site) struct ListRows<'a> {
    root: &'a str,
    texts: &'a Texts,
    /// The offices the list's filter offers.
    names: Vec<&'a str>,
}

impl<'a> ListRows<'a> {
    /// For a list at `root`.
    fn new(root: &'a str, (texts, options): (&'a Texts, &'a SiteOptions)) -> Self {
        Self {
            root,
            texts,
            names: options.offices.names(),
        }
    }

    /// `a`'s row in this list.
    fn row(&self, a: &MeetingSummary) -> MeetingRow {
        MeetingRow {
            offices: office_indexes(a, self.texts, &self.names),
            ..meeting_row(a, self.root, self.texts)
        }
    }
}

/// Reads back the summary of the meeting at a place in a list of the build's meetings.
pub(in crate::site) type ReadSummary<'a> =
    dyn Fn(usize) -> Result<Cow<'a, MeetingSummary>, SpillError> + 'a;

/// A meeting's place in a list of the build's meetings, after its impact and start, reversed (as
/// [`super::WorstKey`] orders them).
type RowPlace = (Reverse<(u32, u32)>, Reverse<DateTime<Utc>>, usize);

/// A list page's rows made as the page is written, rather than held beside it: each meeting's
/// place in the list is kept as its summary is read the first time (with what orders it and its
/// cause's category, for the filter), and its row is made from its summary read back again, in
/// the list's order. The last 7 days' page at 1,000 meetings a day has 7,000 rows, 3.3 MB held
/// beside its 3.3 MB of HTML when they were made first.
pub(in crate::site) struct LaterRows<'a> {
    /// What makes the rows (it holds none).
    rows: ListRows<'a>,
    /// Each meeting's place (the index the summaries are read back by), after what orders it as
    /// [`worst_key`] does: the places of meetings that start together are in their ids' order.
    order: Vec<RowPlace>,
    causes: Vec<&'static str>,
}

impl<'a> LaterRows<'a> {
    /// No meetings yet, for a list at `root` (the way back to the site root: "" or "../").
    pub(in crate::site) fn new(
        root: &'a str,
        (texts, options): (&'a Texts, &'a SiteOptions),
    ) -> Self {
        Self {
            rows: ListRows::new(root, (texts, options)),
            order: Vec::new(),
            causes: Vec::new(),
        }
    }

    /// Adds the meeting at place `at`, `a` its summary. Meetings that start together must come
    /// at places in the order of their ids (as the build's history has them).
    pub(in crate::site) fn add(&mut self, at: usize, a: &MeetingSummary) {
        let (impact, start, _) = worst_key(a.headline.impact(), a);
        self.order.push((impact, start, at));
        let category = crate::site::cause_category(&a.headline);
        if !self.causes.contains(&category) {
            self.causes.push(category);
        }
    }

    /// The rows by impact (the most poor participant-minutes first, then fair ones, then the
    /// latest: [`worst_key`]), each made from the summary `read` gives back for its place when
    /// the page is written.
    fn by_impact(mut self, read: Box<ReadSummary<'a>>) -> Rows<'a> {
        self.order.sort_unstable();
        self.causes.sort_unstable();
        Rows {
            order: self.order.into_iter().map(|(_, _, at)| at).collect(),
            read,
            rows: self.rows,
            causes: self.causes,
            failed: RefCell::new(None),
        }
    }
}

/// A list page's rows, made as it is written ([`LaterRows`]): places of meetings by impact, each
/// row made from the summary `read` gives back, as `rows` makes it; a summary that cannot be read
/// back ends the rows, and its error waits in `failed` ([`Rows::failure`]).
pub(in crate::site) struct Rows<'a> {
    order: Vec<usize>,
    read: Box<ReadSummary<'a>>,
    rows: ListRows<'a>,
    causes: Vec<&'static str>,
    failed: RefCell<Option<SpillError>>,
}

impl Rows<'_> {
    /// How many rows.
    pub(in crate::site) fn len(&self) -> usize {
        self.order.len()
    }

    /// The rows in order, each made now.
    pub(in crate::site) fn iter(&self) -> impl Iterator<Item = MeetingRow> + '_ {
        self.order.iter().map_while(|at| match (self.read)(*at) {
            Ok(a) => Some(self.rows.row(&a)),
            Err(error) => {
                self.failed.replace(Some(error));
                None
            }
        })
    }

    /// Why the rows ended early, if a summary could not be read back.
    pub(in crate::site) fn failure(&self) -> Option<SpillError> {
        self.failed.take()
    }
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
pub(in crate::site) struct MeetingsPage<'a> {
    pub(in crate::site) chrome: Chrome,
    pub(in crate::site) heading: String,
    /// The exports' path without extension, from the page.
    pub(in crate::site) export_stem: String,
    pub(in crate::site) rows: Rows<'a>,
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

impl<'a> MeetingsPage<'a> {
    /// A list of the meetings added to `rows`, each row made from the summary `read` gives back
    /// as the page is written ([`LaterRows`]; ordered by impact here). When the page is
    /// rendered, [`Rows::failure`] tells whether every row was.
    pub(in crate::site) fn of_later_rows(
        (chrome, heading, export_stem): (Chrome, String, String),
        (rows, read): (LaterRows<'a>, Box<ReadSummary<'a>>),
        (days, rule): (Vec<DayLink>, String),
    ) -> Self {
        let offices = rows.rows.names.iter().map(|n| (*n).to_owned()).collect();
        let rows = rows.by_impact(read);
        Self {
            chrome,
            heading,
            export_stem,
            causes: rows.causes.clone(),
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
        // Most poor minutes, then fair ones, then the latest, then the id.
        let expected = ["e", "c", "b", "d", "a", "f"].map(|id| format!("meetings/{id}.html"));
        // Made as the page is written, from the summaries at their places in a history (by start,
        // then id).
        let mut history: Vec<&MeetingSummary> = summaries.iter().collect();
        history.sort_by_key(|a| (a.start, a.instance_id.clone()));
        let later = |fail_at: Option<usize>| {
            let mut rows = LaterRows::new("", (&texts, &options));
            for (at, a) in history.iter().enumerate().rev() {
                rows.add(at, a);
            }
            let history = history.clone();
            let read = move |at: usize| match fail_at {
                Some(fail) if fail == at => Err(std::io::Error::other("gone").into()),
                _ => Ok(Cow::Borrowed(history[at])),
            };
            rows.by_impact(Box::new(read))
        };
        let rows = later(None);
        assert_eq!(rows.len(), 6);
        let made: Vec<MeetingRow> = rows.iter().collect();
        assert!(rows.failure().is_none());
        assert_eq!(
            made.iter().map(|r| &r.href).collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
        // Each row is its meeting's, and the filter offers each cause once, in order.
        let maker = ListRows::new("", (&texts, &options));
        for row in &made {
            let a = summaries
                .iter()
                .find(|a| row.href == format!("meetings/{}.html", a.instance_id));
            let b = maker.row(a.unwrap());
            assert_eq!(
                (&row.date, &row.title, &row.duration, &row.offices),
                (&b.date, &b.title, &b.duration, &b.offices)
            );
        }
        let mut causes: Vec<&str> = summaries
            .iter()
            .map(|a| crate::site::cause_category(&a.headline))
            .collect();
        causes.sort_unstable();
        causes.dedup();
        assert_eq!(rows.causes, causes);
        // A summary that cannot be read back ends the rows, and says why.
        let failing = later(Some(
            history.iter().position(|a| &*a.instance_id == "b").unwrap(),
        ));
        assert_eq!(failing.iter().count(), 2, "e and c, then b failed");
        assert!(failing.failure().is_some());
    }
}
