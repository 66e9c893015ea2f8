//! The use case "render and publish": what the site-builder function and the CLI's `render` do.
//!
//! Reads the database and the status object (never the token object) from the data store, renders
//! what changed since the last publish (the render cache lives in the data store:
//! `stored_cache.rs`), publishes to the site store, and keeps the cache for the next time.
//!
//! It never makes the dashboard worse than it was: a database that fails `PRAGMA quick_check` is not
//! rendered, a lost database is not rendered over a published site, a build that would remove most
//! of the published files is refused, and the manifest is written only if no other builder published
//! meanwhile (else the whole render is done again from the newest database).

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::incremental::PeoplePages;
use super::person_key::PersonKey;
use super::publish::{ManifestEntries, PUBLISH_BATCH_BYTES, publish_written, write_manifest};
use super::render_cache::Spill;
use super::written::RenderedFiles;
use super::{
    BuildError, Manifest, Previous, PublishError, Published, SiteBuild, SiteBuilder, SiteManifest,
    SiteOptions, StatusView, publish_rest, publish_some, read_manifest_via,
};
use crate::clock::SharedClock;
use crate::db::{Database, DbError};
use crate::history::{self, Replica};
use crate::quality::Thresholds;
use crate::status::{Status, StatusStore};
use crate::storage::{ObjectStore, SharedStore, StoreError};
use stored_cache::{CacheWritten, StoredCache, previous_cache, save_cache};

mod stored_cache;

/// The data-store objects the site is rendered from: a change to either calls for a render (the
/// status object changes every cycle, so the status page never goes stale).
pub const RENDER_INPUTS: [&str; 2] = [crate::history::DATABASE_KEY, crate::status::STATUS_KEY];

/// A published site this large or larger is protected: a build that would remove more than half of
/// its files is refused.
const PROTECTED_SITE_FILES: usize = 10;

/// How many times a render is done again when another builder published meanwhile.
const PUBLISH_ATTEMPTS: usize = 3;

/// A render-and-publish failure.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed, or failed its check.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Rendering failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// There is no database object while a site is published: it is kept as it is.
    #[error(
        "the data store has no database while the site has {published} files: nothing was published (restore the database object, see the operations guide)"
    )]
    NoDatabase {
        /// Files in the published site.
        published: usize,
    },
    /// The build would remove most of the published site.
    #[error(
        "this build would remove {removing} of the {published} published files: refused, nothing was published"
    )]
    WouldWipe {
        /// Files the build would remove.
        removing: usize,
        /// Files published now.
        published: usize,
    },
    /// Other builders kept publishing meanwhile.
    #[error("other builders kept publishing meanwhile ({0} attempts); the newest publish stands")]
    Contention(usize),
}

/// What a render-and-publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Files in the site.
    pub files: usize,
    /// Meetings analysed and rendered.
    pub meetings_rendered: usize,
    /// Meetings whose files were still current.
    pub meetings_reused: usize,
    /// Meetings whose page could not be made: each has an error page (the log says why).
    pub meetings_failed: usize,
    /// Person pages rendered.
    pub people_rendered: usize,
    /// Person pages still current.
    pub people_reused: usize,
    /// Archive objects downloaded and read (an archive the previous build rendered is not).
    pub archives_read: usize,
    /// What the publish uploaded and removed.
    pub published: Published,
    /// Whether the pages carry the "authorization needed" banner.
    pub authorization_needed: bool,
    /// False when the build ran out of time ([`RenderBudget`]) and saved its progress instead of
    /// finishing: the next render goes on from there.
    pub complete: bool,
    /// Whether the render cache's hot object was written: not when the build left it as the store
    /// holds it (a render that changed nothing).
    pub cache_written: bool,
    /// Parts of the render cache written (one per archive: when the archive is first rendered, or
    /// rendered again).
    pub cache_parts_written: usize,
    /// Archive parts copied into the analytics copy after the render ([`super::analytics`]).
    pub analytics_parts: usize,
}

