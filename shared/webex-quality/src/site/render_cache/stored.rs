//! The render cache's stored form: a zstd stream of length-prefixed postcard records, read and
//! written a record at a time (memory holds the cache, never its encoded form too).
//!
//! A profile of a render with nothing changed over 30 days of history (30,000 meetings) had two
//! thirds of its time in reading and writing the cache as JSON (200 MB of it, mostly field names);
//! postcard writes no names and numbers as varints.
//!
//! Layout, inside one zstd frame:
//! `MAGIC`, then records, each a little-endian `u32` length and that many bytes of postcard:
//! the head (`version`, `fingerprint`); the meetings (a count, then one record per meeting); the
//! people pages (the same); the archives (the same); the texts (one record); the day pages (a count
//! and records); and the trailer, the number of records before it. Anything else, or anything
//! after, is refused.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CacheError, CachedMeeting, RenderCache, Spill};

/// The first bytes of the decompressed stream: the format and its version.
const MAGIC: &[u8; 8] = b"wqcache2";

/// The earlier versions' first bytes: their meetings' titles and hosts were strings (they are in
/// the string table now). Such a cache is not read: the first render after the upgrade is a full
/// rebuild.
const EARLIER_MAGICS: [&[u8; 8]; 1] = [b"wqcache1"];

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
        self.record(&(map.len() as u64))?;
        map.iter().try_for_each(|entry| self.record(&entry))
    }
}

/// Reads records from `input`.
struct Reader<R> {
    input: R,
    scratch: Vec<u8>,
    read: u64,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheDigest {
    length: u64,
    crc: u32,
}

/// The digest of the bytes that pass through: written into it (`inner` is `()`), or read from
/// `inner`.
struct Digesting<R = ()> {
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
        CacheDigest {
            length: self.length,
            crc: self.crc.finalize(),
        }
    }
}

impl Write for Digesting {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.add(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.add(&buffer[..read]);
        Ok(read)
    }
}

impl RenderCache {
    /// The cache's stored form ([`super::SITE_CACHE_KEY`]).
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
        let encoder = zstd::stream::write::Encoder::new(output, ZSTD_LEVEL).map_err(failed)?;
        // Records are small: buffered, so that each is not a call into the encoder.
        self.write_plain(std::io::BufWriter::with_capacity(1 << 17, encoder))?
            .into_inner()
            .map_err(|e| failed(e.error()))?
            .finish()
            .map_err(failed)
    }

    /// The decompressed stream: the magic, then the records.
    fn write_plain<W: Write>(&self, out: W) -> Result<W, CacheError> {
        let mut records = Writer {
            out,
            scratch: Vec::new(),
            written: 0,
        };
        records.out.write_all(MAGIC).map_err(failed)?;
        records.record(&(self.version, &self.fingerprint))?;
        records.map(&self.meetings)?;
        records.map(&self.people)?;
        records.map(&self.archives)?;
        records.record(&self.texts)?;
        records.map(&self.days)?;
        let written = records.written;
        records.record(&written)?;
        Ok(records.out)
    }

    /// The digest of the cache's stored form, as [`RenderCache::read_file`] gives it
    /// for a stored cache: equal digests, the same cache (but by chance: a CRC-32 and the length).
    /// It serializes the cache but compresses nothing: a build that changed nothing need not write
    /// and upload its cache again (12 MB at 30 days of 1,000 meetings a day).
    ///
    /// # Errors
    /// Serialization failures.
    pub fn digest(&self) -> Result<CacheDigest, CacheError> {
        // Buffered: the CRC's quick path wants long runs of bytes, and records are short.
        let out = std::io::BufWriter::with_capacity(1 << 17, Digesting::new(()));
        let out = self
            .write_plain(out)?
            .into_inner()
            .map_err(|e| failed(e.error()))?;
        Ok(out.digest())
    }

    /// Reads [`RenderCache::to_bytes`], decompressing as it reads.
    ///
    /// # Errors
    /// Anything that is not such a cache.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CacheError> {
        Ok(Self::read_from(bytes, None)?.0)
    }

    /// [`RenderCache::from_bytes`] from the file at `path`, and the digest of what it read
    /// ([`RenderCache::digest`]). With a `spill`, each meeting's summary and sessions go to it as
    /// the meeting is read ([`HeldSummary::spill_to`](super::HeldSummary::spill_to)): memory never
    /// holds them all.
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
        let decoder = zstd::stream::read::Decoder::new(input).map_err(failed)?;
        // Every decompressed byte goes through the digest once (the buffer reads ahead, but the
        // stream is read to its end).
        let mut reader = Reader {
            input: std::io::BufReader::with_capacity(1 << 16, Digesting::new(decoder)),
            scratch: Vec::new(),
            read: 0,
        };
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
        let meetings = reader.map_each(|meeting: &mut Box<CachedMeeting>| match spill {
            Some(spill) => meeting.summary.spill_to(spill).map_err(failed),
            None => Ok(()),
        })?;
        let mut cache = Self {
            version,
            fingerprint,
            meetings,
            people: reader.map()?,
            archives: reader.map()?,
            texts: reader.record()?,
            days: reader.map()?,
        };
        let counted = reader.read;
        if reader.record::<u64>()? != counted {
            return Err(failed("the render cache's trailer does not match it"));
        }
        if reader.input.read(&mut [0]).map_err(failed)? != 0 {
            return Err(failed("the render cache has bytes after its trailer"));
        }
        cache.share_ids();
        Ok((cache, reader.input.into_inner().digest()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        CachedFiles, CachedMeeting, ContentHash, FileHashes, HeldSummary, MeetingKey,
        MeetingSummary,
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

    #[test]
    fn a_cache_reads_back_as_it_was_written() {
        // (Its ids shared once read: `a_meetings_id_read_from_the_cache_is_one_allocation`.)
        let cache = sample();
        let read = RenderCache::from_bytes(&cache.to_bytes().unwrap()).unwrap();
        assert_eq!(read, cache);
        assert_eq!(
            read.meetings["a_I_1"].summary.get().unwrap().sessions.len(),
            2
        );
        // No field names: the sessions' packed bytes and the hashes' 32 bytes, as they are.
        let plain = plain(&cache);
        assert!(plain.starts_with(MAGIC));
        assert!(!plain.windows(7).any(|w| w == b"summary"));
        let json = serde_json::to_vec(&cache).unwrap().len();
        assert!(
            plain.len() * 2 < json,
            "{} bytes, as JSON {json}",
            plain.len()
        );
    }

    #[test]
    fn a_caches_digest_is_the_one_read_back_and_changes_with_it() {
        let cache = sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site-cache.bin.zst");
        cache.write_file(&path).unwrap();
        let (read, digest) = RenderCache::read_file(&path, None).unwrap();
        assert_eq!(digest, cache.digest().unwrap());
        assert_eq!(read.digest().unwrap(), digest, "read back, the same cache");
        // Any change to what is stored, however small, is a change of digest.
        let mut later = read.clone();
        later.people.get_mut("people/x.html").unwrap().rendered =
            chrono::NaiveDate::from_ymd_opt(2026, 1, 6);
        assert_ne!(later.digest().unwrap(), digest);
        let mut more = read.clone();
        more.texts.intern("a new name");
        assert_ne!(more.digest().unwrap(), digest);
        let mut fewer = read;
        fewer.archives.clear();
        assert_ne!(fewer.digest().unwrap(), digest);
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
