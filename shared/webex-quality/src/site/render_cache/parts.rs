//! The render cache's parts: one per archive object, beside it in the data store ([`part_key`]),
//! holding the archive's list of meetings and their entries, written when the archive is first
//! rendered (again only when the build rendered one of its meetings) and read by every render.
//! The hot object (`stored.rs`) lists each part's digest; a part that is not the one listed is
//! not read.
//!
//! Layout of a part, in the record streams of `records.rs`: `PART_MAGIC`; the head (`version`,
//! `fingerprint`, the archive's key, and the length and CRC-32 of the string table's first strings,
//! which its summaries may use); the archive's meetings' ids (one record); its meetings' entries (a
//! count, then records); the trailer. A meeting's entry is in the part of every archive that lists
//! it; a meeting no archive lists is in the hot object.

use std::io::{Read, Write};
use std::sync::Arc;

use super::records::{CacheDigest, Digesting, Writer, compressed, decompressing, failed};
use super::stored::spill_one;
use super::{
    CacheError, CachedMeeting, Manifest, MeetingKey, PartReading, RenderCache, Spill, Texts,
};

/// The first bytes of a part's decompressed stream.
pub(super) const PART_MAGIC: &[u8; 8] = b"wqpart01";

/// Where the parts of the render cache are kept in the data store.
pub const PARTS_PREFIX: &str = "site-cache/";

/// The data-store key of the part of the render cache for the archive object `archive`:
/// `site-cache/2026-11-20.bin.zst` for `archive/2026-11-20.sqlite.zst` (the part's head names its
/// archive, and is checked when it is read).
#[must_use]
pub fn part_key(archive: &str) -> String {
    use crate::history::{ARCHIVE_PREFIX, ARCHIVE_SUFFIX};
    let name = archive.strip_prefix(ARCHIVE_PREFIX).unwrap_or(archive);
    let name = name.strip_suffix(ARCHIVE_SUFFIX).unwrap_or(name);
    format!("{PARTS_PREFIX}{}.bin.zst", name.replace('/', "_"))
}

/// A part's head, as written: the cache's version and fingerprint, the archive's key, and the length
/// and CRC-32 of the string table's first strings when the part was written.
type PartHead<'a> = (u32, &'a str, &'a str, u32, u32);

/// [`PartHead`] read back.
type PartHeadOwned = (u32, String, String, u32, u32);

impl RenderCache {
    /// The decompressed stream of the part of the archive `archive`: its head, the ids the
    /// archive holds, and the entries of those the cache has.
    fn write_part_plain<W: Write>(&self, archive: &str, out: W) -> Result<W, CacheError> {
        let ids = self
            .archives
            .get(archive)
            .ok_or_else(|| failed(format!("the render cache lists no archive {archive}")))?;
        let mut records = Writer::new(out);
        records.out.write_all(PART_MAGIC).map_err(failed)?;
        let texts = u32::try_from(self.texts.len())
            .map_err(|_| failed("the render cache's string table passed 4 G strings"))?;
        let crc = self.texts.prefix_crc(self.texts.len()).unwrap_or_default();
        let head: PartHead<'_> = (self.version, &self.fingerprint, archive, texts, crc);
        records.record(&head)?;
        records.record(ids)?;
        let mut listed: Vec<&MeetingKey> = ids.iter().collect();
        listed.sort_unstable();
        listed.dedup();
        let entries = listed
            .into_iter()
            .filter_map(|id| self.meetings.get_key_value(id.id()));
        let count = entries.clone().count();
        records.entries(count, entries)?;
        let written = records.written;
        records.record(&written)?;
        Ok(records.out)
    }

    /// Writes the part of the archive `archive` to the file at `path` ([`part_key`] is its key in
    /// the data store) and returns its digest, to list in [`RenderCache::parts`].
    ///
    /// # Errors
    /// An archive the cache does not list; serialization or file failures.
    pub fn write_part_file(
        &self,
        archive: &str,
        path: &std::path::Path,
    ) -> Result<CacheDigest, CacheError> {
        let file = std::fs::File::create(path).map_err(failed)?;
        let (mut out, digest) = self.write_part_to(archive, std::io::BufWriter::new(file))?;
        out.flush().map_err(failed)?;
        Ok(digest)
    }

    /// [`RenderCache::write_part_file`] into memory.
    ///
    /// # Errors
    /// As [`RenderCache::write_part_file`].
    pub fn part_to_bytes(&self, archive: &str) -> Result<(Vec<u8>, CacheDigest), CacheError> {
        self.write_part_to(archive, Vec::new())
    }

    /// The part of `archive` compressed into `output`, and the digest of its decompressed stream.
    fn write_part_to<W: Write>(
        &self,
        archive: &str,
        output: W,
    ) -> Result<(W, CacheDigest), CacheError> {
        let mut digest = None;
        let output = compressed(output, |plain| {
            let (plain, got) = self
                .write_part_plain(archive, Digesting::new(plain))?
                .into_parts();
            digest = Some(got);
            Ok(plain)
        })?;
        let digest = digest.ok_or_else(|| failed("a part of the render cache was not written"))?;
        Ok((output, digest))
    }

