//! The pages built from every meeting's summary: the overviews (7, 30 and 90 days), the meetings
//! list, a page per person, and the breakdowns. The overviews, breakdowns and people's lists are
//! counted in one pass over every cached meeting and session, a meeting at a time
//! ([`SessionCounter`], [`OverviewTallies`]; the meetings need not all be in memory); each kind of
//! page has its module.

use chrono::{DateTime, Utc};
use foldhash::HashMap;

use super::SiteOptions;
use super::render_cache::{ContentHash, MeetingSummary, SessionSummary, Text, Texts};
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
pub(super) use meetings::{DayLink, LaterRows, MeetingsPage, day_path};
pub(super) use overview::{OverviewTallies, PERIODS, SessionTally};
pub(super) use people::{PersonCount, PersonSessions, SessionRefs, people, person_page};

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
/// person's list ([`SessionCounter`]).
pub(in crate::site) struct Counted {
    /// Per period of [`PERIODS`]: its start and its sessions' tally ([`OverviewTallies::pages`]).
    pub(in crate::site) periods: Vec<(DateTime<Utc>, SessionTally)>,
    /// The breakdowns page's tables ([`breakdowns`]).
    pub(in crate::site) breakdowns: Vec<(Breakdown, GroupPage)>,
    /// Each person's page key and, when held, their sessions, by the person's key's index in the
    /// string table ([`people`]).
    pub(in crate::site) people: HashMap<Text, PersonCount>,
}

/// Which people's sessions the counting holds, asked once a person, when their first session is
/// counted: those whose page may be rendered (every session of the history is in one such list
/// otherwise, about 3 bytes a session).
pub(in crate::site) type HoldSessions<'h> = Box<dyn FnMut(Text) -> bool + 'h>;

/// Counts every session of the history once for [`Counted`]'s pages, a meeting at a time, oldest
/// first ([`SessionCounter::add`]): the meetings need not all be in memory.
pub(in crate::site) struct SessionCounter<'o> {
    now: DateTime<Utc>,
    options: &'o SiteOptions,
    counted: Counted,
    hold: HoldSessions<'o>,
}

impl<'o> SessionCounter<'o> {
    /// A counter of the pages at `now`; a person's sessions are held when `hold` says so.
    pub(in crate::site) fn new(
        now: DateTime<Utc>,
        options: &'o SiteOptions,
        hold: HoldSessions<'o>,
    ) -> Self {
        Self {
            now,
            options,
            hold,
            counted: Counted {
                periods: PERIODS
                    .iter()
                    .map(|(days, _)| (now - chrono::Duration::days(*days), SessionTally::default()))
                    .collect(),
                breakdowns: breakdowns::tallies(options),
                people: HashMap::default(),
            },
        }
    }

    /// Counts the sessions of `a`, the `m`th meeting of the history, its inputs' key `key`.
    pub(in crate::site) fn add(
        &mut self,
        (m, key): (usize, &ContentHash),
        a: &MeetingSummary,
        texts: &Texts,
    ) {
        let Counted {
            periods,
            breakdowns,
            people,
        } = &mut self.counted;
        for (i, s) in a.sessions.iter().enumerate() {
            // The periods end now: a meeting that starts later is in none of them.
            for (from, tally) in periods.iter_mut() {
                if a.start >= *from && a.start <= self.now {
                    tally.add(&s, self.now, texts, self.options);
                }
            }
            for (breakdown, _) in breakdowns.iter_mut() {
                breakdown.add(&s);
            }
            let hold = &mut self.hold;
            people
                .entry(s.person)
                .or_insert_with(|| PersonCount::new(hold(s.person)))
                .add(
                    (
                        u32::try_from(m).unwrap_or(u32::MAX),
                        u32::try_from(i).unwrap_or(u32::MAX),
                    ),
                    key,
                );
        }
    }

    pub(in crate::site) fn finish(self) -> Counted {
        self.counted
    }
}

/// Counts every session of `all` (oldest first) once for [`Counted`]'s pages.
#[cfg(test)]
pub(in crate::site) fn count_sessions(
    all: &[&MeetingSummary],
    texts: &Texts,
    now: DateTime<Utc>,
    options: &SiteOptions,
) -> Counted {
    let mut counter = SessionCounter::new(now, options, Box::new(|_| true));
    let key = ContentHash::of(b"");
    for (m, a) in all.iter().enumerate() {
        counter.add((m, &key), a, texts);
    }
    counter.finish()
}

/// The order of a list's worst meetings (the meetings list's `by_impact`): the most poor
/// participant-minutes first, then fair ones, then the latest, then by id.
pub(in crate::site) type WorstKey = (
    std::cmp::Reverse<(u32, u32)>,
    std::cmp::Reverse<DateTime<Utc>>,
    std::sync::Arc<str>,
);

/// [`WorstKey`] of `a` with `impact`, its (poor, fair) participant-minutes in the list's sense.
pub(in crate::site) fn worst_key(impact: (u32, u32), a: &MeetingSummary) -> WorstKey {
    (
        std::cmp::Reverse(impact),
        std::cmp::Reverse(a.start),
        std::sync::Arc::clone(&a.instance_id),
    )
}

/// The first `limit` items by their keys (the smallest first; equal keys in the order they came),
/// kept as the items come: memory holds `limit` of them, not all. What a sort of every item and
/// a `take(limit)` would give.
pub(in crate::site) struct Smallest<K, T> {
    limit: usize,
    items: Vec<(K, T)>,
}

impl<K: Ord, T> Smallest<K, T> {
    pub(in crate::site) fn new(limit: usize) -> Self {
        Self {
            limit,
            items: Vec::with_capacity(limit + 1),
        }
    }

    /// Whether an item with `key` would be kept now (so that an item is made only when it is).
    pub(in crate::site) fn wants(&self, key: &K) -> bool {
        self.items.len() < self.limit || self.items.last().is_some_and(|(last, _)| key < last)
    }

    pub(in crate::site) fn push(&mut self, key: K, item: T) {
        if !self.wants(&key) {
            return;
        }
        let at = self.items.partition_point(|(k, _)| *k <= key);
        self.items.insert(at, (key, item));
        self.items.truncate(self.limit);
    }

    /// The items kept, in order.
    pub(in crate::site) fn into_items(self) -> impl Iterator<Item = T> {
        self.items.into_iter().map(|(_, item)| item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::headline::Headline;

    #[test]
    fn the_smallest_kept_as_they_come_are_what_a_stable_sort_and_take_give() {
        // Keys with many ties, in a scrambled order; each item is its place in that order.
        let keys: Vec<u32> = (0..200u32).map(|i| (i * 7919) % 23).collect();
        for limit in [0, 1, 3, 10, 250] {
            let mut smallest = Smallest::new(limit);
            for (at, key) in keys.iter().enumerate() {
                smallest.push(*key, at);
            }
            let mut sorted: Vec<(u32, usize)> = keys.iter().copied().zip(0..).collect();
            sorted.sort_by_key(|(key, _)| *key);
            let expected: Vec<usize> = sorted.into_iter().take(limit).map(|(_, at)| at).collect();
            assert_eq!(
                smallest.into_items().collect::<Vec<_>>(),
                expected,
                "{limit}"
            );
        }
    }

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
