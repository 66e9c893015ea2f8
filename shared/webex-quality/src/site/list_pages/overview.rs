//! The overviews: the last 7, 30 and 90 days, each from its period's meetings
//! ([`OverviewTallies`]) and its sessions as [`super::SessionCounter`] counted them.

use askama::Template;
use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::{Smallest, StreamShares, WorstKey, daily_poor_share, day_of, worst_key};
use crate::quality::Verdict;
use crate::quality::headline::Minutes;
use crate::site::build::meeting_path;
use crate::site::render_cache::{MeetingSummary, SessionSummary, Text, Texts};
use crate::site::{Chrome, HeadlineView, SiteOptions, StatusView, charts, headline_view};

pub(in crate::site) const PERIODS: &[(i64, &str)] = &[
    (7, "index.html"),
    (30, "overview-30.html"),
    (90, "overview-90.html"),
];

struct WorstMeeting {
    date: String,
    href: String,
    title: String,
    host: String,
    headline: HeadlineView,
}

struct Affected {
    href: String,
    name: String,
    poor: usize,
    sessions: usize,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub(in crate::site) struct OverviewPage {
    chrome: Chrome,
    days: i64,
    periods: Vec<(i64, String)>,
    last_collected: String,
    meetings: usize,
    sessions: usize,
    minutes: i64,
    /// Meetings by the meeting rule's verdict: poor, fair, good.
    verdicts: [usize; 3],
    /// Participant-minutes judged poor, as text.
    poor_minutes: String,
    shares: Vec<(&'static str, String)>,
    trend: crate::site::markup::Markup,
    worst: Vec<WorstMeeting>,
    affected: Vec<Affected>,
}

/// What an overview counts of its period's sessions.
#[derive(Default)]
pub(in crate::site) struct SessionTally {
    sessions: usize,
    minutes: i64,
    shares: StreamShares,
    affected: HashMap<Text, Affected>,
}

impl SessionTally {
    pub(super) fn add(
        &mut self,
        s: &SessionSummary,
        now: DateTime<Utc>,
        texts: &Texts,
        options: &SiteOptions,
    ) {
        self.sessions += 1;
        if let Some(join) = s.join {
            self.minutes += (s.leave.unwrap_or(now) - join).num_minutes().max(0);
        }
        self.shares.add(s);
        let entry = self.affected.entry(s.person).or_insert_with(|| Affected {
            href: options.person_key.person_path(texts.get(s.person)),
            name: texts.get(s.name).to_owned(),
            poor: 0,
            sessions: 0,
        });
        entry.sessions += 1;
        entry.poor += usize::from(s.worst() == Verdict::Poor);
    }
}

/// The overview of each of [`PERIODS`], by path, from `all` and their sessions as
/// [`super::SessionCounter`] counted them.
#[cfg(test)]
pub(in crate::site) fn overviews(
    (all, texts): (&[&MeetingSummary], &Texts),
    periods: Vec<(DateTime<Utc>, SessionTally)>,
    now: DateTime<Utc>,
    status: &StatusView,
    options: &SiteOptions,
) -> Vec<(&'static str, OverviewPage)> {
    let mut tallies = OverviewTallies::new(now);
    for a in all {
        tallies.add(a, texts);
    }
    tallies.pages(periods, status, options)
}

/// What the overviews show of their periods' meetings (not of their sessions: [`SessionTally`]),
/// counted a meeting at a time ([`OverviewTallies::add`]): the meetings need not all be in memory.
pub(in crate::site) struct OverviewTallies {
    now: DateTime<Utc>,
    periods: Vec<PeriodTally>,
}

struct PeriodTally {
    days: i64,
    from: DateTime<Utc>,
    /// Each meeting's minutes counted for its day, and for the period.
    by_day: Vec<Minutes>,
    all_minutes: Minutes,
    /// Meetings by the meeting rule's verdict: poor, fair, good.
    verdicts: [usize; 3],
    meetings: usize,
    worst: Smallest<WorstKey, WorstMeeting>,
}

impl OverviewTallies {
    pub(in crate::site) fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            periods: PERIODS
                .iter()
                .map(|(days, _)| PeriodTally {
                    days: *days,
                    from: now - chrono::Duration::days(*days),
                    by_day: vec![Minutes::default(); usize::try_from(*days).unwrap_or(0)],
                    all_minutes: Minutes::default(),
                    verdicts: [0; 3],
                    meetings: 0,
                    worst: Smallest::new(WORST),
                })
                .collect(),
        }
    }

    /// Counts `a` in the periods it started in.
    pub(in crate::site) fn add(&mut self, a: &MeetingSummary, texts: &Texts) {
        for period in &mut self.periods {
            if a.start < period.from || a.start > self.now {
                continue;
            }
            period.meetings += 1;
            period.all_minutes.add(a.headline.minutes);
            if let Some(minutes) =
                day_of(period.from, a.start).and_then(|d| period.by_day.get_mut(d))
            {
                minutes.add(a.headline.minutes);
            }
            match a.headline.verdict {
                Verdict::Poor => period.verdicts[0] += 1,
                Verdict::Fair => period.verdicts[1] += 1,
                Verdict::Good => period.verdicts[2] += 1,
                Verdict::NoData => {}
            }
            if a.headline.impact() > (0, 0) {
                let key = worst_key(a.headline.impact(), a);
                if period.worst.wants(&key) {
                    let row = WorstMeeting {
                        date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                        href: meeting_path(&a.instance_id),
                        title: a.title(texts).to_owned(),
                        host: a.host(texts).to_owned(),
                        headline: headline_view(&a.headline),
                    };
                    period.worst.push(key, row);
                }
            }
        }
    }

