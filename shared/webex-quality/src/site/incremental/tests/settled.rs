//! Archives kept without an entry a meeting (`render_cache/settled.rs`): what a build settles, and
//! that it makes what a build that settles nothing makes.
use super::*;
use crate::db::test_support::{changes_with_call, t};
use crate::site::build::meeting_path;
use crate::site::render_cache::SitePath;

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
    let published = first.manifest().to_map();
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
    /// The next build over the cache and manifest, nothing added yet; with a spill file when
    /// `spill`.
    fn next_builder(&self, spill: bool) -> SiteBuilder<'_> {
        let previous = Previous {
            cache: Some(self.cache.clone()),
            manifest: self.published.clone(),
        };
        let mut builder = SiteBuilder::new(&self.f.options, &self.f.thresholds, Some(previous));
        if spill {
            let work = self.f.scratch.path().join("work");
            builder.spill_meetings_to(Spill::create(&work).unwrap());
        }
        builder
    }

    /// The next build: the hot database, then [`DAY_ONE`] kept; with a spill file (then the
    /// archive may be settled) when `spill`.
    fn next(&self, spill: bool) -> SiteBuilder<'_> {
        let mut builder = self.next_builder(spill);
        builder.add_database(&self.hot, None).unwrap();
        assert!(builder.reuse_archive(DAY_ONE));
        builder
    }
}

/// `manifest` with the list of pages of [`DAY_ONE`] in place of its pages (those of "a" and
/// "b"), and the list.
fn with_day_one_settled(manifest: &Manifest) -> (Manifest, Vec<u8>) {
    let mut settled = manifest.clone();
    let pages: Vec<(SitePath, ContentHash)> = ["a_I_1", "b_I_2"]
        .into_iter()
        .map(|id| settled.remove_entry(&*meeting_path(id)).unwrap())
        .collect();
    let list = render_cache::settled_list(pages.iter().map(|(path, hash)| (path, hash)));
    settled.insert(
        render_cache::settled_path(DAY_ONE).into(),
        ContentHash::of(&list),
    );
    (settled, list)
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
    // The same site but the archive's list of pages, in place of its pages in the manifest; the
    // same counts and stored cache.
    let (expected, list) = with_day_one_settled(&plain.manifest().to_map());
    let mut files = settled.files.clone();
    assert_eq!(
        files.remove(&render_cache::settled_path(DAY_ONE)),
        Some(list.clone())
    );
    assert_eq!(files, plain.files);
    assert_eq!(
        serde_json::from_slice::<Manifest>(&list).unwrap().len(),
        2,
        "{}",
        String::from_utf8_lossy(&list)
    );
    let manifest = settled.manifest().to_map();
    assert_eq!(manifest, expected);
    assert_eq!(
        settled.manifest().len(),
        plain.manifest().len() + 1,
        "files"
    );
    let counts = |b: &SiteBuild| (b.meetings_reused, b.kept, b.taken, b.people_reused);
    assert_eq!(counts(&settled), counts(&plain));
    assert_eq!(
        settled.cache.to_bytes().unwrap(),
        plain.cache.to_bytes().unwrap()
    );
    // Its JSON too, in path order.
    let entries = crate::site::publish::ManifestEntries {
        files: settled.manifest(),
    };
    let json = entries.to_json().unwrap();
    assert_eq!(serde_json::from_slice::<Manifest>(&json).unwrap(), manifest);
    assert_eq!(json, serde_json::to_vec_pretty(&manifest).unwrap());
}

