//! Object storage: one port, [`ObjectStore`], with conditional writes, and two adapters: a local
//! folder ([`FolderStore`]) and S3 (`S3Store`, behind the `s3` cargo feature).
//!
//! Every write that must not silently overwrite another names a [`PutCondition`]: the object must still
//! have the ETag that was read, or must not exist yet. A write whose condition fails is
//! [`StoreError::PreconditionFailed`], and the caller re-reads, merges and tries again.

mod folder;
pub mod private;
#[cfg(feature = "s3")]
mod s3;
pub mod work_files;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

pub use folder::FolderStore;
#[cfg(feature = "s3")]
pub use s3::S3Store;

/// An object's version tag, opaque: S3's ETag, or the content hash of a folder object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ETag(pub String);

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The bytes.
    pub bytes: Bytes,
    /// Its ETag.
    pub etag: ETag,
}

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// No object under the key.
    NotFound,
    /// The object still has the ETag the caller already holds.
    NotModified,
    /// The object.
    Found(Object),
}

/// What a read into a file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchedFile {
    /// No object under the key (the file is not touched).
    NotFound,
    /// The object still has the ETag the caller already holds (the file is not touched).
    NotModified,
    /// The object is now in the file, with this ETag.
    Found(ETag),
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Always (for objects only one writer touches).
    Always,
    /// Only if the object still has this ETag.
    IfMatch(ETag),
    /// Only if there is no object yet.
    IfAbsent,
}

/// A file of the dashboard to publish unconditionally ([`ObjectStore::publish_all`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    /// Its key in the site store.
    pub key: String,
    /// Its content.
    pub bytes: Bytes,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its `Cache-Control`.
    pub cache_control: &'static str,
}

impl SiteFile {
    /// Publishes the file to `store` unconditionally ([`ObjectStore::publish`]).
    ///
    /// # Errors
    /// The store's failure.
    pub async fn publish_to<S: ObjectStore + ?Sized>(self, store: &S) -> Result<(), StoreError> {
        store
            .publish(
                &self.key,
                self.bytes,
                self.content_type,
                self.cache_control,
                PutCondition::Always,
            )
            .await
    }
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition did not hold: someone else wrote first.
    #[error("{key} changed since it was read (or already exists): conditional write refused")]
    PreconditionFailed {
        /// The key.
        key: String,
    },
    /// Anything else: I/O, network, permissions.
    #[error("storage {operation} of {key} failed: {detail}")]
    Backend {
        /// `get`, `put`, `delete` or `list`.
        operation: &'static str,
        /// The key or prefix.
        key: String,
        /// What the backend said.
        detail: String,
    },
}

impl StoreError {
    pub(crate) fn backend(operation: &'static str, key: &str, detail: impl fmt::Display) -> Self {
        Self::Backend {
            operation,
            key: key.to_owned(),
            detail: detail.to_string(),
        }
    }
}

