//! The database object and its local working copies.
//!
//! The SQLite file lives in the store; a run works on a private copy in the work folder. A cached copy
//! with the ETag it came from saves the download when the object has not changed (a conditional GET).
//! The upload is conditional on that ETag, so two runs can never silently overwrite each other.

use std::fs;
use std::path::{Path, PathBuf};

use crate::storage::work_files::WorkFile;
use crate::storage::{ETag, FetchedFile, PutCondition, SharedStore, StoreError};

/// The database's key in the data store.
pub const DATABASE_KEY: &str = "webex-quality.sqlite";

/// A run's private copy of the database.
#[derive(Debug)]
pub struct WorkingCopy {
    /// The file.
    pub path: PathBuf,
    /// The ETag of the object it was copied from; `None` when there was no object yet.
    pub base: Option<ETag>,
    /// Whether this checkout downloaded the object (false: the cache was current, or no object).
    pub downloaded: bool,
    /// The copy's size at checkout, in bytes (0 when there was no object).
    pub base_len: u64,
}

/// The database object in a store, with a local cache.
#[derive(Debug, Clone)]
pub struct Replica {
    store: SharedStore,
    cache_dir: PathBuf,
}

fn io(operation: &'static str, path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::backend(operation, &path.display().to_string(), e)
}

impl Replica {
    /// The database in `store`, cached under `cache_dir`.
    #[must_use]
    pub fn new(store: SharedStore, cache_dir: PathBuf) -> Self {
        Self { store, cache_dir }
    }

    fn cache_file(&self) -> PathBuf {
        self.cache_dir.join(DATABASE_KEY)
    }

    fn cache_etag_file(&self) -> PathBuf {
        self.cache_dir.join(format!("{DATABASE_KEY}.etag"))
    }

