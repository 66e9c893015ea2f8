//! The render cache's stored form: zstd streams of length-prefixed postcard records, read and
//! written a record at a time (memory holds the cache, never its encoded form too).
//!
//! A profile of a render with nothing changed over 30 days of history (30,000 meetings) had two
//! thirds of its time in reading and writing the cache as JSON (200 MB of it, mostly field names);
//! postcard writes no names and numbers as varints.
//!
//! The cache is stored in parts: one per archive object, holding the entries of the archive's
//! meetings ([`RenderCache::write_part_file`], at [`part_key`]), written when the archive is first
//! rendered and then only read (archives never change); and the hot object
//! ([`super::SITE_CACHE_KEY`]) with the rest (the hot meetings, people and day pages, the string
//! table) and the digest of every part, rewritten when it changes. A render that changed a hot
//! meeting then writes the hot object alone, not every meeting of the history (12 MB at 30 days
//! of 1,000 meetings a day).
//!
//! Layout of the hot object, inside one zstd frame:
//! `MAGIC`, then records, each a little-endian `u32` length and that many bytes of postcard:
//! the head (`version`, `fingerprint`); the meetings no archive lists (a count, then one record per
//! meeting); the people pages (the same); the parts (the same: archive key and digest); the texts
//! (one record); the day pages (a count and records); and the trailer, the number of records
//! before it. Anything else, or anything after, is refused.
//!
//! Layout of a part: `PART_MAGIC`; the head (`version`, `fingerprint`, the archive's key, and the
//! length and CRC-32 of the string table's first strings, which its summaries may use); the
//! archive's meetings' ids (one record); its meetings' entries (a count, then records); the
//! trailer. A meeting's entry goes to the first archive (in key order) that lists it; a meeting no
//! archive lists is hot.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{CacheError, CachedMeeting, MeetingKey, RenderCache, Spill};

/// The first bytes of the hot object's decompressed stream: the format and its version.
const MAGIC: &[u8; 8] = b"wqcache3";

/// The first bytes of a part's decompressed stream.
const PART_MAGIC: &[u8; 8] = b"wqpart01";

/// The earlier versions' first bytes: `wqcache1`'s meetings' titles and hosts were strings (they
/// are in the string table now); `wqcache2` held every meeting in one object. Such a cache is not
/// read: the first render after the upgrade is a full rebuild.
const EARLIER_MAGICS: [&[u8; 8]; 2] = [b"wqcache1", b"wqcache2"];

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

/// zstd's level for the cache: its fastest standard level; the cache is written every render.
const ZSTD_LEVEL: i32 = 1;

fn failed(error: impl std::fmt::Display) -> CacheError {
    CacheError {
        message: error.to_string(),
        earlier: false,
    }
}

/// Writes records into `out`.
struct Writer<W> {
    out: W,
    /// One record's encoding, reused.
    scratch: Vec<u8>,
    written: u64,
}

impl<W: Write> Writer<W> {
    fn record<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CacheError> {
        self.scratch.clear();
        self.scratch =
            postcard::to_extend(value, std::mem::take(&mut self.scratch)).map_err(failed)?;
        let length = u32::try_from(self.scratch.len())
            .map_err(|_| failed("a record of the render cache passed 4 GiB"))?;
        self.out.write_all(&length.to_le_bytes()).map_err(failed)?;
        self.out.write_all(&self.scratch).map_err(failed)?;
        self.written += 1;
        Ok(())
    }

    /// A map: its length, then one record per entry.
    fn map<K: Serialize, V: Serialize>(&mut self, map: &BTreeMap<K, V>) -> Result<(), CacheError> {
        self.entries(map.len(), map.iter())
    }

    /// `count` entries (what `entries` yields, which must be that many): the count, then one record
    /// per entry.
    fn entries<T: Serialize>(
        &mut self,
        count: usize,
        entries: impl Iterator<Item = T>,
    ) -> Result<(), CacheError> {
        self.record(&(count as u64))?;
        let mut written = 0;
        for entry in entries {
            self.record(&entry)?;
            written += 1;
        }
        if written == count {
            Ok(())
        } else {
            Err(failed(
                "a map of the render cache changed while it was written",
            ))
        }
    }
}

/// Reads records from `input`.
struct Reader<R> {
    input: R,
    scratch: Vec<u8>,
    read: u64,
}

/// A zstd stream being read, every decompressed byte digested once (the buffer reads ahead, but
/// the stream is read to its end).
type Decompressing<R> =
    std::io::BufReader<Digesting<zstd::stream::read::Decoder<'static, std::io::BufReader<R>>>>;

