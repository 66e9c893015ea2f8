//! Archives a build keeps as the previous build left them, without an entry a meeting: a settled
//! archive's meetings are held as their inputs' key, their page's hash and where their summary is
//! in the spill file (about 110 bytes a meeting, in one list), not as cache entries keyed by their
//! page's path in a map, listed again by their archive and by the history's order (about 290
//! bytes a meeting, 7 MB of a render's peak at 30 days of 1,000 meetings a day with nothing
//! changed). Their part of the render cache stays as the data store holds it (its digest is kept).
//!
//! The site's manifest lists a settled archive as one file, not a page a meeting:
//! `_settled/<archive key>.json` ([`settled_path`]), the list of its meetings' pages and their
//! content hashes ([`settled_list`]), written to the site store when the archive is first settled.
//! The next build that reads the same part keeps the archive when the list's hash is the one its
//! part's entries make, without looking each page up; a build that must read the archive again
//! first reads the list (`SiteBuilder::expand_settled`), so that the pages it renders the same are
//! not uploaded again and those it no longer has are removed. The published manifest then grows
//! with the days of history, not with its meetings (at 30 days of 1,000 meetings a day, reading
//! it was 5.5 MB of a render's peak).
//!
//! A build settles an archive when it keeps every meeting of it, the part it read is the stored
//! one, and no other meeting of the build starts on the archive's day
//! ([`crate::site::SiteBuilder::reuse_archive`]): a day is then one run of the history.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;

use super::{
    CachedMeeting, ContentHash, HeldSummary, Manifest, MeetingKey, RenderCache, SitePath,
    SpillError,
};

/// Where a settled archive's list of pages is in the site store ([`settled_path`]): not where a
/// page of the site is.
pub const SETTLED_PREFIX: &str = "_settled/";

/// The site store's key of the list of pages of the settled archive `archive`.
#[must_use]
pub fn settled_path(archive: &str) -> String {
    format!("{SETTLED_PREFIX}{archive}.json")
}

/// A settled archive's list of pages: a JSON object of each page's path and content hash, in path
/// order (as the manifest is, without its spaces).
#[must_use]
pub fn settled_list<'a>(
    pages: impl IntoIterator<Item = (&'a SitePath, &'a ContentHash)>,
) -> Vec<u8> {
    let pages: BTreeMap<&str, &ContentHash> = pages
        .into_iter()
        .map(|(path, hash)| (&**path, hash))
        .collect();
    // A map of strings to hashes serializes without fail.
    serde_json::to_vec(&pages).unwrap_or_default()
}

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
    /// The manifest's entry of each archive's list of pages ([`settled_path`], [`settled_list`]).
    listed: Manifest,
    /// The archives whose part is not stored yet (settled once read and rendered: written when
    /// the cache is saved, [`RenderCache::write_settled_part_file`]).
    unwritten: std::collections::BTreeSet<String>,
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
    /// build keeps, and returns its list of pages ([`settled_list`], listed in the manifest at
    /// [`settled_path`]: the caller publishes it unless the site has it).
    pub fn settle(
        &mut self,
        archive: &str,
        day: NaiveDate,
        entries: Vec<(MeetingKey, Box<CachedMeeting>)>,
    ) -> Vec<u8> {
        let mut entries = entries;
        let list = settled_list(entries.iter().map(|(id, entry)| (id.page(), &entry.page)));
        self.listed.insert(
            SitePath::from(settled_path(archive)),
            ContentHash::of(&list),
        );
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
        list
    }

    /// Marks the part of the settled archive `archive` as one to write when the cache is saved.
    pub fn to_write(&mut self, archive: &str) {
        self.unwritten.insert(archive.to_owned());
    }

    /// The settled archives whose part is to write ([`RenderCache::write_settled_part_file`]).
    #[must_use]
    pub fn parts_to_write(&self) -> Vec<String> {
        self.unwritten.iter().cloned().collect()
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

    /// How many meetings are settled (their pages are files of the site).
    #[must_use]
    pub fn len(&self) -> usize {
        self.archives.values().map(|(_, range)| range.len()).sum()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.archives.is_empty()
    }

    /// The manifest's entry of each settled archive's list of pages, in path order.
    #[must_use]
    pub fn listed(&self) -> &Manifest {
        &self.listed
    }

    /// Every settled meeting's summary, to change in place (each to the same meeting).
    pub(super) fn summaries_mut(&mut self) -> impl Iterator<Item = &mut HeldSummary> {
        self.meetings.iter_mut().map(|meeting| &mut meeting.summary)
    }
}

impl RenderCache {
    /// Makes every settled archive an archive of the cache again: its meetings' entries in
    /// [`RenderCache::meetings`], its list in [`RenderCache::archives`] (its part is then written
    /// again unless its digest is kept). The settled meetings stay in the list (the build's
    /// history points into it), but the manifest lists their pages through the entries, one by
    /// one. Returns each settled meeting's key, in the list's order.
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
        self.settled.listed.clear();
        self.settled.unwritten.clear();
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

impl RenderCache {
    /// Writes the part of the settled archive `archive` whose part is not stored yet
    /// ([`Settled::parts_to_write`]) to the file at `path`, as [`RenderCache::write_part_file`]
    /// does for an archive of the cache (its meetings' entries made again for it alone, from the
    /// settled list: memory holds one archive's), and returns its digest, to list in
    /// [`RenderCache::parts`]. It is then no longer to write.
    ///
    /// # Errors
    /// An archive that is not settled; the spill file failed; serialization or file failures.
    pub fn write_settled_part_file(
        &mut self,
        archive: &str,
        path: &std::path::Path,
    ) -> Result<super::CacheDigest, super::CacheError> {
        let Some((_, range)) = self.settled.archives.get(archive).cloned() else {
            return Err(super::records::failed(format!(
                "{archive} is not a settled archive"
            )));
        };
        let mut ids = Vec::with_capacity(range.len());
        let mut entries = Vec::with_capacity(range.len());
        for meeting in &self.settled.meetings[range] {
            let summary = meeting.summary.get().map_err(super::records::failed)?;
            let id = MeetingKey::new(&summary.instance_id);
            ids.push(id.clone());
            let entry = CachedMeeting {
                key: meeting.key,
                summary: meeting.summary.clone(),
                page: meeting.page,
            };
            entries.push((id, Box::new(entry)));
        }
        // Beside the cache's own entries for the time of the write (a settled meeting has none;
        // were there one, it is left as it is).
        let mut added = Vec::with_capacity(entries.len());
        for (id, entry) in entries {
            if let std::collections::btree_map::Entry::Vacant(vacant) = self.meetings.entry(id) {
                added.push(vacant.key().clone());
                vacant.insert(entry);
            }
        }
        self.archives.insert(archive.to_owned(), ids);
        let written = self.write_part_file(archive, path);
        self.archives.remove(archive);
        for id in added {
            self.meetings.remove(id.id());
        }
        if written.is_ok() {
            self.settled.unwritten.remove(archive);
        }
        written
    }
}
