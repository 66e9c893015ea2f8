//! The pages built from every meeting's summary: the overviews (7, 30 and 90 days), the meetings
//! list, a page per person, and the breakdowns. The overviews, breakdowns and people's lists are
//! counted in one pass over every cached session ([`count_sessions`]); each kind of page has its
//! module.

use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::SiteOptions;
use super::render_cache::{MeetingSummary, SessionSummary, SpillError, Text, Texts};
use crate::quality::headline::Minutes;
use crate::quality::{StreamKind, Verdict};

mod breakdowns;
mod meetings;
mod overview;
mod people;

pub(super) use breakdowns::{
    Breakdown, BreakdownKey, BreakdownTable, GroupPage, breakdowns, client_label, office_name,
    office_of,
};
pub(super) use meetings::{DayLink, MeetingsPage, by_impact, day_path};
pub(super) use overview::{PERIODS, SessionTally, overviews};
pub(super) use people::{people, person_page};

/// Poor streams among streams with data, as text.
pub(in crate::site) fn share_text(poor: usize, judged: usize) -> String {
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
pub(in crate::site) struct StreamShares([(usize, usize); 3]);

impl StreamShares {
    pub(in crate::site) fn add(&mut self, s: &SessionSummary) {
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
    pub(in crate::site) fn texts(self) -> Vec<(&'static str, String)> {
        StreamKind::ALL
            .iter()
            .zip(self.0)
            .map(|(kind, (poor, judged))| (kind.label(), share_text(poor, judged)))
            .collect()
    }
}

/// The day of a period starting at `from` that `start` falls on (whole days of 24 hours from
/// `from`), if not before it.
pub(in crate::site) fn day_of(from: DateTime<Utc>, start: DateTime<Utc>) -> Option<usize> {
    usize::try_from((start - from).num_seconds() / 86_400).ok()
}

/// A trend chart's points from each day's participant-minutes ([`day_of`]): the day and its poor
/// share in percent (`None`: no data that day).
pub(in crate::site) fn daily_poor_share(by_day: &[Minutes]) -> Vec<(usize, Option<f64>)> {
    by_day
        .iter()
        .enumerate()
        .map(|(day, minutes)| (day, minutes.poor_share().map(|s| s * 100.0)))
        .collect()
}

/// Every session of the history read back once from the cache's packed form (the costly part of
/// the pages built from all of it), counted for the overviews' periods, the breakdowns and each
/// person's list ([`count_sessions`]).
pub(in crate::site) struct Counted {
    /// Per period of [`PERIODS`]: its start and its sessions' tally ([`overviews`]).
    pub(in crate::site) periods: Vec<(DateTime<Utc>, SessionTally)>,
    /// The breakdowns page's tables ([`breakdowns`]).
    pub(in crate::site) breakdowns: Vec<(Breakdown, GroupPage)>,
    /// Each person's sessions, oldest first: the index of the meeting in `all` and of the session
    /// in the meeting, by the person's key's index in the string table ([`people`]).
    pub(in crate::site) people: HashMap<Text, Vec<(u32, u32)>>,
}

/// Counts every session of `all` (oldest first) once for [`Counted`]'s pages.
///
/// # Errors
/// The spill file failed.
pub(in crate::site) fn count_sessions(
    all: &[&MeetingSummary],
    texts: &Texts,
    now: DateTime<Utc>,
    options: &SiteOptions,
) -> Result<Counted, SpillError> {
    let mut periods: Vec<(DateTime<Utc>, SessionTally)> = PERIODS
        .iter()
        .map(|(days, _)| (now - chrono::Duration::days(*days), SessionTally::default()))
        .collect();
    let mut breakdowns = breakdowns::tallies(options);
    let mut people: HashMap<Text, Vec<(u32, u32)>> = HashMap::default();
    for (m, a) in all.iter().enumerate() {
        for (i, s) in a.sessions.iter()?.enumerate() {
            // The periods end now: a meeting that starts later is in none of them.
            for (from, tally) in &mut periods {
                if a.start >= *from && a.start <= now {
                    tally.add(&s, now, texts, options);
                }
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
    Ok(Counted {
        periods,
        breakdowns,
        people,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::headline::Headline;

    /// A meeting of `sessions`, at the epoch.
    pub(super) fn meeting(sessions: Vec<SessionSummary>) -> MeetingSummary {
        MeetingSummary {
            instance_id: "a_I_1".into(),
            title: Text::NONE,
            host: Text::NONE,
            start: DateTime::UNIX_EPOCH,
            end: None,
            sessions: sessions.into_iter().collect(),
            headline: Headline::default(),
        }
    }
}
