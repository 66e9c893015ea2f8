//! Publishing the site through the object store: only what changed is uploaded, pages that no longer
//! exist are removed, and a manifest of content hashes (`manifest.json`) remembers what is there.
//! Assets carry their content hash in their names and are cached for a year; HTML and exports are
//! revalidated on every view.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{Files, SiteBuild};
use crate::db::sha256_hex;
use crate::storage::{ETag, Fetched, ObjectStore, PutCondition, StoreError};

/// The manifest's key in the site store.
pub const MANIFEST_KEY: &str = "manifest.json";

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Files uploaded (new or changed).
    pub uploaded: Vec<String>,
    /// Files removed.
    pub deleted: Vec<String>,
    /// Files left as they were.
    pub unchanged: usize,
    /// Files rendered and published (or found already published) while the build went on.
    pub streamed: std::collections::BTreeSet<String>,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("csv") => "text/csv; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn cache_control(path: &str) -> &'static str {
    if path.starts_with("assets/") {
        // Content-hashed names: a changed file gets a new name.
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// Path to content hash of every file of a published site.
pub type Manifest = BTreeMap<String, String>;

/// A publish failure.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another publish wrote the manifest since it was read: this one's manifest was not written.
    /// The files it uploaded are listed, since they may now differ from what the other manifest
    /// says: the next attempt must upload them again.
    #[error("{MANIFEST_KEY} changed during this publish (another builder published meanwhile)")]
    ManifestChanged {
        /// Files this publish uploaded.
        uploaded: Vec<String>,
    },
}

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
    Ok(match store.get(MANIFEST_KEY, None).await? {
        Fetched::Found(object) => PublishedManifest {
            files: serde_json::from_slice(&object.bytes).unwrap_or_default(),
            etag: Some(object.etag),
        },
        Fetched::NotFound | Fetched::NotModified => PublishedManifest::default(),
    })
}

/// Uploads the files of `site` that differ from the manifest in `store`, removes the ones that are no
/// longer in `site`, then writes the new manifest.
///
/// # Errors
/// Store failures (the manifest is written last, so a failed publish is redone in full next time),
/// or [`PublishError::ManifestChanged`].
pub async fn publish(store: &dyn ObjectStore, site: &Files) -> Result<Published, PublishError> {
    let previous = read_manifest(store).await?;
    let hashes: Manifest = site
        .iter()
        .map(|(path, bytes)| (path.clone(), sha256_hex(bytes)))
        .collect();
    publish_files(
        store,
        &previous.files,
        previous.etag.as_ref(),
        site,
        &hashes,
        Published::default(),
    )
    .await
}

/// Publishes an incremental build over `previous`, the manifest it was built against (read at
/// `version`): uploads the rendered files whose content changed, keeps the files the build kept,
/// removes the rest, and writes the manifest only if it is still at `version`.
///
/// # Errors
/// Store failures, or [`PublishError::ManifestChanged`].
pub async fn publish_build(
    store: &dyn ObjectStore,
    previous: &Manifest,
    version: Option<&ETag>,
    build: &SiteBuild,
) -> Result<Published, PublishError> {
    publish_rest(store, previous, version, build, Published::default()).await
}

/// Uploads the files of `files` whose content is not what `previous` lists (published while a
/// build goes on, so that rendered files need not be held to the end); `hashes` has their content
/// hashes (the build's, so nothing is hashed twice). What was uploaded and what was already there
/// is added to `report`. The build then finishes with [`publish_rest`].
///
/// # Errors
/// Store failures.
pub async fn publish_some(
    store: &dyn ObjectStore,
    (previous, hashes): (&Manifest, &Manifest),
    files: Files,
    report: &mut Published,
) -> Result<(), StoreError> {
    for (path, bytes) in files {
        let hash = match hashes.get(&path) {
            Some(hash) => hash.clone(),
            None => sha256_hex(&bytes),
        };
        if previous.get(&path) == Some(&hash) {
            report.unchanged += 1;
            report.streamed.insert(path);
            continue;
        }
        store
            .publish(
                &path,
                Bytes::from(bytes),
                content_type(&path),
                cache_control(&path),
                PutCondition::Always,
            )
            .await?;
        report.uploaded.push(path.clone());
        report.streamed.insert(path);
    }
    Ok(())
}

/// [`publish_build`] for a build whose rendered files were partly published already by
/// [`publish_some`] (`report`).
///
/// # Errors
/// Store failures, or [`PublishError::ManifestChanged`].
pub async fn publish_rest(
    store: &dyn ObjectStore,
    previous: &Manifest,
    version: Option<&ETag>,
    build: &SiteBuild,
    report: Published,
) -> Result<Published, PublishError> {
    publish_files(
        store,
        previous,
        version,
        &build.files,
        &build.hashes,
        report,
    )
    .await
}

/// `hashes` lists every file of the new site; `files` holds the content of those that were rendered
/// and not published yet; `report` says what was (its `streamed` paths).
async fn publish_files(
    store: &dyn ObjectStore,
    previous: &Manifest,
    version: Option<&ETag>,
    files: &Files,
    hashes: &Manifest,
    mut report: Published,
) -> Result<Published, PublishError> {
    for (path, hash) in hashes {
        if report.streamed.contains(path) {
            continue;
        }
        if previous.get(path) == Some(hash) {
            report.unchanged += 1;
            continue;
        }
        let Some(bytes) = files.get(path) else {
            // A kept file the store no longer lists: the build only keeps listed files, so this is
            // a manifest changed under us. Leave it out rather than publish a broken link.
            continue;
        };
        store
            .publish(
                path,
                Bytes::from(bytes.clone()),
                content_type(path),
                cache_control(path),
                PutCondition::Always,
            )
            .await?;
        report.uploaded.push(path.clone());
    }
    let manifest: Manifest = hashes
        .iter()
        .filter(|(path, hash)| {
            files.contains_key(*path)
                || report.streamed.contains(*path)
                || previous.get(*path) == Some(hash)
        })
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect();
    report = write_manifest(store, &manifest, version, report).await?;
    // Removed only once the manifest that no longer lists them is in place: a lost race removes
    // nothing another builder still lists.
    for path in previous.keys().filter(|p| !hashes.contains_key(*p)) {
        store.delete(path).await?;
        report.deleted.push(path.clone());
    }
    Ok(report)
}

/// Writes `manifest` if the store's manifest is still at `version` (none yet when `None`).
///
/// # Errors
/// Store failures, or [`PublishError::ManifestChanged`] (with `report`'s uploads).
pub(super) async fn write_manifest(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    version: Option<&ETag>,
    report: Published,
) -> Result<Published, PublishError> {
    let bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|e| StoreError::backend("put", MANIFEST_KEY, e))?;
    let condition = version.map_or(PutCondition::IfAbsent, |etag| {
        PutCondition::IfMatch(etag.clone())
    });
    match store
        .publish(
            MANIFEST_KEY,
            Bytes::from(bytes),
            "application/json",
            "no-cache",
            condition,
        )
        .await
    {
        Ok(_) => Ok(report),
        Err(StoreError::PreconditionFailed { .. }) => Err(PublishError::ManifestChanged {
            uploaded: report.uploaded,
        }),
        Err(other) => Err(other.into()),
    }
}
