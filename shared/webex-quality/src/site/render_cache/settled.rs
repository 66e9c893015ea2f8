//! Archives a build keeps as the previous build left them, without an entry a meeting: a settled
//! archive's meetings are held as their inputs' key, their page's hash and where their summary is
//! in the spill file (about 110 bytes a meeting, in one list), not as cache entries keyed by their
//! page's path in a map, listed again by their archive and by the history's order (about 290
//! bytes a meeting, 7 MB of a render's peak at 30 days of 1,000 meetings a day with nothing
//! changed). Their part of the render cache stays as the data store holds it (its digest is kept),
//! and the manifest lists their pages from here ([`Settled::pages`]).
//!
//! A build settles an archive when it keeps every meeting of it, the part it read is the stored
//! one, and no other meeting of the build starts on the archive's day
//! ([`crate::site::SiteBuilder::reuse_archive`]): a day is then one run of the history.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;

use super::{
    CachedMeeting, ContentHash, HeldSummary, MeetingKey, RenderCache, SitePath, SpillError,
};
use crate::site::build::meeting_path;

/// A meeting of a settled archive.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledMeeting {
    /// The key of the inputs its page was rendered from.
    pub key: ContentHash,
    /// Its page's content hash.
    pub page: ContentHash,
    /// Its summary (in the spill file: [`HeldSummary`]).
    pub summary: HeldSummary,
}

/// The settled archives of a build and their meetings (see the module's documentation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settled {
    /// Per archive object key: its UTC day and its meetings' place in `meetings`.
    archives: BTreeMap<String, (NaiveDate, Range<usize>)>,
    /// The meetings, each archive's in history order (start, then id).
    meetings: Vec<SettledMeeting>,
}

impl Settled {
    /// Whether `archive` is settled.
    #[must_use]
    pub fn holds(&self, archive: &str) -> bool {
        self.archives.contains_key(archive)
    }

    /// Whether an archive of `day` is settled.
    #[must_use]
    pub fn has_day(&self, day: NaiveDate) -> bool {
        self.archives.values().any(|(settled, _)| *settled == day)
    }

    /// Settles `archive`, whose meetings (`entries`, in id order, each starting on `day`) the
    /// build keeps.
    pub fn settle(
        &mut self,
        archive: &str,
        day: NaiveDate,
        entries: Vec<(MeetingKey, Box<CachedMeeting>)>,
    ) {
        let mut entries = entries;
        // History order: start, then id (the entries come in id order: a stable sort).
        entries.sort_by_key(|(_, entry)| entry.summary.start());
        let from = self.meetings.len();
        self.meetings
            .extend(entries.into_iter().map(|(_, entry)| SettledMeeting {
                key: entry.key,
                page: entry.page,
                summary: entry.summary,
            }));
        self.archives
            .insert(archive.to_owned(), (day, from..self.meetings.len()));
    }

    /// The meeting at `at` of the list.
    #[must_use]
    pub fn get(&self, at: usize) -> Option<&SettledMeeting> {
        self.meetings.get(at)
    }

    /// Each settled archive's meetings, as places in the list, oldest day first.
    #[must_use]
    pub fn by_day(&self) -> Vec<Range<usize>> {
        let mut days: Vec<&(NaiveDate, Range<usize>)> = self.archives.values().collect();
        days.sort_by_key(|(day, _)| *day);
        days.into_iter().map(|(_, range)| range.clone()).collect()
    }

    /// How many meetings are settled.
    #[must_use]
    pub fn len(&self) -> usize {
        self.archives.values().map(|(_, range)| range.len()).sum()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.archives.is_empty()
    }

    /// The settled meetings' pages and their content hashes, each path made from the id its
    /// summary holds (read back from the spill file).
    pub fn pages(&self) -> impl Iterator<Item = Result<(SitePath, ContentHash), SpillError>> + '_ {
        self.archives
            .values()
            .flat_map(|(_, range)| &self.meetings[range.clone()])
            .map(|meeting| {
                let summary = meeting.summary.get()?;
                Ok((
                    SitePath::from(meeting_path(&summary.instance_id)),
                    meeting.page,
                ))
            })
    }

    /// Every settled meeting's summary, to change in place (each to the same meeting).
    pub(super) fn summaries_mut(&mut self) -> impl Iterator<Item = &mut HeldSummary> {
        self.meetings.iter_mut().map(|meeting| &mut meeting.summary)
    }
}

impl RenderCache {
    /// Makes every settled archive an archive of the cache again: its meetings' entries in
    /// [`RenderCache::meetings`], its list in [`RenderCache::archives`] (its part is then written
    /// again unless its digest is kept). The settled meetings stay listed (the build's history
    /// points into the list), but the manifest lists their pages through the entries. Returns
    /// each settled meeting's key, in the list's order.
    ///
    /// # Errors
    /// The spill file failed.
    pub(super) fn unsettle(&mut self) -> Result<Vec<MeetingKey>, SpillError> {
        let ids = self
            .settled
            .meetings
            .iter()
            .map(|meeting| Ok(MeetingKey::new(&meeting.summary.get()?.instance_id)))
            .collect::<Result<Vec<_>, SpillError>>()?;
        for (archive, (_, range)) in std::mem::take(&mut self.settled.archives) {
            let listed = ids[range.clone()].to_vec();
            for (id, meeting) in listed.iter().zip(&self.settled.meetings[range]) {
                let entry = CachedMeeting {
                    key: meeting.key,
                    summary: meeting.summary.clone(),
                    page: meeting.page,
                };
                self.meetings.insert(id.clone(), Box::new(entry));
            }
            self.archives.insert(archive, listed);
        }
        Ok(ids)
    }
}
