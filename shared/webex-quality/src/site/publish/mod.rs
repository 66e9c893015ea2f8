//! Publishing the site through the object store: only what changed is uploaded, pages that no longer
//! exist are removed, and a manifest of content hashes (`manifest.json`) remembers what is there.
//! Assets carry their content hash in their names and are cached for a year; HTML and exports are
//! revalidated on every view.
//!
//! Here: uploading what changed and removing what went. What a publish did (and the uploads a render
//! logs to a file) is `report.rs`; the manifest, read and written, `manifest.rs`.

use bytes::Bytes;

use super::file_hashes::{ContentHash, SitePath};
use super::written::WrittenFile;
use super::{Files, SiteBuild, SiteManifest};

use crate::storage::{ETag, ObjectStore, PutCondition, SiteFile, StoreError};

mod manifest;
mod report;

pub use manifest::{MANIFEST_KEY, PublishedManifest, read_manifest, read_manifest_via};
pub(super) use manifest::{ManifestEntries, write_manifest};
pub use report::{HELD_UPLOADS, Published};

/// The site's own eight kinds of file, with the charset the pages need. (`mime_guess` is in the CLI's
/// build through tower-http's `fs`, but it would be a new crate in the Lambda functions' builds, with
/// a table of thousands of types for these eight, and without the charsets.)
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

pub use super::file_hashes::Manifest;

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
        .map(|(path, bytes)| (path.as_str().into(), ContentHash::of(bytes)))
        .collect();
    publish_files(
        store,
        (&previous.files, previous.etag.as_ref()),
        (site, SiteManifest::of(&hashes)),
        (Published::default(), None),
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
    publish_rest(
        store,
        (previous, version),
        build,
        (Published::default(), None),
    )
    .await
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
    (previous, hashes): (&Manifest, SiteManifest<'_>),
    files: Files,
    report: &mut Published,
) -> Result<(), StoreError> {
    let mut changed = Vec::new();
    for (path, bytes) in files {
        let (shared, hash) = match hashes.get_key_value(path.as_str()) {
            Some((shared, hash)) => (SitePath::clone(shared), *hash),
            None => (SitePath::from(path.as_str()), ContentHash::of(&bytes)),
        };
        if previous.get(path.as_str()) == Some(&hash) {
            report.unchanged += 1;
            continue;
        }
        changed.push((shared, site_file(path, Bytes::from(bytes))));
    }
    publish_batch(store, changed, report).await?;
    Ok(())
}

/// Publishes `file`, rendered into the work folder ([`WrittenFile`]), from there unless `previous`
/// lists it with the same content (as [`publish_some`] does with files held); its file in the work
/// folder is removed either way.
///
/// # Errors
/// Store failures.
pub(crate) async fn publish_written(
    store: &dyn ObjectStore,
    (previous, hashes): (&Manifest, SiteManifest<'_>),
    file: WrittenFile,
    report: &mut Published,
) -> Result<(), StoreError> {
    if previous.get(file.path.as_str()) == Some(&file.hash) {
        report.unchanged += 1;
        return Ok(());
    }
    let shared = hashes.get_key_value(file.path.as_str()).map_or_else(
        || SitePath::from(file.path.as_str()),
        |(p, _)| SitePath::clone(p),
    );
    let metadata = (content_type(&file.path), cache_control(&file.path));
    store
        .publish_file(&file.path, file.local(), metadata, PutCondition::Always)
        .await?;
    report
        .record([shared])
        .map_err(|e| StoreError::backend("put", &file.path, format!("the publish report: {e}")))
}

/// Rendered files wait for publishing up to about this many bytes. Since a batch is one blocking task
/// (folder) or one set of uploads in flight (S3), not one per file, a smaller batch costs nothing
/// measurable; 8 MB held about 10 MB of a full rebuild's peak (30 days: 90 MB at 8 MB, 78-83 MB at
/// 2 MB).
pub(super) const PUBLISH_BATCH_BYTES: usize = 2 << 20;

/// Publishes `files` (each with its path as the manifest holds it); once they are all written, adds
/// their paths to `uploaded`.
async fn publish_batch(
    store: &dyn ObjectStore,
    files: Vec<(SitePath, SiteFile)>,
    report: &mut Published,
) -> Result<(), StoreError> {
    if files.is_empty() {
        return Ok(());
    }
    let (paths, files): (Vec<SitePath>, Vec<SiteFile>) = files.into_iter().unzip();
    store.publish_all(files).await?;
    report
        .record(paths)
        .map_err(|e| StoreError::backend("put", "", format!("the publish report: {e}")))
}

/// `bytes` to publish as `path`, with the metadata its kind of file is served with.
fn site_file(path: String, bytes: Bytes) -> SiteFile {
    SiteFile {
        content_type: content_type(&path),
        cache_control: cache_control(&path),
        key: path,
        bytes,
    }
}

/// [`publish_build`] for a build whose rendered files were partly published already by
/// [`publish_some`] (`report`).
///
/// # Errors
/// Store failures, or [`PublishError::ManifestChanged`].
pub async fn publish_rest(
    store: &dyn ObjectStore,
    previous: (&Manifest, Option<&ETag>),
    build: &SiteBuild,
    (report, work_dir): (Published, Option<&std::path::Path>),
) -> Result<Published, PublishError> {
    publish_files(
        store,
        previous,
        (&build.files, build.manifest()),
        (report, work_dir),
    )
    .await
}

/// `hashes` lists every file of the new site; `files` holds the content of those that were rendered
/// and not published yet (uploaded now unless `previous` lists them with the same content). Every
/// other file is published already: rendered and published while the build went on (`report`
/// has those uploaded), or kept as the store holds it (listed in `previous` as the build kept it,
/// or a meeting page whose entry the build took over from it, [`SiteBuild::published`]). Every file
/// of `hashes` is in the manifest written (through a file of `work_dir` when there is one:
/// [`write_manifest`]); the files `report` does not have as uploaded were left as they were.
async fn publish_files(
    store: &dyn ObjectStore,
    (previous, version): (&Manifest, Option<&ETag>),
    (files, hashes): (&Files, SiteManifest<'_>),
    (mut report, work_dir): (Published, Option<&std::path::Path>),
) -> Result<Published, PublishError> {
    // Copies of the files, sent a batch at a time (not all at once: a whole site given to
    // `publish` is hundreds of megabytes at 1,000 meetings a day).
    let mut changed = Vec::new();
    let mut batch_bytes = 0;
    for (path, hash) in hashes.iter() {
        let Some(bytes) = files.get(&**path) else {
            continue;
        };
        if previous.get(path) == Some(hash) {
            continue;
        }
        batch_bytes += bytes.len();
        changed.push((
            SitePath::clone(path),
            site_file(path.to_string(), Bytes::from(bytes.clone())),
        ));
        if batch_bytes >= PUBLISH_BATCH_BYTES {
            batch_bytes = 0;
            publish_batch(store, std::mem::take(&mut changed), &mut report).await?;
        }
    }
    publish_batch(store, changed, &mut report).await?;
    report.unchanged = hashes.len().saturating_sub(report.uploaded_count());
    let manifest = ManifestEntries { files: hashes };
    report = write_manifest(store, (&manifest, work_dir), version, report).await?;
    // Removed only once the manifest that no longer lists them is in place: a lost race removes
    // nothing another builder still lists.
    for path in previous.keys().filter(|p| !hashes.contains(p)) {
        store.delete(path).await?;
        report.deleted.push(path.to_string());
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
