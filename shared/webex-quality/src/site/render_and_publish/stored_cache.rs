//! The render cache in the data store, for a render: read before the build (the hot object; the
//! archives' parts it lists fetched a few at a time into the work folder, each read by the build
//! when it reaches its archive), and saved after a publish (the parts the build changed, then the
//! hot object, each only when it differs from what the store holds).

use std::path::PathBuf;
use std::sync::Arc;

use super::RefreshError;
use crate::site::file_hashes::Manifest;
use crate::site::render_cache::{
    CacheDigest, CacheError, LEGACY_SITE_CACHE_KEY, RenderCache, SITE_CACHE_KEY, Spill,
    UnreadParts, part_key,
};
use crate::storage::work_files::WorkFile;
use crate::storage::{FetchedFile, ObjectStore, PutCondition, SharedStore, StoreError};

/// What the data store holds of the render cache, for [`save_cache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoredCache {
    /// Nothing readable: the build's cache is written.
    Nothing,
    /// The cache's earlier form ([`LEGACY_SITE_CACHE_KEY`]): the build's cache is written, then
    /// the earlier form deleted.
    Legacy,
    /// A cache of the current form with this digest: the build's cache is written only if it
    /// differs (a render that changed nothing leaves it as it is).
    Current(CacheDigest),
}

/// The render cache of the build that published the site, if it is readable, the parts it lists,
/// fetched, for the build to read as it reaches their archives, and what the store holds of it (the
/// cache's earlier form, [`LEGACY_SITE_CACHE_KEY`], is an earlier version's: not read, and deleted
/// by [`save_cache`]). A meeting of the hot object whose page `published` lists is keyed by the
/// manifest's path ([`RenderCache::share_keys_with`]; a part's, as it is read).
pub(super) async fn previous_cache(
    data: &dyn ObjectStore,
    work_dir: &std::path::Path,
    (spill, published): (&Arc<Spill>, &Manifest),
) -> Result<(Option<(RenderCache, UnreadParts)>, StoredCache), RefreshError> {
    let read = |path: &std::path::Path| RenderCache::read_file(path, Some(spill));
    if let Some(found) = read_cache(data, work_dir, SITE_CACHE_KEY, read).await? {
        return Ok(match found {
            Some((mut cache, digest)) => {
                cache.share_keys_with(published);
                let parts = fetch_parts(data, work_dir, &mut cache).await?;
                (Some((cache, parts)), StoredCache::Current(digest))
            }
            None => (None, StoredCache::Nothing),
        });
    }
    // Fetched rather than listed (the site-builder may read that key, not list the store's root),
    // and refused unread: it was written before titles and hosts went into the string table.
    let legacy = read_cache(data, work_dir, LEGACY_SITE_CACHE_KEY, |_| {
        Err::<RenderCache, _>(CacheError::earlier_version(
            "the render cache's earlier form (gzipped JSON)",
        ))
    })
    .await?;
    Ok(match legacy {
        Some(_) => (None, StoredCache::Legacy),
        None => (None, StoredCache::Nothing),
    })
}

/// How many parts of the render cache are fetched at once (each is one request to the data store;
/// a year of history is 365 of them).
const PARTS_AT_ONCE: usize = 8;

/// Fetches into the work folder the part of each archive the hot object lists
/// ([`RenderCache::parts`]), a few at a time, for the build to read when it reaches its archive. A
/// part missing is let go: its archive is read and rendered again, and the part written again.
async fn fetch_parts(
    data: &dyn ObjectStore,
    work_dir: &std::path::Path,
    cache: &mut RenderCache,
) -> Result<UnreadParts, RefreshError> {
    use futures_util::StreamExt;
    let archives: Vec<String> = cache.parts.keys().cloned().collect();
    let fetches = futures_util::stream::iter(archives)
        .map(|archive| async move {
            let key = part_key(&archive);
            let path = cache_file(work_dir)?;
            match data.get_to_file(&key, None, &path).await {
                Ok(FetchedFile::Found(_)) => Ok((archive, key, Some(path))),
                Ok(FetchedFile::NotFound | FetchedFile::NotModified) => Ok((archive, key, None)),
                Err(error) => {
                    let _ = std::fs::remove_file(&path);
                    Err(RefreshError::from(error))
                }
            }
        })
        .buffered(PARTS_AT_ONCE);
    futures_util::pin_mut!(fetches);
    // Every file fetched is copied to the file of the parts and removed, whatever happens to the
    // others.
    let mut parts = UnreadParts::create(work_dir)
        .map_err(|e| StoreError::backend("get", crate::site::render_cache::PARTS_PREFIX, e))?;
    let mut failed = None;
    while let Some(fetched) = fetches.next().await {
        let (archive, key, path) = match fetched {
            Ok(fetched) => fetched,
            Err(error) => {
                failed.get_or_insert(error);
                continue;
            }
        };
        let Some(path) = path else {
            tracing::warn!(
                key,
                "a part of the render cache is missing: its archive is rendered again"
            );
            cache.parts.remove(&archive);
            continue;
        };
        if failed.is_none()
            && let Err(error) = parts.add(archive, &path)
        {
            failed = Some(StoreError::backend("get", &key, error).into());
        }
        let _ = std::fs::remove_file(&path);
    }
    failed.map_or(Ok(parts), Err)
}