/// The storage port: get with an ETag, conditional put, delete, list.
///
/// Keys are `/`-separated relative paths (`data/webex-quality.sqlite`).
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Reads `key`; with `if_none_match`, answers [`Fetched::NotModified`] when the object still has
    /// that ETag (no download).
    async fn get(&self, key: &str, if_none_match: Option<&ETag>) -> Result<Fetched, StoreError>;

    /// Writes `key` if `condition` holds, returning the new ETag.
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        content_type: &str,
    ) -> Result<ETag, StoreError>;

    /// Writes the file at `path` as `key` if `condition` holds, returning the new ETag. Stores that
    /// can stream it do (a large database is never held in memory whole); the default reads it.
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        condition: PutCondition,
        content_type: &str,
    ) -> Result<ETag, StoreError> {
        let owned = path.to_owned();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|e| StoreError::backend("put", key, e))?
            .map_err(|e| StoreError::backend("put", key, format!("{}: {e}", path.display())))?;
        self.put(key, Bytes::from(bytes), condition, content_type)
            .await
    }

    /// Reads `key` into the file at `path` (replaced whole, or not touched when there is nothing
    /// new); with `if_none_match`, as [`ObjectStore::get`]. Stores that can stream it do; the
    /// default reads the object into memory first.
    async fn get_to_file(
        &self,
        key: &str,
        if_none_match: Option<&ETag>,
        path: &std::path::Path,
    ) -> Result<FetchedFile, StoreError> {
        match self.get(key, if_none_match).await? {
            Fetched::NotFound => Ok(FetchedFile::NotFound),
            Fetched::NotModified => Ok(FetchedFile::NotModified),
            Fetched::Found(object) => {
                let owned = path.to_owned();
                tokio::task::spawn_blocking(move || std::fs::write(owned, &object.bytes))
                    .await
                    .map_err(|e| StoreError::backend("get", key, e))?
                    .map_err(|e| {
                        StoreError::backend("get", key, format!("{}: {e}", path.display()))
                    })?;
                Ok(FetchedFile::Found(object.etag))
            }
        }
    }

    /// Writes a published file of the dashboard with HTTP caching metadata (`Cache-Control`) if
    /// `condition` holds. Stores without such metadata keep just the bytes. No ETag comes back:
    /// the site's manifest has the content hashes, and the folder store would have to hash every
    /// file again to make one.
    async fn publish(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        cache_control: &str,
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        let _ = cache_control;
        self.put(key, bytes, condition, content_type)
            .await
            .map(|_| ())
    }

    /// [`ObjectStore::publish`] of the file at `path` (a render's manifest and its largest pages
    /// and exports, written to its work folder rather than held in memory: 4.3 MB for the
    /// manifest at 30 days of 1,000 meetings a day, 7 MB for a day's sessions export). The folder
    /// and S3 stores stream it; the default reads it whole.
    async fn publish_file(
        &self,
        key: &str,
        path: &std::path::Path,
        (content_type, cache_control): (&str, &str),
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        let owned = path.to_owned();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|e| StoreError::backend("publish", key, e))?
            .map_err(|e| StoreError::backend("publish", key, e))?;
        self.publish(
            key,
            Bytes::from(bytes),
            content_type,
            cache_control,
            condition,
        )
        .await
    }

    /// Publishes each of `files` as [`ObjectStore::publish`] does with [`PutCondition::Always`],
    /// not necessarily in order and possibly several at once. The first failure is returned; other
    /// files of the batch may be written by then or not (a site's manifest is written after its
    /// files, so it lists none of them yet). The default publishes one after the other; the folder
    /// store writes a batch from one blocking task instead of one per file (a thread hand-off per
    /// file was 8 % of a full render's CPU), and S3 keeps several uploads in flight.
    async fn publish_all(&self, files: Vec<SiteFile>) -> Result<(), StoreError> {
        for file in files {
            file.publish_to(self).await?;
        }
        Ok(())
    }

    /// Removes `key` (no error if absent).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Every key under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// A short description for logs and the status page (`s3://bucket/prefix`, a folder path).
    fn describe(&self) -> String;
}

/// A shared store handle.
pub type SharedStore = Arc<dyn ObjectStore>;

/// Where a store is, as the `WEBEX_QUALITY_STORE` and `WEBEX_QUALITY_SITE_STORE` settings say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without leading or trailing `/` (may be empty).
        prefix: String,
    },
    /// A local folder.
    Folder(PathBuf),
}

impl StoreLocation {
    /// Parses `s3://bucket[/prefix]` or a folder path.
    ///
    /// # Errors
    /// A description of what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty".into());
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')
                });
            if !valid_bucket {
                return Err(format!("{bucket:?} is not a valid S3 bucket name"));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if text.contains("://") {
            return Err("only s3:// URLs and folder paths are supported".into());
        }
        Ok(Self::Folder(PathBuf::from(text)))
    }
}