#[test]
fn the_next_build_keeps_a_settled_archive_by_its_manifest_entry() {
    let r = rendered();
    let settled = r.next(true).finish(&r.f.status).unwrap();
    let published = settled.manifest().to_map();
    // The next render reads the same part (its digest is kept), and the manifest that lists the
    // archive as one entry: the archive is kept, settled again or, without a spill file, as
    // entries that list its pages one by one.
    let next = |spill| {
        let previous = Previous {
            cache: Some(r.cache.clone()),
            manifest: published.clone(),
        };
        let mut builder = SiteBuilder::new(&r.f.options, &r.f.thresholds, Some(previous));
        if spill {
            let work = r.f.scratch.path().join("work");
            builder.spill_meetings_to(Spill::create(&work).unwrap());
        }
        builder.add_database(&r.hot, None).unwrap();
        assert!(builder.reuse_archive(DAY_ONE), "kept from its entry");
        builder.finish(&r.f.status).unwrap()
    };
    let again = next(true);
    assert_eq!(again.cache.settled.len(), 2);
    assert_eq!(
        (again.meetings_reused, again.kept - 1, again.taken - 1),
        (settled.meetings_reused, settled.kept, settled.taken),
        "its pages and its list taken over"
    );
    assert_eq!(again.manifest().to_map(), published);
    let mut files = settled.files;
    files.remove(&render_cache::settled_path(DAY_ONE));
    assert_eq!(again.files, files, "its list is not published again");
    let as_entries = next(false);
    assert!(as_entries.cache.settled.is_empty());
    let (expected, _) = with_day_one_settled(&as_entries.manifest().to_map());
    assert_eq!(expected, published);
    assert_eq!(as_entries.meetings_reused, 3);
    assert!(
        as_entries
            .published
            .contains_key(render_cache::settled_path(DAY_ONE).as_str()),
        "its list stays as published: the publish removes it"
    );
    // An entry that is not the key of the part's pages: the pages are not known as published,
    // and the archive is read again.
    let mut other = published.clone();
    other.insert(
        render_cache::settled_path(DAY_ONE).into(),
        ContentHash::of(b"other pages"),
    );
    let previous = Previous {
        cache: Some(r.cache.clone()),
        manifest: other,
    };
    let mut builder = SiteBuilder::new(&r.f.options, &r.f.thresholds, Some(previous));
    builder.add_database(&r.hot, None).unwrap();
    assert!(!builder.reuse_archive(DAY_ONE));
}

#[test]
fn a_settled_archive_read_again_has_its_pages_listed_from_its_list_first() {
    let r = rendered();
    let settled = r.next(true).finish(&r.f.status).unwrap();
    let published = settled.manifest().to_map();
    let list = bytes::Bytes::from(settled.files[&render_cache::settled_path(DAY_ONE)].clone());
    let plain = r
        .next(false)
        .finish(&r.f.status)
        .unwrap()
        .manifest()
        .to_map();
    // No render cache (a full rebuild): the pages the list has are listed as published.
    let builder = || {
        SiteBuilder::new(
            &r.f.options,
            &r.f.thresholds,
            Some(Previous {
                cache: None,
                manifest: published.clone(),
            }),
        )
    };
    let mut full = builder();
    assert_eq!(
        full.settled_entry(DAY_ONE),
        published
            .get(render_cache::settled_path(DAY_ONE).as_str())
            .copied()
    );
    full.expand_settled(DAY_ONE, Ok(list.clone()));
    for id in ["a_I_1", "b_I_2"] {
        let page = meeting_path(id);
        assert_eq!(
            full.published().get(page.as_str()),
            plain.get(page.as_str())
        );
    }
    assert_eq!(full.published().len(), published.len() + 2);
    // Another list, or none: nothing listed.
    let other = bytes::Bytes::from(list[..list.len() - 1].to_vec());
    for list in [Ok(other), Err("gone".to_owned())] {
        let mut other = builder();
        other.expand_settled(DAY_ONE, list);
        assert_eq!(other.published(), &published);
    }
}

