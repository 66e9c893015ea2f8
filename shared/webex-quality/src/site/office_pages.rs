//! A page per office ([`super::offices`]): its sessions of the last 90 days, the poor share of their
//! participant-minutes by day, the meetings where its participants fared worst, and its networks
//! and clients. Rendered with the other list-type pages (they depend on the clock).

use askama::Template;
use chrono::{DateTime, Utc};

use super::build::meeting_path;
use super::list_pages::{BreakdownTable, breakdown_table, daily_poor_share, office_of, share_text};
use super::render_cache::{MeetingSummary, SessionSummary, Texts};
use super::{Chrome, SiteOptions, VerdictView, verdict_view};
use crate::quality::StreamKind;
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

/// Every office's page (each office of the file, then "remote"), by path.
pub(super) fn office_pages(
    all: &[&MeetingSummary],
    texts: &Texts,
    now: DateTime<Utc>,
    options: &SiteOptions,
) -> Vec<(String, OfficePage)> {
    let from = now - chrono::Duration::days(DAYS);
    let period: Vec<&MeetingSummary> = all
        .iter()
        .copied()
        .filter(|a| a.start >= from && a.start <= now)
        .collect();
    options
        .offices
        .names()
        .into_iter()
        .map(|office| {
            let page = office_page(office, &period, texts, (from, options));
            (super::offices::office_path(office), page)
        })
        .collect()
}

fn office_page(
    office: &str,
    period: &[&MeetingSummary],
    texts: &Texts,
    (from, options): (DateTime<Utc>, &SiteOptions),
) -> OfficePage {
    let here = |s: &SessionSummary| office_of(s, texts) == office;
    let sessions = || period.iter().flat_map(|a| a.sessions.iter()).filter(here);
    let minutes_of = |sessions: &mut dyn Iterator<Item = SessionSummary>| {
        let mut total = Minutes::default();
        for s in sessions {
            total.add(s.minutes);
        }
        total
    };
    let points = daily_poor_share(from, DAYS, |day_start, day_end| {
        minutes_of(
            &mut period
                .iter()
                .filter(|a| a.start >= day_start && a.start < day_end)
                .flat_map(|a| a.sessions.iter())
                .filter(here),
        )
    });
    let trend = super::charts::line_chart(
        &format!(
            "Participant-minutes judged poor in {office}, by day, last {DAYS} days (days without sessions are gaps)"
        ),
        "%",
        usize::try_from(DAYS).unwrap_or(1),
        &[("poor participant-minutes", &points)],
    );
    let mut worst: Vec<(&MeetingSummary, usize, Minutes)> = period
        .iter()
        .filter_map(|a| {
            let mut mine = 0;
            let minutes = minutes_of(&mut a.sessions.iter().filter(here).inspect(|_| mine += 1));
            (minutes.poor + minutes.fair > 0).then_some((*a, mine, minutes))
        })
        .collect();
    worst.sort_by(|a, b| {
        (b.2.poor, b.2.fair)
            .cmp(&(a.2.poor, a.2.fair))
            .then(b.0.start.cmp(&a.0.start))
    });
    let shares = StreamKind::ALL
        .iter()
        .map(|kind| {
            let (mut poor, mut judged) = (0, 0);
            for v in sessions().filter_map(|s| s.stream(*kind).cloned()) {
                if v.verdict != crate::quality::Verdict::NoData {
                    judged += 1;
                    poor += usize::from(v.verdict == crate::quality::Verdict::Poor);
                }
            }
            (kind.label(), share_text(poor, judged))
        })
        .collect();
    let all_minutes = minutes_of(&mut sessions());
    let no_page = |_: &str| String::new();
    OfficePage {
        chrome: Chrome::new(office, "../", options),
        name: office.to_owned(),
        days: DAYS,
        meetings: period
            .iter()
            .filter(|a| a.sessions.iter().any(|s| here(&s)))
            .count(),
        sessions: sessions().count(),
        poor_minutes: share_text(all_minutes.poor as usize, all_minutes.with_data as usize),
        shares,
        trend,
        worst: worst
            .into_iter()
            .take(WORST)
            .map(|(a, here, minutes)| OfficeMeeting {
                date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                href: format!("../{}", meeting_path(&a.instance_id)),
                title: a.title.clone(),
                here,
                poor_minutes: format!("{} of {}", minutes.poor, minutes.with_data),
                meeting: verdict_view(a.headline.verdict),
                meeting_label: a.headline.label(),
            })
            .collect(),
        tables: vec![
            breakdown_table(
                ("network type", |s, t| {
                    t.opt(s.network_type).unwrap_or("unknown").to_owned()
                }),
                sessions(),
                texts,
                &no_page,
            ),
            breakdown_table(
                ("client", |s, t| {
                    format!(
                        "{} {}",
                        t.opt(s.client_type).unwrap_or("unknown"),
                        t.get(s.client_version)
                    )
                    .trim_end()
                    .to_owned()
                }),
                sessions(),
                texts,
                &no_page,
            ),
        ],
    }
}
