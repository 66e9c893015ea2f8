//! Assembling a build: meetings come in from the hot database and the archives (rendered, or kept
//! from the previous build when their inputs did not change); then the pages that depend on every
//! meeting are rendered from the meetings' summaries (`history_pages`, the meetings list's days in
//! `meetings_lists`).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

use super::build::{BuildError, Files, render_meeting_error, render_meeting_file};
use super::publish::Manifest;
use super::render_cache::{
    self, CachedFiles, CachedMeeting, ContentHash, HeldSummary, MeetingKey, MeetingSummary,
    RenderCache, SitePath, Spill, UnreadParts,
};
use super::{SiteOptions, StatusView};
use crate::db::{Database, DbError};
use crate::quality::{Thresholds, headline, meeting_report};

mod archives;
use archives::part_unchanged;
mod history;
mod history_pages;
mod manifest;
mod meetings_lists;
mod pending;
mod site_build;

pub(crate) use history_pages::PeoplePages;
pub use manifest::SiteManifest;
pub use pending::PendingMeetings;
pub use site_build::SiteBuild;

/// What the previous build left: its render cache and the manifest of what was published (the
/// build moves what it keeps out of both).
#[derive(Debug, Clone)]
pub struct Previous {
    /// The render cache, when one was read (without it nothing is kept, and the manifest still
    /// spares the upload of every file rendered as it is published).
    pub cache: Option<RenderCache>,
    /// What the site store holds.
    pub manifest: Manifest,
}

/// The previous build's cache, and what the site store holds but the meeting pages the build took
/// over ([`SiteBuilder::keep_cached`]).
struct Kept<'p> {
    cache: &'p mut RenderCache,
    published: &'p Manifest,
}

impl Kept<'_> {
    /// The entry for `path` in the map `pick` chooses, moved out of the previous cache, when it was
    /// rendered from `key` and its files are still published (then it can be kept as it is).
    fn take_unchanged(
        &mut self,
        pick: fn(&mut RenderCache) -> &mut BTreeMap<String, CachedFiles>,
        path: &str,
        key: &ContentHash,
    ) -> Option<CachedFiles> {
        let map = pick(self.cache);
        let cached = map.get_mut(path)?;
        if cached.key != *key || !cached.files.share_paths_if_listed(self.published) {
            return None;
        }
        map.remove(path)
    }

    /// A person's page from the previous cache, when it can be kept: rendered from `key`, or
    /// rendered already on `today` (a person's page is rendered at most once a UTC day: every
    /// meeting changes its participants' pages, most of a render's uploads), and still published.
    fn take_person(
        &mut self,
        path: &str,
        key: &ContentHash,
        today: NaiveDate,
    ) -> Option<CachedFiles> {
        let cached = self.cache.people.get_mut(path)?;
        if (cached.key != *key && cached.rendered != Some(today))
            || !cached.files.share_paths_if_listed(self.published)
        {
            return None;
        }
        self.cache.people.remove(path)
    }
}

/// A build in progress. Add the hot database first, then the archives newest first
/// ([`SiteBuilder::reuse_archive`] when the previous build rendered an archive: archives never
/// change, so their meetings are kept without reading them); a meeting already added is skipped.
#[derive(Debug)]
pub struct SiteBuilder<'a> {
    options: &'a SiteOptions,
    thresholds: &'a Thresholds,
    /// The previous build's cache, when it matches this build's templates, options and
    /// thresholds (what the build keeps is moved out of it).
    previous: Option<RenderCache>,
    build: SiteBuild,
    /// Meetings whose page could not be made (an error page was published): added, though not in
    /// the cache. Every other added meeting is in `build.cache.meetings` (no second set of ids).
    failed: HashSet<String>,
    /// Bytes of rendered files not taken yet.
    waiting: usize,
    /// Meetings rendered (or tried: an error page) while there is a previous cache: the stored part
    /// of an archive listing one of them is not the build's any more (it is written again,
    /// [`RenderCache::parts`]).
    rendered: HashSet<String>,
    /// Where the summaries and sessions of the meetings rendered go
    /// ([`SiteBuilder::spill_meetings_to`]).
    spill: Option<Arc<Spill>>,
    /// The previous cache's parts not read yet, each read when its archive is reached
    /// ([`SiteBuilder::read_parts_when_reached`]).
    unread: UnreadParts,
    /// Where the largest files are written as they are made, when anywhere
    /// ([`SiteBuilder::write_large_files_to`]).
    work_dir: Option<PathBuf>,
    /// How many meetings with an entry in the build's cache start on each UTC day (no archive
    /// of a day with others is settled: [`settles`], [`SiteBuilder::settle_read`]).
    days: BTreeMap<NaiveDate, usize>,
    /// The UTC days with more than one archive (a meeting renamed after its day was archived
    /// goes to a further part): their archives are not settled, so that a meeting in two of them
    /// is added once ([`SiteBuilder::archives_are`]).
    shared_days: std::collections::BTreeSet<NaiveDate>,
}

