//! The site's manifest (`manifest.json`): read from the site store (through a file of the work
//! folder for a render) and written, only if no other builder wrote it meanwhile.

use bytes::Bytes;

use super::{Manifest, PublishError, Published, SiteManifest};
use crate::storage::work_files::WorkFile;
use crate::storage::{ETag, Fetched, FetchedFile, ObjectStore, PutCondition, StoreError};

/// The manifest's key in the site store.
pub const MANIFEST_KEY: &str = "manifest.json";

/// The manifest a site store holds, with its version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishedManifest {
    /// Path to content hash (empty when there is none or it is unreadable, so that everything is
    /// published again).
    pub files: Manifest,
    /// Its ETag; `None` when there is no manifest yet.
    pub etag: Option<ETag>,
}

/// The manifest of what `store` holds, and its version.
///
/// # Errors
/// Store failures.
pub async fn read_manifest(store: &dyn ObjectStore) -> Result<PublishedManifest, StoreError> {
    read_manifest_via(store, None).await
}

/// [`read_manifest`], fetched to a file of `work_dir` when there is one and read from there: a
/// render does not hold the manifest's text (4.3 MB at 30 days of 1,000 meetings a day) beside
/// what it is read into.
///
/// # Errors
/// Store failures, or the file cannot be made.
pub async fn read_manifest_via(
    store: &dyn ObjectStore,
    work_dir: Option<&std::path::Path>,
) -> Result<PublishedManifest, StoreError> {
    let (parsed, etag) = match work_dir {
        None => match store.get(MANIFEST_KEY, None).await? {
            Fetched::Found(object) => (serde_json::from_slice(&object.bytes), object.etag),
            Fetched::NotFound | Fetched::NotModified => return Ok(PublishedManifest::default()),
        },
        Some(dir) => {
            let path = WorkFile::Manifest.unique(dir, "read", ".json");
            let fetched = store.get_to_file(MANIFEST_KEY, None, &path).await;
            let parsed = match fetched {
                Ok(FetchedFile::Found(etag)) => std::fs::File::open(&path)
                    .map(|file| (serde_json::from_reader(std::io::BufReader::new(file)), etag)),
                Ok(FetchedFile::NotFound | FetchedFile::NotModified) => {
                    return Ok(PublishedManifest::default());
                }
                Err(error) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(error);
                }
            };
            let _ = std::fs::remove_file(&path);
            parsed.map_err(|error| {
                StoreError::backend("get", MANIFEST_KEY, format!("reading it back: {error}"))
            })?
        }
    };
    Ok(PublishedManifest {
        files: parsed.unwrap_or_else(|error| {
            // Everything is uploaded again and the manifest written anew (at this version);
            // files the site held and no build has any more stay, since nothing says which
            // of the store's files were published.
            tracing::warn!(%error, key = MANIFEST_KEY, store = %store.describe(), "the site's manifest is unreadable: publishing every file again; files published before that the site no longer has are not removed");
            Manifest::new()
        }),
        etag: Some(etag),
    })
}

/// The entries of `files` as the manifest's JSON: written as the map they make, without making it,
/// into a buffer of its size (at 30 days of 1,000 meetings a day, a copy of the build's manifest
/// took 1.5 MB of a render's peak, and the buffer growing by doubling 8 MB for 4.3 MB of JSON).
pub(in crate::site) struct ManifestEntries<'a> {
    pub(in crate::site) files: SiteManifest<'a>,
}

impl ManifestEntries<'_> {
    /// The pretty JSON object `serde_json::to_vec_pretty` makes of the entries' map.
    ///
    /// # Errors
    /// The serializer failed (a store error for the manifest's key: nothing is written).
    pub(in crate::site) fn to_json(&self) -> Result<Vec<u8>, StoreError> {
        // Each entry is its path, its 64 hex digits, and 10 bytes of quotes, colon, comma and
        // indentation (the last has no comma; the braces are 4 bytes).
        let size = 2 + self.files.iter().map(|(p, _)| p.len() + 74).sum::<usize>();
        let mut bytes = Vec::with_capacity(size);
        serde_json::to_writer_pretty(&mut bytes, self)
            .map_err(|e| StoreError::backend("put", MANIFEST_KEY, e))?;
        Ok(bytes)
    }

    /// [`ManifestEntries::to_json`] into a new file at `path`.
    ///
    /// # Errors
    /// The file cannot be written (a store error for the manifest's key: nothing is written).
    fn to_file(&self, path: &std::path::Path) -> Result<(), StoreError> {
        use std::io::Write;
        let fail =
            |e: &dyn std::fmt::Display| StoreError::backend("put", MANIFEST_KEY, e.to_string());
        let file = crate::storage::private::create_file(path).map_err(|e| fail(&e))?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, self).map_err(|e| fail(&e))?;
        out.flush().map_err(|e| fail(&e))
    }
}

impl serde::Serialize for ManifestEntries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.files.iter())
    }
}

/// Writes `manifest` (its JSON: [`ManifestEntries::to_json`]) if the store's manifest is still at
/// `version` (none yet when `None`): written to a new file of `work_dir` and published from there
/// when there is one (a render: memory does not hold the JSON, 4.3 MB at 30 days of 1,000
/// meetings a day and the largest thing a render with nothing changed held), else from memory.
///
/// # Errors
/// Store failures, or [`PublishError::ManifestChanged`] (with `report`'s uploads).
pub(in crate::site) async fn write_manifest(
    store: &dyn ObjectStore,
    (manifest, work_dir): (&ManifestEntries<'_>, Option<&std::path::Path>),
    version: Option<&ETag>,
    report: Published,
) -> Result<Published, PublishError> {
    let condition = version.map_or(PutCondition::IfAbsent, |etag| {
        PutCondition::IfMatch(etag.clone())
    });
    let metadata = ("application/json", "no-cache");
    let written = match work_dir {
        Some(dir) => {
            let path = WorkFile::Manifest.unique(dir, "", ".json");
            let written = match manifest.to_file(&path) {
                Ok(()) => {
                    store
                        .publish_file(MANIFEST_KEY, &path, metadata, condition)
                        .await
                }
                Err(error) => Err(error),
            };
            let _ = std::fs::remove_file(&path);
            written
        }
        None => {
            let (content_type, cache_control) = metadata;
            let json = Bytes::from(manifest.to_json()?);
            store
                .publish(MANIFEST_KEY, json, content_type, cache_control, condition)
                .await
        }
    };
    match written {
        Ok(_) => Ok(report),
        Err(StoreError::PreconditionFailed { .. }) => Err(PublishError::ManifestChanged {
            uploaded: report.paths().map_err(|e| {
                StoreError::backend("put", MANIFEST_KEY, format!("the publish report: {e}"))
            })?,
        }),
        Err(other) => Err(other.into()),
    }
}
