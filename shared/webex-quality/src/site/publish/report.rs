//! What a publish did: the files uploaded, removed and left as they were. A render's report logs
//! the paths it uploaded past the first [`HELD_UPLOADS`] to a file of its work folder.

use std::sync::Arc;

use super::SitePath;

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
    pub(super) fn record(
        &mut self,
        paths: impl IntoIterator<Item = SitePath>,
    ) -> std::io::Result<()> {
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
