//! Publishing the site through the object store: only what changed is uploaded, pages that no longer
//! exist are removed, and a manifest of content hashes (`manifest.json`) remembers what is there.
//! Assets carry their content hash in their names and are cached for a year; HTML and exports are
//! revalidated on every view.

use std::sync::Arc;

use bytes::Bytes;

use super::file_hashes::{ContentHash, SitePath};
use super::written::WrittenFile;
use super::{Files, SiteBuild, SiteManifest};
use crate::storage::work_files::WorkFile;
use crate::storage::{ETag, Fetched, FetchedFile, ObjectStore, PutCondition, SiteFile, StoreError};

/// The manifest's key in the site store.
pub const MANIFEST_KEY: &str = "manifest.json";

/// What a publish did.
///
/// Its paths are the build's manifest's (one allocation each, shared): a full rebuild at 30 days of
/// 1,000 meetings a day publishes 30,000 files, and two copies of every path more held about 5 MB of
/// its peak.
///
/// A render's report holds the first [`HELD_UPLOADS`] paths uploaded and writes the others to a file
/// of its work folder ([`Published::logging_to`]): a full rebuild uploads every file of the site, and
/// their paths (about 100 bytes each with their allocation) were what still grew with history in a
/// full rebuild's peak (3.2 MB at 30 days). A lost race reads them back ([`Published::paths`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Files uploaded (new or changed): the first [`HELD_UPLOADS`] when the report logs the rest
    /// ([`Published::uploaded_count`], [`Published::paths`]), else all.
    pub uploaded: Vec<SitePath>,
    /// Files removed.
    pub deleted: Vec<String>,
    /// Files left as they were.
    pub unchanged: usize,
    /// Where the uploads past the first [`HELD_UPLOADS`] are written, when anywhere.
    more: Option<UploadLog>,
}

/// How many uploaded paths a report that logs the rest holds ([`Published::logging_to`]).
pub const HELD_UPLOADS: usize = 1024;

/// Paths uploaded, one a line, in a nameless file of the work folder (as the spill file: nothing is
/// left behind by a render that stops), and how many.
#[derive(Debug, Clone)]
struct UploadLog(Arc<std::sync::Mutex<(std::fs::File, usize)>>);

impl PartialEq for UploadLog {
    /// The same log.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for UploadLog {}

impl UploadLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, (std::fs::File, usize)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Published {
    /// An empty report that holds the first [`HELD_UPLOADS`] paths uploaded and writes the others
    /// to a nameless file in `work_dir`.
    ///
    /// # Errors
    /// The file cannot be made.
    pub fn logging_to(work_dir: &std::path::Path) -> std::io::Result<Self> {
        let (file, path) =
            crate::storage::private::create_nameless(work_dir, ("uploaded", ".txt"))?;
        if let Some(path) = path {
            // Not Unix: the name stays while the file is open; it is only read by this report.
            let _ = std::fs::remove_file(path);
        }
        Ok(Self {
            more: Some(UploadLog(Arc::new(std::sync::Mutex::new((file, 0))))),
            ..Self::default()
        })
    }

    /// Adds uploaded `paths`.
    ///
    /// # Errors
    /// The log cannot be written.
    fn record(&mut self, paths: impl IntoIterator<Item = SitePath>) -> std::io::Result<()> {
        use std::io::Write;
        let Some(log) = &self.more else {
            self.uploaded.extend(paths);
            return Ok(());
        };
        let mut log = log.lock();
        let (file, count) = &mut *log;
        let mut lines = Vec::new();
        for path in paths {
            if self.uploaded.len() < HELD_UPLOADS {
                self.uploaded.push(path);
            } else {
                lines.extend_from_slice(path.as_bytes());
                lines.push(b'\n');
                *count += 1;
            }
        }
        file.write_all(&lines)
    }

    /// How many files were uploaded.
    #[must_use]
    pub fn uploaded_count(&self) -> usize {
        self.uploaded.len() + self.more.as_ref().map_or(0, |log| log.lock().1)
    }