/// A reader of the records of the zstd stream `input`.
fn decompressing<R: Read>(input: R) -> Result<Reader<Decompressing<R>>, CacheError> {
    let decoder = zstd::stream::read::Decoder::new(input).map_err(failed)?;
    Ok(Reader {
        input: std::io::BufReader::with_capacity(1 << 16, Digesting::new(decoder)),
        scratch: Vec::new(),
        read: 0,
    })
}

impl<D: Read> Reader<std::io::BufReader<Digesting<D>>> {
    /// Checks the trailer (the number of records before it) and that nothing follows it.
    fn end(&mut self) -> Result<(), CacheError> {
        let counted = self.read;
        if self.record::<u64>()? != counted {
            return Err(failed("the render cache's trailer does not match it"));
        }
        if self.input.read(&mut [0]).map_err(failed)? != 0 {
            return Err(failed("the render cache has bytes after its trailer"));
        }
        Ok(())
    }
}

impl<R: Read> Reader<R> {
    fn record<T: DeserializeOwned>(&mut self) -> Result<T, CacheError> {
        let mut length = [0; 4];
        self.input.read_exact(&mut length).map_err(failed)?;
        let length = u32::from_le_bytes(length);
        // Read through `take`: a damaged length cannot make it allocate more than the stream holds.
        self.scratch.clear();
        (&mut self.input)
            .take(u64::from(length))
            .read_to_end(&mut self.scratch)
            .map_err(failed)?;
        if self.scratch.len() != length as usize {
            return Err(failed("a record of the render cache is cut short"));
        }
        let (value, rest) = postcard::take_from_bytes(&self.scratch).map_err(failed)?;
        if !rest.is_empty() {
            return Err(failed("a record of the render cache has bytes left over"));
        }
        self.read += 1;
        Ok(value)
    }

    fn map<K: DeserializeOwned + Ord, V: DeserializeOwned>(
        &mut self,
    ) -> Result<BTreeMap<K, V>, CacheError> {
        self.map_each(|_| Ok(()))
    }

    /// [`Reader::map`], `each` given every value as it is read (before the next is).
    fn map_each<K: DeserializeOwned + Ord, V: DeserializeOwned>(
        &mut self,
        mut each: impl FnMut(&mut V) -> Result<(), CacheError>,
    ) -> Result<BTreeMap<K, V>, CacheError> {
        let count: u64 = self.record()?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let (key, mut value) = self.record()?;
            each(&mut value)?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

/// What a stored cache's decompressed stream was: its length and CRC-32 ([`RenderCache::digest`]).
/// Not a content hash: a chance match costs only a cache left as it was, and every entry of a
/// cache is checked against the data and the published site before it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheDigest {
    length: u64,
    crc: u32,
}

/// The digest of the bytes that pass through: written into `inner` (a [`std::io::Sink`] for the
/// digest alone), or read from it.
struct Digesting<R = std::io::Sink> {
    inner: R,
    length: u64,
    crc: crc32fast::Hasher,
}

impl<R> Digesting<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            length: 0,
            crc: crc32fast::Hasher::new(),
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        self.length += bytes.len() as u64;
        self.crc.update(bytes);
    }

    fn digest(self) -> CacheDigest {
        self.into_parts().1
    }

    /// What it wraps, and the digest.
    fn into_parts(self) -> (R, CacheDigest) {
        (
            self.inner,
            CacheDigest {
                length: self.length,
                crc: self.crc.finalize(),
            },
        )
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.add(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.add(&buffer[..read]);
        Ok(read)
    }
}

/// A part's head, as written: the cache's version and fingerprint, the archive's key, and the length
/// and CRC-32 of the string table's first strings when the part was written.
type PartHead<'a> = (u32, &'a str, &'a str, u32, u32);

/// [`PartHead`] read back.
type PartHeadOwned = (u32, String, String, u32, u32);

