//! The pages built from every meeting's summary: the overviews (7, 30 and 90 days), the meetings
//! list, a page per person, and the breakdowns.

use std::collections::BTreeMap;

use askama::Template;
use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::build::meeting_path;
use super::render_cache::{MeetingSummary, SessionSummary, Text, Texts};
use super::{
    Chrome, HeadlineView, SiteOptions, StatusView, VerdictView, charts, headline_view, mask_email,
    verdict_view,
};
use crate::quality::headline::Minutes;
use crate::quality::{Metric, StreamKind, Verdict};

pub(super) const PERIODS: &[(i64, &str)] = &[
    (7, "index.html"),
    (30, "overview-30.html"),
    (90, "overview-90.html"),
];

pub(super) struct MeetingRow {
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
pub(super) fn meeting_row(a: &MeetingSummary, root: &str) -> MeetingRow {
    MeetingRow {
        date: a.start.format("%Y-%m-%d %H:%M").to_string(),
        href: format!("{root}{}", meeting_path(&a.instance_id)),
        title: a.title.clone(),
        host: a.host.clone(),
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
pub(super) fn by_impact(meetings: &mut [&MeetingSummary]) {
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
pub(super) struct DayLink {
    pub(super) day: String,
    pub(super) href: String,
    pub(super) meetings: usize,
}

/// A meetings list: the recent days' (`meetings.html`, with links to every day) or one day's
/// (`days/YYYY-MM-DD.html`).
#[derive(Template)]
#[template(path = "meetings.html")]
pub(super) struct MeetingsPage {
    pub(super) chrome: Chrome,
    pub(super) heading: String,
    /// The exports' path without extension, from the page.
    pub(super) export_stem: String,
    pub(super) rows: Vec<MeetingRow>,
    pub(super) days: Vec<DayLink>,
    /// The meeting rule in words.
    pub(super) rule: String,
    /// The cause categories the filter offers.
    pub(super) causes: Vec<&'static str>,
    /// The offices the filter offers (none without a sites file).
    pub(super) offices: Vec<String>,
    /// Whether the participant sessions' exports sit beside the list's (a day's page).
    pub(super) sessions_export: bool,
}

impl MeetingsPage {
    /// A list of `meetings` (ordered by impact here) at `root`.
    pub(super) fn new(
        (chrome, heading, export_stem): (super::Chrome, String, String),
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
                ..meeting_row(a, root)
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
pub(super) fn day_path(day: chrono::NaiveDate) -> String {
    format!("days/{day}.html")
}

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
pub(super) struct OverviewPage {
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
    trend: super::markup::Markup,
    worst: Vec<WorstMeeting>,
    affected: Vec<Affected>,
}

/// Poor streams among streams with data, as text.
pub(super) fn share_text(poor: usize, judged: usize) -> String {
    if judged == 0 {
        "no data".into()
    } else {
        #[allow(clippy::cast_precision_loss)]
        let share = poor as f64 * 100.0 / judged as f64;
        format!("{share:.1} %")
    }
}

/// A table cell of a poor share: its sort key (-1 without data) and its text.
fn share_cell(poor: usize, judged: usize) -> (String, String) {
    #[allow(clippy::cast_precision_loss)]
    let sort = if judged == 0 {
        -1.0
    } else {
        poor as f64 / judged as f64
    };
    (format!("{sort:.4}"), share_text(poor, judged))
}

/// Per stream kind, in [`StreamKind::ALL`]'s order: the streams judged poor and the streams judged,
/// counted as sessions go by.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StreamShares([(usize, usize); 3]);

impl StreamShares {
    pub(super) fn add(&mut self, s: &SessionSummary) {
        for (kind, (poor, judged)) in StreamKind::ALL.iter().zip(&mut self.0) {
            for v in s.streams.iter().filter(|v| v.kind == *kind) {
                if v.verdict != Verdict::NoData {
                    *judged += 1;
                    *poor += usize::from(v.verdict == Verdict::Poor);
                }
            }
        }
    }

    /// Adds the counts of `other`.
    fn merge(&mut self, other: Self) {
        for ((poor, judged), (more_poor, more_judged)) in self.0.iter_mut().zip(other.0) {
            *poor += more_poor;
            *judged += more_judged;
        }
    }

    /// Each kind's label and poor share, as text.
    pub(super) fn texts(self) -> Vec<(&'static str, String)> {
        StreamKind::ALL
            .iter()
            .zip(self.0)
            .map(|(kind, (poor, judged))| (kind.label(), share_text(poor, judged)))
            .collect()
    }
}

/// A breakdown key, with `unknown` for what Webex did not say.
fn unknown(value: Option<&str>) -> String {
    value.unwrap_or("unknown").to_owned()
}

/// For each of `days` days from `from`, the poor share (percent) of the participant-minutes
/// `minutes(day start, day end)` gives: a trend chart's points (`None`: no data that day).
pub(super) fn daily_poor_share(
    from: DateTime<Utc>,
    days: i64,
    minutes: impl Fn(DateTime<Utc>, DateTime<Utc>) -> Minutes,
) -> Vec<(usize, Option<f64>)> {
    (0..days)
        .map(|d| {
            let day_start = from + chrono::Duration::days(d);
            let day = minutes(day_start, day_start + chrono::Duration::days(1));
            (
                usize::try_from(d).unwrap_or(0),
                day.poor_share().map(|s| s * 100.0),
            )
        })
        .collect()
}

/// What an overview counts of its period's sessions.
#[derive(Default)]
pub(super) struct SessionTally {
    sessions: usize,
    minutes: i64,
    shares: StreamShares,
    affected: HashMap<Text, Affected>,
}

impl SessionTally {
    fn add(
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

/// Every session of the history read back once from the cache's packed form (the costly part of
/// the pages built from all of it), counted for the overviews' periods, the breakdowns and each
/// person's list ([`count_sessions`]).
pub(super) struct Counted {
    /// Per period of [`PERIODS`]: its start and its sessions' tally ([`overviews`]).
    pub(super) periods: Vec<(DateTime<Utc>, SessionTally)>,
    /// The breakdowns page's tables ([`breakdowns`]).
    pub(super) breakdowns: Vec<(Breakdown, GroupPage)>,
    /// Each person's sessions, oldest first: the index of the meeting in `all` and of the session
    /// in the meeting, by the person's key's index in the string table ([`people`]).
    pub(super) people: HashMap<Text, Vec<(u32, u32)>>,
}

/// Counts every session of `all` (oldest first) once for [`Counted`]'s pages.
pub(super) fn count_sessions(
    all: &[&MeetingSummary],
    texts: &Texts,
    now: DateTime<Utc>,
    options: &SiteOptions,
) -> Counted {
    let mut periods: Vec<(DateTime<Utc>, SessionTally)> = PERIODS
        .iter()
        .map(|(days, _)| (now - chrono::Duration::days(*days), SessionTally::default()))
        .collect();
    let mut breakdowns = breakdown_tallies(options);
    let mut people: HashMap<Text, Vec<(u32, u32)>> = HashMap::default();
    let mut within = Vec::with_capacity(periods.len());
    for (m, a) in all.iter().enumerate() {
        // The periods the meeting is in (they end now; one that starts later is in none).
        within.clear();
        within.extend(
            periods
                .iter()
                .map(|(from, _)| a.start >= *from && a.start <= now),
        );
        for (i, s) in a.sessions.iter().enumerate() {
            for ((_, tally), _) in periods.iter_mut().zip(&within).filter(|(_, w)| **w) {
                tally.add(&s, now, texts, options);
            }
            for (breakdown, _) in &mut breakdowns {
                breakdown.add(&s);
            }
            people.entry(s.person).or_default().push((
                u32::try_from(m).unwrap_or(u32::MAX),
                u32::try_from(i).unwrap_or(u32::MAX),
            ));
        }
    }
    Counted {
        periods,
        breakdowns,
        people,
    }
}

/// The overview of each of [`PERIODS`], by path, from `all` (the periods' meetings are picked
/// again here) and their sessions as [`count_sessions`] counted them.
pub(super) fn overviews(
    all: &[&MeetingSummary],
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
            let page = overview(&period, tally, (*days, from), status, options);
            (*path, page)
        })
        .collect()
}

/// The overview of the `days` from `from` to now: `period`, its meetings, and `tally`, their
/// sessions counted.
fn overview(
    period: &[&MeetingSummary],
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
    let minutes_of = |meetings: &mut dyn Iterator<Item = &&MeetingSummary>| {
        let mut total = Minutes::default();
        for a in meetings {
            total.add(a.headline.minutes);
        }
        total
    };
    // Each meeting's minutes counted for its day once (not each day looking through the period).
    let mut by_day = vec![Minutes::default(); usize::try_from(days).unwrap_or(0)];
    for a in period {
        let day = usize::try_from((a.start - from).num_seconds() / 86_400).ok();
        if let Some(minutes) = day.and_then(|d| by_day.get_mut(d)) {
            minutes.add(a.headline.minutes);
        }
    }
    let points = daily_poor_share(from, days, |day_start, _| {
        usize::try_from((day_start - from).num_days())
            .ok()
            .and_then(|d| by_day.get(d))
            .copied()
            .unwrap_or_default()
    });
    let trend = charts::line_chart(
        &format!(
            "Participant-minutes judged poor, by day, last {days} days (days without meetings are gaps)"
        ),
        "%",
        usize::try_from(days).unwrap_or(1),
        &[("poor participant-minutes", &points)],
    );
    let all_minutes = minutes_of(&mut period.iter());
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
                title: a.title.clone(),
                host: a.host.clone(),
                headline: headline_view(&a.headline),
            })
            .collect(),
        affected,
    }
}

struct PersonSession {
    date: String,
    href: String,
    title: String,
    client: String,
    network: String,
    verdicts: Vec<super::meeting_page::StreamCell>,
    /// The session's minutes judged poor, of its minutes with data.
    poor_minutes: String,
    /// The meeting's verdict by the meeting rule, and how many it affected.
    meeting: VerdictView,
    meeting_label: String,
}

#[derive(Template)]
#[template(path = "person.html")]
pub(super) struct PersonPage {
    chrome: Chrome,
    name: String,
    email: String,
    finding: String,
    sessions: Vec<PersonSession>,
}

/// A person's sessions: the key of the meeting's inputs, the meeting, the session.
type PersonSessions<'a> = Vec<(
    &'a super::render_cache::ContentHash,
    &'a MeetingSummary,
    SessionSummary,
)>;

/// Every person's sessions, oldest first, by the person's key: the index of the meeting in `all`
/// and of the session in the meeting (as [`count_sessions`] counted them, sorted by the key).
pub(super) fn people<'a>(
    by_person: HashMap<Text, Vec<(u32, u32)>>,
    texts: &'a Texts,
) -> BTreeMap<&'a str, Vec<(u32, u32)>> {
    let mut sorted: BTreeMap<&'a str, Vec<(u32, u32)>> = BTreeMap::new();
    for (person, sessions) in by_person {
        // One index per string; were there two, their sessions are one person's, in order.
        let all = sorted.entry(texts.get(person)).or_default();
        let merged = !all.is_empty();
        all.extend(sessions);
        if merged {
            all.sort_unstable();
        }
    }
    sorted
}