    /// Every path uploaded, in order (those logged read back).
    ///
    /// # Errors
    /// The log cannot be read.
    pub fn paths(&self) -> std::io::Result<Vec<String>> {
        use std::io::{Read, Seek};
        let mut paths: Vec<String> = self.uploaded.iter().map(ToString::to_string).collect();
        if let Some(log) = &self.more {
            let mut log = log.lock();
            let file = &mut log.0;
            let mut text = String::new();
            file.rewind()?;
            file.read_to_string(&mut text)?;
            file.seek(std::io::SeekFrom::End(0))?;
            paths.extend(text.lines().map(str::to_owned));
        }
        Ok(paths)
    }
}

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

/// The entries of `files` as the manifest's JSON: written as the map they make, without making it,
/// into a buffer of its size (at 30 days of 1,000 meetings a day, a copy of the build's manifest
/// took 1.5 MB of a render's peak, and the buffer growing by doubling 8 MB for 4.3 MB of JSON).
pub(super) struct ManifestEntries<'a> {
    pub(super) files: SiteManifest<'a>,
}

impl ManifestEntries<'_> {
    /// The pretty JSON object `serde_json::to_vec_pretty` makes of the entries' map.
    ///
    /// # Errors
    /// The serializer failed (a store error for the manifest's key: nothing is written).
    pub(super) fn to_json(&self) -> Result<Vec<u8>, StoreError> {
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
pub(super) async fn write_manifest(
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::{FolderStore, SharedStore};

    fn site(files: &[(&str, &str)]) -> Files {
        files
            .iter()
            .map(|(path, text)| ((*path).to_owned(), text.as_bytes().to_vec()))
            .collect()
    }

    async fn read(store: &SharedStore, key: &str) -> Option<Vec<u8>> {
        match store.get(key, None).await.unwrap() {
            Fetched::Found(object) => Some(object.bytes.to_vec()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_file_written_to_the_work_folder_is_published_from_there_only_when_it_changed() {
        let scratch = tempfile::tempdir().unwrap();
        let work = scratch.path().join("work");
        let store = FolderStore::for_site(scratch.path().join("site")).unwrap();
        let write = |text: &'static str| {
            crate::site::written::WrittenFile::write(&work, "meetings.json", |out| {
                out.write_all(text.as_bytes())
                    .map_err(|e| super::super::BuildError::Export(e.to_string()))
            })
            .unwrap()
        };
        let hashes = Manifest::from([("meetings.json".into(), ContentHash::of(b"[1]"))]);
        let mut report = Published::default();
        let first = write("[1]");
        let local = first.local().to_owned();
        let listed = SiteManifest::of(&hashes);
        publish_written(&store, (&Manifest::new(), listed), first, &mut report)
            .await
            .unwrap();
        assert_eq!(report.uploaded, vec![SitePath::from("meetings.json")]);
        assert!(Arc::ptr_eq(
            &report.uploaded[0],
            hashes.get_key_value("meetings.json").unwrap().0
        ));
        assert!(
            !local.exists(),
            "its file in the work folder is gone once published"
        );
        match store.get("meetings.json", None).await.unwrap() {
            Fetched::Found(object) => assert_eq!(&object.bytes[..], b"[1]"),
            other => panic!("{other:?}"),
        }
        // Listed as published with the same content: left as it is.
        let mut again = Published::default();
        publish_written(&store, (&hashes, listed), write("[1]"), &mut again)
            .await
            .unwrap();
        assert_eq!((again.uploaded.len(), again.unchanged), (0, 1));
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn only_what_changed_is_uploaded_and_what_went_is_removed_after_the_manifest() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        let store: SharedStore = Arc::new(FolderStore::for_site(dir.clone()).unwrap());
        let first = site(&[
            ("index.html", "<p>1</p>"),
            ("meetings/a.html", "a"),
            ("assets/app.1.js", "js"),
        ]);
        let published = publish(store.as_ref(), &first).await.unwrap();
        assert_eq!(published.uploaded.len(), 3);
        assert_eq!(read_manifest(store.as_ref()).await.unwrap().files.len(), 3);

        // The same site again: nothing uploaded.
        let again = publish(store.as_ref(), &first).await.unwrap();
        assert_eq!(
            (again.uploaded.len(), again.unchanged, again.deleted.len()),
            (0, 3, 0)
        );

        // One page changed, one gone, one new.
        let second = site(&[
            ("index.html", "<p>2</p>"),
            ("meetings/b.html", "b"),
            ("assets/app.1.js", "js"),
        ]);
        let changed = publish(store.as_ref(), &second).await.unwrap();
        assert_eq!(
            changed.uploaded,
            vec![SitePath::from("index.html"), "meetings/b.html".into()]
        );
        assert_eq!(changed.deleted, vec!["meetings/a.html".to_owned()]);
        assert_eq!(changed.unchanged, 1);
        assert_eq!(read(&store, "index.html").await.unwrap(), b"<p>2</p>");
        assert!(read(&store, "meetings/a.html").await.is_none());
        let manifest = read_manifest(store.as_ref()).await.unwrap().files;
        assert_eq!(
            manifest.keys().map(|p| &**p).collect::<Vec<_>>(),
            vec!["assets/app.1.js", "index.html", "meetings/b.html"]
        );

        // A build made against an older manifest loses the race: its manifest is not written and
        // nothing the newer manifest lists is removed.
        let stale = Manifest::from([("index.html".into(), ContentHash::of(b"<p>1</p>"))]);
        let mut build =
            SiteBuild::empty(crate::site::render_cache::RenderCache::new(String::new()));
        build.files = site(&[("index.html", "<p>3</p>")]);
        build.hashes = Manifest::from([("index.html".into(), ContentHash::of(b"<p>3</p>"))]);
        let old_version = Some(ETag("\"not-the-current-one\"".into()));
        let lost = publish_build(store.as_ref(), &stale, old_version.as_ref(), &build)
            .await
            .unwrap_err();
        assert!(
            matches!(&lost, PublishError::ManifestChanged { uploaded } if uploaded == &vec!["index.html".to_owned()]),
            "{lost}"
        );
        assert!(
            read(&store, "meetings/b.html").await.is_some(),
            "still listed, still there"
        );
        assert_eq!(read_manifest(store.as_ref()).await.unwrap().files, manifest);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_damaged_manifest_is_published_anew_with_every_file() {
        let scratch = tempfile::tempdir().unwrap();
        let store: SharedStore =
            Arc::new(FolderStore::for_site(scratch.path().to_path_buf()).unwrap());
        let files = site(&[("index.html", "<p>1</p>"), ("meetings/a.html", "a")]);
        publish(store.as_ref(), &files).await.unwrap();
        let version = match store.get(MANIFEST_KEY, None).await.unwrap() {
            Fetched::Found(object) => object.etag,
            other => panic!("{other:?}"),
        };
        store
            .publish(
                MANIFEST_KEY,
                Bytes::from_static(b"{\"index.html\": \"cut sh"),
                "application/json",
                "no-cache",
                PutCondition::IfMatch(version),
            )
            .await
            .unwrap();
        let damaged = read_manifest(store.as_ref()).await.unwrap();
        assert!(damaged.files.is_empty() && damaged.etag.is_some());
        let again = publish(store.as_ref(), &files).await.unwrap();
        assert_eq!(
            (again.uploaded.len(), again.unchanged, again.deleted.len()),
            (2, 0, 0)
        );
        assert_eq!(read_manifest(store.as_ref()).await.unwrap().files.len(), 2);
    }

    #[tokio::test]
    async fn a_manifest_read_through_the_work_folder_is_the_same_and_leaves_no_file() {
        let scratch = tempfile::tempdir().unwrap();
        let work = scratch.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let store: SharedStore =
            Arc::new(FolderStore::for_site(scratch.path().join("site")).unwrap());
        let none = read_manifest_via(store.as_ref(), Some(&work))
            .await
            .unwrap();
        assert!(none.files.is_empty() && none.etag.is_none());
        let files = site(&[("index.html", "<p>1</p>"), ("meetings/a.html", "a")]);
        publish(store.as_ref(), &files).await.unwrap();
        let direct = read_manifest(store.as_ref()).await.unwrap();
        let via = read_manifest_via(store.as_ref(), Some(&work))
            .await
            .unwrap();
        assert_eq!(via.files.len(), 2);
        assert_eq!((via.files, via.etag), (direct.files, direct.etag));
        // Damaged: read as empty, at its version (as [`read_manifest`] does).
        store
            .publish(
                MANIFEST_KEY,
                Bytes::from_static(b"{\"index.html\": \"cut sh"),
                "application/json",
                "no-cache",
                PutCondition::Always,
            )
            .await
            .unwrap();
        let damaged = read_manifest_via(store.as_ref(), Some(&work))
            .await
            .unwrap();
        assert!(damaged.files.is_empty() && damaged.etag.is_some());
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    }

    #[test]
    fn a_renders_report_holds_its_first_uploads_and_logs_the_rest_to_a_nameless_file() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let mut report = Published::logging_to(&work).unwrap();
        let paths: Vec<String> = (0..HELD_UPLOADS + 3)
            .map(|i| format!("meetings/m{i}.html"))
            .collect();
        report
            .record(paths[..10].iter().map(|p| SitePath::from(p.as_str())))
            .unwrap();
        report
            .record(paths[10..].iter().map(|p| SitePath::from(p.as_str())))
            .unwrap();
        assert_eq!(report.uploaded.len(), HELD_UPLOADS, "the rest logged");
        assert_eq!(report.uploaded_count(), paths.len());
        assert_eq!(report.paths().unwrap(), paths);
        // Read back twice, and added to after: the log goes on at its end.
        report.record([SitePath::from("index.html")]).unwrap();
        let mut all = paths.clone();
        all.push("index.html".into());
        assert_eq!(report.paths().unwrap(), all);
        #[cfg(unix)]
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0, "nameless");
        // Without a log, every path is held.
        let mut held = Published::default();
        held.record(paths.iter().map(|p| SitePath::from(p.as_str())))
            .unwrap();
        assert_eq!(held.uploaded.len(), paths.len());
        assert_eq!(held.paths().unwrap(), paths);
    }

    #[test]
    fn assets_are_cached_for_a_year_and_pages_revalidated() {
        assert_eq!(
            cache_control("assets/style.0123abcd.css"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("index.html"), "no-cache");
        assert_eq!(cache_control("meetings.csv"), "no-cache");
        assert_eq!(content_type("people/x.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("sessions.csv"), "text/csv; charset=utf-8");
        assert_eq!(content_type("no-extension"), "application/octet-stream");
    }

    #[tokio::test]
    async fn a_renders_manifest_goes_through_a_file_of_its_work_folder_and_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let (work, root) = (dir.path().join("work"), dir.path().join("site"));
        std::fs::create_dir_all(&work).unwrap();
        let store: SharedStore = Arc::new(FolderStore::new(root).unwrap());
        let files: Manifest = ["index.html", "meetings/a_I_1.html"]
            .into_iter()
            .map(|p| (SitePath::from(p), ContentHash::of(p.as_bytes())))
            .collect();
        let entries = ManifestEntries {
            files: SiteManifest::of(&files),
        };
        let report = Published::default();
        write_manifest(
            store.as_ref(),
            (&entries, Some(&work)),
            None,
            report.clone(),
        )
        .await
        .unwrap();
        let written = read(&store, MANIFEST_KEY).await.unwrap();
        assert_eq!(
            written,
            entries.to_json().unwrap(),
            "what memory would have sent"
        );
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
        // Lost to another builder (a manifest is there already): said so, and no file left.
        let lost = write_manifest(store.as_ref(), (&entries, Some(&work)), None, report).await;
        assert!(matches!(lost, Err(PublishError::ManifestChanged { .. })));
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    }

    #[test]
    fn a_manifests_json_is_its_entries_map_written_into_a_buffer_of_its_size() {
        let files: Manifest = ["index.html", "meetings/a_I_1.html", "days/2026-01-05.json"]
            .into_iter()
            .map(|p| (SitePath::from(p), ContentHash::of(p.as_bytes())))
            .collect();
        let room = 2 + files.keys().map(|p| p.len() + 74).sum::<usize>();
        let json = ManifestEntries {
            files: SiteManifest::of(&files),
        }
        .to_json()
        .unwrap();
        assert_eq!(json, serde_json::to_vec_pretty(&files).unwrap());
        assert_eq!(json.len(), room, "the room is the size exactly");
    }
}
