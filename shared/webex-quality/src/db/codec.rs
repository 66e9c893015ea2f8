//! How response bodies are kept: content-addressed by the SHA-256 of the bytes as received, stored
//! zstd-compressed when that pays, and always given back byte for byte (the hash and length are
//! checked on every read). Bodies stored by earlier versions with deflate stay readable.

use std::io::Read;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::DbError;

/// Below this share of the original size, a body is stored compressed.
const COMPRESS_WHEN_BELOW: f64 = 0.9;

/// zstd's level for new bodies. Measured on 203 of the simulator's qualities pages (10.4 MB, `zstd
/// -b1 -e4`, this repository's README has the table): level 1 compressed them to 22.4 % at 309 MB/s,
/// level 3 (zstd's default) to 22.8 % at 140 MB/s, deflate at its default level to 23.8 % at about
/// 60 MB/s. Level 1 is both the smallest and the quickest on these number arrays.
pub(crate) const ZSTD_LEVEL: i32 = 1;

/// How a body's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// As received.
    Identity,
    /// zlib's raw deflate (bodies stored before version 2 of the schema).
    Deflate,
    /// zstd, one frame with its content size.
    Zstd,
}

impl Encoding {
    /// The name in the `bodies.encoding` column.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Deflate => "deflate",
            Self::Zstd => "zstd",
        }
    }

    /// The encoding named `label` in the `bodies.encoding` column.
    fn parse(label: &str) -> Option<Self> {
        [Self::Identity, Self::Deflate, Self::Zstd]
            .into_iter()
            .find(|e| e.label() == label)
    }
}

/// A body ready to store: its key, length and stored form.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// Hex SHA-256 of the body as received.
    pub sha256: String,
    /// Length as received.
    pub length: usize,
    /// How `data` is stored.
    pub encoding: Encoding,
    /// The stored bytes.
    pub data: Vec<u8>,
}

/// Compresses bodies, reusing one zstd context (its tables are allocated once).
pub(crate) struct Encoder {
    zstd: Option<zstd::bulk::Compressor<'static>>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").finish_non_exhaustive()
    }
}

impl Encoder {
    /// An encoder at [`ZSTD_LEVEL`].
    pub(crate) fn new() -> Self {
        Self {
            // Without a context (allocation failed), bodies are stored as received.
            zstd: zstd::bulk::Compressor::new(ZSTD_LEVEL).ok(),
        }
    }

    /// The stored form of `body`, hashed once.
    pub(crate) fn encode(&mut self, body: &[u8]) -> Encoded {
        let sha256 = sha256_hex(body);
        let compressed = self.zstd.as_mut().and_then(|z| z.compress(body).ok());
        let (encoding, data) = match compressed {
            #[allow(clippy::cast_precision_loss)]
            Some(small) if (small.len() as f64) < body.len() as f64 * COMPRESS_WHEN_BELOW => {
                (Encoding::Zstd, small)
            }
            _ => (Encoding::Identity, body.to_vec()),
        };
        Encoded {
            sha256,
            length: body.len(),
            encoding,
            data,
        }
    }
}

thread_local! {
    static DECOMPRESSOR: std::cell::Cell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::Cell::new(None) };
}

/// The body stored as `data` with `encoding`, checked against its hash and length.
pub(crate) fn decode(
    sha: &str,
    length: i64,
    encoding: &str,
    data: Vec<u8>,
) -> Result<Bytes, DbError> {
    let bad = |detail: String| DbError::BadBody {
        sha256: sha.to_owned(),
        detail,
    };
    let expected = usize::try_from(length).map_err(|_| bad(format!("length {length}")))?;
    let Some(encoding) = Encoding::parse(encoding) else {
        return Err(bad(format!("unknown encoding {encoding:?}")));
    };
    let body = match encoding {
        Encoding::Identity => data,
        Encoding::Zstd => {
            // The stored length bounds the output: a damaged frame cannot make it allocate more.
            // One decompression context per thread, kept: a render decodes a body per meeting.
            let decoder = DECOMPRESSOR
                .take()
                .map_or_else(zstd::bulk::Decompressor::new, Ok);
            let mut decoder = decoder.map_err(|e| bad(e.to_string()))?;
            let body = decoder.decompress(&data, expected);
            DECOMPRESSOR.set(Some(decoder));
            body.map_err(|e| bad(e.to_string()))?
        }
        Encoding::Deflate => {
            let mut out = Vec::with_capacity(expected);
            flate2::read::DeflateDecoder::new(data.as_slice())
                .take(u64::try_from(expected).unwrap_or(u64::MAX) + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad(e.to_string()))?;
            out
        }
    };
    if body.len() != expected || sha256_hex(&body) != sha {
        return Err(bad("content does not match its hash".into()));
    }
    Ok(Bytes::from(body))
}

/// Hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn deflated(body: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(body).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn bodies_come_back_byte_for_byte_whatever_their_encoding() {
        let mut encoder = Encoder::new();
        let big = br#"{"packetLoss":[0.0,0.0,0.1,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0]}"#
            .repeat(50);
        for body in [
            &b""[..],
            b"{}",
            b"  {\"a\" : \"\\u00e9\\n\" }\r\n\t",
            "é💥 not json".as_bytes(),
            &[0_u8, 255, 10][..],
            &big,
        ] {
            let stored = encoder.encode(body);
            assert_eq!(stored.sha256, sha256_hex(body));
            let length = i64::try_from(body.len()).unwrap();
            let back =
                decode(&stored.sha256, length, stored.encoding.label(), stored.data).unwrap();
            assert_eq!(back.as_ref(), body);
            // A body stored by an earlier version, deflated, reads back the same.
            let old = decode(&stored.sha256, length, "deflate", deflated(body)).unwrap();
            assert_eq!(old.as_ref(), body);
        }
        let stored = encoder.encode(&big);
        assert_eq!(stored.encoding, Encoding::Zstd);
        assert!(stored.data.len() < big.len() / 10);
    }

    #[test]
    fn damaged_or_mislabelled_bodies_are_refused() {
        let body =
            br#"{"items":[{"latency":[10,20,30,40,50,60,70,80,90,100,110,120]}]}"#.repeat(20);
        let stored = Encoder::new().encode(&body);
        let length = i64::try_from(body.len()).unwrap();
        let mut damaged = stored.data.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x55;
        assert!(decode(&stored.sha256, length, "zstd", damaged).is_err());
        assert!(decode(&stored.sha256, length - 1, "zstd", stored.data.clone()).is_err());
        assert!(decode(&stored.sha256, length, "brotli", stored.data.clone()).is_err());
        assert!(decode("00", length, "zstd", stored.data).is_err());
        assert!(decode("00", 2, "deflate", vec![1, 2]).is_err());
    }
}