/// The render cache's meetings ([`RenderCache::meetings`]).
type CachedMeetings = BTreeMap<MeetingKey, Box<CachedMeeting>>;

/// A meeting's entry in the render cache, with its id (the map's own key).
type CacheEntry = (MeetingKey, Box<CachedMeeting>);

/// A meeting's entry and the published manifest's copy of its page's path.
type PublishedEntry = (CacheEntry, SitePath);

/// Whether a meeting was added to `build` already: cached, or `failed` (an error page).
fn added(build: &SiteBuild, failed: &HashSet<String>, instance_id: &str) -> bool {
    build.cache.meetings.contains_key(instance_id) || failed.contains(instance_id)
}

impl<'a> SiteBuilder<'a> {
    /// A build with `options` and `thresholds`, keeping what it can of `previous` (nothing when it
    /// was rendered with other templates, options or thresholds).
    #[must_use]
    pub fn new(
        options: &'a SiteOptions,
        thresholds: &'a Thresholds,
        previous: Option<Previous>,
    ) -> Self {
        let fingerprint = render_cache::fingerprint(options, thresholds);
        let mut build = SiteBuild::empty(RenderCache::new(fingerprint.clone()));
        build.insert(
            options.css_path.clone(),
            super::STYLE_CSS.as_bytes().to_vec(),
        );
        build.insert(options.js_path.clone(), super::APP_JS.as_bytes().to_vec());
        let (cache, published) =
            previous.map_or((None, Manifest::new()), |p| (p.cache, p.manifest));
        build.published = published;
        let mut previous = cache.filter(|cache| cache.matches(&fingerprint));
        // Kept summaries refer to the previous cache's strings: this build goes on with its table.
        if let Some(previous) = previous.as_mut() {
            build.cache.texts = std::mem::take(&mut previous.texts);
        }
        Self {
            options,
            thresholds,
            previous,
            build,
            failed: HashSet::new(),
            waiting: 0,
            rendered: HashSet::new(),
            spill: None,
            unread: UnreadParts::default(),
            work_dir: None,
            days: BTreeMap::new(),
            shared_days: std::collections::BTreeSet::new(),
        }
    }

    /// Writes the largest files of the pages built from the history to files of `work_dir` as
    /// they are made, to publish from there, rather than hold them: the last 7 days' page and
    /// exports, and each day's page and exports (they grow with the meetings of a day: 3-7 MB
    /// each at 1,000 meetings a day, the largest things a render with nothing or one meeting
    /// changed held). Without it they are held, as every other file.
    pub fn write_large_files_to(&mut self, work_dir: &Path) {
        self.work_dir = Some(work_dir.to_owned());
    }

    /// Reads each of `parts` (the previous cache's, fetched, [`RenderCache::parts`]) into the
    /// previous cache when the build reaches its archive ([`SiteBuilder::reuse_archive`],
    /// [`SiteBuilder::start_database`]), or pauses: by then the build has taken over the published
    /// entries of the archives before it, so the entries of every archive are not held beside the
    /// whole published manifest. Parts not read are let go with the build.
    pub fn read_parts_when_reached(&mut self, parts: UnreadParts) {
        self.unread = parts;
    }