    /// The overview of each of [`PERIODS`], by path, with `periods`, their sessions as
    /// [`super::SessionCounter`] counted them.
    pub(in crate::site) fn pages(
        self,
        periods: Vec<(DateTime<Utc>, SessionTally)>,
        status: &StatusView,
        options: &SiteOptions,
    ) -> Vec<(&'static str, OverviewPage)> {
        PERIODS
            .iter()
            .zip(self.periods)
            .zip(periods)
            .map(|(((_, path), period), (_, tally))| {
                (*path, overview(period, tally, status, options))
            })
            .collect()
    }
}

/// How many meetings an overview lists as the worst.
const WORST: usize = 10;

/// The overview of a period from its meetings' tally and `tally`, their sessions counted.
fn overview(
    period: PeriodTally,
    tally: SessionTally,
    status: &StatusView,
    options: &SiteOptions,
) -> OverviewPage {
    let SessionTally {
        sessions: session_count,
        minutes,
        shares,
        affected,
    } = tally;
    let days = period.days;
    let points = daily_poor_share(&period.by_day);
    let trend = charts::line_chart(
        &format!(
            "Participant-minutes judged poor, by day, last {days} days (days without meetings are gaps)"
        ),
        "%",
        usize::try_from(days).unwrap_or(1),
        &[("poor participant-minutes", &points)],
    );
    let mut affected: Vec<Affected> = affected.into_values().filter(|a| a.poor > 0).collect();
    // Namesakes in the order of their pages' paths, not the order the map gave them in.
    affected.sort_by(|a, b| {
        b.poor
            .cmp(&a.poor)
            .then(a.name.cmp(&b.name))
            .then(a.href.cmp(&b.href))
    });
    affected.truncate(10);
    OverviewPage {
        chrome: Chrome::new(&format!("Overview, {days} days"), "", options),
        days,
        periods: PERIODS.iter().map(|(d, p)| (*d, (*p).to_owned())).collect(),
        last_collected: status.last_run.clone(),
        meetings: period.meetings,
        sessions: session_count,
        minutes,
        verdicts: period.verdicts,
        poor_minutes: period
            .all_minutes
            .poor_share()
            .map_or_else(|| "no data".into(), |s| format!("{:.1} %", s * 100.0)),
        shares: shares.texts(),
        trend,
        worst: period.worst.into_items().collect(),
        affected,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::meeting;
    use super::super::{count_sessions, people};
    use super::*;

    #[test]
    fn each_overview_counts_the_sessions_of_its_own_period() {
        let mut texts = Texts::default();
        let now = DateTime::parse_from_rfc3339("2026-06-30T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // A meeting 2, 20, 60 and 120 days ago, with 1, 2, 3 and 4 sessions of its own people,
        // and one an hour from now (not in any period yet).
        let meetings: Vec<MeetingSummary> = [(2, 1), (20, 2), (60, 3), (120, 4), (-1, 5)]
            .into_iter()
            .map(|(days_ago, people)| {
                let sessions = (0..people)
                    .map(|i| {
                        let mut s = SessionSummary {
                            person: texts.intern(&format!("p{days_ago}-{i}@example.com")),
                            name: texts.intern(&format!("P {days_ago} {i}")),
                            ..SessionSummary::default()
                        };
                        s.streams[0].verdict = Verdict::Poor;
                        s
                    })
                    .collect();
                MeetingSummary {
                    start: if days_ago < 0 {
                        now + chrono::Duration::hours(1)
                    } else {
                        now - chrono::Duration::days(days_ago)
                    },
                    ..meeting(sessions)
                }
            })
            .collect();
        let all: Vec<&MeetingSummary> = meetings.iter().collect();
        let status = StatusView {
            last_run: String::new(),
            last_outcome: String::new(),
            collected: 0,
            pending: 0,
            archived_days: 0,
            rate_limited: 0,
            token_days: String::new(),
            errors: Vec::new(),
        };
        let options = SiteOptions::default();
        let counted = count_sessions(&all, &texts, now, &options);
        // Everyone's sessions, whatever the period: each person's meeting and session index.
        let people = people(counted.people, &texts);
        assert_eq!(people.len(), 1 + 2 + 3 + 4 + 5);
        assert_eq!(
            people["p2-0@example.com"]
                .sessions
                .as_ref()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [(0, 0)]
        );
        assert_eq!(
            people["p120-3@example.com"]
                .sessions
                .as_ref()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [(3, 3)]
        );
        let pages = overviews((&all, &texts), counted.periods, now, &status, &options);
        let counted: Vec<(&str, usize, usize, usize)> = pages
            .iter()
            .map(|(path, page)| (*path, page.meetings, page.sessions, page.affected.len()))
            .collect();
        assert_eq!(
            counted,
            [
                ("index.html", 1, 1, 1),
                ("overview-30.html", 2, 3, 3),
                ("overview-90.html", 3, 6, 6),
            ]
        );
        assert_eq!(pages[1].1.shares[0].1, "100.0 %");
    }
}
