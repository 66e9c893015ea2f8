//! Tests of the incremental build, a file per subject, and what they share: stand-in cache entries
//! and manifests, and a fixture database of the 3-participant meeting.
use super::*;
use crate::site::render_cache::{HeldSummary, PackedSessions, Spill, Text};

/// A stand-in content hash for `text`.
fn h(text: &str) -> ContentHash {
    ContentHash::of(text.as_bytes())
}

fn cached(id: &str) -> Box<CachedMeeting> {
    Box::new(CachedMeeting {
        key: h(&format!("key-{id}")),
        summary: HeldSummary::here(MeetingSummary {
            instance_id: id.into(),
            title: Text::NONE,
            host: Text::NONE,
            start: chrono::DateTime::UNIX_EPOCH,
            end: None,
            sessions: PackedSessions::default(),
            headline: crate::quality::headline::Headline::default(),
        }),
        page: h(&format!("hash-{id}")),
    })
}

/// The Meeting Qualities page of the 3-participant fixture.
fn three_participants() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/webex/meeting-qualities-3-participants.json"
    ))
    .unwrap()
}

/// A cache for builds with `options` and `thresholds`, with an entry for each of `ids`.
fn cache_with(options: &SiteOptions, thresholds: &Thresholds, ids: &[&str]) -> RenderCache {
    let mut cache = RenderCache::new(render_cache::fingerprint(options, thresholds));
    for id in ids {
        cache.meetings.insert((*id).into(), cached(id));
    }
    cache
}

/// A manifest of (path, stand-in hash text) pairs ([`h`]).
fn manifest_of(files: &[(&str, &str)]) -> Manifest {
    files
        .iter()
        .map(|(p, hash)| ((*p).into(), h(hash)))
        .collect()
}

/// The archive object the tests' caches list.
const ARCHIVE: &str = "archive/2026-01-05.sqlite.zst";

/// `cache` with `listed` as what [`ARCHIVE`] holds.
fn with_archive(mut cache: RenderCache, listed: &[&str]) -> RenderCache {
    let listed = listed.iter().map(|&id| id.into()).collect();
    cache.archives.insert(ARCHIVE.into(), listed);
    cache
}

/// The 3-participant fixture's meetings (`id`, start) in a database of a scratch folder, and
/// the options of a render two hours after the last start.
struct Fixture {
    scratch: tempfile::TempDir,
    db: Database,
    options: SiteOptions,
    thresholds: Thresholds,
    status: StatusView,
}

impl Fixture {
    /// A build of the fixture's database over `previous`.
    fn build(&self, previous: Option<Previous>) -> SiteBuild {
        build_incremental(
            &self.db,
            &self.status,
            &self.options,
            &self.thresholds,
            previous,
        )
        .unwrap()
    }

    /// A build with the fixture's options, nothing added yet.
    fn builder(&self) -> SiteBuilder<'_> {
        SiteBuilder::new(&self.options, &self.thresholds, None)
    }
}

fn fixture(meetings: &[(&str, chrono::DateTime<chrono::Utc>)]) -> Fixture {
    let scratch = crate::db::test_support::tempdir();
    let mut db = Database::open(&scratch.path().join("db.sqlite")).unwrap();
    let body = three_participants();
    for (id, start) in meetings {
        db.apply(&crate::db::test_support::changes_with_call(
            id, *start, &body,
        ))
        .unwrap();
    }
    let last = meetings.iter().map(|(_, start)| *start).max().unwrap();
    let options = SiteOptions {
        generated: last + chrono::Duration::hours(2),
        ..SiteOptions::default()
    };
    let status = StatusView::from_sources(&db, None, options.generated).unwrap();
    Fixture {
        scratch,
        db,
        options,
        thresholds: Thresholds::default(),
        status,
    }
}

/// A build over a previous build's `cache` and the `manifest` it published (a copy, its paths
/// shared).
fn over_previous<'a>(
    options: &'a SiteOptions,
    thresholds: &'a Thresholds,
    cache: RenderCache,
    manifest: &Manifest,
) -> SiteBuilder<'a> {
    let manifest = manifest.clone();
    let cache = Some(cache);
    SiteBuilder::new(options, thresholds, Some(Previous { cache, manifest }))
}

mod previous_cache;
mod rendering;
mod settled;
mod shared_paths;