/// How far a render may go before it saves its progress and stops: a full rebuild of a long
/// history takes longer than one Lambda invocation may, so the site-builder stops in time and the
/// next invocation goes on where it stopped (it renders nothing twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderBudget {
    /// When to stop adding meetings (checked after each published batch, so a render always
    /// renders at least one batch); `None`: no limit.
    pub stop_at: Option<std::time::Instant>,
    /// Rendered files wait for publishing up to about this many bytes.
    pub batch_bytes: usize,
}

impl Default for RenderBudget {
    fn default() -> Self {
        Self {
            stop_at: None,
            batch_bytes: PUBLISH_BATCH_BYTES,
        }
    }
}

impl RenderBudget {
    fn spent(&self) -> bool {
        self.stop_at
            .is_some_and(|stop| std::time::Instant::now() >= stop)
    }
}

/// The banner every page shows when a human must authorize again: the status object says so, or the
/// refresh token has expired.
#[must_use]
pub fn banner(status: Option<&Status>, now: DateTime<Utc>) -> Option<String> {
    let authorization = &status?.authorization;
    if let Some(needed) = &authorization.needed {
        return Some(format!(
            "Since {}: {}",
            needed.since.format("%Y-%m-%d %H:%M UTC"),
            needed.reason
        ));
    }
    match authorization.days_left(now) {
        Some(days) if days < 0 => Some("The Webex refresh token has expired.".to_owned()),
        _ => None,
    }
}

/// Refuses a build that would remove most of a published site (what the build did not take over of
/// the published manifest, `doubtful` the files a lost race left).
fn check_removals(
    doubtful: &Manifest,
    build: &SiteBuild,
    people: &PeoplePages<'_>,
) -> Result<(), RefreshError> {
    let paths = people.paths();
    let coming: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
    let manifest = build.manifest();
    let removing = build
        .published
        .keys()
        .chain(doubtful.keys())
        .filter(|path| !manifest.contains(path) && !coming.contains(&***path))
        .count();
    let published = build.published.len() + build.taken + doubtful.len();
    if published >= PROTECTED_SITE_FILES && removing * 2 > published {
        return Err(RefreshError::WouldWipe {
            removing,
            published,
        });
    }
    Ok(())
}

/// Renders what changed and publishes it. Reads what the site needs from the data store: the latest
/// database (copied under `work_dir`), the status object (the last cycle, and the authorization's
/// state for the status page and the banner), and the render cache, which is written back after a
/// successful publish (a missing or unreadable cache means a full render).
/// `options.authorization_needed` and `options.generated` are set here. The database is only used
/// between awaits, so the future can run on any thread.
///
/// # Errors
/// Store, database or template failures; a database that fails its check; a lost database or a
/// build that would remove most of the site ([`RefreshError::NoDatabase`],
/// [`RefreshError::WouldWipe`]). Nothing is half-published: the manifest is written last, and the
/// cache only after it.
pub async fn render_from_store(
    data: &SharedStore,
    site: &dyn ObjectStore,
    work_dir: PathBuf,
    options: SiteOptions,
    thresholds: &Thresholds,
    clock: SharedClock,
) -> Result<Rendered, RefreshError> {
    render_from_store_within(
        data,
        site,
        (work_dir, RenderBudget::default()),
        options,
        thresholds,
        clock,
    )
    .await
}

/// [`render_from_store`] within `budget`: when its time is up, the build publishes what it
/// rendered, adds it to the manifest (removing nothing) and to the render cache, and returns with
/// [`Rendered::complete`] false; the next render goes on from there.
///
/// # Errors
/// As [`render_from_store`].
pub async fn render_from_store_within(
    data: &SharedStore,
    site: &dyn ObjectStore,
    (work_dir, budget): (PathBuf, RenderBudget),
    options: SiteOptions,
    thresholds: &Thresholds,
    clock: SharedClock,
) -> Result<Rendered, RefreshError> {
    crate::storage::work_files::remove_stale(&work_dir);
    let replica = Replica::new(data.clone(), work_dir.clone());
    // Files uploaded by an attempt whose manifest lost the race: their content is in doubt.
    let mut in_doubt = BTreeSet::new();
    for attempt in 1..=PUBLISH_ATTEMPTS {
        let now = clock.now();
        let copy = replica.checkout("render").await?;
        let result = render_once(
            (data, site, &work_dir),
            &copy,
            (&options, thresholds, budget),
            now,
            &in_doubt,
        )
        .await;
        Replica::discard(&copy);
        match result {
            Ok(Attempt::Done(mut refreshed)) => {
                if refreshed.complete {
                    refreshed.analytics_parts =
                        analytics_after(data, &work_dir, (&options, thresholds), budget).await;
                }
                return Ok(refreshed);
            }
            Ok(Attempt::Raced(uploaded)) => {
                tracing::info!(
                    attempt,
                    "another builder published meanwhile; rendering again from the newest database"
                );
                in_doubt.extend(uploaded);
            }
            Err(error) => return Err(error),
        }
    }
    Err(RefreshError::Contention(PUBLISH_ATTEMPTS))
}

