//! The overviews: the last 7, 30 and 90 days, each from its period's meetings and its sessions as
//! [`super::count_sessions`] counted them.

use askama::Template;
use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::{StreamShares, by_impact, daily_poor_share, day_of};
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

/// The overview of each of [`PERIODS`], by path, from `all` (the periods' meetings are picked
/// again here) and their sessions as [`super::count_sessions`] counted them.
pub(in crate::site) fn overviews(
    (all, texts): (&[&MeetingSummary], &Texts),
    periods: Vec<(DateTime<Utc>, SessionTally)>,
    now: DateTime<Utc>,
    status: &StatusView,
    options: &SiteOptions,
) -> Vec<(&'static str, OverviewPage)> {
    PERIODS
        .iter()
        .zip(periods)
        .map(|((days, path), (from, tally))| {
            let period: Vec<&MeetingSummary> = all
                .iter()
                .copied()
                .filter(|a| a.start >= from && a.start <= now)
                .collect();
            let page = overview((&period, texts), tally, (*days, from), status, options);
            (*path, page)
        })
        .collect()
}

/// The overview of the `days` from `from` to now: `period`, its meetings, and `tally`, their
/// sessions counted.
fn overview(
    (period, texts): (&[&MeetingSummary], &Texts),
    tally: SessionTally,
    (days, from): (i64, DateTime<Utc>),
    status: &StatusView,
    options: &SiteOptions,
) -> OverviewPage {
    let SessionTally {
        sessions: session_count,
        minutes,
        shares,
        affected,
    } = tally;
    // Each meeting's minutes counted for its day, and for the period.
    let mut by_day = vec![Minutes::default(); usize::try_from(days).unwrap_or(0)];
    let mut all_minutes = Minutes::default();
    for a in period {
        all_minutes.add(a.headline.minutes);
        if let Some(minutes) = day_of(from, a.start).and_then(|d| by_day.get_mut(d)) {
            minutes.add(a.headline.minutes);
        }
    }
    let points = daily_poor_share(&by_day);
    let trend = charts::line_chart(
        &format!(
            "Participant-minutes judged poor, by day, last {days} days (days without meetings are gaps)"
        ),
        "%",
        usize::try_from(days).unwrap_or(1),
        &[("poor participant-minutes", &points)],
    );
    let mut verdicts = [0; 3];
    for a in period {
        match a.headline.verdict {
            Verdict::Poor => verdicts[0] += 1,
            Verdict::Fair => verdicts[1] += 1,
            Verdict::Good => verdicts[2] += 1,
            Verdict::NoData => {}
        }
    }
    let mut worst: Vec<&MeetingSummary> = period
        .iter()
        .copied()
        .filter(|a| a.headline.impact() > (0, 0))
        .collect();
    by_impact(&mut worst);
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
        meetings: period.len(),
        sessions: session_count,
        minutes,
        verdicts,
        poor_minutes: all_minutes
            .poor_share()
            .map_or_else(|| "no data".into(), |s| format!("{:.1} %", s * 100.0)),
        shares: shares.texts(),
        trend,
        worst: worst
            .into_iter()
            .take(10)
            .map(|a| WorstMeeting {
                date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                href: meeting_path(&a.instance_id),
                title: a.title(texts).to_owned(),
                host: a.host(texts).to_owned(),
                headline: headline_view(&a.headline),
            })
            .collect(),
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
        let counted = count_sessions(&all, &texts, now, &options).unwrap();
        // Everyone's sessions, whatever the period: each person's meeting and session index.
        let people = people(counted.people, &texts);
        assert_eq!(people.len(), 1 + 2 + 3 + 4 + 5);
        assert_eq!(people["p2-0@example.com"], [(0, 0)]);
        assert_eq!(people["p120-3@example.com"], [(3, 3)]);
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
