//! The render cache's record streams, which its hot object (`stored.rs`) and its parts
//! (`parts.rs`) are made of: a zstd stream of records, each a little-endian `u32` length and that
//! many bytes of postcard, written and read a record at a time (memory holds the cache, never its
//! encoded form too), the last record the number of records before it; and the digest of a
//! stream (its decompressed length and CRC-32), by which a render knows a stored object is the one
//! it would write.
//!
//! A profile of a render with nothing changed over 30 days of history (30,000 meetings) had two
//! thirds of its time in reading and writing the cache as JSON (200 MB of it, mostly field names);
//! postcard writes no names and numbers as varints.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::CacheError;

/// zstd's level for the cache: its fastest standard level; the cache is written every render.
const ZSTD_LEVEL: i32 = 1;

pub(super) fn failed(error: impl std::fmt::Display) -> CacheError {
    CacheError {
        message: error.to_string(),
        earlier: false,
    }
}

/// Writes records into `out`.
pub(super) struct Writer<W> {
    /// Where the records go.
    pub(super) out: W,
    /// One record's encoding, reused.
    scratch: Vec<u8>,
    /// Records written so far (the trailer says how many).
    pub(super) written: u64,
}

impl<W: Write> Writer<W> {
    /// A writer of records into `out`.
    pub(super) fn new(out: W) -> Self {
        Self {
            out,
            scratch: Vec::new(),
            written: 0,
        }
    }

    /// One record: its length, then its postcard bytes.
    pub(super) fn record<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CacheError> {
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
    pub(super) fn map<K: Serialize, V: Serialize>(
        &mut self,
        map: &BTreeMap<K, V>,
    ) -> Result<(), CacheError> {
        self.entries(map.len(), map.iter())
    }

    /// `count` entries (what `entries` yields, which must be that many): the count, then one record
    /// per entry.
    pub(super) fn entries<T: Serialize>(
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
pub(super) struct Reader<R> {
    /// Where the records come from.
    pub(super) input: R,
    scratch: Vec<u8>,
    read: u64,
}

/// A zstd stream being read, every decompressed byte digested once (the buffer reads ahead, but
/// the stream is read to its end).
pub(super) type Decompressing<R> =
    std::io::BufReader<Digesting<zstd::stream::read::Decoder<'static, std::io::BufReader<R>>>>;

/// A reader of the records of the zstd stream `input`.
pub(super) fn decompressing<R: Read>(input: R) -> Result<Reader<Decompressing<R>>, CacheError> {
    let decoder = zstd::stream::read::Decoder::new(input).map_err(failed)?;
    Ok(Reader {
        input: std::io::BufReader::with_capacity(1 << 16, Digesting::new(decoder)),
        scratch: Vec::new(),
        read: 0,
    })
}

impl<D: Read> Reader<std::io::BufReader<Digesting<D>>> {
    /// Checks the trailer (the number of records before it) and that nothing follows it.
    pub(super) fn end(&mut self) -> Result<(), CacheError> {
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
    /// One record: its length, then that many bytes of postcard, all of them one value.
    pub(super) fn record<T: DeserializeOwned>(&mut self) -> Result<T, CacheError> {
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

    /// A map: its length, then one record per entry.
    pub(super) fn map<K: DeserializeOwned + Ord, V: DeserializeOwned>(
        &mut self,
    ) -> Result<BTreeMap<K, V>, CacheError> {
        self.map_each(|_| Ok(()))
    }

    /// [`Reader::map`], `each` given every value as it is read (before the next is).
    pub(super) fn map_each<K: DeserializeOwned + Ord, V: DeserializeOwned>(
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

/// What a stored cache's decompressed stream was: its length and CRC-32 ([`RenderCache::digest`](super::RenderCache::digest)).
/// Not a content hash: a chance match costs only a cache left as it was, and every entry of a
/// cache is checked against the data and the published site before it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheDigest {
    length: u64,
    crc: u32,
}

/// The digest of the bytes that pass through: written into `inner` (a [`std::io::Sink`] for the
/// digest alone), or read from it.
pub(super) struct Digesting<R = std::io::Sink> {
    inner: R,
    length: u64,
    crc: crc32fast::Hasher,
}

impl<R> Digesting<R> {
    /// `inner`, nothing digested yet.
    pub(super) fn new(inner: R) -> Self {
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

    /// The digest of what passed through.
    pub(super) fn digest(self) -> CacheDigest {
        self.into_parts().1
    }

    /// What it wraps, and the digest.
    pub(super) fn into_parts(self) -> (R, CacheDigest) {
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

/// `write` into a zstd stream into `output`, then the stream finished.
pub(super) fn compressed<W: Write>(
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