/// The analytics copy of the days archived since the last render, within the render's budget. A
/// failure is logged and left for the next render: the dashboard is published already.
async fn analytics_after(
    data: &SharedStore,
    work_dir: &std::path::Path,
    (options, thresholds): (&SiteOptions, &Thresholds),
    budget: RenderBudget,
) -> usize {
    match super::analytics::write_analytics(
        data,
        data.as_ref(),
        work_dir,
        (options, thresholds),
        budget.stop_at,
    )
    .await
    {
        Ok(written) => {
            if written.left > 0 {
                tracing::info!(
                    left = written.left,
                    "the render's time is up: the next render goes on with the analytics copy"
                );
            }
            written.parts
        }
        Err(error) => {
            tracing::warn!(%error, "the analytics copy failed; the next render tries again");
            0
        }
    }
}

enum Attempt {
    Done(Rendered),
    Raced(Vec<String>),
}

/// Adds `db`'s meetings to `builder`, publishing the rendered files a batch at a time; returns
/// false when `budget` ran out first. (`db` is owned here: a connection may move between threads,
/// but not be shared by them, and the future holds it across the uploads.)
async fn add_streamed(
    builder: &mut SiteBuilder<'_>,
    db: Database,
    (archive, budget): (Option<&str>, RenderBudget),
    (site, report): (&dyn ObjectStore, &mut Published),
) -> Result<bool, RefreshError> {
    let mut pending = builder.start_database(archive);
    loop {
        let done = builder.add_some(&db, &mut pending, budget.batch_bytes)?;
        let files = builder.take_files();
        let paths: Vec<String> = files.keys().cloned().collect();
        publish_some(
            site,
            (builder.published(), builder.manifest()),
            files,
            report,
        )
        .await?;
        builder.take_over_published(paths.iter().map(String::as_str));
        if done {
            return Ok(true);
        }
        if budget.spent() {
            return Ok(false);
        }
    }
}

/// Publishes the files waiting in `builder` (a settled archive's list of pages).
///
/// # Errors
/// The site store failed.
async fn publish_waiting(
    builder: &mut SiteBuilder<'_>,
    site: &dyn ObjectStore,
    report: &mut Published,
) -> Result<(), StoreError> {
    let files = builder.take_files();
    publish_some(
        site,
        (builder.published(), builder.manifest()),
        files,
        report,
    )
    .await
}

/// Before the archive `archive` is read again: when the site has it as settled (its list of pages
/// in one file, `render_cache/settled.rs`), reads the list, to list its pages in what the build
/// compares with ([`SiteBuilder::expand_settled`]).
///
/// # Errors
/// The site store failed.
async fn expand_settled(
    site: &dyn ObjectStore,
    builder: &mut SiteBuilder<'_>,
    archive: &str,
) -> Result<(), StoreError> {
    if builder.settled_entry(archive).is_none() {
        return Ok(());
    }
    let key = super::render_cache::settled_path(archive);
    let list = match site.get(&key, None).await? {
        crate::storage::Fetched::Found(object) => Ok(object.bytes),
        _ => Err(format!("{key} is gone from the site")),
    };
    builder.expand_settled(archive, list);
    Ok(())
}

