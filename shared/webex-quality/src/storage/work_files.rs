//! The files a run names in its work folder while it uses them, and their removal when a run was
//! stopped before it could remove its own.
//!
//! A run removes each file it names once done with it. One stopped on the way (a Lambda timeout or
//! an out-of-memory kill, where `/tmp` outlives the invocation; a crash on a laptop) leaves it, and
//! some are large: the collector's working copy of the hot database and its download (300 MB at
//! 10,000 meetings a day), an archive's copy, a render's exports, the analytics tables. A few such runs would fill
//! Lambda's `/tmp` and make every later run on that instance fail. So every such name is made here,
//! and each run starts by removing the ones an earlier run left ([`remove_stale`]). What a run keeps
//! on purpose (the cached database and its ETag, the lock file) is not named here and never
//! removed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file named here this long ago belongs to no live run: a run lasts minutes (a Lambda at most
/// 15), and it touches each file seconds before it uses it.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// What a named work file is for (its name's first part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkFile {
    /// A render's large file, written as it is made and published from there.
    Export,
    /// A render's `manifest.json`, published from there.
    Manifest,
    /// The render cache, or one of its parts, on its way from or to the data store.
    RenderCache,
    /// An archive's copy: downloaded by a render, or written by the collector before its upload.
    Archive,
    /// The hot database on its way from the data store (it then replaces the cached copy).
    Download,
    /// A table of the analytics copy on its way to the data store.
    Analytics,
    /// A collector run's files: its working copy of the hot database, its delta (the calls it made;
    /// a later run takes over a stopped run's calls and fetches them again), a spill it merges, and SQLite's
    /// files beside them. Spills kept for a later run are in a folder of their own, not here.
    Run,
}

impl WorkFile {
    /// Every kind: what [`remove_stale`] looks for.
    pub const ALL: [Self; 7] = [
        Self::Export,
        Self::Manifest,
        Self::RenderCache,
        Self::Archive,
        Self::Download,
        Self::Analytics,
        Self::Run,
    ];

    /// The first part of its names.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Export => "export-",
            Self::Manifest => "manifest-",
            Self::RenderCache => "site-cache-",
            Self::Archive => "archive-",
            Self::Download => "download-",
            Self::Analytics => "analytics-",
            Self::Run => "run-",
        }
    }

    /// `dir`'s file of this kind named `rest` after the prefix.
    #[must_use]
    pub fn path(self, dir: &Path, rest: &str) -> PathBuf {
        dir.join(format!("{}{rest}", self.prefix()))
    }

    /// A new file name of this kind in `dir`: `detail` (may be empty), a random part, `suffix`.
    #[must_use]
    pub fn unique(self, dir: &Path, detail: &str, suffix: &str) -> PathBuf {
        self.path(
            dir,
            &format!("{detail}{}{suffix}", uuid::Uuid::new_v4().simple()),
        )
    }
}

/// Removes the files of `dir` named by [`WorkFile`] and last written over an hour ago (left by
/// stopped runs); returns how many. Any other file stays. Errors are ignored: a file that cannot be
/// removed now is tried again by the next run.
pub fn remove_stale(dir: &Path) -> usize {
    let removed = remove_left_over(dir, |name| {
        WorkFile::ALL
            .iter()
            .any(|kind| name.starts_with(kind.prefix()))
    });
    if removed > 0 {
        tracing::info!(
            removed,
            "removed work files left by stopped runs (over an hour old)"
        );
    }
    removed
}

/// Removes the files of `dir` whose name `ours` accepts and that were last written over an hour
/// ago ([`STALE_AFTER`]); returns how many. Errors are ignored: a file that cannot be removed now
/// is tried again next time. What [`remove_stale`] and the folder store's clean-up of temporary
/// files share.
pub(crate) fn remove_left_over(dir: &Path, ours: impl Fn(&str) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    entries
        .filter_map(Result::ok)
        .filter(|e| ours(&e.file_name().to_string_lossy()))
        .filter(|e| {
            let modified = e.metadata().and_then(|m| m.modified());
            modified.is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age > STALE_AFTER))
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Writes a file at `path` last modified `age` ago (a file left by a stopped run, in tests).
#[cfg(test)]
pub(crate) fn write_aged(path: &Path, age: Duration) {
    std::fs::write(path, b"x").unwrap();
    let open = std::fs::File::options().write(true).open(path).unwrap();
    open.set_modified(SystemTime::now() - age).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_left_over_an_hour_goes_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let old = STALE_AFTER * 2;
        let mut left = Vec::new();
        for kind in WorkFile::ALL {
            let path = kind.unique(dir.path(), "2026-12-01.", ".sqlite");
            write_aged(&path, old);
            left.push(path);
        }
        // SQLite's file beside a run's copy has the copy's name and more.
        let journal = WorkFile::Run.path(dir.path(), "20261201T000000Z-ab12cd34.sqlite-journal");
        write_aged(&journal, old);
        left.push(journal);
        // In use: written a minute ago.
        let fresh = WorkFile::Export.unique(dir.path(), "", "");
        write_aged(&fresh, Duration::from_secs(60));
        // Kept on purpose, however old: the cached database, its ETag, the lock, another folder.
        let kept: Vec<PathBuf> = [
            "webex-quality.sqlite",
            "webex-quality.sqlite.etag",
            ".cache.lock",
        ]
        .iter()
        .map(|name| dir.path().join(name))
        .collect();
        for path in &kept {
            write_aged(path, old);
        }
        let folder = WorkFile::Archive.path(dir.path(), "folder");
        std::fs::create_dir(&folder).unwrap();

        assert_eq!(remove_stale(dir.path()), left.len());
        for path in &left {
            assert!(!path.exists(), "{} is left", path.display());
        }
        assert!(fresh.exists() && folder.exists());
        assert!(kept.iter().all(|path| path.exists()));
        assert_eq!(remove_stale(dir.path()), 0);
        assert_eq!(remove_stale(&dir.path().join("missing")), 0);
    }

    #[test]
    fn every_kind_is_looked_for() {
        // A new kind fails to compile here until it has a place, and then this test until it is
        // in `ALL`.
        fn place(kind: WorkFile) -> usize {
            match kind {
                WorkFile::Export => 0,
                WorkFile::Manifest => 1,
                WorkFile::RenderCache => 2,
                WorkFile::Archive => 3,
                WorkFile::Download => 4,
                WorkFile::Analytics => 5,
                WorkFile::Run => 6,
            }
        }
        let mut places: Vec<usize> = WorkFile::ALL.iter().map(|k| place(*k)).collect();
        places.sort_unstable();
        places.dedup();
        assert_eq!(places, (0..=6).collect::<Vec<_>>());
        // No prefix starts another (each kind's names are its own).
        for a in WorkFile::ALL {
            for b in WorkFile::ALL {
                assert!(a == b || !a.prefix().starts_with(b.prefix()));
            }
        }
    }

    #[test]
    fn names_of_one_kind_differ_and_start_with_its_prefix() {
        let dir = Path::new("/work");
        let (a, b) = (
            WorkFile::Manifest.unique(dir, "", ".json"),
            WorkFile::Manifest.unique(dir, "", ".json"),
        );
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("manifest-") && name.ends_with(".json"),
            "{name}"
        );
        assert_eq!(a.parent(), Some(dir));
    }
}