    /// Reads into the previous cache its part of `archive` if it waits, or every part still
    /// waiting without one (a pause): [`UnreadParts::read_into`], with what this build reads them
    /// with (its spill file, what is left of the published manifest, the string table it took
    /// over).
    fn reach(&mut self, archive: Option<&str>) {
        let Some(previous) = self.previous.as_mut() else {
            return;
        };
        let reading = (
            self.spill.as_ref(),
            &self.build.published,
            Some(&self.build.cache.texts),
        );
        match archive {
            Some(archive) => self.unread.read_into(archive, previous, reading),
            None => self.unread.read_all_into(previous, reading),
        }
    }

    /// Moves the summary and sessions of each meeting this build renders to `spill` (those kept
    /// from the previous cache are where it was read to, [`RenderCache::read_file`]): memory then
    /// holds where they are and each meeting's start, key and page hash, not the summaries and
    /// sessions of the whole history.
    pub fn spill_meetings_to(&mut self, spill: Arc<Spill>) {
        self.spill = Some(spill);
    }

    /// Whether the meeting was added to this build already.
    fn seen(&self, instance_id: &str) -> bool {
        added(&self.build, &self.failed, instance_id)
    }

    /// The previous build's entry for a meeting, moved out of the previous cache, and the
    /// published manifest's copy of its page's path when the site store still holds the page as
    /// the previous build published it (the build's manifest shares it if the entry is kept).
    fn take_previous(&mut self, instance_id: &str) -> Option<(CacheEntry, Option<SitePath>)> {
        let previous = self.previous.as_mut()?;
        let (id, cached) = previous.meetings.remove_entry(instance_id)?;
        let published = cached.published_path(&id, &self.build.published);
        Some(((id, cached), published))
    }

    /// Keeps `cached`, the previous build's entry for the meeting `id`, in this build, its page
    /// published at `path` (the published manifest's path, which becomes the entry's key: one
    /// allocation for the meeting in the published manifest and the cache). The build's manifest
    /// lists the page through the entry ([`SiteBuild::manifest`]).
    fn keep_cached(&mut self, ((id, cached), path): PublishedEntry) {
        // Taken over from the published manifest: the build's lists the page through the entry.
        self.build.take_over(&path);
        let key = MeetingKey::from_path(path)
            .filter(|k| *k == id)
            .unwrap_or(id);
        self.build.kept += 1;
        self.build.meetings_reused += 1;
        *self
            .days
            .entry(cached.summary.start().date_naive())
            .or_default() += 1;
        self.build.cache.meetings.insert(key, cached);
    }

    /// Adds the meetings of `db` not added yet: each is kept from the previous build when its List
    /// Meetings fields and the pages of its latest complete call are unchanged and its files are
    /// still published, else analysed and rendered. `archive` names the archive object `db` is, so
    /// that the next build can keep its meetings without reading it.
    ///
    /// # Errors
    /// Database, template or export failures.
    pub fn add_database(&mut self, db: &Database, archive: Option<&str>) -> Result<(), BuildError> {
        let mut pending = self.start_database(archive);
        while !self.add_some(db, &mut pending, usize::MAX)? {}
        Ok(())
    }

    /// The meetings of a database (`archive`, or the hot one) to add with
    /// [`SiteBuilder::add_some`]: read from it a page at a time, and added a few at a time, so
    /// that the rendered files can be published and dropped in between (memory grows neither
    /// with the number of meetings rendered nor with the database's).
    /// The database is read by [`SiteBuilder::add_some`].
    pub fn start_database(&mut self, archive: Option<&str>) -> PendingMeetings {
        if archive.is_some() {
            self.reach(archive);
        }
        PendingMeetings::new(archive)
    }

