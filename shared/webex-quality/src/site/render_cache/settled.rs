//! Archives a build keeps as the previous build left them, or has just read and rendered, without
//! an entry a meeting: a settled archive's meetings are fixed records in the render's spill file
//! (inputs' key, page hash, start, where the summary is: 92 bytes), one archive's after another,
//! not cache entries keyed by their page's path in a map, listed again by their archive and by
//! the history's order (about 290 bytes a meeting of memory, 7 MB of a render's peak at 30 days of
//! 1,000 meetings a day with nothing changed). Memory holds a few numbers an archive, and the
//! archive read last. Their part of the render cache stays as the data store holds it (its digest
//! is kept), or is written from the records when the cache is saved.
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
//! A build settles an archive when it keeps (or has rendered) every meeting of it, all on the
//! archive's UTC day, no other meeting of the build starts on that day, and no other archive is of
//! it ([`crate::site::SiteBuilder::reuse_archive`], [`crate::site::SiteBuilder::settle_read`]): a
//! day is then one run of the history.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use super::{
    CachedMeeting, ContentHash, HeldSummary, Manifest, MeetingKey, RenderCache, SitePath, Spill,
    SpillError,
};
use crate::site::sessions::Spilled;

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

/// A settled meeting's record in the spill file: its inputs' key and page hash (32 bytes each),
/// its start (seconds and nanoseconds since the epoch, 8 and 4), and where its summary is (8, 4)
/// with its record's length (4). Fixed, so that the `i`th of an archive is found without an index.
const RECORD: usize = 92;

/// The record of a settled meeting whose inputs' key is `key`, its page's hash `page`, its
/// summary `summary` (which must be in the spill file).
fn record_of(
    key: ContentHash,
    page: ContentHash,
    summary: &HeldSummary,
) -> Result<[u8; RECORD], SpillError> {
    let (start, at, record_len) = summary
        .place()
        .ok_or_else(|| std::io::Error::other("a settled meeting's summary is not spilled"))?;
    let mut record = [0; RECORD];
    record[..32].copy_from_slice(key.as_bytes());
    record[32..64].copy_from_slice(page.as_bytes());
    record[64..72].copy_from_slice(&start.timestamp().to_le_bytes());
    record[72..76].copy_from_slice(&start.timestamp_subsec_nanos().to_le_bytes());
    record[76..84].copy_from_slice(&at.at().to_le_bytes());
    record[84..88].copy_from_slice(&at.len().to_le_bytes());
    record[88..92].copy_from_slice(&record_len.to_le_bytes());
    Ok(record)
}

impl SettledMeeting {
    /// The meeting whose record is `record`, its summary in `spill`.
    fn read(record: &[u8], spill: &Arc<Spill>) -> Result<Self, SpillError> {
        let damaged = || std::io::Error::other("a settled meeting's record is damaged");
        let field = |from: usize, to: usize| record.get(from..to).ok_or_else(damaged);
        let u32_at = |from: usize| -> Result<u32, SpillError> {
            Ok(u32::from_le_bytes(
                field(from, from + 4)?.try_into().map_err(|_| damaged())?,
            ))
        };
        let u64_at = |from: usize| -> Result<u64, SpillError> {
            Ok(u64::from_le_bytes(
                field(from, from + 8)?.try_into().map_err(|_| damaged())?,
            ))
        };
        let hash = |from: usize| -> Result<ContentHash, SpillError> {
            let bytes: [u8; 32] = field(from, from + 32)?.try_into().map_err(|_| damaged())?;
            Ok(ContentHash::from_bytes(bytes))
        };
        let seconds = i64::from_le_bytes(field(64, 72)?.try_into().map_err(|_| damaged())?);
        let start = chrono::DateTime::from_timestamp(seconds, u32_at(72)?).ok_or_else(damaged)?;
        let at = Spilled::new(u64_at(76)?, u32_at(84)?);
        Ok(Self {
            key: hash(0)?,
            page: hash(32)?,
            summary: HeldSummary::spilled_at(spill, (start, at, u32_at(88)?)),
        })
    }
}

/// A settled archive's day in the history: its first meeting's start, and its meetings' indexes.
pub type SettledDay = (chrono::DateTime<chrono::Utc>, Range<usize>);

/// A run of settled meetings' records in the spill file, one archive's: the index of its first
/// meeting, where its first record is, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    first: usize,
    at: u64,
    len: usize,
}