impl StoreLocation {
    /// Why `site` cannot be the site store of the data store `self`, or `None` when it can: the two
    /// must not overlap, or publishing (and `serve`) would expose the tokens and the database, and
    /// a build's clean-up could delete data. The one exception is the data folder's own `site`
    /// subfolder (the default), where the data store never writes.
    #[must_use]
    pub fn site_conflict(&self, site: &Self) -> Option<String> {
        match (self, site) {
            (Self::Folder(data), Self::Folder(site)) => {
                let (data, site) = (lexical_absolute(data), lexical_absolute(site));
                if site.starts_with(data.join(SITE_FOLDER)) {
                    None
                } else if data.starts_with(&site) {
                    Some(format!(
                        "the site folder {} holds the data folder {}: publishing or serving it would expose the tokens and the database",
                        site.display(),
                        data.display()
                    ))
                } else if site.starts_with(&data) {
                    Some(format!(
                        "the site folder {} is inside the data folder {}: use {} or a folder outside it",
                        site.display(),
                        data.display(),
                        data.join(SITE_FOLDER).display()
                    ))
                } else {
                    None
                }
            }
            (
                Self::S3 {
                    bucket: data_bucket,
                    prefix: data_prefix,
                },
                Self::S3 {
                    bucket: site_bucket,
                    prefix: site_prefix,
                },
            ) if data_bucket == site_bucket => {
                let within = |inner: &str, outer: &str| {
                    outer.is_empty()
                        || inner == outer
                        || inner
                            .strip_prefix(outer)
                            .is_some_and(|rest| rest.starts_with('/'))
                };
                (within(data_prefix, site_prefix) || within(site_prefix, data_prefix)).then(|| {
                    format!(
                        "the site store {site} and the data store {self} overlap: give them separate prefixes (or buckets), or publishing would expose the tokens and the database"
                    )
                })
            }
            _ => None,
        }
    }

    /// The store's own key for the object `key` of `bucket` (as an S3 event names it, decoded),
    /// or `None` when the object is not in this store.
    #[must_use]
    pub fn key_of(&self, bucket: &str, key: &str) -> Option<String> {
        match self {
            Self::S3 {
                bucket: ours,
                prefix,
            } if ours == bucket => {
                if prefix.is_empty() {
                    Some(key.to_owned())
                } else {
                    key.strip_prefix(prefix.as_str())?
                        .strip_prefix('/')
                        .map(str::to_owned)
                }
            }
            _ => None,
        }
    }
}

/// The data folder's subfolder that may hold the site (the CLI's default `--out`).
pub const SITE_FOLDER: &str = "site";

