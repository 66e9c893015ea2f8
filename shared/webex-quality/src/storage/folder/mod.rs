//! The folder adapter: objects are files under a root folder.
//!
//! A write goes to a temporary file in the same folder, is fsynced, then renamed over the object, so a
//! reader sees the old or the new bytes, never a mix. The ETag is the SHA-256 of the content, kept in
//! a sidecar file beside the object (`.name.etag`) so a read does not hash the whole object. Conditions
//! are checked and the write done while holding an exclusive lock on the store's lock file, so of two
//! processes racing on the same ETag exactly one wins.
//!
//! A data store ([`FolderStore::new`]: tokens, the database) is its owner's alone: folders `0700`,
//! files `0600` (see [`super::private`]). A site store ([`FolderStore::for_site`]) is meant to be
//! served, so it keeps the umask's modes.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{
    ETag, Fetched, FetchedFile, Object, ObjectStore, PutCondition, SiteFile, StoreError, check_key,
    private,
};

mod sidecar;

pub use sidecar::content_etag;
use sidecar::{copy_hashing, etag_path, read_etag, sync_dir, write_synced};

/// Objects as files under a folder.
#[derive(Debug, Clone)]
pub struct FolderStore {
    root: PathBuf,
    /// Folders and files for the owner alone (a data store).
    private: bool,
    /// The longest wait for the folder's lock.
    lock_wait: std::time::Duration,
}

const LOCK_FILE: &str = ".lock";

/// Removes the temporary files of the object `name` in `folder` ([`FolderStore::temp_beside`]'s)
/// last written over an hour ago: left by a process stopped between writing one and renaming it
/// into place (a crash, a kill), the hot database's up to 300 MB. A data store's folders hold a few
/// objects each, so looking costs nothing; a site store's hold thousands of small pages, and are
/// not looked through. Errors are ignored (tried again at the object's next write).
fn remove_stale_temps(folder: &Path, name: &str) {
    let prefix = format!(".{name}.");
    // Only this object's (`.a.json.<random>.tmp`, not `.a.json.etag` or another object's).
    let ours = |file: &str| {
        file.strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(|middle| {
                middle.len() == 32 && middle.bytes().all(|b| b.is_ascii_hexdigit())
            })
    };
    let removed = super::work_files::remove_left_over(folder, ours);
    if removed > 0 {
        tracing::info!(removed, object = name, folder = %folder.display(), "removed temporary files a stopped process left in the data folder");
    }
}

