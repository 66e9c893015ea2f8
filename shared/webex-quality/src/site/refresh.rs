//! The use case "render and publish": what the site-builder function and the CLI's `render` do.
//!
//! Reads the database, the last run's summary and the token state from the data store, renders what
//! changed since the last publish (the render cache, [`SITE_CACHE_KEY`], lives in the data store),
//! publishes to the site store, and keeps the cache for the next time.

use std::path::PathBuf;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::summary::{RenderCache, SITE_CACHE_KEY};
use super::{
    BuildError, Manifest, Previous, Published, SiteBuild, SiteOptions, StatusView,
    build_incremental, publish_build, read_manifest,
};
use crate::clock::SharedClock;
use crate::collect::{Replica, read_lease};
use crate::db::{Database, DbError};
use crate::quality::Thresholds;
use crate::storage::{Fetched, ObjectStore, PutCondition, SharedStore, StoreError};
use crate::tokens::{TokenError, TokenState, TokenStore};

/// A render-and-publish failure.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Rendering failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The token object could not be read.
    #[error(transparent)]
    Tokens(#[from] TokenError),
}

/// What a render-and-publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// Files in the site.
    pub files: usize,
    /// Meetings analysed and rendered.
    pub meetings_rendered: usize,
    /// Meetings whose files were still current.
    pub meetings_reused: usize,
    /// Person pages rendered.
    pub people_rendered: usize,
    /// Person pages still current.
    pub people_reused: usize,
    /// What the publish uploaded and removed.
    pub published: Published,
    /// Whether the pages carry the "authorization needed" banner.
    pub authorization_needed: bool,
}

/// The banner every page shows when a human must authorize again: the token object says so, or the
/// refresh token has expired.
#[must_use]
pub fn banner(tokens: Option<&TokenState>, now: DateTime<Utc>) -> Option<String> {
    let state = tokens?;
    if let Some(needed) = &state.authorization_needed {
        return Some(format!(
            "Since {}: {}",
            needed.since.format("%Y-%m-%d %H:%M UTC"),
            needed.reason
        ));
    }
    match state.days_left(now) {
        Some(days) if days < 0 => Some("The Webex refresh token has expired.".to_owned()),
        _ => None,
    }
}

/// What the site store holds and the render cache of the build that published it.
async fn previous(
    data: &dyn ObjectStore,
    site: &dyn ObjectStore,
) -> Result<(Manifest, Option<RenderCache>), RefreshError> {
    let manifest = read_manifest(site).await?;
    let cache = match data.get(SITE_CACHE_KEY, None).await? {
        Fetched::Found(object) => match RenderCache::from_bytes(&object.bytes) {
            Ok(cache) => Some(cache),
            Err(error) => {
                tracing::warn!(%error, "rendering everything again");
                None
            }
        },
        Fetched::NotFound | Fetched::NotModified => None,
    };
    Ok((manifest, cache))
}

/// Publishes `build`, then keeps its cache.
async fn finish(
    data: &dyn ObjectStore,
    site: &dyn ObjectStore,
    manifest: &Manifest,
    build: &SiteBuild,
    options: &SiteOptions,
) -> Result<Refreshed, RefreshError> {
    let published = publish_build(site, manifest, build).await?;
    let bytes = build
        .cache
        .to_bytes()
        .map_err(|e| StoreError::backend("put", SITE_CACHE_KEY, e))?;
    data.put(
        SITE_CACHE_KEY,
        Bytes::from(bytes),
        PutCondition::Always,
        "application/gzip",
    )
    .await?;
    Ok(Refreshed {
        files: build.hashes.len(),
        meetings_rendered: build.meetings_rendered,
        meetings_reused: build.meetings_reused,
        people_rendered: build.people_rendered,
        people_reused: build.people_reused,
        published,
        authorization_needed: options.authorization_needed.is_some(),
    })
}

/// Renders what changed and publishes it. Reads what the site needs from the data store: the latest
/// database (copied under `work_dir`), the last run's summary, the token state (for the status page
/// and the banner), and the render cache, which is written back after a successful publish (a
/// missing or unreadable cache means a full render). `options.authorization_needed` and
/// `options.generated` are set here. The database is only used between awaits, so the future can
/// run on any thread.
///
/// # Errors
/// Store, database, token object or template failures. Nothing is half-published: the manifest is
/// written last, and the cache only after it.
pub async fn render_from_store(
    data: &SharedStore,
    site: &dyn ObjectStore,
    work_dir: PathBuf,
    options: SiteOptions,
    thresholds: &Thresholds,
    clock: SharedClock,
) -> Result<Refreshed, RefreshError> {
    let now = clock.now();
    let replica = Replica::new(data.clone(), work_dir);
    let copy = replica.checkout("render").await?;
    let result = async {
        let last_run = read_lease(data)
            .await?
            .and_then(|(lease, _)| lease.last_run);
        let tokens = TokenStore::new(data.clone(), clock)
            .load()
            .await?
            .map(|(state, _)| state);
        let (manifest, cache) = previous(data.as_ref(), site).await?;
        let options = SiteOptions {
            authorization_needed: banner(tokens.as_ref(), now),
            generated: now,
            ..options
        };
        let build = {
            let db = Database::open(&copy.path)?;
            let status = StatusView::from_sources(&db, last_run.as_ref(), tokens.as_ref(), now)?;
            build_incremental(
                &db,
                &status,
                &options,
                thresholds,
                cache.as_ref().map(|cache| Previous {
                    cache,
                    manifest: &manifest,
                }),
            )?
        };
        finish(data.as_ref(), site, &manifest, &build, &options).await
    }
    .await;
    Replica::discard(&copy);
    result
}
