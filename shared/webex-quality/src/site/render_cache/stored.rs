//! The render cache's stored form: a zstd stream of length-prefixed postcard records, read and
//! written a record at a time (memory holds the cache, never its encoded form too), and the
//! gzipped JSON it replaced, still read once after an upgrade.
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

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CacheError, RenderCache};

/// The first bytes of the decompressed stream: the format and its version.
const MAGIC: &[u8; 8] = b"wqcache1";

/// zstd's level for the cache: its fastest standard level; the cache is written every render.
const ZSTD_LEVEL: i32 = 1;

fn failed(error: impl std::fmt::Display) -> CacheError {
    CacheError(error.to_string())
}

/// Writes records into `out`.
struct Records<W> {
    out: W,
    /// One record's encoding, reused.
    scratch: Vec<u8>,
    written: u64,
}

impl<W: Write> Records<W> {
    fn record<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CacheError> {
        self.scratch.clear();
        self.scratch = postcard::to_extend(value, std::mem::take(&mut self.scratch)).map_err(failed)?;
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
        let count: u64 = self.record()?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let (key, value) = self.record()?;
            map.insert(key, value);
        }
        Ok(map)
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
        let mut records = Records {
            out: std::io::BufWriter::with_capacity(1 << 17, encoder),
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
        records
            .out
            .into_inner()
            .map_err(|e| failed(e.error()))?
            .finish()
            .map_err(failed)
    }

    /// Reads [`RenderCache::to_bytes`], decompressing as it reads.
    ///
    /// # Errors
    /// Anything that is not such a cache.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CacheError> {
        Self::read_from(bytes)
    }

    /// [`RenderCache::from_bytes`] from the file at `path`.
    ///
    /// # Errors
    /// A file that cannot be read, or is not such a cache.
    pub fn read_file(path: &std::path::Path) -> Result<Self, CacheError> {
        Self::read_from(std::fs::File::open(path).map_err(failed)?)
    }

    fn read_from<R: Read>(input: R) -> Result<Self, CacheError> {
        let decoder = zstd::stream::read::Decoder::new(input).map_err(failed)?;
        let mut reader = Reader {
            input: std::io::BufReader::with_capacity(1 << 16, decoder),
            scratch: Vec::new(),
            read: 0,
        };
        let mut magic = [0; MAGIC.len()];
        reader.input.read_exact(&mut magic).map_err(failed)?;
        if &magic != MAGIC {
            return Err(failed("not a render cache of this version"));
        }
        let (version, fingerprint) = reader.record()?;
        let mut cache = Self {
            version,
            fingerprint,
            meetings: reader.map()?,
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
        Ok(cache)
    }

    /// Reads the gzipped JSON the cache was kept as before ([`super::LEGACY_SITE_CACHE_KEY`]).
    ///
    /// # Errors
    /// A file that cannot be read, or is not such a cache.
    pub fn read_legacy_file(path: &std::path::Path) -> Result<Self, CacheError> {
        let file = std::fs::File::open(path).map_err(failed)?;
        let reader =
            std::io::BufReader::with_capacity(1 << 16, flate2::read::GzDecoder::new(file));
        let mut cache: Self = serde_json::from_reader(reader).map_err(failed)?;
        cache.share_ids();
        Ok(cache)
    }
}