/// The longest wait for the folder's lock (held by another process for one object's read or write,
/// normally milliseconds).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl FolderStore {
    /// A data store rooted at `root`, its owner's alone: created `0700` if missing, narrowed to
    /// `0700` if others could read it, its files written `0600`.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn new(root: PathBuf) -> Result<Self, StoreError> {
        let fail = |e| StoreError::backend("open", &root.display().to_string(), e);
        private::create_dir_all(&root).map_err(fail)?;
        if private::narrow_dir(&root).map_err(fail)? {
            tracing::info!(folder = %root.display(), "data folder narrowed to its owner (0700): it holds tokens");
        }
        Ok(Self {
            root,
            private: true,
            lock_wait: LOCK_WAIT,
        })
    }

    /// A site store rooted at `root` (created if missing) for a web server to read: folders and
    /// files keep the umask's modes.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn for_site(root: PathBuf) -> Result<Self, StoreError> {
        fs::create_dir_all(&root)
            .map_err(|e| StoreError::backend("open", &root.display().to_string(), e))?;
        Ok(Self {
            root,
            private: false,
            lock_wait: LOCK_WAIT,
        })
    }

    /// The same store, waiting at most `wait` for the folder's lock (30 s by default).
    #[must_use]
    pub fn with_lock_wait(mut self, wait: std::time::Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    fn create_dir_all(&self, folder: &Path) -> std::io::Result<()> {
        if self.private {
            private::create_dir_all(folder)
        } else {
            fs::create_dir_all(folder)
        }
    }

    /// A new (or truncated) file to write, `0600` in a data store.
    fn create_file(&self, path: &Path) -> std::io::Result<File> {
        if self.private {
            private::create_file(path)
        } else {
            File::create(path)
        }
    }

    /// The root folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn lock(&self, shared: bool) -> Result<File, StoreError> {
        let path = self.root.join(LOCK_FILE);
        let mut options = if self.private {
            private::file_options()
        } else {
            OpenOptions::new()
        };
        let file = options
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::backend("lock", LOCK_FILE, e))?;
        // Held only for one object's read or write: a lock held longer than LOCK_WAIT is a stuck
        // process, and waiting for it for ever would hang every command and cycle.
        let waited_since = std::time::Instant::now();
        loop {
            let tried = if shared {
                file.try_lock_shared()
            } else {
                file.try_lock()
            };
            match tried {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock)
                    if waited_since.elapsed() < self.lock_wait =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::backend(
                        "lock",
                        LOCK_FILE,
                        format!(
                            "another process has held the data folder's lock for over {:.1} s (a stuck process? it is {})",
                            self.lock_wait.as_secs_f64(),
                            path.display()
                        ),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StoreError::backend("lock", LOCK_FILE, e));
                }
            }
        }
    }

    fn get_blocking(&self, key: &str, if_none_match: Option<&ETag>) -> Result<Fetched, StoreError> {
        let path = self.path(key)?;
        let _lock = self.lock(true)?;
        let Some(etag) = read_etag(&path).map_err(|e| StoreError::backend("get", key, e))? else {
            return Ok(Fetched::NotFound);
        };
        if if_none_match == Some(&etag) {
            return Ok(Fetched::NotModified);
        }
        match fs::read(&path) {
            Ok(bytes) => Ok(Fetched::Found(Object {
                bytes: Bytes::from(bytes),
                etag,
            })),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Fetched::NotFound),
            Err(e) => Err(StoreError::backend("get", key, e)),
        }
    }

    /// The folder of the object at `path` (created if missing) and a new temporary file's path in
    /// it, for a write that is renamed into place. In a data store, the object's temporary files
    /// that a stopped process left over an hour ago go first ([`remove_stale_temps`]).
    fn temp_beside(&self, path: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        let folder = path.parent().unwrap_or(&self.root).to_owned();
        self.create_dir_all(&folder)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object");
        if self.private {
            remove_stale_temps(&folder, name);
        }
        let temp = folder.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
        Ok((folder, temp))
    }

    /// A published file of the dashboard, written unconditionally: still a temporary file renamed
    /// into place (a reader sees the old or the new file), but neither fsynced nor given an ETag
    /// sidecar (its ETag is hashed from the content when asked, not now: a full render spent 3 %
    /// of its CPU hashing files for ETags nobody read). A dashboard's thousands of derived files are
    /// rendered again from the data if a power cut loses some; three fsyncs each made a full render
    /// spend most of its time in the kernel.
    fn publish_blocking(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.publish_with(key, |mut file| file.write_all(bytes))
    }

    /// [`FolderStore::publish_blocking`] of the content of the file at `source`, copied by the
    /// kernel (not read into memory).
    fn publish_file_blocking(&self, key: &str, source: &Path) -> Result<(), StoreError> {
        self.publish_with(key, |mut file| {
            std::io::copy(&mut File::open(source)?, &mut file).map(drop)
        })
    }

    /// Publishes at `key` what `fill` writes into a new file ([`FolderStore::publish_blocking`]).
    fn publish_with(
        &self,
        key: &str,
        fill: impl FnOnce(File) -> std::io::Result<()>,
    ) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let fail = |e: std::io::Error| StoreError::backend("publish", key, e);
        let (_, temp) = self.temp_beside(&path).map_err(fail)?;
        let result = (|| {
            fill(self.create_file(&temp)?)?;
            // A sidecar left by an earlier conditional write would no longer match.
            match fs::remove_file(etag_path(&path)) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            fs::rename(&temp, &path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result.map_err(fail)
    }

    fn put_blocking(
        &self,
        key: &str,
        bytes: &[u8],
        condition: &PutCondition,
    ) -> Result<ETag, StoreError> {
        let path = self.path(key)?;
        let fail = |e: std::io::Error| StoreError::backend("put", key, e);
        let _lock = self.lock(false)?;
        let current = read_etag(&path).map_err(fail)?;
        let allowed = match condition {
            PutCondition::Always => true,
            PutCondition::IfAbsent => current.is_none(),
            PutCondition::IfMatch(expected) => current.as_ref() == Some(expected),
        };
        if !allowed {
            return Err(StoreError::PreconditionFailed {
                key: key.to_owned(),
            });
        }
        let (folder, temp) = self.temp_beside(&path).map_err(fail)?;
        let etag = content_etag(bytes);
        let result = (|| {
            write_synced(self.create_file(&temp)?, bytes)?;
            // The sidecar first: a crash between the two renames leaves an ETag that matches no
            // content, which the next read treats as "changed" (a harmless re-download).
            write_synced(self.create_file(&etag_path(&path))?, etag.0.as_bytes())?;
            fs::rename(&temp, &path)?;
            sync_dir(&folder)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result.map_err(fail)?;
        Ok(etag)
    }

    /// `put_file`: the file is copied into a temporary file beside the object while it is hashed
    /// (in chunks, never whole in memory), then the condition is checked and the copy renamed into
    /// place under the lock.
    fn put_file_blocking(
        &self,
        key: &str,
        source: &Path,
        condition: &PutCondition,
    ) -> Result<ETag, StoreError> {
        let path = self.path(key)?;
        let fail = |e: std::io::Error| StoreError::backend("put", key, e);
        let (folder, temp) = self.temp_beside(&path).map_err(fail)?;
        let folder = folder.as_path();
        let result = (|| {
            let etag = copy_hashing(source, self.create_file(&temp)?)?;
            let _lock = self.lock(false).map_err(std::io::Error::other)?;
            let current = read_etag(&path)?;
            let allowed = match condition {
                PutCondition::Always => true,
                PutCondition::IfAbsent => current.is_none(),
                PutCondition::IfMatch(expected) => current.as_ref() == Some(expected),
            };
            if !allowed {
                return Ok(None);
            }
            write_synced(self.create_file(&etag_path(&path))?, etag.0.as_bytes())?;
            fs::rename(&temp, &path)?;
            sync_dir(folder)?;
            Ok(Some(etag))
        })();
        let _ = fs::remove_file(&temp);
        match result.map_err(fail)? {
            Some(etag) => Ok(etag),
            None => Err(StoreError::PreconditionFailed {
                key: key.to_owned(),
            }),
        }
    }

    /// `get_to_file`: the object is copied by the kernel, not read into memory.
    fn get_to_file_blocking(
        &self,
        key: &str,
        if_none_match: Option<&ETag>,
        target: &Path,
    ) -> Result<FetchedFile, StoreError> {
        let path = self.path(key)?;
        let _lock = self.lock(true)?;
        let Some(etag) = read_etag(&path).map_err(|e| StoreError::backend("get", key, e))? else {
            return Ok(FetchedFile::NotFound);
        };
        if if_none_match == Some(&etag) {
            return Ok(FetchedFile::NotModified);
        }
        match fs::copy(&path, target) {
            Ok(_) => Ok(FetchedFile::Found(etag)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(FetchedFile::NotFound),
            Err(e) => Err(StoreError::backend("get", key, e)),
        }
    }

    fn delete_blocking(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let _lock = self.lock(false)?;
        for file in [path.clone(), etag_path(&path)] {
            match fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::backend("delete", key, e)),
            }
        }
        Ok(())
    }

    fn list_blocking(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut folders = vec![self.root.clone()];
        while let Some(folder) = folders.pop() {
            let entries = match fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::backend("list", prefix, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::backend("list", prefix, e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') {
                    continue;
                }
                let path = entry.path();
                if entry
                    .file_type()
                    .map_err(|e| StoreError::backend("list", prefix, e))?
                    .is_dir()
                {
                    folders.push(path);
                } else if let Ok(relative) = path.strip_prefix(&self.root) {
                    let key = relative
                        .components()
                        .filter_map(|c| c.as_os_str().to_str())
                        .collect::<Vec<_>>()
                        .join("/");
                    if key.starts_with(prefix) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::backend("task", "", e))?
}

#[async_trait::async_trait]
impl ObjectStore for FolderStore {
    async fn get(&self, key: &str, if_none_match: Option<&ETag>) -> Result<Fetched, StoreError> {
        let (store, key, etag) = (self.clone(), key.to_owned(), if_none_match.cloned());
        blocking(move || store.get_blocking(&key, etag.as_ref())).await
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        _content_type: &str,
    ) -> Result<ETag, StoreError> {
        let (store, key) = (self.clone(), key.to_owned());
        blocking(move || store.put_blocking(&key, &bytes, &condition)).await
    }

    async fn put_file(
        &self,
        key: &str,
        path: &Path,
        condition: PutCondition,
        _content_type: &str,
    ) -> Result<ETag, StoreError> {
        let (store, key, path) = (self.clone(), key.to_owned(), path.to_owned());
        blocking(move || store.put_file_blocking(&key, &path, &condition)).await
    }

    async fn publish(
        &self,
        key: &str,
        bytes: Bytes,
        _content_type: &str,
        _cache_control: &str,
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        let (store, key) = (self.clone(), key.to_owned());
        match condition {
            PutCondition::Always => blocking(move || store.publish_blocking(&key, &bytes)).await,
            // The manifest: a conditional write, with everything that promises.
            condition => blocking(move || store.put_blocking(&key, &bytes, &condition))
                .await
                .map(|_| ()),
        }
    }

    /// Unconditionally, as `publish` does (a copy renamed into place, no sidecar); a conditional
    /// write (the manifest) is copied while it is hashed, in chunks, then renamed into place as
    /// `put_file` does (the folder keeps no HTTP metadata).
    async fn publish_file(
        &self,
        key: &str,
        path: &Path,
        _metadata: (&str, &str),
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        let (store, key, path) = (self.clone(), key.to_owned(), path.to_owned());
        match condition {
            PutCondition::Always => {
                blocking(move || store.publish_file_blocking(&key, &path)).await
            }
            condition => blocking(move || store.put_file_blocking(&key, &path, &condition))
                .await
                .map(|_| ()),
        }
    }

    async fn publish_all(&self, files: Vec<SiteFile>) -> Result<(), StoreError> {
        let store = self.clone();
        blocking(move || {
            files
                .iter()
                .try_for_each(|file| store.publish_blocking(&file.key, &file.bytes))
        })
        .await
    }

    async fn get_to_file(
        &self,
        key: &str,
        if_none_match: Option<&ETag>,
        path: &Path,
    ) -> Result<FetchedFile, StoreError> {
        let (store, key, etag, path) = (
            self.clone(),
            key.to_owned(),
            if_none_match.cloned(),
            path.to_owned(),
        );
        blocking(move || store.get_to_file_blocking(&key, etag.as_ref(), &path)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (store, key) = (self.clone(), key.to_owned());
        blocking(move || store.delete_blocking(&key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (store, prefix) = (self.clone(), prefix.to_owned());
        blocking(move || store.list_blocking(&prefix)).await
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

#[cfg(test)]
mod tests;