    /// Adds meetings from `pending` (read from `db`) until files of about `budget` bytes are
    /// waiting in [`SiteBuilder::take_files`]. Returns true when every meeting was added.
    ///
    /// # Errors
    /// Database, template or export failures.
    pub fn add_some(
        &mut self,
        db: &Database,
        pending: &mut PendingMeetings,
        budget: usize,
    ) -> Result<bool, BuildError> {
        while self.waiting < budget {
            let Some((meeting, hashes)) = pending.next_meeting(db)? else {
                if let Some(archive) = pending.archive.take() {
                    let cache = &self.build.cache;
                    let holds = std::mem::take(&mut pending.holds)
                        .into_iter()
                        .map(|id| cache.shared_id(&id))
                        .collect();
                    self.build.cache.archives.insert(archive, holds);
                }
                return Ok(true);
            };
            let Some(start) = meeting.start else { continue };
            if hashes.is_empty() {
                // No completed call yet: nothing to show.
                continue;
            }
            pending.holds.push(MeetingKey::new(&meeting.instance_id));
            if self.seen(&meeting.instance_id) {
                continue;
            }
            let key = render_cache::meeting_key(&meeting, &hashes);
            // The previous entry leaves the previous cache either way: kept when its inputs are
            // unchanged and its files still published; else the meeting is rendered again and the
            // entry can serve no one (this build's, or none after an error page, replaces it in
            // the next cache), so it is not held till the end of the build.
            match self.take_previous(&meeting.instance_id) {
                Some((entry, Some(path))) if entry.1.key == key => {
                    self.keep_cached((entry, path));
                    continue;
                }
                _ if self.previous.is_some() => {
                    self.rendered.insert(meeting.instance_id.clone());
                }
                _ => {}
            }
            // Each meeting on its own: one whose stored body is damaged or whose page cannot be
            // made gets an error page, and the build goes on (other failures stop it).
            let rendered = (|| {
                let pages = db.latest_complete_pages(&meeting.instance_id)?;
                let report = meeting_report(
                    pages.iter().map(|p| p.body.as_ref()),
                    start,
                    self.thresholds,
                );
                drop(pages);
                let headline = headline::of_report(&report, &meeting.host_email, self.thresholds);
                let file =
                    render_meeting_file(&meeting, start, (&report, &headline), self.options)?;
                Ok::<_, BuildError>((file, report, headline))
            })();
            let ((path, bytes), report, headline) = match rendered {
                Ok(rendered) => rendered,
                Err(
                    error @ (BuildError::Render { .. } | BuildError::Db(DbError::BadBody { .. })),
                ) => {
                    tracing::warn!(meeting_id = %meeting.instance_id, %error, "meeting page could not be made; an error page is published instead");
                    let (path, bytes) =
                        render_meeting_error(&meeting, start, &error.to_string(), self.options)?;
                    self.waiting += bytes.len();
                    self.build.insert(path, bytes);
                    self.build.meetings_failed += 1;
                    // Not in the render cache: the next build tries it again.
                    self.failed.insert(meeting.instance_id);
                    continue;
                }
                Err(error) => return Err(error),
            };
            self.waiting += bytes.len();
            // The page's path is the cache entry's key, and its hash the entry's: the build's
            // manifest lists it through the entry ([`SiteBuild::manifest`]).
            let id = MeetingKey::new(&meeting.instance_id);
            debug_assert_eq!(**id.page(), *path);
            let page = ContentHash::of(&bytes);
            self.build.files.insert(path, bytes);
            let summary = MeetingSummary::new(
                &meeting,
                start,
                (&report, headline),
                (&mut self.build.cache.texts, &self.options.offices),
            );
            let mut summary = HeldSummary::here(summary);
            if let Some(spill) = &self.spill {
                summary.spill_to(spill)?;
            }
            self.build.meetings_rendered += 1;
            *self.days.entry(start.date_naive()).or_default() += 1;
            self.build
                .cache
                .meetings
                .insert(id, Box::new(CachedMeeting { key, summary, page }));
        }
        Ok(false)
    }

    /// The files rendered since the last call, to publish now: the build keeps their hashes only.
    pub fn take_files(&mut self) -> Files {
        self.waiting = 0;
        std::mem::take(&mut self.build.files)
    }

