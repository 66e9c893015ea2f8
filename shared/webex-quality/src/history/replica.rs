//! The database object and its local working copies.
//!
//! The SQLite file lives in the store; a run works on a private copy in the work folder. A cached copy
//! with the ETag it came from saves the download when the object has not changed (a conditional GET).
//! The upload is conditional on that ETag, so two runs can never silently overwrite each other.

use std::fs;
use std::path::{Path, PathBuf};

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
        let cached = fs::read_to_string(self.cache_etag_file())
            .ok()
            .filter(|_| self.cache_file().exists())
            .map(|e| ETag(e.trim().to_owned()));
        crate::storage::private::create_dir_all(&self.cache_dir)
            .map_err(|e| io("cache", &self.cache_dir, e))?;
        let download = self.cache_dir.join(format!(
            ".{DATABASE_KEY}.{}.download",
            uuid::Uuid::new_v4().simple()
        ));
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
            Some(_) => read(&this.cache_file()).map(|value| (Some(value), downloaded)),
        })
        .await
    }

    /// A private copy of the latest database for run `run_id`.
    ///
    /// # Errors
    /// Store or file failures.
    pub async fn checkout(&self, run_id: &str) -> Result<WorkingCopy, StoreError> {
        let work_path = self.cache_dir.join(format!("run-{run_id}.sqlite"));
        self.with_current(move |this, base, downloaded| {
            let _ = fs::remove_file(&work_path);
            // Created `0600` first, so the copy (or the new database SQLite makes in the empty
            // file) is its owner's alone whatever the cache file's mode.
            let mut target = crate::storage::private::create_file(&work_path)
                .map_err(|e| io("cache", &work_path, e))?;
            if base.is_some() {
                let mut source =
                    fs::File::open(this.cache_file()).map_err(|e| io("cache", &work_path, e))?;
                std::io::copy(&mut source, &mut target).map_err(|e| io("cache", &work_path, e))?;
            }
            Ok(WorkingCopy {
                path: work_path,
                base,
                downloaded,
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
