//! The build's meetings in history order (start, then id), whichever partition they came from:
//! what the pages built from the whole history go through, and what their meeting indexes (a day's
//! range, a person's sessions) point into. The meetings with an entry in the cache are held as
//! their ids, in order; a settled archive's (`render_cache/settled.rs`) are a run of the settled
//! list, one run a day: nothing more a meeting.

use chrono::{DateTime, Utc};

use super::CachedMeetings;
use crate::site::render_cache::{ContentHash, HeldSummary, MeetingKey, RenderCache, Settled};

/// Where a history's meetings are: the cache's entries, and the settled archives' meetings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Meetings<'c> {
    pub(super) entries: &'c CachedMeetings,
    pub(super) settled: &'c Settled,
}

impl<'c> Meetings<'c> {
    /// The meetings of `cache`.
    pub(super) fn of(cache: &'c RenderCache) -> Self {
        Self {
            entries: &cache.meetings,
            settled: &cache.settled,
        }
    }
}

/// A meeting of the history: its inputs' key and its summary.
#[derive(Debug, Clone, Copy)]
pub(super) struct At<'c> {
    pub(super) key: &'c ContentHash,
    pub(super) summary: &'c HeldSummary,
}

/// A stretch of the history from one place: entries (`from` an index of the ids), or settled
/// meetings (`from` an index of the settled list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// The history's index of its first meeting.
    first: usize,
    settled: bool,
    from: usize,
    len: usize,
}

/// The history (see the module's documentation).
#[derive(Debug, Default)]
pub(super) struct History {
    /// The meetings with an entry, oldest first.
    ids: Vec<MeetingKey>,
    runs: Vec<Run>,
    len: usize,
}

/// The ids of `entries`, oldest start first, then by id.
fn in_order(entries: &CachedMeetings) -> Vec<MeetingKey> {
    let mut ids: Vec<MeetingKey> = entries.keys().cloned().collect();
    // Stable: meetings that start together stay in id order (the map's).
    ids.sort_by_cached_key(|id| entries.get(id.id()).map(|m| m.summary.start()));
    ids
}

impl History {
    /// The history of `meetings`: the entries in order, each settled archive's day (a run of
    /// meetings of one UTC day no entry starts on) where its first meeting's start puts it.
    pub(super) fn of(meetings: Meetings<'_>) -> Self {
        let ids = in_order(meetings.entries);
        let start = |id: &MeetingKey| meetings.entries.get(id.id()).map(|m| m.summary.start());
        let mut history = Self {
            ids: Vec::new(),
            runs: Vec::new(),
            len: 0,
        };
        let mut next = 0;
        for day in meetings.settled.by_day() {
            let Some(first) = meetings.settled.get(day.start) else {
                continue;
            };
            let first = Some(first.summary.start());
            let before = next + ids[next..].partition_point(|id| start(id) < first);
            history.push(false, next, before - next);
            history.push(true, day.start, day.len());
            next = before;
        }
        history.push(false, next, ids.len() - next);
        history.ids = ids;
        history
    }

    fn push(&mut self, settled: bool, from: usize, len: usize) {
        if len == 0 {
            return;
        }
        self.runs.push(Run {
            first: self.len,
            settled,
            from,
            len,
        });
        self.len += len;
    }

    /// How many meetings.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The meeting at `at` of the history, if it has one.
    pub(super) fn at<'c>(&self, at: usize, meetings: Meetings<'c>) -> Option<At<'c>> {
        let run = self.runs[..self.runs.partition_point(|run| run.first <= at)].last()?;
        let from = run.from + (at - run.first);
        if at - run.first >= run.len {
            return None;
        }
        if run.settled {
            let meeting = meetings.settled.get(from)?;
            Some(At {
                key: &meeting.key,
                summary: &meeting.summary,
            })
        } else {
            let entry = meetings.entries.get(self.ids.get(from)?.id())?;
            Some(At {
                key: &entry.key,
                summary: &entry.summary,
            })
        }
    }

    /// Every meeting of the history, oldest first, with its index.
    pub(super) fn iter<'h, 'c: 'h>(
        &'h self,
        meetings: Meetings<'c>,
    ) -> impl Iterator<Item = (usize, At<'c>)> + 'h {
        (0..self.len).filter_map(move |at| Some((at, self.at(at, meetings)?)))
    }

    /// The index of the first meeting that starts at `from` or later (the history is in start
    /// order).
    pub(super) fn first_from(&self, meetings: Meetings<'_>, from: DateTime<Utc>) -> usize {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let mid = low + (high - low) / 2;
            if self
                .at(mid, meetings)
                .is_none_or(|m| m.summary.start() < from)
            {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::render_cache::{CachedMeeting, MeetingSummary, PackedSessions, Text};

    fn entry(id: &str, start: &str) -> (MeetingKey, Box<CachedMeeting>) {
        let start = crate::db::test_support::t(start);
        (
            MeetingKey::new(id),
            Box::new(CachedMeeting {
                key: ContentHash::of(id.as_bytes()),
                summary: HeldSummary::here(MeetingSummary {
                    instance_id: id.into(),
                    title: Text::NONE,
                    host: Text::NONE,
                    start,
                    end: None,
                    sessions: PackedSessions::default(),
                    headline: crate::quality::headline::Headline::default(),
                }),
                page: ContentHash::of(b"page"),
            }),
        )
    }

    #[test]
    fn settled_days_take_their_place_among_the_entries_in_start_order() {
        let entries: CachedMeetings = [
            entry("z", "2026-01-01T09:00:00Z"),
            entry("a", "2026-01-03T09:00:00Z"),
            entry("b", "2026-01-03T09:00:00Z"),
            entry("c", "2026-01-06T09:00:00Z"),
        ]
        .into_iter()
        .collect();
        let mut settled = Settled::default();
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        // Settled newest first, as a build reaches archives; each day's meetings in id order.
        settled.settle(
            "archive/2026-01-04.sqlite.zst",
            day(4),
            vec![
                entry("s1", "2026-01-04T12:00:00Z"),
                entry("s2", "2026-01-04T08:00:00Z"),
            ],
        );
        settled.settle(
            "archive/2026-01-02.sqlite.zst",
            day(2),
            vec![entry("s3", "2026-01-02T10:00:00Z")],
        );
        let meetings = Meetings {
            entries: &entries,
            settled: &settled,
        };
        let history = History::of(meetings);
        let order: Vec<String> = history
            .iter(meetings)
            .map(|(_, m)| m.summary.get().unwrap().instance_id.to_string())
            .collect();
        assert_eq!(order, ["z", "s3", "a", "b", "s2", "s1", "c"]);
        assert_eq!(history.len(), 7);
        assert!(history.at(7, meetings).is_none());
        assert_eq!(
            history.at(4, meetings).unwrap().key,
            &ContentHash::of(b"s2")
        );
        let from = |t| history.first_from(meetings, crate::db::test_support::t(t));
        assert_eq!(from("2026-01-04T00:00:00Z"), 4);
        assert_eq!(from("2026-01-04T09:00:00Z"), 5);
        assert_eq!(from("2026-01-07T00:00:00Z"), 7);
        assert_eq!(from("2025-01-01T00:00:00Z"), 0);
        // Without settled archives: the entries alone.
        let none = Settled::default();
        let entries_only = Meetings {
            entries: &entries,
            settled: &none,
        };
        assert_eq!(History::of(entries_only).len(), 4);
    }
}
