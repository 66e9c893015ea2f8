//! Archives kept without an entry a meeting (`render_cache/settled.rs`): what a build settles, and
//! that it makes what a build that settles nothing makes.
use super::*;
use crate::db::test_support::{changes_with_call, t};

/// The archive of the fixture's first day.
const DAY_ONE: &str = "archive/2025-06-02.sqlite.zst";

/// A fixture of "a" and "b" on the first day (in [`DAY_ONE`]) and "c" three days later (the hot
/// database), rendered once; the cache as the next render reads it, and what was published.
struct Rendered {
    f: Fixture,
    hot: Database,
    cache: RenderCache,
    published: Manifest,
}

fn rendered() -> Rendered {
    let day = t("2025-06-02T14:00:00Z");
    let later = t("2025-06-05T09:00:00Z");
    let f = fixture(&[
        ("b_I_2", day),
        ("a_I_1", day + chrono::Duration::hours(1)),
        ("c_I_3", later),
    ]);
    let mut hot = Database::open(&f.scratch.path().join("hot.sqlite")).unwrap();
    hot.apply(&changes_with_call("c_I_3", later, &three_participants()))
        .unwrap();
    let first = f.build(None);
    let published = first.manifest().to_map().unwrap();
    let mut cache = first.cache;
    // Listed as an archive's database lists its meetings: by start, then id.
    cache.archives.insert(
        DAY_ONE.into(),
        vec![MeetingKey::new("b_I_2"), MeetingKey::new("a_I_1")],
    );
    Rendered {
        cache: cache.round_trip(),
        published,
        hot,
        f,
    }
}

impl Rendered {
    /// The next build: the hot database, then [`DAY_ONE`] kept; with a spill file (then the
    /// archive may be settled) when `spill`.
    fn next(&self, spill: bool) -> SiteBuilder<'_> {
        let previous = Previous {
            cache: Some(self.cache.clone()),
            manifest: self.published.clone(),
        };
        let mut builder = SiteBuilder::new(&self.f.options, &self.f.thresholds, Some(previous));
        if spill {
            let work = self.f.scratch.path().join("work");
            builder.spill_meetings_to(Spill::create(&work).unwrap());
        }
        builder.add_database(&self.hot, None).unwrap();
        assert!(builder.reuse_archive(DAY_ONE));
        builder
    }
}

#[test]
fn an_archive_kept_as_it_was_is_settled_and_the_build_is_what_one_without_makes() {
    let r = rendered();
    let plain = r.next(false).finish(&r.f.status).unwrap();
    let settled = r.next(true).finish(&r.f.status).unwrap();
    // Settled: its meetings have no entry, and its part stays as stored.
    assert_eq!(settled.cache.settled.len(), 2);
    assert!(settled.cache.settled.holds(DAY_ONE));
    assert!(!settled.cache.meetings.contains_key("a_I_1"));
    assert!(!settled.cache.archives.contains_key(DAY_ONE));
    assert!(plain.cache.settled.is_empty());
    assert!(plain.cache.meetings.contains_key("a_I_1"));
    assert!(settled.cache.parts_to_write().is_empty());
    assert!(plain.cache.parts_to_write().is_empty());
    // The same site, manifest, counts and stored cache.
    assert_eq!(settled.files, plain.files);
    assert_eq!(
        settled.manifest().to_map().unwrap(),
        plain.manifest().to_map().unwrap()
    );
    assert_eq!(settled.manifest().len(), plain.manifest().len());
    assert!(
        settled
            .manifest()
            .to_map()
            .unwrap()
            .contains_key("meetings/a_I_1.html")
    );
    let counts = |b: &SiteBuild| (b.meetings_reused, b.kept, b.taken, b.people_reused);
    assert_eq!(counts(&settled), counts(&plain));
    assert_eq!(
        settled.cache.to_bytes().unwrap(),
        plain.cache.to_bytes().unwrap()
    );
    // The manifest's JSON lists the same files.
    let json = |b: &SiteBuild| {
        let entries = crate::site::publish::ManifestEntries {
            files: b.manifest(),
        };
        serde_json::from_slice::<Manifest>(&entries.to_json().unwrap()).unwrap()
    };
    assert_eq!(json(&settled), json(&plain));
    assert_eq!(json(&settled).len(), settled.manifest().len());
}

