//! What the list-type pages need of a meeting (overviews, meetings list, people, breakdowns), and the
//! render cache that keeps it between builds so that only meetings whose inputs changed are read and
//! rendered again.
//!
//! The cache is derived data: it is rebuilt from the raw pages whenever it is missing, unreadable, or
//! was made with other templates, options or thresholds. It lives in the private data store
//! ([`SITE_CACHE_KEY`]), never in the published site, because it holds unmasked names.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SiteOptions;
use super::build::meeting_path;
use super::file_hashes::Manifest;
pub use super::file_hashes::{ContentHash, FileHashes, SitePath};
use super::sessions;
pub use super::sessions::{PackedSessions, SessionSummary, Spill, SpillError, StreamSummary};
pub use super::texts::{Text, Texts, UsedTexts};
use crate::db::StoredMeeting;
use crate::quality::headline::Headline;
use crate::quality::{MeetingReport, Thresholds, Verdict};

mod held;
mod meeting_key;
mod parts;
mod records;
mod settled;
mod stored;
mod unread;

pub use held::HeldSummary;
pub use meeting_key::MeetingKey;
pub use parts::{PARTS_PREFIX, part_key};
pub use records::CacheDigest;
pub use settled::{SETTLED_PREFIX, Settled, SettledMeeting, settled_list, settled_path};
pub use unread::{PartReading, UnreadParts};

/// The render cache's key in the data store: records of postcard under zstd ([`RenderCache::to_bytes`]).
pub const SITE_CACHE_KEY: &str = "site-cache.bin.zst";

/// Where the render cache was kept before, as gzipped JSON, by versions whose summaries held titles
/// and hosts as strings: not read (the first render after the upgrade is a full rebuild), and
/// deleted once the new form is saved.
pub const LEGACY_SITE_CACHE_KEY: &str = "site-cache.json.gz";

/// Bumped when the cache's shape changes.
const CACHE_VERSION: u32 = 8;

/// A meeting, as list-type pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingSummary {
    /// Instance id (the cache's key for the meeting holds it as its page's path, [`MeetingKey`];
    /// this copy is in memory only while the summary is: a render spills its summaries).
    pub instance_id: Arc<str>,
    /// Title, in the cache's string table ([`MeetingSummary::title`]): meetings of a series share
    /// theirs, and a table entry costs 4 bytes a meeting where a string cost about 56.
    pub title: Text,
    /// Host's name, in the cache's string table ([`MeetingSummary::host`]).
    pub host: Text,
    /// Start.
    pub start: DateTime<Utc>,
    /// End, when known.
    pub end: Option<DateTime<Utc>>,
    /// Participant sessions, packed (read them with [`PackedSessions::iter`]).
    pub sessions: PackedSessions,
    /// Who was affected, how much, the meeting's verdict and the likely cause.
    pub headline: Headline,
}

impl MeetingSummary {
    /// The summary of an analysed meeting with its `headline`
    /// ([`crate::quality::headline::of_report`]), its strings added to `texts`.
    #[must_use]
    pub fn new(
        meeting: &StoredMeeting,
        start: DateTime<Utc>,
        (report, headline): (&MeetingReport, Headline),
        (texts, offices): (&mut Texts, &super::offices::Offices),
    ) -> Self {
        Self {
            instance_id: meeting.instance_id.as_str().into(),
            title: texts.intern(&meeting.title),
            host: texts.intern(&meeting.host_name),
            start,
            end: meeting.end,
            sessions: report
                .sessions
                .iter()
                .map(|s| sessions::summary(s, texts, offices))
                .collect(),
            headline,
        }
    }

