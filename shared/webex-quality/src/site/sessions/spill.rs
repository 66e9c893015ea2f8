//! A file of the work folder that holds the packed sessions and the summaries of the meetings a
//! render keeps, so that memory holds where each meeting's bytes are rather than the bytes: the
//! sessions, then the summaries, were the largest things a render held for every meeting of the
//! history (about 370 and 250 bytes a meeting, 11 and 7 MB at 30 days of 1,000 meetings a day).
//! Pages read a meeting's summary and sessions back when they need them, each with one read.
//!
//! Appended to, never rewritten; written through a fixed buffer, not one write a meeting. Each render
//! has its own. Where the system allows it (Unix), its name is removed as soon as it is open: the
//! render keeps using it, and a render that crashes or is stopped (a Lambda timeout, where `/tmp`
//! outlives the invocation) leaves nothing behind; elsewhere it is removed when the render drops it.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes appended are written to the file a batch of at most this many at a time (a meeting's
/// sessions are about 400 bytes; larger ones are written at once).
const WRITE_BATCH: usize = 1 << 18;

/// The spill file failed (the work folder is full or unwritable).
#[derive(Debug, thiserror::Error)]
#[error("the meetings' spill file in the work folder failed: {0}")]
pub struct SpillError(#[from] std::io::Error);

/// Where bytes appended to a [`Spill`] are (a meeting's packed sessions, or its summary's record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spilled {
    at: u64,
    len: u32,
}

impl Spilled {
    /// The `len` bytes at `at`: a part of what one [`Spill::append`] wrote (a read must not
    /// span two).
    pub(crate) fn new(at: u64, len: u32) -> Self {
        Self { at, len }
    }

    /// Where the bytes start.
    pub(crate) fn at(self) -> u64 {
        self.at
    }

    /// How many.
    pub(crate) fn len(self) -> u32 {
        self.len
    }
}

/// The spill file (see the module's documentation).
pub struct Spill {
    /// Its name, while it has one (not Unix).
    path: Option<PathBuf>,
    state: Mutex<State>,
}

struct State {
    file: File,
    /// Bytes written to the file so far.
    written: u64,
    /// Bytes appended after them, not written yet.
    pending: Vec<u8>,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill").field("path", &self.path).finish()
    }
}

impl Spill {
    /// Empties the file (what was written is lost): a test's damaged spill file.
    #[cfg(test)]
    pub(crate) fn lose_everything(&self) {
        let mut state = self.state.lock().unwrap();
        state.pending.clear();
        state.file.set_len(0).unwrap();
    }

    /// A new, empty spill file in `dir` (created when missing).
    ///
    /// # Errors
    /// The folder or the file cannot be made.
    pub fn create(dir: &Path) -> Result<Arc<Self>, SpillError> {
        let (file, path) = crate::storage::private::create_nameless(dir, ("meetings", ".spill"))?;
        Ok(Arc::new(Self {
            path,
            state: Mutex::new(State {
                file,
                written: 0,
                pending: Vec::with_capacity(WRITE_BATCH),
            }),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `bytes`; returns where they are.
    pub(crate) fn append(&self, bytes: &[u8]) -> Result<Spilled, SpillError> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| std::io::Error::other("a meeting's sessions passed 4 GiB"))?;
        let mut state = self.state();
        // The buffer never grows past its batch: it is written first when these would not fit.
        if state.pending.len() + bytes.len() > WRITE_BATCH {
            state.flush()?;
        }
        let at = state.written + state.pending.len() as u64;
        if bytes.len() > WRITE_BATCH {
            state.file.seek(SeekFrom::Start(at))?;
            state.file.write_all(bytes)?;
            state.written += bytes.len() as u64;
        } else {
            state.pending.extend_from_slice(bytes);
        }
        Ok(Spilled { at, len })
    }

    /// The bytes appended at `spilled`.
    pub(crate) fn read(&self, spilled: Spilled) -> Result<Vec<u8>, SpillError> {
        let state = self.state();
        let mut bytes = vec![0; spilled.len as usize];
        if let Some(start) = spilled.at.checked_sub(state.written) {
            // Still in the buffer.
            let start = usize::try_from(start).map_err(std::io::Error::other)?;
            let found = state
                .pending
                .get(start..start + bytes.len())
                .ok_or_else(|| std::io::Error::other("read past the spill file's end"))?;
            bytes.copy_from_slice(found);
        } else {
            read_at(&state.file, &mut bytes, spilled.at)?;
        }
        Ok(bytes)
    }
}

/// Reads `bytes.len()` bytes at `at`: one call where the system has it (Unix's `pread`), a seek
/// and a read elsewhere.
#[cfg(unix)]
fn read_at(file: &File, bytes: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, at)
}

#[cfg(not(unix))]
fn read_at(mut file: &File, bytes: &mut [u8], at: u64) -> std::io::Result<()> {
    use std::io::Read;
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(bytes)
}

impl State {
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(self.written))?;
        self.file.write_all(&self.pending)?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

impl Drop for Spill {
    /// Removes the file where its name was not removed at once (not Unix).
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_appended_reads_back_from_the_buffer_and_the_file_and_the_file_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(&dir.path().join("work")).unwrap();
        let chunks: Vec<Vec<u8>> = (0..300u32)
            .map(|i| {
                // Up to past a batch: the largest are written at once.
                let len = (i as usize * 7919) % (WRITE_BATCH + 9000);
                (0..len).map(|b| (b as u32 ^ i) as u8).collect()
            })
            .collect();
        let mut places = Vec::new();
        for chunk in &chunks {
            places.push(spill.append(chunk).unwrap());
            // Each reads back at once, whether still buffered or written already.
            assert_eq!(&spill.read(*places.last().unwrap()).unwrap(), chunk);
        }
        assert!(spill.state().written > 0, "more than a batch was written");
        assert_eq!(
            spill.state().pending.capacity(),
            WRITE_BATCH,
            "the buffer never grew"
        );
        for (chunk, place) in chunks.iter().zip(&places).rev() {
            assert_eq!(&spill.read(*place).unwrap(), chunk);
        }
        let work = dir.path().join("work");
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_dir(&work).unwrap().count(),
            0,
            "no name left behind, even by a render that crashes"
        );
        drop(spill);
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    }

    #[test]
    fn a_place_past_the_end_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(dir.path()).unwrap();
        let place = spill.append(b"abc").unwrap();
        let past = Spilled {
            at: place.at + 2,
            len: 5,
        };
        assert!(spill.read(past).is_err());
    }
}
