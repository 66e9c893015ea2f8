//! Parts of the render cache fetched into the work folder but not read yet: a build reads each when
//! it reaches the part's archive, rather than every part before it starts. While the build goes
//! through the archives, it takes over the published manifest's entry of each meeting page it keeps
//! (and lets it go); read up front, every archive's entries were held beside the whole published
//! manifest (2.9 MB of its 14.4 MB peak at 30 days of 1,000 meetings a day, nothing changed).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Manifest, RenderCache, Spill, Texts, part_key};

/// Fetched parts by archive, each in a file of the work folder; a file is removed once read, and
/// those never read when this is dropped.
#[derive(Debug, Default)]
pub struct UnreadParts(BTreeMap<String, PathBuf>);

/// What a part is read with: the spill file its summaries go to, the published manifest whose paths
/// its meetings are keyed by, and the string table it must have been written with (see
/// [`RenderCache::read_part_file`]).
pub type PartReading<'a> = (Option<&'a Arc<Spill>>, &'a Manifest, Option<&'a Texts>);

impl UnreadParts {
    /// The part of `archive`, fetched to `file`, to read when its archive is reached.
    pub fn insert(&mut self, archive: String, file: PathBuf) {
        if let Some(earlier) = self.0.insert(archive, file) {
            let _ = std::fs::remove_file(earlier);
        }
    }

    /// Whether no part waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads the part of `archive` into `cache`, if one waits, and removes its file. One that
    /// cannot be read is let go, and said so: its archive is read and rendered again, and the part
    /// written again ([`RenderCache::read_part_file`]).
    pub fn read_into(&mut self, archive: &str, cache: &mut RenderCache, reading: PartReading<'_>) {
        let Some(file) = self.0.remove(archive) else {
            return;
        };
        if let Err(error) = cache.read_part_file(archive, &file, reading) {
            let key = part_key(archive);
            tracing::warn!(%error, key, "a part of the render cache is unreadable: its archive is rendered again");
        }
        let _ = std::fs::remove_file(file);
    }

    /// Reads every part still waiting into `cache` ([`UnreadParts::read_into`]).
    pub fn read_all_into(&mut self, cache: &mut RenderCache, reading: PartReading<'_>) {
        let archives: Vec<String> = self.0.keys().cloned().collect();
        for archive in archives {
            self.read_into(&archive, cache, reading);
        }
    }
}

impl Drop for UnreadParts {
    fn drop(&mut self) {
        for file in self.0.values() {
            let _ = std::fs::remove_file(file);
        }
    }
}