    /// The title, from the cache's string table `texts`.
    #[must_use]
    pub fn title<'t>(&self, texts: &'t Texts) -> &'t str {
        texts.get(self.title)
    }

    /// The host's name, from the cache's string table `texts`.
    #[must_use]
    pub fn host<'t>(&self, texts: &'t Texts) -> &'t str {
        texts.get(self.host)
    }

    /// Marks the strings the summary uses in `used`.
    pub fn mark_texts(&self, used: &mut UsedTexts) {
        used.mark(self.title);
        used.mark(self.host);
        for session in self.sessions.iter() {
            for text in session.texts() {
                used.mark(text);
            }
        }
    }

    /// The worst verdict of any session.
    #[must_use]
    pub fn worst(&self) -> Verdict {
        self.sessions.worst()
    }
}

/// A meeting in the cache: the key of the inputs its page was rendered from, its summary (in memory
/// or in the render's spill file: [`HeldSummary`]), and the content hash of its page. The page's
/// path is the map's key ([`MeetingKey`]), so an entry holds the hash alone, not another copy of
/// the path (about 90 bytes a meeting); it is stored as the one-file map it always was (the stored
/// cache is unchanged).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "StoredEntry")]
pub struct CachedMeeting {
    /// The inputs' key.
    pub key: ContentHash,
    /// The summary.
    pub summary: HeldSummary,
    /// The content hash of the meeting's page, at [`meeting_path`] of its id.
    pub page: ContentHash,
}

impl CachedMeeting {
    /// The manifest's own copy of the page's path (the meeting's key being `key`), when `manifest`
    /// lists the page with this entry's hash (it is published as cached, and can be kept).
    #[must_use]
    pub fn published_path(&self, key: &MeetingKey, manifest: &Manifest) -> Option<SitePath> {
        match manifest.get_key_value(&**key.page()) {
            Some((path, hash)) if *hash == self.page => Some(Arc::clone(path)),
            _ => None,
        }
    }
}

/// A cached meeting as it is stored: its files as a map of path to hash (one file, its page).
#[derive(Deserialize)]
struct StoredEntry {
    key: ContentHash,
    summary: MeetingSummary,
    files: FileHashes,
}

impl TryFrom<StoredEntry> for CachedMeeting {
    type Error = String;

    fn try_from(stored: StoredEntry) -> Result<Self, String> {
        let path = meeting_path(&stored.summary.instance_id);
        let mut files = stored.files.iter();
        match (files.next(), files.next()) {
            (Some((listed, hash)), None) if **listed == *path => Ok(Self {
                key: stored.key,
                page: *hash,
                summary: HeldSummary::here(stored.summary),
            }),
            _ => Err(format!(
                "a cached meeting's files are not its page alone ({path})"
            )),
        }
    }
}

impl Serialize for CachedMeeting {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeStruct};
        let summary = self.summary.get().map_err(S::Error::custom)?;
        let files = FileHashes::one(meeting_path(&summary.instance_id), self.page);
        let mut stored = serializer.serialize_struct("CachedMeeting", 3)?;
        stored.serialize_field("key", &self.key)?;
        stored.serialize_field("summary", &*summary)?;
        stored.serialize_field("files", &files)?;
        stored.end()
    }
}

/// Files rendered from several meetings (a person's page; a day of the meetings list with its
/// exports): their inputs' key and each file's content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedFiles {
    /// The inputs' key.
    pub key: ContentHash,
    /// Path to content hash.
    pub files: FileHashes,
    /// The UTC day they were rendered on (person pages: at most one render a day).
    #[serde(default)]
    pub rendered: Option<chrono::NaiveDate>,
}