#[test]
fn a_paused_build_lists_the_settled_pages_and_keeps_their_part() {
    let r = rendered();
    let plain = r.next(false).pause().unwrap();
    let settled = r.next(true).pause().unwrap();
    assert_eq!(settled.cache.settled.len(), 2);
    assert!(settled.hashes.contains_key("meetings/b_I_2.html"));
    assert_eq!(
        settled.manifest().to_map().unwrap(),
        plain.manifest().to_map().unwrap()
    );
    assert_eq!(
        settled.cache.to_bytes().unwrap(),
        plain.cache.to_bytes().unwrap()
    );
}

#[test]
fn an_archive_is_not_settled_when_a_meeting_of_its_day_has_an_entry_or_its_part_changed() {
    let r = rendered();
    // A meeting of the first day that the archive does not hold, in the hot database: the day
    // has an entry.
    let mut both = Database::open(&r.f.scratch.path().join("both.sqlite")).unwrap();
    for (id, start) in [
        ("c_I_3", t("2025-06-05T09:00:00Z")),
        ("d_I_4", t("2025-06-02T14:30:00Z")),
    ] {
        both.apply(&changes_with_call(id, start, &three_participants()))
            .unwrap();
    }
    let previous = Previous {
        cache: Some(r.cache.clone()),
        manifest: r.published.clone(),
    };
    let mut builder = SiteBuilder::new(&r.f.options, &r.f.thresholds, Some(previous));
    builder.spill_meetings_to(Spill::create(&r.f.scratch.path().join("work")).unwrap());
    builder.add_database(&both, None).unwrap();
    assert!(builder.reuse_archive(DAY_ONE));
    let build = builder.finish(&r.f.status).unwrap();
    assert!(build.cache.settled.is_empty());
    assert!(build.cache.meetings.contains_key("a_I_1"));
    // Its stored part is not the one listed: not settled (the part is written again).
    let mut cache = r.cache.clone();
    cache.parts.clear();
    let previous = Previous {
        cache: Some(cache),
        manifest: r.published.clone(),
    };
    let mut builder = SiteBuilder::new(&r.f.options, &r.f.thresholds, Some(previous));
    builder.spill_meetings_to(Spill::create(&r.f.scratch.path().join("work")).unwrap());
    builder.add_database(&r.hot, None).unwrap();
    assert!(builder.reuse_archive(DAY_ONE));
    let build = builder.finish(&r.f.status).unwrap();
    assert!(build.cache.settled.is_empty());
    assert_eq!(build.cache.parts_to_write(), [DAY_ONE]);
}

#[test]
fn compacting_the_string_table_makes_the_settled_archives_entries_again() {
    let r = rendered();
    let plain = r.next(false).finish(&r.f.status).unwrap();
    let mut settled = r.next(true).finish(&r.f.status).unwrap();
    let mut expected = plain.cache.clone();
    expected.compact_texts().unwrap();
    settled.cache.compact_texts().unwrap();
    assert_eq!(settled.cache.meetings, expected.meetings);
    assert_eq!(settled.cache.archives, expected.archives);
    assert_eq!(settled.cache.texts, expected.texts);
    assert_eq!(settled.cache.parts_to_write(), [DAY_ONE]);
    assert!(settled.cache.settled.is_empty());
    // The manifest lists their pages once, through the entries.
    assert_eq!(
        settled.manifest().to_map().unwrap(),
        plain.manifest().to_map().unwrap()
    );
    assert_eq!(settled.manifest().len(), plain.manifest().len());
}