/// The settled archives of a build and their meetings (see the module's documentation). The
/// meetings' records are in the render's spill file, an archive's one after another (`RECORD`):
/// memory holds a few numbers an archive, and the archive read last.
#[derive(Default)]
pub struct Settled {
    /// Per archive object key: its UTC day and its meetings' indexes.
    archives: BTreeMap<String, (NaiveDate, Range<usize>)>,
    /// Where each archive's records are, by their first meeting's index.
    blocks: Vec<Block>,
    /// Meetings settled (the next one's index).
    count: usize,
    /// The spill file the records are in.
    spill: Option<Arc<Spill>>,
    /// The manifest's entry of each archive's list of pages ([`settled_path`], [`settled_list`]).
    listed: Manifest,
    /// The archives whose part is not stored yet (settled once read and rendered: written when
    /// the cache is saved, [`RenderCache::write_settled_part_file`]).
    unwritten: std::collections::BTreeSet<String>,
    /// The block read last, whole: the pages go through an archive's meetings in order.
    last_read: Mutex<Option<(usize, Arc<Vec<u8>>)>>,
}

impl Clone for Settled {
    fn clone(&self) -> Self {
        Self {
            archives: self.archives.clone(),
            blocks: self.blocks.clone(),
            count: self.count,
            spill: self.spill.clone(),
            listed: self.listed.clone(),
            unwritten: self.unwritten.clone(),
            last_read: Mutex::new(None),
        }
    }
}

impl PartialEq for Settled {
    /// The same archives, lists and meetings (read back; unreadable ones are equal to nothing).
    fn eq(&self, other: &Self) -> bool {
        self.archives == other.archives
            && self.listed == other.listed
            && self.unwritten == other.unwritten
            && self.count == other.count
            && (0..self.count).all(|at| match (self.get(at), other.get(at)) {
                (Ok(one), Ok(two)) => one == two,
                _ => false,
            })
    }
}