/// Saves a build stopped by its budget: the manifest lists what it published on top of what was
/// there (nothing is removed), then the cache holds its progress (`stored`: see [`save_cache`]).
async fn save_progress(
    (data, site, work_dir, stored): (
        &SharedStore,
        &dyn ObjectStore,
        &std::path::Path,
        StoredCache,
    ),
    builder: SiteBuilder<'_>,
    version: Option<&crate::storage::ETag>,
    streamed: Published,
    (archives_read, authorization_needed): (usize, bool),
) -> Result<Attempt, RefreshError> {
    let mut build = builder.pause()?;
    // What was published and not taken over, and the build's files (the pages it kept too).
    let mut manifest = std::mem::take(&mut build.published);
    manifest.extend(build.hashes.iter().map(|(p, h)| (p.clone(), *h)));
    let entries = ManifestEntries {
        files: SiteManifest::of(&manifest),
    };
    let written = write_manifest(site, (&entries, Some(work_dir)), version, streamed).await;
    let published = match written {
        Ok(published) => published,
        Err(PublishError::ManifestChanged { uploaded }) => return Ok(Attempt::Raced(uploaded)),
        Err(PublishError::Store(error)) => return Err(error.into()),
    };
    let cache_written = save_cache(data, &mut build.cache, work_dir, stored).await?;
    tracing::info!(
        meetings_rendered = build.meetings_rendered,
        "the render's time is up: its progress is saved, the next render goes on from there"
    );
    Ok(Attempt::Done(Rendered::of(
        &build,
        (manifest.len(), published),
        (archives_read, authorization_needed),
        (false, cache_written),
    )))
}

impl Rendered {
    fn of(
        build: &SiteBuild,
        (files, published): (usize, Published),
        (archives_read, authorization_needed): (usize, bool),
        (complete, cache_written): (bool, CacheWritten),
    ) -> Self {
        Self {
            files,
            meetings_rendered: build.meetings_rendered,
            meetings_reused: build.meetings_reused,
            meetings_failed: build.meetings_failed,
            people_rendered: build.people_rendered,
            people_reused: build.people_reused,
            archives_read,
            published,
            authorization_needed,
            complete,
            cache_written: cache_written.hot,
            cache_parts_written: cache_written.parts,
            analytics_parts: 0,
        }
    }
}