/// What a build leaves for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderCache {
    /// The cache's shape.
    pub version: u32,
    /// Templates, assets, options and thresholds the files were rendered with.
    pub fingerprint: String,
    /// Per meeting instance id. Each entry is boxed: the map's nodes, about a third empty, then
    /// leave 8 bytes a slot unused rather than a third of the entry's 272 (a heap profile of a
    /// 30-day full rebuild had the nodes at 12 MB, the largest item that grew with history).
    pub meetings: BTreeMap<MeetingKey, Box<CachedMeeting>>,
    /// Per person page path.
    pub people: BTreeMap<String, CachedFiles>,
    /// Per archive object key, the meetings it holds (archives never change, so a build keeps
    /// them without reading the archive). Stored in the archive's part, with their entries.
    #[serde(default)]
    pub archives: BTreeMap<String, Vec<MeetingKey>>,
    /// Per archive object key, the digest of its part as the data store holds it ([`part_key`]):
    /// only parts the build left as they were read (a part not listed is written when the cache
    /// is saved, [`RenderCache::parts_to_write`]).
    #[serde(skip)]
    pub parts: BTreeMap<String, CacheDigest>,
    /// The strings of the sessions' summaries.
    #[serde(default)]
    pub texts: Texts,
    /// Per day page of the meetings list.
    #[serde(default)]
    pub days: BTreeMap<String, CachedFiles>,
    /// The archives a build kept without an entry a meeting (`settled.rs`): their parts are kept
    /// as the data store holds them (each with its digest in `parts`).
    #[serde(skip)]
    pub settled: Settled,
}

/// A cache that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the render cache is unreadable: {message}")]
pub struct CacheError {
    message: String,
    /// Written by an earlier version in a form this one no longer reads (not damage).
    earlier: bool,
}

impl CacheError {
    /// A cache of an earlier version, in a form this one no longer reads (`what`).
    pub(crate) fn earlier_version(what: &str) -> Self {
        Self {
            message: what.to_owned(),
            earlier: true,
        }
    }

    /// Whether the cache is an earlier version's, in a form this one no longer reads: expected once
    /// after an upgrade, not damage.
    #[must_use]
    pub fn is_earlier_version(&self) -> bool {
        self.earlier
    }
}

impl RenderCache {
    /// An empty cache for builds with `fingerprint`.
    #[must_use]
    pub fn new(fingerprint: String) -> Self {
        Self {
            version: CACHE_VERSION,
            fingerprint,
            meetings: BTreeMap::new(),
            people: BTreeMap::new(),
            archives: BTreeMap::new(),
            parts: BTreeMap::new(),
            texts: Texts::default(),
            days: BTreeMap::new(),
            settled: Settled::default(),
        }
    }

    /// Drops the strings no cached meeting uses any more, and lets go of every part's digest
    /// (their summaries' strings are numbered anew: every part is written again). A build does it
    /// when most of the table is unused ([`UsedTexts::mostly_unused`]): otherwise the table only
    /// grows, so that the stored parts' summaries keep their strings.
    ///
    /// # Errors
    /// The spill file failed (then the cache is half remapped: the build fails and is not saved).
    pub fn compact_texts(&mut self) -> Result<(), SpillError> {
        // Every part is written again: the settled archives' too, from entries of their own.
        let settled = self.unsettle()?;
        let meetings = &mut self.meetings;
        let mut failed = None;
        self.parts.clear();
        self.texts.compact(|remap| {
            for meeting in meetings.values_mut() {
                let remapped = meeting.summary.update(|summary| {
                    summary.sessions.remap_texts(remap);
                    summary.title = remap(summary.title);
                    summary.host = remap(summary.host);
                });
                if let Err(error) = remapped {
                    failed = Some(error);
                    return;
                }
            }
        });
        if let Some(error) = failed {
            return Err(error);
        }
        // What the build's history points at is the entries' summary, renumbered.
        self.repoint_settled(&settled)
    }

    /// Whether files rendered for this cache may be kept by a build with `fingerprint`.
    #[must_use]
    pub fn matches(&self, fingerprint: &str) -> bool {
        self.version == CACHE_VERSION && self.fingerprint == fingerprint
    }

    /// Keys each meeting whose page `published` lists by the manifest's path (one allocation for
    /// both, not two while a render goes on: [`MeetingKey::shared_with`]).
    pub fn share_keys_with(&mut self, published: &Manifest) {
        let meetings = std::mem::take(&mut self.meetings);
        // The keys stay the same ids, in the same order: the map is built again in one pass.
        self.meetings = meetings
            .into_iter()
            .map(|(id, entry)| (id.shared_with(published), entry))
            .collect();
    }

