//! The build's meetings in history order (start, then id), whichever partition they came from:
//! what the pages built from the whole history go through, and what their meeting indexes (a day's
//! range, a person's sessions) point into. The meetings with an entry in the cache are held as
//! their ids, in order; a settled archive's (`render_cache/settled.rs`) are a run of the settled
//! list, one run a day: nothing more a meeting.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::CachedMeetings;
use crate::site::render_cache::{
    ContentHash, HeldSummary, MeetingKey, MeetingSummary, RenderCache, Settled, SpillError,
};

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

/// A meeting of the history: its inputs' key and its summary (the entry's, or a settled
/// meeting's, read back from its record).
#[derive(Debug, Clone)]
pub(super) struct At<'c> {
    pub(super) key: ContentHash,
    pub(super) held: Cow<'c, HeldSummary>,
}

impl<'c> At<'c> {
    /// The meeting's start.
    pub(super) fn start(&self) -> DateTime<Utc> {
        self.held.start()
    }

    /// Its summary (read back when it is in the spill file).
    ///
    /// # Errors
    /// The spill file failed.
    pub(super) fn summary(&self) -> Result<Cow<'c, MeetingSummary>, SpillError> {
        match &self.held {
            Cow::Borrowed(held) => held.get(),
            Cow::Owned(held) => Ok(Cow::Owned(held.get()?.into_owned())),
        }
    }
}

/// A stretch of the history from one place: entries (`from` an index of the ids), or settled
/// meetings (`from` an index of the settled ones).
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
    ///
    /// # Errors
    /// The spill file failed.
    pub(super) fn of(meetings: Meetings<'_>) -> Result<Self, SpillError> {
        let ids = in_order(meetings.entries);
        let start = |id: &MeetingKey| meetings.entries.get(id.id()).map(|m| m.summary.start());
        let mut history = Self {
            ids: Vec::new(),
            runs: Vec::new(),
            len: 0,
        };
        let mut next = 0;
        for (first, day) in meetings.settled.days_in_order()? {
            let before = next + ids[next..].partition_point(|id| start(id) < Some(first));
            history.push(false, next, before - next);
            history.push(true, day.start, day.len());
            next = before;
        }
        history.push(false, next, ids.len() - next);
        history.ids = ids;
        Ok(history)
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
    ///
    /// # Errors
    /// The spill file failed (a settled meeting's record).
    pub(super) fn at<'c>(
        &self,
        at: usize,
        meetings: Meetings<'c>,
    ) -> Result<Option<At<'c>>, SpillError> {
        let Some(run) = self.runs[..self.runs.partition_point(|run| run.first <= at)].last() else {
            return Ok(None);
        };
        if at - run.first >= run.len {
            return Ok(None);
        }
        let from = run.from + (at - run.first);
        if run.settled {
            return Ok(meetings.settled.get(from)?.map(|meeting| At {
                key: meeting.key,
                held: Cow::Owned(meeting.summary),
            }));
        }
        let entry = self
            .ids
            .get(from)
            .and_then(|id| meetings.entries.get(id.id()));
        Ok(entry.map(|entry| At {
            key: entry.key,
            held: Cow::Borrowed(&entry.summary),
        }))
    }

    /// The meetings at `at` of the history, with their index, oldest first.
    pub(super) fn each<'h, 'c: 'h>(
        &'h self,
        at: impl IntoIterator<Item = usize> + 'h,
        meetings: Meetings<'c>,
    ) -> impl Iterator<Item = Result<(usize, At<'c>), SpillError>> + 'h {
        at.into_iter()
            .filter_map(move |at| self.at(at, meetings).map(|m| Some((at, m?))).transpose())
    }

    /// Every meeting of the history, oldest first, with its index.
    pub(super) fn iter<'h, 'c: 'h>(
        &'h self,
        meetings: Meetings<'c>,
    ) -> impl Iterator<Item = Result<(usize, At<'c>), SpillError>> + 'h {
        self.each(0..self.len, meetings)
    }

    /// The index of the first meeting that starts at `from` or later (the history is in start
    /// order).
    ///
    /// # Errors
    /// The spill file failed.
    pub(super) fn first_from(
        &self,
        meetings: Meetings<'_>,
        from: DateTime<Utc>,
    ) -> Result<usize, SpillError> {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.at(mid, meetings)?.is_none_or(|m| m.start() < from) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        Ok(low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::render_cache::{CachedMeeting, PackedSessions, Text};

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
        let dir = tempfile::tempdir().unwrap();
        let spill = crate::site::render_cache::Spill::create(dir.path()).unwrap();
        let mut settled = Settled::default();
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        // Settled newest first, as a build reaches archives; each day's meetings in id order,
        // their summaries in the spill file.
        let spilled = |list: Vec<(MeetingKey, Box<CachedMeeting>)>| {
            list.into_iter()
                .map(|(id, mut entry)| {
                    entry.summary.spill_to(&spill).unwrap();
                    (id, entry)
                })
                .collect::<Vec<_>>()
        };
        let four = spilled(vec![
            entry("s1", "2026-01-04T12:00:00Z"),
            entry("s2", "2026-01-04T08:00:00Z"),
        ]);
        let two = spilled(vec![entry("s3", "2026-01-02T10:00:00Z")]);
        for (archive, d, list) in [
            ("archive/2026-01-04.sqlite.zst", 4, &four),
            ("archive/2026-01-02.sqlite.zst", 2, &two),
        ] {
            let entries = list.iter().map(|(id, entry)| (id, &**entry));
            settled.settle(archive, day(d), (entries, &spill)).unwrap();
        }
        // A summary not in the spill file: nothing settled.
        let here = [entry("s4", "2026-01-05T10:00:00Z")];
        let archive = "archive/2026-01-05.sqlite.zst";
        let refs = here.iter().map(|(id, entry)| (id, &**entry));
        assert!(settled.settle(archive, day(5), (refs, &spill)).is_err());
        assert!(!settled.holds(archive) && settled.len() == 3);
        let meetings = Meetings {
            entries: &entries,
            settled: &settled,
        };
        let history = History::of(meetings).unwrap();
        let order: Vec<String> = history
            .iter(meetings)
            .map(|m| m.unwrap().1.summary().unwrap().instance_id.to_string())
            .collect();
        assert_eq!(order, ["z", "s3", "a", "b", "s2", "s1", "c"]);
        assert_eq!(history.len(), 7);
        assert!(history.at(7, meetings).unwrap().is_none());
        let s2 = history.at(4, meetings).unwrap().unwrap();
        assert_eq!(s2.key, ContentHash::of(b"s2"));
        assert_eq!(
            s2.start(),
            crate::db::test_support::t("2026-01-04T08:00:00Z")
        );
        let from = |t| {
            history
                .first_from(meetings, crate::db::test_support::t(t))
                .unwrap()
        };
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
        assert_eq!(History::of(entries_only).unwrap().len(), 4);
    }
}
