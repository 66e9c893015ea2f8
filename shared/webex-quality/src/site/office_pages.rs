//! A page per office ([`super::offices`]): its sessions of the last 90 days, the poor share of their
//! participant-minutes by day, the meetings where its participants fared worst, and its networks
//! and clients. Rendered with the other list-type pages (they depend on the clock).

use askama::Template;
use chrono::{DateTime, Utc};

use super::build::meeting_path;
use super::list_pages::{
    Breakdown, BreakdownKey, BreakdownTable, Smallest, StreamShares, WorstKey, client_label,
    daily_poor_share, day_of, office_name, share_text, worst_key,
};
use super::render_cache::{MeetingSummary, SessionSummary, Text, Texts};
use super::{Chrome, SiteOptions, VerdictView, verdict_view};
use crate::quality::headline::Minutes;

/// The days an office page covers (the longest overview's).
const DAYS: i64 = 90;

/// How many meetings an office page lists.
const WORST: usize = 10;

struct OfficeMeeting {
    date: String,
    href: String,
    title: String,
    /// The office's participant sessions in the meeting.
    here: usize,
    /// Their minutes judged poor, of their minutes with data.
    poor_minutes: String,
    meeting: VerdictView,
    meeting_label: String,
}

#[derive(Template)]
#[template(path = "office.html")]
pub(super) struct OfficePage {
    chrome: Chrome,
    name: String,
    days: i64,
    meetings: usize,
    sessions: usize,
    poor_minutes: String,
    shares: Vec<(&'static str, String)>,
    trend: super::markup::Markup,
    worst: Vec<OfficeMeeting>,
    tables: Vec<BreakdownTable>,
}

/// The office pages' tallies, counted a meeting at a time ([`OfficeTallies::add`], oldest first):
/// the meetings need not all be in memory.
pub(super) struct OfficeTallies<'o> {
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    names: Vec<&'o str>,
    tallies: Vec<OfficeTally>,
}

impl<'o> OfficeTallies<'o> {
    pub(super) fn new(now: DateTime<Utc>, options: &'o SiteOptions) -> Self {
        let names = options.offices.names();
        Self {
            from: now - chrono::Duration::days(DAYS),
            now,
            tallies: names.iter().map(|_| OfficeTally::new()).collect(),
            names,
        }
    }

    /// Counts `a`'s sessions of the period, each for its office (read back once from the cache's
    /// packed form; not at all without offices).
    pub(super) fn add(&mut self, a: &MeetingSummary, texts: &Texts) {
        if self.names.is_empty() || a.start < self.from || a.start > self.now {
            return;
        }
        let day = day_of(self.from, a.start);
        for s in a.sessions.iter() {
            let office = office_name(&s, texts);
            if let Some(tally) = self
                .names
                .iter()
                .position(|n| *n == office)
                .and_then(|at| self.tallies.get_mut(at))
            {
                tally.add(&s, day);
            }
        }
        for tally in &mut self.tallies {
            tally.end_meeting(a, texts);
        }
    }

    /// Every office's page (none without offices), by path.
    pub(super) fn pages(self, texts: &Texts, options: &SiteOptions) -> Vec<(String, OfficePage)> {
        self.names
            .into_iter()
            .zip(self.tallies)
            .map(|(office, tally)| {
                let page = tally.page(office, (texts, options));
                (super::offices::office_path(office), page)
            })
            .collect()
    }
}

/// What an office's page shows, counted as the sessions go by.
struct OfficeTally {
    /// Per day of the period, from its start.
    days: Vec<Minutes>,
    /// The meetings with minutes judged fair or poor here, the worst first.
    worst: Smallest<WorstKey, OfficeMeeting>,
    /// The sessions here of the meeting being counted, and their minutes.
    meeting: (usize, Minutes),
    shares: StreamShares,
    minutes: Minutes,
    meetings: usize,
    sessions: usize,
    network: Breakdown,
    client: Breakdown,
}

impl OfficeTally {
    fn new() -> Self {
        Self {
            days: vec![Minutes::default(); usize::try_from(DAYS).unwrap_or(0)],
            worst: Smallest::new(WORST),
            meeting: (0, Minutes::default()),
            shares: StreamShares::default(),
            minutes: Minutes::default(),
            meetings: 0,
            sessions: 0,
            network: Breakdown::new((
                "network type",
                BreakdownKey {
                    group: |s| [s.network_type, Text::NONE],
                    label: |[network, _], t| t.opt(network).unwrap_or("unknown").to_owned(),
                },
            )),
            client: Breakdown::new((
                "client",
                BreakdownKey {
                    group: |s| [s.client_type, s.client_version],
                    label: |client, t| client_label(client, t).trim_end().to_owned(),
                },
            )),
        }
    }

    /// A session here, of a meeting that started on `day` of the period.
    fn add(&mut self, s: &SessionSummary, day: Option<usize>) {
        self.sessions += 1;
        self.minutes.add(s.minutes);
        if let Some(minutes) = day.and_then(|d| self.days.get_mut(d)) {
            minutes.add(s.minutes);
        }
        self.meeting.0 += 1;
        self.meeting.1.add(s.minutes);
        self.shares.add(s);
        self.network.add(s);
        self.client.add(s);
    }

    /// After `a`'s sessions: a meeting here, and among the worst when fair or poor minutes were.
    fn end_meeting(&mut self, a: &MeetingSummary, texts: &Texts) {
        let (here, minutes) = std::mem::take(&mut self.meeting);
        if here == 0 {
            return;
        }
        self.meetings += 1;
        if minutes.poor + minutes.fair == 0 {
            return;
        }
        // The minutes here, not the meeting's: ties in the order the meetings came (by id, for
        // meetings that started together).
        let key = worst_key((minutes.poor, minutes.fair), a);
        if self.worst.wants(&key) {
            let row = OfficeMeeting {
                date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                href: format!("../{}", meeting_path(&a.instance_id)),
                title: a.title(texts).to_owned(),
                here,
                poor_minutes: format!("{} of {}", minutes.poor, minutes.with_data),
                meeting: verdict_view(a.headline.verdict),
                meeting_label: a.headline.label(),
            };
            self.worst.push(key, row);
        }
    }

    fn page(self, office: &str, (texts, options): (&Texts, &SiteOptions)) -> OfficePage {
        let points = daily_poor_share(&self.days);
        let trend = super::charts::line_chart(
            &format!(
                "Participant-minutes judged poor in {office}, by day, last {DAYS} days (days without sessions are gaps)"
            ),
            "%",
            usize::try_from(DAYS).unwrap_or(1),
            &[("poor participant-minutes", &points)],
        );
        let no_page = |_: &str| String::new();
        OfficePage {
            chrome: Chrome::new(office, "../", options),
            name: office.to_owned(),
            days: DAYS,
            meetings: self.meetings,
            sessions: self.sessions,
            poor_minutes: share_text(self.minutes.poor as usize, self.minutes.with_data as usize),
            shares: self.shares.texts(),
            trend,
            worst: self.worst.into_items().collect(),
            tables: vec![
                self.network.table(texts, &no_page),
                self.client.table(texts, &no_page),
            ],
        }
    }
}
