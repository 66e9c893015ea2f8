//! Rendered files too large to hold: written to a file of the work folder as they are made,
//! hashed on the way, and published from there (the last 7 days' exports, 2-4 MB each at 1,000
//! meetings a day, and each day's sessions exports, about 7 MB each).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::build::{BuildError, Files};
use super::file_hashes::ContentHash;
use crate::storage::work_files::WorkFile;

/// The buffer between what makes a file and the file (and its hash).
const WRITE_BUFFER: usize = 64 << 10;

/// A rendered file waiting in the work folder: its name there is removed when this is dropped,
/// published or not.
#[derive(Debug)]
pub(crate) struct WrittenFile {
    /// Its path in the site.
    pub(crate) path: String,
    /// The file in the work folder.
    local: PathBuf,
    /// Its content hash.
    pub(crate) hash: ContentHash,
    /// Its length in bytes.
    pub(crate) len: u64,
}

impl WrittenFile {
    /// The file at `path` of the site, written by `fill` into a new file of `work_dir`.
    ///
    /// # Errors
    /// `fill`'s, or the file system's.
    pub(crate) fn write(
        work_dir: &Path,
        path: &str,
        fill: impl FnOnce(&mut dyn Write) -> Result<(), BuildError>,
    ) -> Result<Self, BuildError> {
        let fail = |e: io::Error| BuildError::Export(format!("{path} in the work folder: {e}"));
        crate::storage::private::create_dir_all(work_dir).map_err(fail)?;
        let local = WorkFile::Export.unique(work_dir, "", "");
        let file = crate::storage::private::create_file(&local).map_err(fail)?;
        // Named before anything can fail: dropped on an error, it removes the file.
        let mut written = Self {
            path: path.to_owned(),
            local,
            hash: ContentHash::of(b""),
            len: 0,
        };
        // Hashed below the buffer: the hash takes the buffer's chunks, not each of the many small
        // writes a template or a serializer makes.
        let hashing = Hashing {
            inner: file,
            hash: Sha256::new(),
            len: 0,
        };
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, hashing);
        fill(&mut out)?;
        let hashed = out.into_inner().map_err(|e| fail(e.into_error()))?;
        written.hash = ContentHash::from_digest(hashed.hash);
        written.len = hashed.len;
        Ok(written)
    }

    /// Where it waits in the work folder.
    pub(crate) fn local(&self) -> &Path {
        &self.local
    }

    /// Its content, read back.
    ///
    /// # Errors
    /// The file system's.
    pub(crate) fn read(&self) -> Result<Vec<u8>, BuildError> {
        std::fs::read(&self.local)
            .map_err(|e| BuildError::Export(format!("{} in the work folder: {e}", self.path)))
    }
}

impl Drop for WrittenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.local);
    }
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Files rendered for the caller to publish: held, or written to the work folder.
#[derive(Debug, Default)]
pub(crate) struct RenderedFiles {
    /// Files held in memory.
    pub(crate) files: Files,
    /// Files waiting in the work folder.
    pub(crate) written: Vec<WrittenFile>,
}

impl RenderedFiles {
    /// Whether nothing was rendered.
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty() && self.written.is_empty()
    }

    /// Bytes rendered, held or written.
    pub(crate) fn len(&self) -> u64 {
        let held: usize = self.files.values().map(Vec::len).sum();
        held as u64 + self.written.iter().map(|w| w.len).sum::<u64>()
    }

    /// Adds every file of `other`.
    pub(crate) fn append(&mut self, other: Self) {
        self.files.extend(other.files);
        self.written.extend(other.written);
    }

    /// Adds `file`, held or written.
    pub(crate) fn push(&mut self, (path, file): (String, Output)) {
        match file {
            Output::Held(bytes) => {
                self.files.insert(path, bytes);
            }
            Output::Written(written) => self.written.push(written),
        }
    }

    /// Every file held, those written read back (a build without a work folder writes none).
    ///
    /// # Errors
    /// The file system's.
    pub(crate) fn into_files(self) -> Result<Files, BuildError> {
        let mut files = self.files;
        for written in self.written {
            files.insert(written.path.clone(), written.read()?);
        }
        Ok(files)
    }
}

impl From<Files> for RenderedFiles {
    fn from(files: Files) -> Self {
        Self {
            files,
            written: Vec::new(),
        }
    }
}

/// A rendered file: held, or written to the work folder.
#[derive(Debug)]
pub(crate) enum Output {
    /// Its bytes.
    Held(Vec<u8>),
    /// Where it waits.
    Written(WrittenFile),
}

impl Output {
    /// The file at `path`, made by `fill`: written to a file of `work_dir` when there is one, else
    /// held. Returns it with its content hash.
    ///
    /// # Errors
    /// `fill`'s, or the file system's.
    pub(crate) fn make(
        work_dir: Option<&Path>,
        path: &str,
        fill: impl FnOnce(&mut dyn Write) -> Result<(), BuildError>,
    ) -> Result<(Self, ContentHash), BuildError> {
        match work_dir {
            Some(dir) => {
                let written = WrittenFile::write(dir, path, fill)?;
                let hash = written.hash;
                Ok((Self::Written(written), hash))
            }
            None => {
                let mut bytes = Vec::new();
                fill(&mut bytes)?;
                let hash = ContentHash::of(&bytes);
                Ok((Self::Held(bytes), hash))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_has_the_bytes_and_hash_of_the_same_file_held_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let fill = |out: &mut dyn Write| {
            for n in 0..10_000 {
                writeln!(out, "row {n}").map_err(|e| BuildError::Export(e.to_string()))?;
            }
            Ok(())
        };
        let (held, held_hash) = Output::make(None, "a.csv", fill).unwrap();
        let (written, written_hash) = Output::make(Some(dir.path()), "a.csv", fill).unwrap();
        assert_eq!(held_hash, written_hash);
        let (Output::Held(bytes), Output::Written(file)) = (held, written) else {
            panic!("held, then written");
        };
        assert_eq!(written_hash, ContentHash::of(&bytes));
        assert_eq!(file.len, bytes.len() as u64);
        assert_eq!(file.read().unwrap(), bytes);
        let local = file.local().to_owned();
        assert!(local.starts_with(dir.path()));
        let mut rendered = RenderedFiles::default();
        rendered.push(("a.csv".into(), Output::Written(file)));
        assert_eq!(rendered.len(), bytes.len() as u64);
        assert_eq!(rendered.into_files().unwrap()["a.csv"], bytes);
        assert!(!local.exists(), "read back and dropped: its file is gone");
        // A failed fill leaves nothing either.
        let failed = Output::make(Some(dir.path()), "b.csv", |out| {
            out.write_all(b"half").unwrap();
            Err(BuildError::Export("stopped".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