    /// Makes each meeting's key one allocation: the map's, and the list of the archive that holds
    /// the meeting (read from the file, they are two copies).
    pub fn share_ids(&mut self) {
        let mut archives = std::mem::take(&mut self.archives);
        for id in archives.values_mut().flatten() {
            *id = self.shared_id(id);
        }
        self.archives = archives;
    }

    /// `id` as this cache holds it (the map's key), or `id` itself when it has no entry.
    #[must_use]
    pub fn shared_id(&self, id: &MeetingKey) -> MeetingKey {
        self.meetings
            .get_key_value(id.id())
            .map_or_else(|| id.clone(), |(key, _)| key.clone())
    }
}

/// Everything every page depends on besides its data: the templates and assets compiled into this
/// binary, the rendering options, and the thresholds.
#[must_use]
pub fn fingerprint(options: &SiteOptions, thresholds: &Thresholds) -> String {
    let mut hash = Sha256::new();
    hash.update(env!("CARGO_PKG_VERSION"));
    for source in super::TEMPLATE_SOURCES {
        hash.update(source.len().to_le_bytes());
        hash.update(source);
    }
    hash.update(super::STYLE_CSS);
    hash.update(super::APP_JS);
    let options_text = format!(
        "{}\u{0}{:?}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        options.mask_personal,
        options.authorization_needed,
        options.css_path,
        options.js_path,
        options.person_key.fingerprint(),
        options.offices.fingerprint()
    );
    hash.update(options_text);
    hash.update(serde_json::to_vec(thresholds).unwrap_or_default());
    hex::encode(hash.finalize())
}

/// The key of a meeting's own inputs: its List Meetings fields and the pages of its latest complete
/// call (by content hash).
#[must_use]
pub fn meeting_key(meeting: &StoredMeeting, page_hashes: &[String]) -> ContentHash {
    let mut hash = Sha256::new();
    let mut field = |text: &str| {
        hash.update(text.len().to_le_bytes());
        hash.update(text);
    };
    field(&meeting.instance_id);
    field(&meeting.title);
    field(&meeting.host_name);
    field(&meeting.start.map(|t| t.to_rfc3339()).unwrap_or_default());
    field(&meeting.end.map(|t| t.to_rfc3339()).unwrap_or_default());
    field(&meeting.state);
    for page in page_hashes {
        field(page);
    }
    ContentHash::from_digest(hash)
}

/// The key of a page made of several meetings: their keys, in order (each as its hex digits, as
/// when keys were held as text: a page's key is the same as before).
#[must_use]
pub fn combined_key<'a>(keys: impl IntoIterator<Item = &'a ContentHash>) -> ContentHash {
    let mut combined = CombinedKey::default();
    for key in keys {
        combined.add(key);
    }
    combined.finish()
}

/// [`combined_key`] made as the keys go by, one at a time: what a person's page key is counted
/// with while the history is read, rather than from a list of every session of theirs.
#[derive(Debug, Clone, Default)]
pub struct CombinedKey(Sha256);

impl CombinedKey {
    /// Adds the next key.
    pub fn add(&mut self, key: &ContentHash) {
        self.0.update(key.hex());
        self.0.update([0]);
    }