async fn render_once(
    (data, site, work_dir): (&SharedStore, &dyn ObjectStore, &std::path::Path),
    copy: &crate::history::WorkingCopy,
    (options, thresholds, budget): (&SiteOptions, &Thresholds, RenderBudget),
    now: DateTime<Utc>,
    in_doubt: &BTreeSet<String>,
) -> Result<Attempt, RefreshError> {
    let published = read_manifest_via(site, Some(work_dir)).await?;
    if copy.base.is_none() && !published.files.is_empty() {
        return Err(RefreshError::NoDatabase {
            published: published.files.len(),
        });
    }
    let status = StatusStore::new(data.clone())
        .load()
        .await?
        .map(|(status, _)| status);
    // The meetings' summaries and sessions wait in a file of the work folder, not in memory
    // (see `Spill`).
    let spill = Spill::create(work_dir).map_err(BuildError::from)?;
    let (cache, stored) =
        previous_cache(data.as_ref(), work_dir, (&spill, &published.files)).await?;
    let (cache, parts) = cache.map_or((None, None), |(cache, parts)| (Some(cache), Some(parts)));
    let options = SiteOptions {
        authorization_needed: banner(status.as_ref(), now),
        generated: now,
        person_key: PersonKey::load_or_create(data.as_ref()).await?,
        ..options.clone()
    };
    // What the build may take as published: not the files a lost race left in doubt (set apart,
    // not copied: the manifest lists every file of the site). The build takes it over.
    let version = published.etag;
    let mut comparable = published.files;
    let doubtful: Manifest = in_doubt
        .iter()
        .filter_map(|path| comparable.remove_entry(path.as_str()))
        .collect();
    // The hot database first, then the archives newest first, one at a time; an archive the
    // previous build rendered is not even read (archives never change).
    let archives = history::list_archives(data).await?;
    let mut builder = SiteBuilder::new(
        &options,
        thresholds,
        Some(Previous {
            cache,
            manifest: comparable,
        }),
    );
    builder.spill_meetings_to(spill);
    builder.archives_are(archives.iter().map(|archive| archive.day));
    builder.write_large_files_to(work_dir);
    if let Some(parts) = parts {
        builder.read_parts_when_reached(parts);
    }
    // Rendered files are published a batch at a time as the build goes on: memory holds one
    // batch, not the site.
    // The report logs the paths past its first thousand to a file: a full rebuild uploads every
    // file of the site.
    let mut streamed = Published::logging_to(work_dir).map_err(|e| {
        StoreError::backend(
            "put",
            "",
            format!("the publish report in the work folder: {e}"),
        )
    })?;
    let has_banner = options.authorization_needed.is_some();
    let (view, finished) = {
        let db = Database::open(&copy.path)?;
        db.quick_check()?;
        let mut view = StatusView::from_sources(&db, status.as_ref(), now)?;
        view.archived_days = history::days_archived(&archives);
        let finished =
            add_streamed(&mut builder, db, (None, budget), (site, &mut streamed)).await?;
        (view, finished)
    };
    let mut archives_read = 0;
    let mut stopped = !finished;
    for archive in archives {
        if stopped {
            break;
        }
        let key = archive.key();
        if builder.reuse_archive(&key) {
            // Its list of pages, when the build settled it for the first time: published now,
            // rather than every archive's held till the end (3 MB at 30 days of history).
            publish_waiting(&mut builder, site, &mut streamed).await?;
            continue;
        }
        expand_settled(site, &mut builder, &key).await?;
        archives_read += 1;
        let local = history::download(data, archive, work_dir).await?;
        let db = Database::open(&local.path)?;
        db.quick_check()?;
        let finished = add_streamed(
            &mut builder,
            db,
            (Some(&key), budget),
            (site, &mut streamed),
        )
        .await?;
        stopped = !finished;
        // Read and rendered: settled (its entries let go) when it can be, its list of pages
        // published now.
        if finished && builder.settle_read(&key) {
            publish_waiting(&mut builder, site, &mut streamed).await?;
        }
    }
    if stopped {
        return save_progress(
            (data, site, work_dir, stored),
            builder,
            version.as_ref(),
            streamed,
            (archives_read, has_banner),
        )
        .await;
    }
    let (mut build, mut people) = builder.finish_lists(&view)?;
    // Checked before the person pages are published: a refused build changes none of them.
    check_removals(&doubtful, &build, &people)?;
    // The list-type pages go first, rather than wait beside the last 7 days' exports (6 MB at 1,000
    // meetings a day) and the day and person pages, rendered next a batch at a time; the largest
    // files are written to the work folder as they are made and published from there.
    let mut files = RenderedFiles::from(std::mem::take(&mut build.files));
    loop {
        let published = (&build.published, build.manifest());
        publish_some(site, published, files.files, &mut streamed).await?;
        for written in files.written {
            publish_written(site, published, written, &mut streamed).await?;
        }
        files = build.render_people(&mut people, budget.batch_bytes)?;
        if files.is_empty() {
            break;
        }
    }
    let result = publish_rest(
        site,
        (&build.published, version.as_ref()),
        &build,
        (streamed, Some(work_dir)),
    )
    .await;
    let mut published = match result {
        Ok(published) => published,
        Err(PublishError::ManifestChanged { uploaded }) => return Ok(Attempt::Raced(uploaded)),
        Err(PublishError::Store(error)) => return Err(error.into()),
    };
    // Files a lost race left that this build does not have: no manifest lists them any more.
    let manifest = build.manifest();
    for path in doubtful.keys().filter(|p| !manifest.contains(p)) {
        site.delete(path).await?;
        published.deleted.push(path.to_string());
    }
    let files = manifest.len();
    let cache_written = save_cache(data, &mut build.cache, work_dir, stored).await?;
    Ok(Attempt::Done(Rendered::of(
        &build,
        (files, published),
        (archives_read, has_banner),
        (true, cache_written),
    )))
}
