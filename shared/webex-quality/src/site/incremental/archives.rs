//! What a build does with an archive as it reaches it: keeps its meetings as the previous build
//! left them without reading it ([`SiteBuilder::reuse_archive`]), settles it, kept or once read and
//! rendered (`render_cache/settled.rs`: its meetings as records in the spill file, listed in the
//! site's manifest as one file), or, before it is read again, lists the pages of a settled archive
//! from that file ([`SiteBuilder::expand_settled`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;

use super::{PublishedEntry, SiteBuild, SiteBuilder, added};
use crate::site::publish::Manifest;
use crate::site::render_cache::{self, ContentHash, MeetingKey, RenderCache, SitePath};

/// Whether the stored part of an archive holding `ids` is still what a build has of them: none of
/// them was `rendered` by the build (then its entry changed, or is gone: a meeting whose page
/// failed was rendered too).
pub(super) fn part_unchanged(ids: &[MeetingKey], rendered: &HashSet<String>) -> bool {
    !ids.iter().any(|id| rendered.contains(id.id()))
}

/// How many meetings with an entry start on each day, and the days with several archives
/// ([`SiteBuilder::archives_are`]).
type BuildDays<'b> = (
    &'b BTreeMap<NaiveDate, usize>,
    &'b std::collections::BTreeSet<NaiveDate>,
);