    /// The archives whose part must be written: listed, but with no digest of a stored part
    /// (rendered by this build, or changed by it).
    #[must_use]
    pub fn parts_to_write(&self) -> Vec<String> {
        self.archives
            .keys()
            .filter(|archive| !self.parts.contains_key(*archive))
            .cloned()
            .collect()
    }

    /// Reads the part of the archive `archive` from the file at `path` into the cache (its ids into
    /// [`RenderCache::archives`], its entries into [`RenderCache::meetings`], each summary to
    /// `spill` as it is read), when it is the part the hot object lists ([`RenderCache::parts`]).
    /// Nothing is added unless the whole part reads back. A meeting whose page `published` lists
    /// is keyed by the manifest's path (one allocation for both, not two while the build goes on).
    /// The part must have been written with a string table that `texts` (the cache's own table
    /// when `None`) begins with: a build reads a part when it reaches its archive, with the table
    /// it took over from this cache ([`crate::site::SiteBuilder`]).
    ///
    /// # Errors
    /// A file that cannot be read; a part of another version, fingerprint, archive or string
    /// table, or another digest than the one listed; anything that is not such a part. Then the
    /// archive's digest is let go, so that its part is written again.
    pub fn read_part_file(
        &mut self,
        archive: &str,
        path: &std::path::Path,
        reading: PartReading<'_>,
    ) -> Result<(), CacheError> {
        let (spill, published, texts) = reading;
        let file = std::fs::File::open(path).map_err(failed);
        let read =
            file.and_then(|file| self.read_part_from(archive, file, (spill, published), texts));
        self.let_go_unless_read(archive, read)
    }

    /// [`RenderCache::read_part_file`] from `input`, the part's compressed bytes.
    ///
    /// # Errors
    /// As [`RenderCache::read_part_file`].
    pub fn read_part_reader(
        &mut self,
        archive: &str,
        input: impl Read,
        (spill, published, texts): PartReading<'_>,
    ) -> Result<(), CacheError> {
        let read = self.read_part_from(archive, input, (spill, published), texts);
        self.let_go_unless_read(archive, read)
    }

    /// [`RenderCache::read_part_file`] from bytes ([`RenderCache::part_to_bytes`]).
    ///
    /// # Errors
    /// As [`RenderCache::read_part_file`].
    pub fn read_part(&mut self, archive: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let read = self.read_part_from(archive, bytes, (None, &Manifest::new()), None);
        self.let_go_unless_read(archive, read)
    }

    /// `read`, the reading of the part of `archive`; when it failed, the archive's digest is let
    /// go (its part is written again).
    fn let_go_unless_read(
        &mut self,
        archive: &str,
        read: Result<(), CacheError>,
    ) -> Result<(), CacheError> {
        if read.is_err() {
            self.parts.remove(archive);
        }
        read
    }

    fn read_part_from<R: Read>(
        &mut self,
        archive: &str,
        input: R,
        (spill, published): (Option<&Arc<Spill>>, &Manifest),
        table: Option<&Texts>,
    ) -> Result<(), CacheError> {
        let listed = *self
            .parts
            .get(archive)
            .ok_or_else(|| failed(format!("the render cache lists no part for {archive}")))?;
        let mut reader = decompressing(input)?;
        let mut magic = [0; PART_MAGIC.len()];
        reader.input.read_exact(&mut magic).map_err(failed)?;
        if &magic != PART_MAGIC {
            return Err(failed("not a part of a render cache of this version"));
        }
        let (version, fingerprint, named, texts, crc): PartHeadOwned = reader.record()?;
        if version != self.version || fingerprint != self.fingerprint || named != archive {
            return Err(failed(format!(
                "the part for {archive} is another render's (of {named})"
            )));
        }
        if table.unwrap_or(&self.texts).prefix_crc(texts as usize) != Some(crc) {
            return Err(failed(format!(
                "the part for {archive} was written with another string table"
            )));
        }
        let ids: Vec<MeetingKey> = reader.record()?;
        let count: u64 = reader.record()?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let (id, mut entry): (MeetingKey, Box<CachedMeeting>) = reader.record()?;
            spill_one(&mut entry, spill)?;
            entries.push((id, entry));
        }
        reader.end()?;
        if reader.input.into_inner().digest() != listed {
            return Err(failed(format!(
                "the part for {archive} is not the one the render cache lists"
            )));
        }
        for (id, entry) in entries {
            self.meetings
                .entry(id.shared_with(published))
                .or_insert(entry);
        }
        let ids = ids.iter().map(|id| self.shared_id(id)).collect();
        self.archives.insert(archive.to_owned(), ids);
        Ok(())
    }
}