impl std::fmt::Debug for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settled")
            .field("archives", &self.archives)
            .field("meetings", &self.count)
            .field("listed", &self.listed)
            .field("unwritten", &self.unwritten)
            .finish_non_exhaustive()
    }
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

    /// Settles `archive`, whose meetings (`entries`, their summaries in `spill`, in id order or
    /// history order, each starting on `day`) the build keeps, their records written to
    /// `spill`, and returns its list of pages ([`settled_list`], listed in the manifest at
    /// [`settled_path`]: the caller publishes it unless the site has it). On an error nothing is
    /// settled (the caller keeps the entries).
    ///
    /// # Errors
    /// The spill file failed, or a summary is not in it.
    pub fn settle<'e>(
        &mut self,
        archive: &str,
        day: NaiveDate,
        (entries, spill): (
            impl IntoIterator<Item = (&'e MeetingKey, &'e CachedMeeting)>,
            &Arc<Spill>,
        ),
    ) -> Result<Vec<u8>, SpillError> {
        let mut entries: Vec<(&MeetingKey, &CachedMeeting)> = entries.into_iter().collect();
        let list = settled_list(entries.iter().map(|(id, entry)| (id.page(), &entry.page)));
        // History order: start, then id (a stable sort).
        entries.sort_by_key(|(_, entry)| entry.summary.start());
        let len = entries.len();
        let mut records = Vec::with_capacity(len * RECORD);
        for (_, entry) in entries {
            records.extend_from_slice(&record_of(entry.key, entry.page, &entry.summary)?);
        }
        let at = spill.append(&records)?.at();
        self.spill = Some(Arc::clone(spill));
        let first = self.count;
        self.blocks.push(Block { first, at, len });
        self.count += len;
        self.archives
            .insert(archive.to_owned(), (day, first..self.count));
        self.listed.insert(
            SitePath::from(settled_path(archive)),
            ContentHash::of(&list),
        );
        Ok(list)
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

    /// The settled meeting at `at`, read back from its record.
    ///
    /// # Errors
    /// The spill file failed, or its record is damaged.
    pub fn get(&self, at: usize) -> Result<Option<SettledMeeting>, SpillError> {
        let Some(index) = self
            .blocks
            .partition_point(|b| b.first <= at)
            .checked_sub(1)
        else {
            return Ok(None);
        };
        let block = self.blocks[index];
        let (Some(spill), true) = (&self.spill, at < block.first + block.len) else {
            return Ok(None);
        };
        let mut last = self
            .last_read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bytes = match &*last {
            Some((read, bytes)) if *read == index => Arc::clone(bytes),
            _ => {
                let len = u32::try_from(block.len * RECORD)
                    .map_err(|_| std::io::Error::other("a settled archive passed 4 GiB"))?;
                let bytes = Arc::new(spill.read(Spilled::new(block.at, len))?);
                *last = Some((index, Arc::clone(&bytes)));
                bytes
            }
        };
        drop(last);
        let from = (at - block.first) * RECORD;
        let record = bytes
            .get(from..from + RECORD)
            .ok_or_else(|| std::io::Error::other("a settled meeting's record is cut short"))?;
        SettledMeeting::read(record, spill).map(Some)
    }

    /// Each settled archive's meetings, as indexes, oldest day first.
    #[must_use]
    pub fn by_day(&self) -> Vec<Range<usize>> {
        let mut days: Vec<&(NaiveDate, Range<usize>)> = self.archives.values().collect();
        days.sort_by_key(|(day, _)| *day);
        days.into_iter().map(|(_, range)| range.clone()).collect()
    }

    /// The start of the first meeting of each settled archive's day, oldest first, and its
    /// meetings' indexes (what places a day in the history: [`Settled::by_day`]).
    ///
    /// # Errors
    /// The spill file failed.
    pub fn days_in_order(&self) -> Result<Vec<SettledDay>, SpillError> {
        let mut days = Vec::new();
        for range in self.by_day() {
            if let Some(first) = self.get(range.start)? {
                days.push((first.summary.start(), range));
            }
        }
        Ok(days)
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

    /// Writes every record again with `summary(at, meeting)` as its meeting's summary (the same
    /// meeting, renumbered: [`RenderCache::compact_texts`]).
    ///
    /// # Errors
    /// The spill file failed.
    fn rewrite(
        &mut self,
        mut summary: impl FnMut(usize) -> Option<HeldSummary>,
    ) -> Result<(), SpillError> {
        let Some(spill) = self.spill.clone() else {
            return Ok(());
        };
        for index in 0..self.blocks.len() {
            let block = self.blocks[index];
            let mut records = Vec::with_capacity(block.len * RECORD);
            for at in block.first..block.first + block.len {
                let Some(mut meeting) = self.get(at)? else {
                    continue;
                };
                if let Some(renumbered) = summary(at) {
                    meeting.summary = renumbered;
                }
                meeting.summary.spill_to(&spill)?;
                records.extend_from_slice(&record_of(meeting.key, meeting.page, &meeting.summary)?);
            }
            self.blocks[index].at = spill.append(&records)?.at();
            *self
                .last_read
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
        Ok(())
    }
}

impl RenderCache {
    /// Makes every settled archive an archive of the cache again: its meetings' entries in
    /// [`RenderCache::meetings`], its list in [`RenderCache::archives`] (its part is then written
    /// again unless its digest is kept). The settled meetings' records stay (the build's history
    /// points into them), but the manifest lists their pages through the entries, one by one.
    /// Returns each settled meeting's key, by index.
    ///
    /// # Errors
    /// The spill file failed.
    pub(super) fn unsettle(&mut self) -> Result<Vec<Option<MeetingKey>>, SpillError> {
        let mut ids = vec![None; self.settled.count];
        self.settled.listed.clear();
        self.settled.unwritten.clear();
        for (archive, (_, range)) in std::mem::take(&mut self.settled.archives) {
            let mut listed = Vec::with_capacity(range.len());
            for at in range {
                let Some(meeting) = self.settled.get(at)? else {
                    continue;
                };
                let id = MeetingKey::new(&meeting.summary.get()?.instance_id);
                let entry = CachedMeeting {
                    key: meeting.key,
                    summary: meeting.summary,
                    page: meeting.page,
                };
                self.meetings.insert(id.clone(), Box::new(entry));
                listed.push(id.clone());
                ids[at] = Some(id);
            }
            self.archives.insert(archive, listed);
        }
        Ok(ids)
    }

    /// Points each settled meeting's record (`ids`, by index: [`RenderCache::unsettle`]) at its
    /// entry's summary, after the entries' summaries were renumbered.
    ///
    /// # Errors
    /// The spill file failed.
    pub(super) fn repoint_settled(&mut self, ids: &[Option<MeetingKey>]) -> Result<(), SpillError> {
        let meetings = &self.meetings;
        self.settled.rewrite(|at| {
            let id = ids.get(at)?.as_ref()?;
            Some(meetings.get(id.id())?.summary.clone())
        })
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
        for at in range {
            let meeting = self.settled.get(at).map_err(super::records::failed)?;
            let Some(meeting) = meeting else { continue };
            let summary = meeting.summary.get().map_err(super::records::failed)?;
            let id = MeetingKey::new(&summary.instance_id);
            drop(summary);
            ids.push(id.clone());
            let entry = CachedMeeting {
                key: meeting.key,
                summary: meeting.summary,
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