    fn lock(&self) -> Result<fs::File, StoreError> {
        crate::storage::private::create_dir_all(&self.cache_dir)
            .map_err(|e| io("cache", &self.cache_dir, e))?;
        let path = self.cache_dir.join(".cache.lock");
        let file = crate::storage::private::file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io("cache", &path, e))?;
        file.lock().map_err(|e| io("cache", &path, e))?;
        Ok(file)
    }

    /// Brings the cache up to date (the object is streamed into a file, and only when the cached
    /// copy is not current), then runs `then` under the cache's lock with the cache's ETag (`None`
    /// when there is no object) and whether this call downloaded it.
    async fn with_current<T: Send + 'static, E: From<StoreError> + Send + 'static>(
        &self,
        then: impl FnOnce(&Self, Option<ETag>, bool) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        // A cache file that is not an SQLite file at all (empty, cut short, overwritten) is not
        // reused: the object is downloaded again.
        let cached = fs::read_to_string(self.cache_etag_file())
            .ok()
            .filter(|_| looks_like_sqlite(&self.cache_file()))
            .map(|e| ETag(e.trim().to_owned()));
        crate::storage::private::create_dir_all(&self.cache_dir)
            .map_err(|e| io("cache", &self.cache_dir, e))?;
        let download = WorkFile::Download.unique(&self.cache_dir, "", ".sqlite");
        let fetched = self
            .store
            .get_to_file(DATABASE_KEY, cached.as_ref(), &download)
            .await;
        let this = self.clone();
        let downloaded_file = download.clone();
        let result = tokio::task::spawn_blocking(move || {
            let fetched = fetched?;
            let _lock = this.lock()?;
            let (base, downloaded) = match fetched {
                FetchedFile::NotFound => (None, false),
                FetchedFile::NotModified => (cached, false),
                FetchedFile::Found(etag) => {
                    // New bytes from the store are checked before they become the cache (and
                    // before a cycle calls Webex on their strength).
                    crate::db::Database::quick_check_file(&downloaded_file).map_err(|e| {
                        StoreError::backend(
                            "get",
                            DATABASE_KEY,
                            format!("the downloaded database failed its check: {e}"),
                        )
                    })?;
                    this.replace_cache(&downloaded_file, &etag)?;
                    (Some(etag), true)
                }
            };
            then(&this, base, downloaded)
        })
        .await;
        let _ = fs::remove_file(&download);
        result.map_err(|e| E::from(io("cache", &self.cache_dir, e)))?
    }

    /// Reads the latest database without copying it: `read` runs on the up-to-date cache under its
    /// lock. A cycle plans this way and makes a working copy only when it has something to record.
    ///
    /// Returns what `read` returned (`None` when there is no database yet) and whether the object
    /// was downloaded.
    ///
    /// # Errors
    /// Store or file failures; `read`'s own errors.
    pub async fn read_current<T: Send + 'static, E: From<StoreError> + Send + 'static>(
        &self,
        read: impl FnOnce(&Path) -> Result<T, E> + Send + 'static,
    ) -> Result<(Option<T>, bool), E> {
        self.with_current(move |this, base, downloaded| match base {
            None => Ok((None, false)),
            Some(_) => match read(&this.cache_file()) {
                Ok(value) => Ok((Some(value), downloaded)),
                Err(error) => {
                    // Unreadable: the next cycle downloads the object again instead of failing
                    // on the same file for ever.
                    this.forget_cache();
                    Err(error)
                }
            },
        })
        .await
    }

    /// Drops the cached copy (its ETag first), so the next use downloads the object.
    fn forget_cache(&self) {
        tracing::warn!(cache = %self.cache_file().display(), "the cached database could not be read; it will be downloaded again");
        let _ = fs::remove_file(self.cache_etag_file());
        let _ = fs::remove_file(self.cache_file());
    }

    /// A private copy of the latest database for run `run_id`.
    ///
    /// # Errors
    /// Store or file failures.
    pub async fn checkout(&self, run_id: &str) -> Result<WorkingCopy, StoreError> {
        let work_path = WorkFile::Run.path(&self.cache_dir, &format!("{run_id}.sqlite"));
        self.with_current(move |this, base, downloaded| {
            let _ = fs::remove_file(&work_path);
            // Created `0600` first, so the copy (or the new database SQLite makes in the empty
            // file) is its owner's alone whatever the cache file's mode.
            let mut target = crate::storage::private::create_file(&work_path)
                .map_err(|e| io("cache", &work_path, e))?;
            let mut base_len = 0;
            if base.is_some() {
                let mut source =
                    fs::File::open(this.cache_file()).map_err(|e| io("cache", &work_path, e))?;
                base_len = std::io::copy(&mut source, &mut target)
                    .map_err(|e| io("cache", &work_path, e))?;
            }
            Ok(WorkingCopy {
                path: work_path,
                base,
                downloaded,
                base_len,
            })
        })
        .await
    }

    /// Uploads `copy` if the object still has its base ETag (streamed from the file); then the
    /// copy becomes the cache (it is moved there: `copy` is used up).
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] when another run uploaded first: check out again, re-apply,
    /// try again.
    pub async fn commit(&self, copy: &WorkingCopy) -> Result<ETag, StoreError> {
        let condition = copy
            .base
            .clone()
            .map_or(PutCondition::IfAbsent, PutCondition::IfMatch);
        let etag = self
            .store
            .put_file(
                DATABASE_KEY,
                &copy.path,
                condition,
                "application/vnd.sqlite3",
            )
            .await?;
        let this = self.clone();
        let cached = etag.clone();
        let uploaded = copy.path.clone();
        tokio::task::spawn_blocking(move || {
            let _lock = this.lock()?;
            this.replace_cache(&uploaded, &cached)
        })
        .await
        .map_err(|e| io("cache", &self.cache_dir, e))??;
        Ok(etag)
    }

    /// Removes a working copy.
    pub fn discard(copy: &WorkingCopy) {
        let _ = fs::remove_file(&copy.path);
    }

    /// Moves `file` (in the cache folder) into place as the cache, with its ETag: content first,
    /// then the ETag; a crash in between leaves an ETag that does not match and costs one download.
    fn replace_cache(&self, file: &Path, etag: &ETag) -> Result<(), StoreError> {
        let _ = fs::remove_file(self.cache_etag_file());
        fs::rename(file, self.cache_file()).map_err(|e| io("cache", file, e))?;
        crate::storage::private::create_file(&self.cache_etag_file())
            .and_then(|mut file| std::io::Write::write_all(&mut file, etag.0.as_bytes()))
            .map_err(|e| io("cache", &self.cache_dir, e))
    }
}

