//! The database object and its local working copies.
//!
//! The SQLite file lives in the store; a run works on a private copy in the work folder. A cached copy
//! with the ETag it came from saves the download when the object has not changed (a conditional GET).
//! The upload is conditional on that ETag, so two runs can never silently overwrite each other.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::storage::{ETag, Fetched, PutCondition, SharedStore, StoreError};

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
        fs::create_dir_all(&self.cache_dir).map_err(|e| io("cache", &self.cache_dir, e))?;
        let path = self.cache_dir.join(".cache.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io("cache", &path, e))?;
        file.lock().map_err(|e| io("cache", &path, e))?;
        Ok(file)
    }

    /// A private copy of the latest database for run `run_id`.
    ///
    /// # Errors
    /// Store or file failures.
    pub async fn checkout(&self, run_id: &str) -> Result<WorkingCopy, StoreError> {
        let cached = fs::read_to_string(self.cache_etag_file())
            .ok()
            .filter(|_| self.cache_file().exists())
            .map(|e| ETag(e.trim().to_owned()));
        let fetched = self.store.get(DATABASE_KEY, cached.as_ref()).await?;
        let work = self.cache_dir.join(format!("run-{run_id}.sqlite"));
        let this = self.clone();
        let work_path = work.clone();
        tokio::task::spawn_blocking(move || {
            let _lock = this.lock()?;
            let _ = fs::remove_file(&work_path);
            let (base, downloaded) = match fetched {
                Fetched::NotFound => (None, false),
                Fetched::NotModified => {
                    fs::copy(this.cache_file(), &work_path)
                        .map_err(|e| io("cache", &work_path, e))?;
                    (cached, false)
                }
                Fetched::Found(object) => {
                    this.write_cache(&object.bytes, &object.etag)?;
                    fs::write(&work_path, &object.bytes).map_err(|e| io("cache", &work_path, e))?;
                    (Some(object.etag), true)
                }
            };
            Ok(WorkingCopy {
                path: work_path,
                base,
                downloaded,
            })
        })
        .await
        .map_err(|e| io("cache", &work, e))?
    }

    /// Uploads `copy` if the object still has its base ETag; then it becomes the cache.
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] when another run uploaded first: check out again, re-apply,
    /// try again.
    pub async fn commit(&self, copy: &WorkingCopy) -> Result<ETag, StoreError> {
        let bytes = Bytes::from(fs::read(&copy.path).map_err(|e| io("read", &copy.path, e))?);
        let condition = copy
            .base
            .clone()
            .map_or(PutCondition::IfAbsent, PutCondition::IfMatch);
        let etag = self
            .store
            .put(
                DATABASE_KEY,
                bytes.clone(),
                condition,
                "application/vnd.sqlite3",
            )
            .await?;
        let this = self.clone();
        let cached = etag.clone();
        tokio::task::spawn_blocking(move || {
            let _lock = this.lock()?;
            this.write_cache(&bytes, &cached)
        })
        .await
        .map_err(|e| io("cache", &self.cache_dir, e))??;
        Ok(etag)
    }

    /// Removes a working copy.
    pub fn discard(copy: &WorkingCopy) {
        let _ = fs::remove_file(&copy.path);
    }

    /// Replaces the cache (content first, then its ETag; a crash in between leaves an ETag that does
    /// not match and costs one download).
    fn write_cache(&self, bytes: &[u8], etag: &ETag) -> Result<(), StoreError> {
        let _ = fs::remove_file(self.cache_etag_file());
        let temp = self.cache_dir.join(format!(
            ".{DATABASE_KEY}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        fs::write(&temp, bytes).map_err(|e| io("cache", &temp, e))?;
        fs::rename(&temp, self.cache_file()).map_err(|e| io("cache", &temp, e))?;
        fs::write(self.cache_etag_file(), etag.0.as_bytes())
            .map_err(|e| io("cache", &self.cache_dir, e))
    }
}
