//! The render cache's hot object ([`super::SITE_CACHE_KEY`]), in the record streams of
//! `records.rs`: everything but the archives' meetings (those are in the archives' parts,
//! `parts.rs`), rewritten when it changes.
//!
//! The cache is stored in parts: one per archive object, holding the entries of the archive's
//! meetings ([`RenderCache::write_part_file`], at [`super::part_key`]), written when the archive
//! is first rendered and then only read (archives never change); and the hot object with the rest
//! (the hot meetings, people and day pages, the string table) and the digest of every part. A
//! render that changed a hot meeting then writes the hot object alone, not every meeting of the
//! history (12 MB at 30 days of 1,000 meetings a day).
//!
//! Layout of the hot object, inside one zstd frame:
//! `MAGIC`, then records: the head (`version`, `fingerprint`); the meetings no archive lists (a
//! count, then one record per meeting); the people pages (the same); the parts (the same: archive
//! key and digest); the texts (one record); the day pages (a count and records); and the trailer,
//! the number of records before it. Anything else, or anything after, is refused.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use super::records::{CacheDigest, Digesting, Writer, compressed, decompressing, failed};
use super::{CacheError, CachedMeeting, MeetingKey, RenderCache, Spill};

/// The first bytes of the hot object's decompressed stream: the format and its version.
pub(super) const MAGIC: &[u8; 8] = b"wqcache3";

/// The earlier versions' first bytes: `wqcache1`'s meetings' titles and hosts were strings (they
/// are in the string table now); `wqcache2` held every meeting in one object. Such a cache is not
/// read: the first render after the upgrade is a full rebuild.
const EARLIER_MAGICS: [&[u8; 8]; 2] = [b"wqcache1", b"wqcache2"];

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
        let mut records = Writer::new(out);
        records.out.write_all(MAGIC).map_err(failed)?;
        records.record(&(self.version, &self.fingerprint))?;
        let archived = self.archived_ids();
        let hot = |entry: &(&MeetingKey, _)| archived.binary_search(&entry.0.id()).is_err();
        let count = self.meetings.iter().filter(hot).count();
        records.entries(count, self.meetings.iter().filter(hot))?;
        records.map(&self.people)?;
        let parts = |(archive, _): &(&String, &CacheDigest)| {
            self.archives.contains_key(*archive) || self.settled.holds(archive)
        };
        let count = self.parts.iter().filter(parts).count();
        records.entries(count, self.parts.iter().filter(parts))?;
        records.record(&self.texts)?;
        records.map(&self.days)?;
        let written = records.written;
        records.record(&written)?;
        Ok(records.out)
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
            settled: super::Settled::default(),
        };
        reader.end()?;
        Ok((cache, reader.input.into_inner().digest()))
    }
}

/// `meeting`'s summary and sessions moved to `spill`, if there is one.
pub(super) fn spill_one(
    meeting: &mut CachedMeeting,
    spill: Option<&Arc<Spill>>,
) -> Result<(), CacheError> {
    match spill {
        Some(spill) => meeting.summary.spill_to(spill).map_err(failed),
        None => Ok(()),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{
        CachedFiles, CachedMeeting, ContentHash, FileHashes, HeldSummary, Manifest, MeetingKey,
        MeetingSummary,
    };
    use super::*;

    /// A cache with something in each of its parts, sessions with times, CPU and a presenter.
    pub(in super::super) fn sample() -> RenderCache {
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
    pub(in super::super) fn plain(cache: &RenderCache) -> Vec<u8> {
        zstd::decode_all(cache.to_bytes().unwrap().as_slice()).unwrap()
    }

    fn refused(plain: &[u8]) -> String {
        let bytes = zstd::encode_all(plain, 1).unwrap();
        RenderCache::from_bytes(&bytes).unwrap_err().to_string()
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
        // Its meeting keyed by the published manifest's path, when that lists its page.
        let published = Manifest::from([("meetings/a_I_1.html".into(), ContentHash::of(b"page"))]);
        read.read_part_file(archive, &part, (None, &published, None))
            .unwrap();
        assert_eq!(read, cache);
        let (key, _) = read.meetings.get_key_value("a_I_1").unwrap();
        let (path, _) = published.first_key_value().unwrap();
        assert!(std::sync::Arc::ptr_eq(key.page(), path));
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