#[test]
fn a_paused_build_lists_the_settled_archive_and_keeps_its_part() {
    let r = rendered();
    let plain = r.next(false).pause().unwrap();
    let settled = r.next(true).pause().unwrap();
    assert_eq!(settled.cache.settled.len(), 2);
    assert_eq!(
        settled.manifest().to_map(),
        with_day_one_settled(&plain.manifest().to_map()).0
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
    // Another archive of its day to come (a further part).
    let mut builder = r.next_builder(true);
    let day = chrono::NaiveDate::from_ymd_opt(2025, 6, 2).unwrap();
    builder.archives_are([day, day]);
    builder.add_database(&r.hot, None).unwrap();
    assert!(builder.reuse_archive(DAY_ONE));
    assert!(builder.pause().unwrap().cache.settled.is_empty());
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
    assert_eq!(settled.manifest().to_map(), plain.manifest().to_map());
    assert_eq!(settled.manifest().len(), plain.manifest().len());
}

#[test]
fn an_archive_read_and_rendered_is_settled_and_its_part_written_when_the_cache_is_saved() {
    let r = rendered();
    let mut archive = Database::open(&r.f.scratch.path().join("day-one.sqlite")).unwrap();
    for (id, start) in [
        ("b_I_2", t("2025-06-02T14:00:00Z")),
        ("a_I_1", t("2025-06-02T15:00:00Z")),
    ] {
        archive
            .apply(&changes_with_call(id, start, &three_participants()))
            .unwrap();
    }
    // A full rebuild: the hot database, then the archive, read and rendered.
    let full = |spill: bool| {
        let mut builder = r.f.builder();
        if spill {
            let work = r.f.scratch.path().join("work");
            builder.spill_meetings_to(Spill::create(&work).unwrap());
        }
        builder.add_database(&r.hot, None).unwrap();
        builder.add_database(&archive, Some(DAY_ONE)).unwrap();
        assert_eq!(builder.settle_read(DAY_ONE), spill);
        assert!(!builder.settle_read(DAY_ONE), "once");
        builder.finish(&r.f.status).unwrap()
    };
    let plain = full(false);
    let mut settled = full(true);
    assert_eq!(settled.meetings_rendered, 3);
    assert_eq!(settled.cache.settled.len(), 2);
    assert!(!settled.cache.meetings.contains_key("a_I_1"));
    assert!(settled.cache.archives.is_empty());
    let (expected, list) = with_day_one_settled(&plain.manifest().to_map());
    assert_eq!(settled.manifest().to_map(), expected);
    let mut files = settled.files.clone();
    assert_eq!(
        files.remove(&render_cache::settled_path(DAY_ONE)),
        Some(list)
    );
    assert_eq!(files, plain.files);
    // Its part, written when the cache is saved, is the one the archive's entries make.
    let mut plain_cache = plain.cache;
    assert_eq!(plain_cache.parts_to_write(), [DAY_ONE]);
    assert_eq!(settled.cache.settled.parts_to_write(), [DAY_ONE]);
    let (bytes, digest) = plain_cache.part_to_bytes(DAY_ONE).unwrap();
    plain_cache.parts.insert(DAY_ONE.into(), digest);
    let path = r.f.scratch.path().join("part.bin.zst");
    let written = settled
        .cache
        .write_settled_part_file(DAY_ONE, &path)
        .unwrap();
    assert_eq!(written, digest);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    settled.cache.parts.insert(DAY_ONE.into(), written);
    assert!(settled.cache.settled.parts_to_write().is_empty());
    assert!(
        !settled.cache.meetings.contains_key("a_I_1"),
        "let go again"
    );
    assert_eq!(
        settled.cache.to_bytes().unwrap(),
        plain_cache.to_bytes().unwrap()
    );
}

#[test]
fn an_archive_read_is_not_settled_when_another_meeting_starts_on_its_day_or_one_failed() {
    let r = rendered();
    let day_one = |file: &str, meetings: &[(&str, &str, &[u8])]| {
        let mut db = Database::open(&r.f.scratch.path().join(file)).unwrap();
        for (id, start, body) in meetings {
            db.apply(&changes_with_call(id, t(start), body)).unwrap();
        }
        db
    };
    let body = three_participants();
    let archive = day_one(
        "day-one.sqlite",
        &[
            ("b_I_2", "2025-06-02T14:00:00Z", &body),
            ("a_I_1", "2025-06-02T15:00:00Z", &body),
        ],
    );
    let settles = |hot: &Database, archive: &Database| {
        let mut builder = r.f.builder();
        let work = r.f.scratch.path().join("work");
        builder.spill_meetings_to(Spill::create(&work).unwrap());
        builder.add_database(hot, None).unwrap();
        builder.add_database(archive, Some(DAY_ONE)).unwrap();
        builder.settle_read(DAY_ONE)
    };
    assert!(settles(&r.hot, &archive));
    // Another archive of the day (a further part): not settled.
    let mut builder = r.f.builder();
    builder.spill_meetings_to(Spill::create(&r.f.scratch.path().join("work")).unwrap());
    let day = chrono::NaiveDate::from_ymd_opt(2025, 6, 2).unwrap();
    builder.archives_are([day, day.succ_opt().unwrap(), day]);
    builder.add_database(&r.hot, None).unwrap();
    builder.add_database(&archive, Some(DAY_ONE)).unwrap();
    assert!(!builder.settle_read(DAY_ONE));
    // A meeting of the day in the hot database.
    let hot = day_one(
        "hot-too.sqlite",
        &[("d_I_4", "2025-06-02T14:30:00Z", &body)],
    );
    assert!(!settles(&hot, &archive));
    // A meeting whose page could not be made (its stored body damaged: an error page, no entry).
    let mut other = body.clone();
    other.extend_from_slice(b"\n");
    drop(day_one(
        "damaged.sqlite",
        &[
            ("b_I_2", "2025-06-02T14:00:00Z", &body),
            ("a_I_1", "2025-06-02T15:00:00Z", &other),
        ],
    ));
    let path = r.f.scratch.path().join("damaged.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE bodies SET data = x'00' WHERE sha256 = ?1",
            [crate::db::sha256_hex(&other)],
        )
        .unwrap();
    assert!(!settles(&r.hot, &Database::open(&path).unwrap()));
}