impl RenderCache {
    /// The hot object's stored form ([`super::SITE_CACHE_KEY`]): every meeting no archive lists,
    /// the people and day pages, the string table, and the digest of each archive's part
    /// ([`RenderCache::parts`]; the parts are written with [`RenderCache::write_part_file`]).
    ///
    /// # Errors
    /// Serialization failures.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CacheError> {
        self.write_to(Vec::new())
    }

    /// [`RenderCache::to_bytes`] into the file at `path` (memory then holds none of it).
    ///
    /// # Errors
    /// Serialization or file failures.
    pub fn write_file(&self, path: &std::path::Path) -> Result<(), CacheError> {
        let file = std::fs::File::create(path).map_err(failed)?;
        let mut out = self.write_to(std::io::BufWriter::new(file))?;
        out.flush().map_err(failed)
    }

    fn write_to<W: Write>(&self, output: W) -> Result<W, CacheError> {
        compressed(output, |plain| self.write_plain(plain))
    }

    /// The ids of the meetings some archive lists, sorted: their entries are in the archives'
    /// parts, not in the hot object.
    fn archived_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.archives.values().flatten().map(|k| k.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The hot object's decompressed stream: the magic, then the records.
    fn write_plain<W: Write>(&self, out: W) -> Result<W, CacheError> {
        let mut records = Writer {
            out,
            scratch: Vec::new(),
            written: 0,
        };
        records.out.write_all(MAGIC).map_err(failed)?;
        records.record(&(self.version, &self.fingerprint))?;
        let archived = self.archived_ids();
        let hot = |entry: &(&MeetingKey, _)| archived.binary_search(&entry.0.id()).is_err();
        let count = self.meetings.iter().filter(hot).count();
        records.entries(count, self.meetings.iter().filter(hot))?;
        records.map(&self.people)?;
        let parts = |(archive, _): &(&String, &CacheDigest)| self.archives.contains_key(*archive);
        let count = self.parts.iter().filter(parts).count();
        records.entries(count, self.parts.iter().filter(parts))?;
        records.record(&self.texts)?;
        records.map(&self.days)?;
        let written = records.written;
        records.record(&written)?;
        Ok(records.out)
    }

    /// The decompressed stream of the part of the archive `archive`: its head, the ids the
    /// archive holds, and the entries of those the cache has.
    fn write_part_plain<W: Write>(&self, archive: &str, out: W) -> Result<W, CacheError> {
        let ids = self
            .archives
            .get(archive)
            .ok_or_else(|| failed(format!("the render cache lists no archive {archive}")))?;
        let mut records = Writer {
            out,
            scratch: Vec::new(),
            written: 0,
        };
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

    /// The digest of the hot object's stored form, as [`RenderCache::read_file`] gives it
    /// for a stored cache: equal digests, the same cache (but by chance: a CRC-32 and the length).
    /// It serializes the cache but compresses nothing: a build that changed nothing need not write
    /// and upload its cache again.
    ///
    /// # Errors
    /// Serialization failures.
    pub fn digest(&self) -> Result<CacheDigest, CacheError> {
        // Buffered: the CRC's quick path wants long runs of bytes, and records are short.
        let out = std::io::BufWriter::with_capacity(1 << 17, Digesting::new(std::io::sink()));
        let out = self
            .write_plain(out)?
            .into_inner()
            .map_err(|e| failed(e.error()))?;
        Ok(out.digest())
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

    /// Reads the hot object ([`RenderCache::to_bytes`]), decompressing as it reads.
    ///
    /// # Errors
    /// Anything that is not such a cache.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CacheError> {
        Ok(Self::read_from(bytes, None)?.0)
    }

    /// [`RenderCache::from_bytes`] from the file at `path`, and the digest of what it read
    /// ([`RenderCache::digest`]). With a `spill`, each meeting's summary and sessions go to it as
    /// the meeting is read ([`HeldSummary::spill_to`](super::HeldSummary::spill_to)): memory never
    /// holds them all. The archives' parts are read next, with [`RenderCache::read_part_file`]
    /// for each of [`RenderCache::parts`].
    ///
    /// # Errors
    /// A file that cannot be read, or is not such a cache.
    pub fn read_file(
        path: &std::path::Path,
        spill: Option<&Arc<Spill>>,
    ) -> Result<(Self, CacheDigest), CacheError> {
        Self::read_from(std::fs::File::open(path).map_err(failed)?, spill)
    }

    fn read_from<R: Read>(
        input: R,
        spill: Option<&Arc<Spill>>,
    ) -> Result<(Self, CacheDigest), CacheError> {
        let mut reader = decompressing(input)?;
        let mut magic = [0; MAGIC.len()];
        reader.input.read_exact(&mut magic).map_err(failed)?;
        if EARLIER_MAGICS.contains(&&magic) {
            return Err(CacheError::earlier_version(
                "an earlier version's render cache",
            ));
        }
        if &magic != MAGIC {
            return Err(failed("not a render cache of this version"));
        }
        let (version, fingerprint) = reader.record()?;
        // Each meeting's summary and sessions go to the spill file as the meeting is read.
        let meetings =
            reader.map_each(|meeting: &mut Box<CachedMeeting>| spill_one(meeting, spill))?;
        let cache = Self {
            version,
            fingerprint,
            meetings,
            people: reader.map()?,
            parts: reader.map()?,
            texts: reader.record()?,
            days: reader.map()?,
            archives: BTreeMap::new(),
        };
        reader.end()?;
        Ok((cache, reader.input.into_inner().digest()))
    }

    /// Reads the part of the archive `archive` from the file at `path` into the cache (its ids into
    /// [`RenderCache::archives`], its entries into [`RenderCache::meetings`], each summary to
    /// `spill` as it is read), when it is the part the hot object lists ([`RenderCache::parts`]).
    /// Nothing is added unless the whole part reads back.
    ///
    /// # Errors
    /// A file that cannot be read; a part of another version, fingerprint, archive or string
    /// table, or another digest than the one listed; anything that is not such a part. Then the
    /// archive's digest is let go, so that its part is written again.
    pub fn read_part_file(
        &mut self,
        archive: &str,
        path: &std::path::Path,
        spill: Option<&Arc<Spill>>,
    ) -> Result<(), CacheError> {
        let file = std::fs::File::open(path).map_err(failed);
        let read = file.and_then(|file| self.read_part_from(archive, file, spill));
        if read.is_err() {
            self.parts.remove(archive);
        }
        read
    }

    /// [`RenderCache::read_part_file`] from bytes ([`RenderCache::part_to_bytes`]).
    ///
    /// # Errors
    /// As [`RenderCache::read_part_file`].
    pub fn read_part(&mut self, archive: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let read = self.read_part_from(archive, bytes, None);
        if read.is_err() {
            self.parts.remove(archive);
        }
        read
    }

    fn read_part_from<R: Read>(
        &mut self,
        archive: &str,
        input: R,
        spill: Option<&Arc<Spill>>,
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
        if self.texts.prefix_crc(texts as usize) != Some(crc) {
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
            self.meetings.entry(id).or_insert(entry);
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

/// `meeting`'s summary and sessions moved to `spill`, if there is one.
fn spill_one(meeting: &mut CachedMeeting, spill: Option<&Arc<Spill>>) -> Result<(), CacheError> {
    match spill {
        Some(spill) => meeting.summary.spill_to(spill).map_err(failed),
        None => Ok(()),
    }
}

/// `write` into a zstd stream into `output`, then the stream finished.
fn compressed<W: Write>(
    output: W,
    write: impl FnOnce(
        std::io::BufWriter<zstd::stream::write::Encoder<'static, W>>,
    ) -> Result<
        std::io::BufWriter<zstd::stream::write::Encoder<'static, W>>,
        CacheError,
    >,
) -> Result<W, CacheError> {
    let encoder = zstd::stream::write::Encoder::new(output, ZSTD_LEVEL).map_err(failed)?;
    // Records are small: buffered, so that each is not a call into the encoder.
    write(std::io::BufWriter::with_capacity(1 << 17, encoder))?
        .into_inner()
        .map_err(|e| failed(e.error()))?
        .finish()
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::super::{
        CachedFiles, CachedMeeting, ContentHash, FileHashes, HeldSummary, MeetingKey,
        MeetingSummary, Texts,
    };
    use super::*;

    /// A cache with something in each of its parts, sessions with times, CPU and a presenter.
    fn sample() -> RenderCache {
        let session = |person: u32, cpu: serde_json::Value| {
            serde_json::json!({
                "person": person, "name": person + 1, "email": person, "client_type": 3,
                "client_version": 4, "os_type": 5, "network_type": 6, "server_region": 7,
                "transport": 8, "join": "2026-01-05T10:00:01.250Z", "leave": "2026-01-05T10:47:00Z",
                "streams": [
                    {"kind": "audio", "verdict": "good", "metric": null, "poor_minutes": 0},
                    {"kind": "video", "verdict": "poor", "metric": "packet_loss", "poor_minutes": 7},
                    {"kind": "share", "verdict": "no_data", "metric": null, "poor_minutes": 0}
                ],
                "minutes": {"with_data": 46, "fair": 2, "poor": 7},
                "presenter": person == 1, "cpu": cpu, "office": 0
            })
        };
        let summary: MeetingSummary = serde_json::from_value(serde_json::json!({
            "instance_id": "a_I_1", "title": 10, "host": 2,
            "start": "2026-01-05T10:00:00Z", "end": "2026-01-05T10:50:00Z",
            "sessions": [session(1, serde_json::json!(40)), session(9, serde_json::Value::Null)],
            "headline": crate::quality::headline::Headline::default(),
        }))
        .unwrap();
        let files = |path: &str| FileHashes::one(path, ContentHash::of(path.as_bytes()));
        let mut cache = RenderCache::new("fingerprint".into());
        cache.meetings.insert(
            MeetingKey::new("a_I_1"),
            Box::new(CachedMeeting {
                key: ContentHash::of(b"inputs"),
                summary: HeldSummary::here(summary),
                page: ContentHash::of(b"meetings/a_I_1.html"),
            }),
        );
        cache.people.insert(
            "people/x.html".into(),
            CachedFiles {
                key: ContentHash::of(b"k"),
                files: files("people/x.html"),
                rendered: chrono::NaiveDate::from_ymd_opt(2026, 1, 5),
            },
        );
        cache.days.insert(
            "2026-01-05".into(),
            CachedFiles {
                key: ContentHash::of(b"d"),
                files: files("days/2026-01-05.html"),
                rendered: None,
            },
        );
        cache.archives.insert(
            "archive/2026-01-05.sqlite.zst".into(),
            vec![MeetingKey::new("a_I_1"), MeetingKey::new("gone_I_2")],
        );
        for text in [
            "",
            "ann@example.com",
            "Ann",
            "x",
            "Webex",
            "44.1",
            "mac",
            "wifi",
            "EU",
            "UDP",
            "Weekly <b>&</b> \u{1F600}",
        ] {
            cache.texts.intern(text);
        }
        cache
    }

    /// The decompressed stream of `cache`'s stored form.
    fn plain(cache: &RenderCache) -> Vec<u8> {
        zstd::decode_all(cache.to_bytes().unwrap().as_slice()).unwrap()
    }

    fn refused(plain: &[u8]) -> String {
        let bytes = zstd::encode_all(plain, 1).unwrap();
        RenderCache::from_bytes(&bytes).unwrap_err().to_string()
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

    #[test]
    fn a_caches_digest_is_the_one_read_back_and_changes_with_it() {
        let cache = sample().round_trip();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site-cache.bin.zst");
        cache.write_file(&path).unwrap();
        let (mut read, digest) = RenderCache::read_file(&path, None).unwrap();
        assert_eq!(digest, cache.digest().unwrap());
        let archive = "archive/2026-01-05.sqlite.zst";
        let part = dir.path().join("part.bin.zst");
        assert_eq!(
            cache.write_part_file(archive, &part).unwrap(),
            read.parts[archive]
        );
        read.read_part_file(archive, &part, None).unwrap();
        assert_eq!(read, cache);
        assert_eq!(read.digest().unwrap(), digest, "read back, the same cache");
        // Any change to what is stored, however small, is a change of digest.
        let mut later = read.clone();
        later.people.get_mut("people/x.html").unwrap().rendered =
            chrono::NaiveDate::from_ymd_opt(2026, 1, 6);
        assert_ne!(later.digest().unwrap(), digest);
        let mut more = read.clone();
        more.texts.intern("a new name");
        assert_ne!(more.digest().unwrap(), digest);
        let mut unlisted = read.clone();
        unlisted.parts.clear();
        assert_ne!(unlisted.digest().unwrap(), digest);
        let mut fewer = read.clone();
        fewer.archives.clear();
        assert_ne!(fewer.digest().unwrap(), digest, "its meeting is hot now");
        // The string table compacted: its summaries' strings are numbered anew, so every part is
        // written again.
        let mut compacted = read;
        compacted.compact_texts().unwrap();
        assert_eq!(compacted.parts_to_write(), [archive]);
    }

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

    #[test]
    fn a_damaged_cache_is_refused_not_half_read() {
        let plain = plain(&sample());
        let whole = plain.len();
        assert!(RenderCache::from_bytes(b"not a cache").is_err());
        assert!(refused(b"wqcache0").contains("not a render cache"));
        let earlier = RenderCache::from_bytes(&zstd::encode_all(&b"wqcache1"[..], 1).unwrap());
        assert!(earlier.is_err_and(|e| e.is_earlier_version()));
        assert!(
            !RenderCache::from_bytes(b"garbage")
                .unwrap_err()
                .is_earlier_version()
        );
        // Cut anywhere: the record it cuts, or the missing trailer, says so.
        for end in (MAGIC.len()..whole).step_by(7) {
            refused(&plain[..end]);
        }
        let mut longer = plain.clone();
        longer.push(0);
        assert!(
            refused(&longer).contains("after its trailer"),
            "{}",
            refused(&longer)
        );
        // A record's length that claims more than there is.
        let mut long_record = plain.clone();
        long_record[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(refused(&long_record).contains("cut short"));
        // The trailer counts the records: one more record than it says is refused.
        let mut miscounted = plain;
        let last = miscounted.len() - 1;
        miscounted[last] = miscounted[last].wrapping_add(1);
        assert!(
            refused(&miscounted).contains("trailer"),
            "{}",
            refused(&miscounted)
        );
    }
}