/// `path` made absolute against the current folder, with `.` and `..` resolved by name (the folders
/// need not exist yet).
fn lexical_absolute(path: &std::path::Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Self::Folder(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Opens the data store at `location` (a folder is its owner's alone: see [`FolderStore::new`]).
///
/// # Errors
/// When the folder cannot be created, or S3 is asked for in a build without the `s3` feature.
pub async fn open(location: &StoreLocation, s3: S3Settings) -> Result<SharedStore, StoreError> {
    open_as(location, s3, FolderStore::new).await
}

/// Opens the site store at `location` (a folder keeps the umask's modes, for a web server to read).
///
/// # Errors
/// As [`open`].
pub async fn open_site(
    location: &StoreLocation,
    s3: S3Settings,
) -> Result<SharedStore, StoreError> {
    open_as(location, s3, FolderStore::for_site).await
}

/// How to reach S3, besides what the AWS SDK reads itself (region, credentials, `AWS_ENDPOINT_URL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `WEBEX_QUALITY_S3_FORCE_PATH_STYLE`: path-style requests, for S3-compatible servers.
    pub force_path_style: bool,
}

#[cfg_attr(not(feature = "s3"), allow(clippy::unused_async))]
async fn open_as(
    location: &StoreLocation,
    s3: S3Settings,
    folder: fn(PathBuf) -> Result<FolderStore, StoreError>,
) -> Result<SharedStore, StoreError> {
    match location {
        StoreLocation::Folder(path) => Ok(Arc::new(folder(path.clone())?)),
        #[cfg(feature = "s3")]
        StoreLocation::S3 { bucket, prefix } => Ok(Arc::new(
            S3Store::from_env(bucket, prefix, s3.force_path_style).await,
        )),
        #[cfg(not(feature = "s3"))]
        StoreLocation::S3 { .. } => {
            let _ = s3;
            Err(StoreError::backend(
                "open",
                &location.to_string(),
                "this build has no S3 support (cargo feature `s3`); use a folder",
            ))
        }
    }
}

/// Checks that `key` is a relative `/`-separated path with no `..`, empty or hidden segments that
/// could escape a folder store.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && !segment.starts_with('.')
                && !segment.contains('\\')
                && !segment.chars().any(char::is_control)
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::backend("check", key, "not a valid object key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_store_may_not_overlap_the_data_store() {
        let loc = |text: &str| StoreLocation::parse(text).unwrap();
        let data = loc("/srv/wq");
        // The default, and folders elsewhere: fine.
        for site in [
            "/srv/wq/site",
            "/srv/wq/site/inner",
            "/srv/www",
            "/srv/wq-site",
            "/srv/wq/../www",
        ] {
            assert_eq!(data.site_conflict(&loc(site)), None, "{site}");
        }
        // The data folder itself, a folder holding it, a folder inside it (not `site`).
        for site in [
            "/srv/wq",
            "/srv/wq/",
            "/srv",
            "/",
            "/srv/wq/archive",
            "/srv/wq/.work",
            "/srv/wq/site/..",
        ] {
            assert!(data.site_conflict(&loc(site)).is_some(), "{site}");
        }
        // Relative paths are compared as absolute ones.
        assert!(loc("data").site_conflict(&loc("./data/../data")).is_some());
        assert!(loc("data").site_conflict(&loc("data/site")).is_none());
        // S3: the same bucket with nested prefixes, or an empty one, overlaps.
        let data = loc("s3://bucket/data");
        for site in [
            "s3://bucket/data",
            "s3://bucket",
            "s3://bucket/data/site",
            "s3://bucket/data/",
        ] {
            assert!(data.site_conflict(&loc(site)).is_some(), "{site}");
        }
        for site in [
            "s3://bucket/site",
            "s3://bucket/data-site",
            "s3://other/data",
        ] {
            assert_eq!(data.site_conflict(&loc(site)), None, "{site}");
        }
        assert!(
            loc("s3://bucket")
                .site_conflict(&loc("s3://bucket/site"))
                .is_some()
        );
    }

    #[test]
    fn store_locations_parse_s3_urls_and_folders() {
        assert_eq!(
            StoreLocation::parse("s3://my-bucket/team/data/").unwrap(),
            StoreLocation::S3 {
                bucket: "my-bucket".into(),
                prefix: "team/data".into()
            }
        );
        assert_eq!(
            StoreLocation::parse("s3://my-bucket").unwrap().to_string(),
            "s3://my-bucket"
        );
        assert_eq!(
            StoreLocation::parse("./webex-quality-data").unwrap(),
            StoreLocation::Folder("./webex-quality-data".into())
        );
        assert!(StoreLocation::parse("s3://Bad_Bucket/x").is_err());
        assert!(StoreLocation::parse("gs://bucket").is_err());
        assert!(StoreLocation::parse(" ").is_err());
    }

    #[test]
    fn an_s3_key_is_in_the_store_only_under_its_bucket_and_prefix() {
        let location = StoreLocation::parse("s3://data-bucket/team/wq").unwrap();
        assert_eq!(
            location
                .key_of("data-bucket", "team/wq/status.json")
                .as_deref(),
            Some("status.json")
        );
        assert_eq!(location.key_of("data-bucket", "team/wqx/status.json"), None);
        assert_eq!(location.key_of("other-bucket", "team/wq/status.json"), None);
        let bare = StoreLocation::parse("s3://data-bucket").unwrap();
        assert_eq!(
            bare.key_of("data-bucket", "status.json").as_deref(),
            Some("status.json")
        );
    }

    #[test]
    fn keys_cannot_escape_the_store() {
        assert!(check_key("data/webex-quality.sqlite").is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", ".hidden", "a/./b", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