    /// The content hash of every file of the build so far (rendered or kept).
    #[must_use]
    pub fn manifest(&self) -> SiteManifest<'_> {
        self.build.manifest()
    }

    /// What the site store holds, but the meeting pages the build took over
    /// ([`SiteBuild::published`]).
    #[must_use]
    pub fn published(&self) -> &Manifest {
        &self.build.published
    }

    /// Takes over the published manifest's entries of the meeting pages at `paths`, once they
    /// are published (rendered by this build: its manifest lists each through the meeting's
    /// entry). A full rebuild over a published site then does not hold the published entry of
    /// every page it renders till its end.
    pub fn take_over_published<'p>(&mut self, paths: impl IntoIterator<Item = &'p str>) {
        let build = &mut self.build;
        for path in paths {
            let listed_by_entry = MeetingKey::id_of_page(path)
                .is_some_and(|id| build.cache.meetings.contains_key(id))
                && !build.hashes.contains_key(path);
            if listed_by_entry {
                build.take_over(path);
            }
        }
    }

    /// Ends the build before every meeting was added (its time is up) and returns what it did:
    /// no list-type page is rendered, and the cache holds what this build rendered or kept plus
    /// what the previous build left that this one did not reach (checked again next time, as
    /// always). The next build keeps what this one rendered and goes on from there; the
    /// published site stays whole meanwhile (its list pages, one build older).
    ///
    /// # Errors
    /// The spill file failed.
    pub fn pause(mut self) -> Result<SiteBuild, BuildError> {
        /// The entries of `left` that `into` does not have.
        fn add_missing<K: Ord, V>(into: &mut BTreeMap<K, V>, left: BTreeMap<K, V>) {
            for (key, value) in left {
                into.entry(key).or_insert(value);
            }
        }
        // The meeting pages are listed before the entries not reached join the cache.
        let build = &mut self.build;
        let kept: Vec<_> = build
            .manifest()
            .iter()
            .filter(|(path, _)| !build.hashes.contains_key(*path))
            .map(|(path, hash)| (SitePath::clone(path), *hash))
            .collect();
        build.hashes.extend(kept);
        build.pages_listed = true;
        // The parts not reached, read: their meetings join the cache as the others left.
        self.reach(None);
        if let Some(previous) = self.previous.take() {
            let (mut left, cache) = (previous, &mut self.build.cache);
            add_missing(&mut cache.meetings, left.meetings);
            // An archive not reached keeps its stored part, unless this build rendered one of
            // its meetings.
            for (archive, ids) in left.archives {
                if cache.archives.contains_key(&archive) {
                    continue;
                }
                if let Some(digest) = left.parts.remove(&archive)
                    && part_unchanged(&ids, &self.rendered)
                {
                    cache.parts.insert(archive.clone(), digest);
                }
                cache.archives.insert(archive, ids);
            }
            add_missing(&mut cache.people, left.people);
            add_missing(&mut cache.days, left.days);
        }
        Ok(self.build)
    }
}

/// Builds every file of the site from one database (no cache: everything is rendered).
///
/// # Errors
/// Database, template or export failures.
pub fn build_site(
    db: &Database,
    status: &StatusView,
    options: &SiteOptions,
    thresholds: &Thresholds,
) -> Result<Files, BuildError> {
    Ok(build_incremental(db, status, options, thresholds, None)?.files)
}

/// Builds the site from one database, rendering again only what changed since `previous`: a
/// meeting's page and exports when its List Meetings fields or the pages of its latest complete
/// call changed, a person's page when one of their meetings did. The list-type pages are rendered
/// each time. Everything is rendered when the templates, options or thresholds differ from the
/// cache's, and a cached file is only kept while the manifest still lists it with the same content.
///
/// # Errors
/// Database, template or export failures.
pub fn build_incremental(
    db: &Database,
    status: &StatusView,
    options: &SiteOptions,
    thresholds: &Thresholds,
    previous: Option<Previous>,
) -> Result<SiteBuild, BuildError> {
    let mut builder = SiteBuilder::new(options, thresholds, previous);
    builder.add_database(db, None)?;
    builder.finish(status)
}

#[cfg(test)]
mod tests;