/// The cache at `key` read with `read`: `None` when there is no such object, `Some(None)` when it
/// is unreadable.
async fn read_cache<T>(
    data: &dyn ObjectStore,
    work_dir: &std::path::Path,
    key: &str,
    read: impl FnOnce(&std::path::Path) -> Result<T, CacheError>,
) -> Result<Option<Option<T>>, RefreshError> {
    // Through a file, so that memory holds the parsed cache, not its compressed bytes too.
    let path = cache_file(work_dir)?;
    let found = data.get_to_file(key, None, &path).await;
    let cache = match found {
        Ok(FetchedFile::Found(_)) => Some(match read(&path) {
            Ok(cache) => Some(cache),
            Err(error) if error.is_earlier_version() => {
                tracing::info!(
                    key,
                    "the render cache is an earlier version's: rendering everything again"
                );
                None
            }
            Err(error) => {
                tracing::warn!(%error, key, "the render cache is unreadable: rendering everything again");
                None
            }
        }),
        Ok(FetchedFile::NotFound | FetchedFile::NotModified) => None,
        Err(error) => {
            let _ = std::fs::remove_file(&path);
            return Err(error.into());
        }
    };
    let _ = std::fs::remove_file(&path);
    Ok(cache)
}

/// A new file name for the render cache in `work_dir`.
fn cache_file(work_dir: &std::path::Path) -> Result<PathBuf, RefreshError> {
    crate::storage::private::create_dir_all(work_dir)
        .map_err(|e| StoreError::backend("get", SITE_CACHE_KEY, e))?;
    Ok(WorkFile::RenderCache.unique(work_dir, "", ""))
}

/// Saves the cache: first the part of each archive whose part is not stored as the build has it
/// ([`RenderCache::parts_to_write`]), then the hot object that lists them, unless the store holds
/// it already (`stored`, read before the build: a render that changed nothing writes nothing);
/// after the first save over a cache of the earlier form, deletes that. Returns what it wrote.
pub(super) async fn save_cache(
    data: &SharedStore,
    cache: &mut RenderCache,
    work_dir: &std::path::Path,
    stored: StoredCache,
) -> Result<CacheWritten, RefreshError> {
    let parts = cache.parts_to_write();
    // The settled archives' parts are written as the others (their entries made for the write).
    let settled = cache.settled.parts_to_write();
    let written = CacheWritten {
        hot: true,
        parts: parts.len() + settled.len(),
    };
    let parts = parts.into_iter().map(|a| (a, false));
    for (archive, is_settled) in parts.chain(settled.into_iter().map(|a| (a, true))) {
        let key = part_key(&archive);
        let path = cache_file(work_dir)?;
        let part = if is_settled {
            cache.write_settled_part_file(&archive, &path)
        } else {
            cache.write_part_file(&archive, &path)
        };
        let result = match part {
            Ok(digest) => data
                .put_file(&key, &path, PutCondition::Always, "application/zstd")
                .await
                .map(|_| digest)
                .map_err(RefreshError::from),
            Err(error) => Err(StoreError::backend("put", &key, error).into()),
        };
        let _ = std::fs::remove_file(&path);
        cache.parts.insert(archive, result?);
    }
    if let StoredCache::Current(digest) = stored {
        match cache.digest() {
            Ok(now) if now == digest => {
                tracing::debug!("the render cache is unchanged: not written again");
                return Ok(CacheWritten {
                    hot: false,
                    ..written
                });
            }
            Ok(_) => {}
            Err(error) => return Err(StoreError::backend("put", SITE_CACHE_KEY, error).into()),
        }
    }
    // Through a file, uploaded from there: memory never holds the compressed cache.
    let path = cache_file(work_dir)?;
    let result = match cache.write_file(&path) {
        Ok(()) => data
            .put_file(
                SITE_CACHE_KEY,
                &path,
                PutCondition::Always,
                "application/zstd",
            )
            .await
            .map(|_| ())
            .map_err(RefreshError::from),
        Err(error) => Err(StoreError::backend("put", SITE_CACHE_KEY, error).into()),
    };
    let _ = std::fs::remove_file(&path);
    result?;
    if stored == StoredCache::Legacy {
        // It holds unmasked names and is no longer read: gone, or said so.
        if let Err(error) = data.delete(LEGACY_SITE_CACHE_KEY).await {
            tracing::warn!(%error, key = LEGACY_SITE_CACHE_KEY, "the render cache's earlier form could not be deleted: delete it by hand");
        }
    }
    Ok(written)
}

/// What [`save_cache`] wrote: the hot object or not, and how many parts.
#[derive(Debug, Clone, Copy)]
pub(super) struct CacheWritten {
    /// Whether the hot object was written.
    pub(super) hot: bool,
    /// Parts written.
    pub(super) parts: usize,
}