pub(super) fn person_page(
    sessions: &PersonSessions<'_>,
    texts: &Texts,
    options: &SiteOptions,
) -> PersonPage {
    let first = &sessions[0].2;
    // The recurring problem: the most frequent network and deciding metric of poor streams.
    let mut problems: BTreeMap<(&str, &'static str), usize> = BTreeMap::new();
    let mut poor_sessions = 0;
    for (_, _, s) in sessions {
        let mut any = false;
        for v in s.streams.iter().filter(|v| v.verdict == Verdict::Poor) {
            any = true;
            let network = texts.opt(s.network_type).unwrap_or("unknown network");
            let metric = v.metric.map_or("several metrics", Metric::label);
            *problems.entry((network, metric)).or_default() += 1;
        }
        poor_sessions += usize::from(any);
    }
    let finding = match problems.iter().max_by_key(|(_, n)| **n) {
        None => format!("none: no poor stream in {} sessions.", sessions.len()),
        Some(((network, metric), _)) => format!(
            "{poor_sessions} of {} sessions had a poor stream, most often on {network} with {metric}.",
            sessions.len()
        ),
    };
    let name = texts.opt(first.name).unwrap_or("Participant");
    PersonPage {
        chrome: Chrome::new(name, "../", options),
        name: texts.get(first.name).to_owned(),
        email: if options.mask_personal {
            mask_email(texts.get(first.email))
        } else {
            texts.get(first.email).to_owned()
        },
        finding,
        sessions: sessions
            .iter()
            .rev()
            .map(|(_, a, s)| PersonSession {
                date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                href: format!("../{}", meeting_path(&a.instance_id)),
                title: a.title.clone(),
                client: texts.get(s.client_type).to_owned(),
                network: texts.get(s.network_type).to_owned(),
                verdicts: super::meeting_page::verdict_cells(|kind| {
                    s.stream(kind).map(|v| (v.verdict, v.metric))
                }),
                poor_minutes: format!("{} of {}", s.minutes.poor, s.minutes.with_data),
                meeting: verdict_view(a.headline.verdict),
                meeting_label: a.headline.label(),
            })
            .collect(),
    }
}

/// One row of a breakdown: a value of the key, its sessions, and their poor shares.
pub(super) struct BreakdownRow {
    pub(super) key: String,
    /// The page of the value, when it has one (an office).
    pub(super) href: String,
    pub(super) sessions: usize,
    /// Participant-minutes judged poor: for sorting, as text.
    pub(super) poor_minutes: (String, String),
    pub(super) shares: Vec<(String, String)>,
}

/// A breakdown of sessions by one key.
pub(super) struct BreakdownTable {
    pub(super) name: &'static str,
    pub(super) rows: Vec<BreakdownRow>,
}

/// How a breakdown groups sessions: by the strings (one or two) that `group` picks of a session,
/// as the table's indexes (no string is made per session), each group named by `label` once, when
/// the table is made. Groups whose names are the same (a missing client type and one Webex
/// reported as "unknown") are one row.
#[derive(Clone, Copy)]
pub(super) struct BreakdownKey {
    pub(super) group: fn(&SessionSummary) -> [Text; 2],
    pub(super) label: fn([Text; 2], &Texts) -> String,
}

/// Per-stream poor and judged counts, sessions and minutes of a breakdown's group.
#[derive(Default)]
struct Tally {
    sessions: usize,
    minutes: Minutes,
    streams: StreamShares,
}

impl Tally {
    fn merge(&mut self, other: &Self) {
        self.sessions += other.sessions;
        self.minutes.add(other.minutes);
        self.streams.merge(other.streams);
    }
}

/// Sessions grouped by a key as they go by (they are read back one at a time from the cache's
/// packed form, so none is held): each group with its poor participant-minutes and per-stream poor
/// shares.
pub(super) struct Breakdown {
    name: &'static str,
    key: BreakdownKey,
    groups: HashMap<[Text; 2], Tally>,
}

impl Breakdown {
    pub(super) fn new((name, key): (&'static str, BreakdownKey)) -> Self {
        Self {
            name,
            key,
            groups: HashMap::default(),
        }
    }

    pub(super) fn add(&mut self, s: &SessionSummary) {
        let tally = self.groups.entry((self.key.group)(s)).or_default();
        tally.sessions += 1;
        tally.minutes.add(s.minutes);
        tally.streams.add(s);
    }

    /// The table, its groups named from `texts`; `href` gives a group's page, if any ("" for
    /// none), from the page's folder.
    pub(super) fn table(self, texts: &Texts, href: &dyn Fn(&str) -> String) -> BreakdownTable {
        let mut named: BTreeMap<String, Tally> = BTreeMap::new();
        for (group, tally) in &self.groups {
            named
                .entry((self.key.label)(*group, texts))
                .or_default()
                .merge(tally);
        }
        BreakdownTable {
            name: self.name,
            rows: named
                .into_iter()
                .map(|(key, tally)| BreakdownRow {
                    href: href(&key),
                    key,
                    sessions: tally.sessions,
                    poor_minutes: share_cell(
                        tally.minutes.poor as usize,
                        tally.minutes.with_data as usize,
                    ),
                    shares: tally
                        .streams
                        .0
                        .iter()
                        .map(|(poor, judged)| share_cell(*poor, *judged))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The client type and version, as breakdowns name a client.
pub(super) fn client_label([client, version]: [Text; 2], t: &Texts) -> String {
    format!("{} {}", t.opt(client).unwrap_or("unknown"), t.get(version))
}

#[derive(Template)]
#[template(path = "breakdowns.html")]
pub(super) struct BreakdownsPage {
    chrome: Chrome,
    tables: Vec<BreakdownTable>,
}

/// A session's office, [`super::offices::REMOTE`] outside every range.
pub(super) fn office_name<'t>(s: &SessionSummary, t: &'t Texts) -> &'t str {
    t.opt(s.office).unwrap_or(super::offices::REMOTE)
}

/// [`office_name`], as a breakdown's key.
pub(super) fn office_of(s: &SessionSummary, t: &Texts) -> String {
    office_name(s, t).to_owned()
}

/// A breakdown's group's page, if any ("" for none), from the page's folder.
pub(super) type GroupPage = fn(&str) -> String;

/// The breakdowns page's tables, empty: by office when offices are configured, then by client,
/// system, network, region and transport.
fn breakdown_tallies(options: &SiteOptions) -> Vec<(Breakdown, GroupPage)> {
    /// A breakdown by one string of a session, "unknown" when Webex did not give it.
    macro_rules! by {
        ($field:ident) => {
            BreakdownKey {
                group: |s| [s.$field, Text::NONE],
                label: |[text, _], t| unknown(t.opt(text)),
            }
        };
    }
    let keys: [(&'static str, BreakdownKey); 6] = [
        ("client type", by!(client_type)),
        (
            "client version",
            BreakdownKey {
                group: |s| [s.client_type, s.client_version],
                label: client_label,
            },
        ),
        ("operating system", by!(os_type)),
        ("network type", by!(network_type)),
        ("server region", by!(server_region)),
        ("transport", by!(transport)),
    ];
    let no_page: GroupPage = |_| String::new();
    let offices = (!options.offices.is_empty()).then(|| {
        let page: GroupPage = super::offices::office_path;
        let key = BreakdownKey {
            group: |s| [s.office, Text::NONE],
            label: |[office, _], t| t.opt(office).unwrap_or(super::offices::REMOTE).to_owned(),
        };
        (Breakdown::new(("office", key)), page)
    });
    offices
        .into_iter()
        .chain(keys.map(|key| (Breakdown::new(key), no_page)))
        .collect()
}

/// The breakdowns page, from its tables as [`count_sessions`] counted them.
pub(super) fn breakdowns(
    tables: Vec<(Breakdown, GroupPage)>,
    texts: &Texts,
    options: &SiteOptions,
) -> BreakdownsPage {
    BreakdownsPage {
        chrome: Chrome::new("Breakdowns", "", options),
        tables: tables
            .into_iter()
            .map(|(breakdown, page)| breakdown.table(texts, &page))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::headline::Headline;

    fn meeting(sessions: Vec<SessionSummary>) -> MeetingSummary {
        MeetingSummary {
            instance_id: "a_I_1".into(),
            title: "Weekly".into(),
            host: "Ann".into(),
            start: DateTime::UNIX_EPOCH,
            end: None,
            sessions: sessions.into_iter().collect(),
            headline: Headline::default(),
        }
    }

    #[test]
    fn breakdown_groups_of_the_same_name_are_one_row() {
        let mut texts = Texts::default();
        let session = |texts: &mut Texts, client: &str, video: Verdict| {
            let mut s = SessionSummary {
                client_type: texts.intern(client),
                network_type: texts.intern("wifi"),
                ..SessionSummary::default()
            };
            s.streams[1].verdict = video;
            s
        };
        // Webex said nothing of the first client and "unknown" of the second: one group.
        let sessions = vec![
            session(&mut texts, "", Verdict::Poor),
            session(&mut texts, "unknown", Verdict::Good),
            session(&mut texts, "Webex Desktop", Verdict::Good),
        ];
        let summary = meeting(sessions);
        let options = SiteOptions::default();
        let counted = count_sessions(&[&summary], &texts, Utc::now(), &options);
        let page = breakdowns(counted.breakdowns, &texts, &options);
        let rows = |name: &str| -> Vec<(String, usize, String)> {
            let table = page.tables.iter().find(|t| t.name == name).unwrap();
            table
                .rows
                .iter()
                .map(|r| (r.key.clone(), r.sessions, r.shares[1].1.clone()))
                .collect()
        };
        assert_eq!(
            rows("client type"),
            [
                ("Webex Desktop".to_owned(), 1, "0.0 %".to_owned()),
                ("unknown".to_owned(), 2, "50.0 %".to_owned()),
            ]
        );
        assert_eq!(
            rows("client version"),
            [
                ("Webex Desktop ".to_owned(), 1, "0.0 %".to_owned()),
                ("unknown ".to_owned(), 2, "50.0 %".to_owned()),
            ]
        );
        assert_eq!(
            rows("network type"),
            [("wifi".to_owned(), 3, "33.3 %".to_owned())]
        );
        assert!(
            page.tables.iter().all(|t| t.name != "office"),
            "no offices configured"
        );
    }

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
        assert_eq!(people["p2-0@example.com"], [(0, 0)]);
        assert_eq!(people["p120-3@example.com"], [(3, 3)]);
        let pages = overviews(&all, counted.periods, now, &status, &options);
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
