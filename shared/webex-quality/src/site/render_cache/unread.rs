//! Parts of the render cache fetched into the work folder but not read yet: a build reads each when
//! it reaches the part's archive, rather than every part before it starts. While the build goes
//! through the archives, it takes over the published manifest's entry of each meeting page it keeps
//! (and lets it go); read up front, every archive's entries were held beside the whole published
//! manifest (2.9 MB of its 14.4 MB peak at 30 days of 1,000 meetings a day, nothing changed).
//!
//! The parts wait one after another in one file of the work folder. As with the spill file, where
//! the system allows it (Unix) its name is removed as soon as it is open: a render that crashes or
//! is stopped (a Lambda timeout, where `/tmp` outlives the invocation) leaves nothing behind, and a
//! year of parts is one open file, not 365.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Manifest, RenderCache, Spill, Texts, part_key};

/// Fetched parts by archive, each a stretch of one file (see the module's documentation).
#[derive(Debug, Default)]
pub struct UnreadParts {
    /// The file, and its name while it has one (removed when this is dropped).
    file: Option<(File, Option<PathBuf>)>,
    /// Where each part is in it: offset and length.
    parts: BTreeMap<String, (u64, u64)>,
    /// The file's length.
    end: u64,
}

/// What a part is read with: the spill file its summaries go to, the published manifest whose paths
/// its meetings are keyed by, and the string table it must have been written with (see
/// [`RenderCache::read_part_file`]).
pub type PartReading<'a> = (Option<&'a Arc<Spill>>, &'a Manifest, Option<&'a Texts>);

impl UnreadParts {
    /// No part yet, with a new file in `dir` to hold them.
    ///
    /// # Errors
    /// The file cannot be made.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        let file = crate::storage::private::create_nameless(dir, ("site-cache-parts", ""))?;
        Ok(Self {
            file: Some(file),
            parts: BTreeMap::new(),
            end: 0,
        })
    }

    /// Adds the part of `archive`, fetched to the file `fetched` (copied; the caller removes it),
    /// to read when its archive is reached.
    ///
    /// # Errors
    /// The file of the parts cannot be written, or `fetched` read.
    pub fn add(&mut self, archive: String, fetched: &Path) -> std::io::Result<()> {
        let Some((file, _)) = self.file.as_mut() else {
            return Err(std::io::Error::other("no file to hold the parts"));
        };
        file.seek(SeekFrom::Start(self.end))?;
        let len = std::io::copy(&mut File::open(fetched)?, file)?;
        self.parts.insert(archive, (self.end, len));
        self.end += len;
        Ok(())
    }

    /// Whether no part waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Reads the part of `archive` into `cache`, if one waits. One that cannot be read is let go,
    /// and said so: its archive is read and rendered again, and the part written again
    /// ([`RenderCache::read_part_file`]).
    pub fn read_into(&mut self, archive: &str, cache: &mut RenderCache, reading: PartReading<'_>) {
        let (Some((at, len)), Some((file, _))) = (self.parts.remove(archive), self.file.as_mut())
        else {
            return;
        };
        let key = part_key(archive);
        if let Err(error) = file.seek(SeekFrom::Start(at)) {
            cache.parts.remove(archive);
            tracing::warn!(%error, key, "a part of the render cache is unreadable: its archive is rendered again");
            return;
        }
        if let Err(error) = cache.read_part_reader(archive, Read::take(&*file, len), reading) {
            tracing::warn!(%error, key, "a part of the render cache is unreadable: its archive is rendered again");
        }
    }

    /// Reads every part still waiting into `cache` ([`UnreadParts::read_into`]).
    pub fn read_all_into(&mut self, cache: &mut RenderCache, reading: PartReading<'_>) {
        let archives: Vec<String> = self.parts.keys().cloned().collect();
        for archive in archives {
            self.read_into(&archive, cache, reading);
        }
    }
}

impl Drop for UnreadParts {
    fn drop(&mut self) {
        if let Some((_, Some(path))) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