#[cfg(test)]
impl RenderCache {
    /// The cache as a render reads it back after saving it: each archive's part written and
    /// listed, then the hot object, then the parts read (in memory).
    #[must_use]
    pub(crate) fn round_trip(&self) -> Self {
        let mut stored = self.clone();
        let mut parts = Vec::new();
        for archive in self.archives.keys() {
            let (bytes, digest) = stored.part_to_bytes(archive).unwrap();
            stored.parts.insert(archive.clone(), digest);
            parts.push((archive, bytes));
        }
        let mut read = Self::from_bytes(&stored.to_bytes().unwrap()).unwrap();
        for (archive, bytes) in parts {
            read.read_part(archive, &bytes).unwrap();
        }
        read
    }
}

#[cfg(test)]
mod tests {
    use super::super::stored::MAGIC;
    use super::super::stored::tests::{plain, sample};
    use super::super::{ContentHash, Texts};
    use super::*;

    #[test]
    fn a_part_is_read_only_when_it_is_the_one_listed_for_its_archive_and_table() {
        let cache = sample().round_trip();
        let archive = "archive/2026-01-05.sqlite.zst";
        let (part, _) = cache.part_to_bytes(archive).unwrap();
        let hot = || RenderCache::from_bytes(&cache.to_bytes().unwrap()).unwrap();
        let refused = |mut hot: RenderCache, archive: &str, bytes: &[u8]| {
            let error = hot.read_part(archive, bytes).unwrap_err().to_string();
            assert!(
                hot.meetings.is_empty() && hot.archives.is_empty(),
                "{error}"
            );
            assert!(hot.parts.is_empty(), "its digest is let go: {error}");
            error
        };
        let mut read = hot();
        read.read_part(archive, &part).unwrap();
        assert_eq!(read, cache);
        // Another archive's part, or one of another render.
        let mut other = hot();
        let digest = other.parts.remove(archive).unwrap();
        other
            .parts
            .insert("archive/2026-01-06.sqlite.zst".into(), digest);
        assert!(refused(other, "archive/2026-01-06.sqlite.zst", &part).contains("2026-01-05"));
        let mut changed = cache.clone();
        changed.meetings.values_mut().next().unwrap().page = ContentHash::of(b"other");
        let (changed, _) = changed.part_to_bytes(archive).unwrap();
        assert!(refused(hot(), archive, &changed).contains("not the one"));
        // Written over a string table this one does not begin with.
        let mut renumbered = hot();
        renumbered.texts = Texts::default();
        renumbered.texts.intern("Weekly <b>&</b> \u{1F600}");
        assert!(refused(renumbered, archive, &part).contains("string table"));
        // Cut short, damaged, or not a part at all.
        let plain = zstd::decode_all(part.as_slice()).unwrap();
        for end in (PART_MAGIC.len()..plain.len()).step_by(5) {
            refused(hot(), archive, &zstd::encode_all(&plain[..end], 1).unwrap());
        }
        assert!(refused(hot(), archive, &cache.to_bytes().unwrap()).contains("not a part"));
        assert_eq!(
            part_key(archive),
            "site-cache/2026-01-05.bin.zst",
            "beside its archive"
        );
        assert_eq!(
            part_key("archive/2026-01-05.2.sqlite.zst"),
            "site-cache/2026-01-05.2.bin.zst"
        );
    }

    /// `cache` without the digests of its stored parts.
    fn unlisted(mut cache: RenderCache) -> RenderCache {
        cache.parts.clear();
        cache
    }

    #[test]
    fn a_cache_reads_back_as_it_was_written_its_archives_meetings_in_their_parts() {
        // (Its ids shared once read: `a_meetings_id_read_from_the_cache_is_one_allocation`.)
        let cache = sample();
        assert_eq!(cache.parts_to_write(), ["archive/2026-01-05.sqlite.zst"]);
        let read = cache.round_trip();
        assert_eq!(unlisted(read.clone()), cache);
        assert!(read.parts_to_write().is_empty());
        assert_eq!(
            read.meetings["a_I_1"].summary.get().unwrap().sessions.len(),
            2
        );
        // The archive's meeting is in its part, not in the hot object; a meeting no archive lists
        // is in the hot object.
        let archive = "archive/2026-01-05.sqlite.zst";
        let hot = RenderCache::from_bytes(&cache.to_bytes().unwrap()).unwrap();
        assert!(hot.meetings.is_empty() && hot.archives.is_empty());
        let mut unarchived = cache.clone();
        unarchived.archives.clear();
        let hot = RenderCache::from_bytes(&unarchived.to_bytes().unwrap()).unwrap();
        assert_eq!(hot.meetings.len(), 1);
        // No field names: the sessions' packed bytes and the hashes' 32 bytes, as they are.
        let (part, _) = cache.part_to_bytes(archive).unwrap();
        let part = zstd::decode_all(part.as_slice()).unwrap();
        assert!(part.starts_with(PART_MAGIC));
        let plain = plain(&cache);
        assert!(plain.starts_with(MAGIC));
        for stream in [&plain, &part] {
            assert!(!stream.windows(7).any(|w| w == b"summary"));
        }
        let json = serde_json::to_vec(&cache).unwrap().len();
        assert!(
            (plain.len() + part.len()) * 2 < json,
            "{} bytes, as JSON {json}",
            plain.len() + part.len()
        );
    }
}