/// The UTC day of the archive whose meetings are `taken` (its list `ids`) when a build may settle
/// it (`render_cache/settled.rs`): its stored part is kept (`unchanged`), the build spills its
/// summaries (`spills`), it keeps every meeting the archive lists, all of them start on that day,
/// and no meeting the build holds an entry of starts on it (`days`), nor is another archive of
/// it settled or to come (`shared_days`): then the day is one run of the history
/// ([`history::History`]), and no meeting is in two archives the build goes through.
fn settles(
    taken: &[PublishedEntry],
    (ids, unchanged): (&[MeetingKey], bool),
    (spills, (days, shared_days), build): (bool, BuildDays<'_>, &SiteBuild),
) -> Option<NaiveDate> {
    let ((_, first), _) = taken.first()?;
    let day = first.summary.start().date_naive();
    let mut listed: Vec<&str> = ids.iter().map(|id| id.id()).collect();
    listed.sort_unstable();
    listed.dedup();
    let settles = unchanged
        && spills
        && taken.len() == listed.len()
        && taken
            .iter()
            .all(|((_, entry), _)| entry.summary.start().date_naive() == day)
        && days.get(&day).is_none_or(|n| *n == 0)
        && !shared_days.contains(&day)
        && !build.cache.settled.has_day(day);
    settles.then_some(day)
}

impl SiteBuilder<'_> {
    /// Tells the build the UTC day of each archive it will go through: a day with two or more
    /// (a further part, `history`) is not settled.
    pub fn archives_are(&mut self, days: impl IntoIterator<Item = NaiveDate>) {
        let mut seen = std::collections::BTreeSet::new();
        for day in days {
            if !seen.insert(day) {
                self.shared_days.insert(day);
            }
        }
    }

    /// Keeps every meeting of the archive object `key` as the previous build rendered it, when it
    /// did and its files are still published. Returns false (and keeps nothing) otherwise: then
    /// the archive must be read with [`SiteBuilder::add_database`].
    pub fn reuse_archive(&mut self, key: &str) -> bool {
        self.reach(Some(key));
        let Self {
            previous: Some(previous),
            build,
            failed,
            rendered,
            spill,
            days,
            shared_days,
            waiting,
            ..
        } = self
        else {
            return false;
        };
        let Some(ids) = previous.archives.remove(key) else {
            return false;
        };
        // The site may have the archive's pages as one list (the previous build settled it): then
        // they are published as its part's entries record them, when the list is theirs.
        let settled_entry = render_cache::settled_path(key);
        let whole = build
            .published
            .get(settled_entry.as_str())
            .is_some_and(|listed| {
                let pages: Option<Vec<(&SitePath, &ContentHash)>> = ids
                    .iter()
                    .map(|id| Some((id.page(), &previous.meetings.get(id.id())?.page)))
                    .collect();
                pages.is_some_and(|pages| {
                    *listed == ContentHash::of(&render_cache::settled_list(pages))
                })
            });
        // The meetings not added yet, each moved out of the previous cache and its page looked up
        // once in the published manifest (its path then shared with it). One not cached or not
        // published as cached: everything goes back, and the archive is read.
        let mut taken: Vec<PublishedEntry> = Vec::with_capacity(ids.len());
        let mut put_back = None;
        for id in &ids {
            if added(build, failed, id) {
                continue;
            }
            let Some((id, cached)) = previous.meetings.remove_entry(id.id()) else {
                if taken.iter().any(|((taken, _), _)| taken == id) {
                    continue; // listed twice, taken already
                }
                put_back = Some(None);
                break;
            };
            let published = if whole {
                Some(Arc::clone(id.page()))
            } else {
                cached.published_path(&id, &build.published)
            };
            let Some(path) = published else {
                put_back = Some(Some((id, cached)));
                break;
            };
            taken.push(((id, cached), path));
        }
        if let Some(unpublished) = put_back {
            previous
                .meetings
                .extend(taken.into_iter().map(|(entry, _)| entry).chain(unpublished));
            previous.archives.insert(key.to_owned(), ids);
            return false;
        }
        // Its stored part stays as it is, unless this build rendered one of its meetings.
        let mut unchanged = false;
        if let Some(digest) = previous.parts.remove(key)
            && part_unchanged(&ids, rendered)
        {
            build.cache.parts.insert(key.to_owned(), digest);
            unchanged = true;
        }
        let settling = (spill.is_some(), (&*days, &*shared_days), &*build);
        let settled = match (settles(&taken, (&ids, unchanged), settling), spill) {
            (Some(day), Some(spill)) => {
                // Each summary in the spill file (a part is read there; a cache read whole, not).
                let spilled = taken
                    .iter_mut()
                    .try_for_each(|((_, entry), _)| entry.summary.spill_to(spill));
                let entries = taken.iter().map(|((id, entry), _)| (id, &**entry));
                match spilled.and_then(|()| build.cache.settled.settle(key, day, (entries, spill)))
                {
                    Ok(list) => Some(list),
                    Err(error) => {
                        tracing::warn!(archive = key, %error, "the archive could not be settled: its meetings are kept as entries");
                        None
                    }
                }
            }
            _ => None,
        };
        if let Some(list) = settled {
            let pages = taken.len();
            for (_, path) in taken {
                build.take_over(&path);
                build.kept += 1;
                build.meetings_reused += 1;
            }
            if whole {
                // Published as its list: taken over, and its pages counted as taken over.
                build.take_over(&settled_entry);
                build.taken += pages;
                build.kept += 1;
            } else {
                *waiting += list.len();
                build.files.insert(settled_entry, list);
            }
            return true;
        }
        for entry in taken {
            self.keep_cached(entry);
        }
        // The list moves to this build's cache, each id as the build's entry holds it (the
        // published manifest's path: [`SiteBuilder::keep_cached`]), the copies read from the stored
        // cache let go.
        let cache = &self.build.cache;
        let ids = ids.iter().map(|id| cache.shared_id(id)).collect();
        self.build.cache.archives.insert(key.to_owned(), ids);
        true
    }

    /// Settles the archive `archive` that the build has just read (every meeting of it added, and
    /// its rendered files published: [`SiteBuilder::add_database`]) when every meeting it lists has
    /// an entry (none failed), they all start on one UTC day, and no other meeting of the build
    /// does: its meetings' entries leave the cache for the settled list, its list of pages waits
    /// to be published ([`SiteBuilder::take_files`]), and its part is written when the cache is
    /// saved (`render_cache/settled.rs`). A full rebuild then holds no entry of an archive it
    /// rendered. Returns whether it settled it.
    pub fn settle_read(&mut self, archive: &str) -> bool {
        let cache = &self.build.cache;
        if self.spill.is_none() || cache.settled.holds(archive) || cache.parts.contains_key(archive)
        {
            return false;
        }
        let Some(ids) = cache.archives.get(archive) else {
            return false;
        };
        let mut listed: Vec<&str> = ids.iter().map(|id| id.id()).collect();
        listed.sort_unstable();
        listed.dedup();
        let starts: Option<Vec<NaiveDate>> = listed
            .iter()
            .map(|id| Some(cache.meetings.get(*id)?.summary.start().date_naive()))
            .collect();
        let Some(day) = starts.as_ref().and_then(|starts| {
            let day = *starts.first()?;
            starts.iter().all(|d| *d == day).then_some(day)
        }) else {
            return false;
        };
        if self.days.get(&day) != Some(&listed.len())
            || cache.settled.has_day(day)
            || self.shared_days.contains(&day)
        {
            return false;
        }
        let listed: Vec<String> = listed.into_iter().map(str::to_owned).collect();
        let Some(spill) = self.spill.as_ref() else {
            return false;
        };
        let RenderCache {
            meetings, settled, ..
        } = &mut self.build.cache;
        let entries = listed
            .iter()
            .filter_map(|id| meetings.get_key_value(id.as_str()))
            .map(|(id, entry)| (id, &**entry));
        let list = match settled.settle(archive, day, (entries, spill)) {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!(archive, %error, "the archive could not be settled: its meetings are kept as entries");
                return false;
            }
        };
        let cache = &mut self.build.cache;
        cache.archives.remove(archive);
        for id in &listed {
            cache.meetings.remove(id.as_str());
        }
        self.days.remove(&day);
        tracing::debug!(
            archive,
            meetings = listed.len(),
            "read and rendered: settled"
        );
        cache.settled.to_write(archive);
        self.waiting += list.len();
        self.build
            .files
            .insert(render_cache::settled_path(archive), list);
        true
    }

    /// The content hash of the settled archive `archive`'s list of pages, when the site has one
    /// (`render_cache/settled.rs`).
    #[must_use]
    pub fn settled_entry(&self, archive: &str) -> Option<ContentHash> {
        self.build
            .published
            .get(render_cache::settled_path(archive).as_str())
            .copied()
    }

    /// Lists in what the build compares with the pages of the settled archive `archive`, which it
    /// must read again (it could not keep it): `list`, the list the site holds of them
    /// ([`render_cache::settled_list`]), when it is the one the published manifest lists. The
    /// pages the build renders the same are then not uploaded again, and those it no longer has
    /// are removed. Else (the list is gone or another) they are not known: the build uploads every
    /// page of the archive, and removes none it no longer has. The list itself stays listed (the
    /// publish removes it, unless the build settles the archive again).
    pub fn expand_settled(&mut self, archive: &str, list: Result<bytes::Bytes, String>) {
        let Some(listed) = self.settled_entry(archive) else {
            return;
        };
        let pages = list.and_then(|list| {
            if ContentHash::of(&list) != listed {
                return Err("it is not the list the manifest has".to_owned());
            }
            serde_json::from_slice::<Manifest>(&list).map_err(|error| error.to_string())
        });
        match pages {
            Ok(pages) => self.build.published.extend(pages),
            Err(error) => {
                tracing::warn!(archive, %error, "the pages of a settled archive are not known: those rendered are uploaded again, and none is removed");
            }
        }
    }
}