    /// The key of every key added, in order.
    #[must_use]
    pub fn finish(self) -> ContentHash {
        ContentHash::from_digest(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session summary as JSON, named by the string `name`, with a poor video stream (7 minutes).
    pub(super) fn session_json(name: u32) -> serde_json::Value {
        serde_json::json!({
            "person": 1, "name": name, "email": 1, "client_type": 0, "client_version": 0,
            "os_type": 0, "network_type": 0, "server_region": 0, "transport": 0,
            "join": null, "leave": null,
            "streams": [
                {"kind": "audio", "verdict": "good", "metric": null, "poor_minutes": 0},
                {"kind": "video", "verdict": "poor", "metric": null, "poor_minutes": 7},
                {"kind": "share", "verdict": "no_data", "metric": null, "poor_minutes": 0}
            ]
        })
    }

    /// A meeting `id` at the epoch with no sessions and an empty headline.
    fn bare_summary(id: &str) -> MeetingSummary {
        MeetingSummary {
            instance_id: id.into(),
            title: Text::NONE,
            host: Text::NONE,
            start: DateTime::UNIX_EPOCH,
            end: None,
            sessions: PackedSessions::default(),
            headline: Headline::default(),
        }
    }

    #[test]
    fn the_cache_round_trips_and_refuses_garbage() {
        let mut cache = RenderCache::new("f".into());
        cache.people.insert(
            "people/x.html".into(),
            CachedFiles {
                key: ContentHash::of(b"k"),
                files: FileHashes::from([("people/x.html".into(), ContentHash::of(b"h"))]),
                rendered: chrono::NaiveDate::from_ymd_opt(2026, 1, 5),
            },
        );
        let bytes = cache.to_bytes().unwrap();
        assert_eq!(RenderCache::from_bytes(&bytes).unwrap(), cache);
        assert!(RenderCache::from_bytes(b"not a cache").is_err());
        assert!(cache.matches("f") && !cache.matches("g"));
    }

    #[test]
    fn a_meetings_key_read_from_the_cache_is_one_allocation_its_pages_path() {
        let mut cache = RenderCache::new("f".into());
        let summary = bare_summary("a_I_1");
        cache.meetings.insert(
            MeetingKey::new("a_I_1"),
            Box::new(CachedMeeting {
                key: ContentHash::of(b"k"),
                summary: HeldSummary::here(summary),
                page: ContentHash::of(b"page"),
            }),
        );
        cache.archives.insert(
            "archive/a.sqlite.zst".into(),
            vec![MeetingKey::new("a_I_1"), MeetingKey::new("gone_I_2")],
        );
        let read = cache.round_trip();
        assert_eq!(
            RenderCache {
                parts: BTreeMap::new(),
                ..read.clone()
            },
            cache
        );
        let (key, _) = read.meetings.iter().next().unwrap();
        assert_eq!(&**key.page(), "meetings/a_I_1.html");
        // Keyed by a published manifest's path when it lists the page; the same entries.
        let mut shared = read.clone();
        let published = Manifest::from([("meetings/a_I_1.html".into(), ContentHash::of(b"x"))]);
        shared.share_keys_with(&published);
        assert_eq!(shared.meetings, read.meetings);
        let (key, _) = shared.meetings.iter().next().unwrap();
        let (path, _) = published.first_key_value().unwrap();
        assert!(Arc::ptr_eq(key.page(), path));
        let (key, _) = read.meetings.iter().next().unwrap();
        let listed = &read.archives["archive/a.sqlite.zst"];
        assert!(Arc::ptr_eq(key.page(), listed[0].page()));
        assert_eq!(
            listed[1].id(),
            "gone_I_2",
            "an id the cache has no entry for stays"
        );
    }

    #[test]
    fn a_cached_meeting_is_stored_with_its_page_as_a_one_file_map_as_before() {
        /// The form entries were stored in while they held a map of files.
        #[derive(Serialize)]
        struct Before<'a> {
            key: &'a ContentHash,
            summary: &'a MeetingSummary,
            files: FileHashes,
        }
        let summary = bare_summary("a_I_1");
        let entry = CachedMeeting {
            key: ContentHash::of(b"k"),
            summary: HeldSummary::here(summary.clone()),
            page: ContentHash::of(b"page"),
        };
        let before = |path: &str| Before {
            key: &entry.key,
            summary: &summary,
            files: FileHashes::one(path, entry.page),
        };
        let bytes = postcard::to_allocvec(&entry).unwrap();
        assert_eq!(
            bytes,
            postcard::to_allocvec(&before("meetings/a_I_1.html")).unwrap()
        );
        assert_eq!(
            postcard::from_bytes::<CachedMeeting>(&bytes).unwrap(),
            entry
        );
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::to_value(before("meetings/a_I_1.html")).unwrap()
        );
        // An entry whose file is not its page, or that has more than its page, is refused.
        let other = postcard::to_allocvec(&before("meetings/b_I_2.html")).unwrap();
        assert!(postcard::from_bytes::<CachedMeeting>(&other).is_err());
        let mut two = before("meetings/a_I_1.html");
        two.files.insert("meetings/a_I_1.csv", entry.page);
        assert!(
            postcard::from_bytes::<CachedMeeting>(&postcard::to_allocvec(&two).unwrap()).is_err()
        );
        // Its page's path is the published manifest's copy, when that lists the same hash.
        let mut manifest = Manifest::new();
        assert_eq!(
            entry.published_path(&MeetingKey::new("a_I_1"), &manifest),
            None
        );
        manifest.insert("meetings/a_I_1.html".into(), ContentHash::of(b"other"));
        assert_eq!(
            entry.published_path(&MeetingKey::new("a_I_1"), &manifest),
            None
        );
        manifest.insert("meetings/a_I_1.html".into(), entry.page);
        let (listed, _) = manifest.first_key_value().unwrap();
        assert!(Arc::ptr_eq(
            &entry
                .published_path(&MeetingKey::new("a_I_1"), &manifest)
                .unwrap(),
            listed
        ));
    }