/// Whether `path` starts like an SQLite database file (its 16-byte header) and is at least one page
/// long.
fn looks_like_sqlite(path: &Path) -> bool {
    let mut header = [0_u8; 16];
    fs::File::open(path)
        .and_then(|mut file| {
            let long_enough = file.metadata()?.len() >= 512;
            std::io::Read::read_exact(&mut file, &mut header)?;
            Ok(long_enough)
        })
        .is_ok_and(|long_enough| long_enough && &header == b"SQLite format 3\0")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::Database;
    use crate::db::test_support::{changes_with_call, t, tempdir};
    use crate::storage::FolderStore;

    fn count_meetings(path: &Path) -> Result<usize, StoreError> {
        let db = Database::open(path).map_err(|e| StoreError::backend("read", "db", e))?;
        Ok(db
            .meetings()
            .map_err(|e| StoreError::backend("read", "db", e))?
            .len())
    }

    #[tokio::test]
    async fn a_broken_cache_is_downloaded_again_and_a_broken_object_is_refused() {
        let scratch = tempdir();
        let dir = scratch.path();
        let store: SharedStore = Arc::new(FolderStore::new(dir.join("store")).unwrap());
        let made = dir.join("made.sqlite");
        let mut db = Database::open(&made).unwrap();
        db.apply(&changes_with_call(
            "a_I_1",
            t("2026-01-05T10:00:00Z"),
            b"{\"items\":[]}",
        ))
        .unwrap();
        drop(db);
        store
            .put_file(
                DATABASE_KEY,
                &made,
                PutCondition::Always,
                "application/vnd.sqlite3",
            )
            .await
            .unwrap();
        let replica = Replica::new(store.clone(), dir.join("cache"));
        let (count, downloaded) = replica.read_current(count_meetings).await.unwrap();
        assert_eq!((count, downloaded), (Some(1), true));
        let (_, downloaded) = replica.read_current(count_meetings).await.unwrap();
        assert!(!downloaded, "the cache is current");

        // A cache cut to nothing (a full disk, a crash) is not reused: downloaded again.
        fs::write(replica.cache_file(), b"").unwrap();
        let (count, downloaded) = replica.read_current(count_meetings).await.unwrap();
        assert_eq!((count, downloaded), (Some(1), true));

        // A cache that looks like SQLite but cannot be read fails once, then is downloaded again.
        let mut damaged = fs::read(replica.cache_file()).unwrap();
        for byte in damaged.iter_mut().skip(100) {
            *byte = 0xff;
        }
        fs::write(replica.cache_file(), &damaged).unwrap();
        assert!(replica.read_current(count_meetings).await.is_err());
        let (count, downloaded) = replica.read_current(count_meetings).await.unwrap();
        assert_eq!((count, downloaded), (Some(1), true));

        // An object in the store that is not a database is refused before it becomes the cache.
        let junk = dir.join("junk.sqlite");
        let mut bytes = b"SQLite format 3\0".to_vec();
        bytes.resize(4096, 0xff);
        fs::write(&junk, &bytes).unwrap();
        store
            .put_file(
                DATABASE_KEY,
                &junk,
                PutCondition::Always,
                "application/vnd.sqlite3",
            )
            .await
            .unwrap();
        let error = replica.read_current(count_meetings).await.unwrap_err();
        assert!(error.to_string().contains("failed its check"), "{error}");
        assert_eq!(
            count_meetings(&replica.cache_file()).unwrap(),
            1,
            "the good cache is kept"
        );
    }

    #[tokio::test]
    async fn a_commit_succeeds_only_over_the_version_it_checked_out() {
        let scratch = tempdir();
        let dir = scratch.path();
        let store: SharedStore = Arc::new(FolderStore::new(dir.join("store")).unwrap());
        let first = Replica::new(store.clone(), dir.join("first"));
        let second = Replica::new(store.clone(), dir.join("second"));
        let apply = |path: &Path, id: &str, at: &str| {
            let mut db = Database::open(path).unwrap();
            db.apply(&changes_with_call(id, t(at), b"{\"items\":[]}"))
                .unwrap();
        };

        // No object yet: the first commit creates it (`If-None-Match: *`).
        let a = first.checkout("a").await.unwrap();
        assert!(a.base.is_none() && a.base_len == 0);
        apply(&a.path, "a_I_1", "2026-01-05T10:00:00Z");
        let created = first.commit(&a).await.unwrap();
        assert!(!a.path.exists(), "the committed copy became the cache");

        // Two runs check out the same version; the first to commit wins...
        let b = first.checkout("b").await.unwrap();
        let c = second.checkout("c").await.unwrap();
        assert_eq!(
            (b.base.as_ref(), c.base.as_ref()),
            (Some(&created), Some(&created))
        );
        assert!(!b.downloaded, "the cache was current");
        assert!(c.downloaded, "a new machine downloads");
        apply(&b.path, "b_I_1", "2026-01-05T11:00:00Z");
        apply(&c.path, "c_I_1", "2026-01-05T12:00:00Z");
        let won = first.commit(&b).await.unwrap();
        assert_ne!(won, created);
        // ...and the other is refused, leaving the object as the winner wrote it.
        assert!(matches!(
            second.commit(&c).await,
            Err(StoreError::PreconditionFailed { .. })
        ));
        Replica::discard(&c);
        assert!(!c.path.exists());
        // Checked out again, it has the winner's rows, and its own commit goes through.
        let c = second.checkout("c2").await.unwrap();
        assert_eq!(c.base.as_ref(), Some(&won));
        assert_eq!(count_meetings(&c.path).unwrap(), 2);
        apply(&c.path, "c_I_1", "2026-01-05T12:00:00Z");
        second.commit(&c).await.unwrap();
        let (count, _) = first.read_current(count_meetings).await.unwrap();
        assert_eq!(count, Some(3), "every run's meeting, none overwritten");
    }
}