    #[test]
    fn a_meetings_sessions_are_read_from_the_cache_packed_and_written_back_the_same() {
        let session = session_json(1);
        let meeting = serde_json::json!({
            "instance_id": "a_I_1", "title": 1, "host": 2,
            "start": "2026-01-05T10:00:00Z", "end": null,
            "sessions": vec![session.clone(); 5],
            "headline": crate::quality::headline::Headline::default(),
        });
        // Read from text, as the cache's earlier form is: packed as they are read.
        let read: MeetingSummary = serde_json::from_str(&meeting.to_string()).unwrap();
        assert_eq!(read.sessions.len(), 5);
        assert_eq!(
            read.sessions.iter().nth(1).unwrap().streams[1].poor_minutes,
            7
        );
        let written = serde_json::to_value(&read).unwrap();
        assert_eq!(written["sessions"][1]["streams"], session["streams"]);
        assert_eq!(
            serde_json::from_value::<MeetingSummary>(written).unwrap(),
            read
        );
    }

    #[test]
    fn a_meeting_key_changes_with_its_pages_and_its_fields() {
        let meeting = StoredMeeting {
            instance_id: "a_I_1".into(),
            title: "Weekly".into(),
            host_name: "Ann".into(),
            host_email: "ann@example.com".into(),
            start: None,
            end: None,
            state: "ended".into(),
        };
        let one = meeting_key(&meeting, &["p1".into()]);
        assert_eq!(one, meeting_key(&meeting, &["p1".into()]));
        assert_ne!(one, meeting_key(&meeting, &["p1".into(), "p2".into()]));
        let renamed = StoredMeeting {
            title: "Weekly!".into(),
            ..meeting
        };
        assert_ne!(one, meeting_key(&renamed, &["p1".into()]));
    }

    #[test]
    fn a_combined_key_is_what_it_was_when_keys_were_hex_text() {
        let (a, b) = (ContentHash::of(b"a"), ContentHash::of(b"b"));
        let text = format!("{a}\u{0}{b}\u{0}");
        assert_eq!(
            combined_key([&a, &b]).to_string(),
            crate::db::sha256_hex(text.as_bytes())
        );
        assert_ne!(combined_key([&b, &a]), combined_key([&a, &b]));
    }
}
