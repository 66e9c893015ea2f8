//! What a build keeps of the previous build's render cache, and when it lets it go: kept meetings,
//! archives and their stored parts, person pages, a paused build, the string table.
use super::*;
use crate::site::render_cache::FileHashes;

#[test]
fn a_paused_build_keeps_what_it_did_and_what_it_did_not_reach() {
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let mut cache = with_archive(cache_with(&options, &thresholds, &["a", "b"]), &["a"]);
    let archive = ARCHIVE;
    let person = CachedFiles {
        key: h("key-p"),
        files: FileHashes::from([("people/p.html".into(), h("hash-p"))]),
        rendered: None,
    };
    cache.people.insert("people/p.html".into(), person.clone());
    let manifest = manifest_of(&[
        ("meetings/a.html", "hash-a"),
        ("meetings/b.html", "hash-b"),
        ("people/p.html", "hash-p"),
    ]);
    let mut builder = over_previous(&options, &thresholds, cache, &manifest);
    // The build reaches the archive holding "a", then its time is up.
    assert!(builder.reuse_archive(archive));
    let build = builder.pause().unwrap();
    assert_eq!(build.meetings_reused, 1);
    assert!(build.hashes.contains_key("meetings/a.html"));
    assert!(!build.hashes.contains_key("meetings/b.html"), "not reached");
    // What it did not reach is still in the cache, for the next build to check.
    assert_eq!(build.cache.meetings.get("b"), Some(&cached("b")));
    assert_eq!(build.cache.meetings.get("a"), Some(&cached("a")));
    assert_eq!(
        build.cache.archives.get(archive),
        Some(&vec![MeetingKey::new("a")])
    );
    assert_eq!(build.cache.people.get("people/p.html"), Some(&person));
}

#[test]
fn a_part_of_the_previous_cache_is_read_when_the_build_reaches_its_archive() {
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let scratch = tempfile::tempdir().unwrap();
    // "a" is in the archive's part, "b" in the hot object; the table has a string the part's
    // head counts (a part is read with the table the build took over).
    let mut cache = with_archive(cache_with(&options, &thresholds, &["a", "b"]), &["a"]);
    cache.texts.intern("Weekly");
    let file = scratch.path().join("part");
    let digest = cache.write_part_file(ARCHIVE, &file).unwrap();
    cache.parts.insert(ARCHIVE.into(), digest);
    let hot = RenderCache::from_bytes(&cache.to_bytes().unwrap()).unwrap();
    assert!(!hot.meetings.contains_key("a") && hot.meetings.contains_key("b"));
    let manifest = manifest_of(&[("meetings/a.html", "hash-a"), ("meetings/b.html", "hash-b")]);
    // The parts wait in a file of the work folder.
    let work = scratch.path().join("work");
    let waiting = || {
        let mut parts = UnreadParts::create(&work).unwrap();
        // Another archive's part first: this one is read from where it is in the file.
        let other = scratch.path().join("other");
        std::fs::write(&other, [7; 100]).unwrap();
        parts
            .add("archive/2026-01-04.sqlite.zst".into(), &other)
            .unwrap();
        parts.add(ARCHIVE.into(), &file).unwrap();
        assert!(!parts.is_empty());
        parts
    };
    // Not read before the build reaches the archive; then read and kept.
    let mut builder = over_previous(&options, &thresholds, hot.clone(), &manifest);
    builder.read_parts_when_reached(waiting());
    let previous = builder.previous.as_ref().unwrap();
    assert!(!previous.meetings.contains_key("a"));
    assert!(builder.reuse_archive(ARCHIVE));
    assert!(!builder.unread.is_empty(), "the other archive's part waits");
    let build = builder.pause().unwrap();
    assert_eq!(build.meetings_reused, 1);
    let unchanged = Some(&digest);
    assert_eq!(
        build.cache.parts.get(ARCHIVE),
        unchanged,
        "its part unchanged"
    );
    // A build paused before the archive reads it then: its meetings stay in the cache.
    let mut builder = over_previous(&options, &thresholds, hot.clone(), &manifest);
    builder.read_parts_when_reached(waiting());
    let build = builder.pause().unwrap();
    assert_eq!(build.cache.meetings.get("a"), Some(&cached("a")));
    assert_eq!(build.cache.parts.get(ARCHIVE), unchanged);
    // The file of the parts has no name in the work folder (Unix), or none once the build is
    // done: a render stopped midway leaves nothing there.
    let mut builder = over_previous(&options, &thresholds, hot, &manifest);
    builder.read_parts_when_reached(waiting());
    if cfg!(unix) {
        assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    }
    drop(builder);
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
}

#[test]
fn an_archive_not_published_as_cached_is_read_again_and_its_entries_stay() {
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let archive = ARCHIVE;
    let with = |ids: &[&str], listed: &[&str]| {
        with_archive(cache_with(&options, &thresholds, ids), listed)
    };
    let published = |ids: &[&str]| -> Manifest {
        ids.iter()
            .map(|id| {
                (
                    format!("meetings/{id}.html").as_str().into(),
                    h(&format!("hash-{id}")),
                )
            })
            .collect()
    };
    // "b" was published with other content since: nothing of the archive is kept, and the
    // entries taken before "b" go back, for the meetings to be checked one by one.
    let mut manifest = published(&["a", "b", "c"]);
    manifest.insert("meetings/b.html".into(), h("other"));
    let mut builder = over_previous(
        &options,
        &thresholds,
        with(&["a", "b", "c"], &["a", "b", "c"]),
        &manifest,
    );
    assert!(!builder.reuse_archive(archive));
    let build = builder.pause().unwrap();
    assert_eq!(build.meetings_reused, 0);
    assert!(!build.hashes.contains_key("meetings/a.html"));
    for id in ["a", "b", "c"] {
        assert_eq!(build.cache.meetings.get(id), Some(&cached(id)), "{id}");
    }
    assert_eq!(build.cache.archives[archive].len(), 3);
    // A meeting of the archive that the cache has no entry for: the same.
    let manifest = published(&["a", "c"]);
    let mut builder = over_previous(
        &options,
        &thresholds,
        with(&["a", "c"], &["a", "gone", "c"]),
        &manifest,
    );
    assert!(!builder.reuse_archive(archive));
    let build = builder.pause().unwrap();
    assert_eq!(build.meetings_reused, 0);
    assert!(build.cache.meetings.contains_key("a") && build.cache.meetings.contains_key("c"));
    // Every one published as cached (one listed twice): all kept.
    let mut builder = over_previous(
        &options,
        &thresholds,
        with(&["a", "c"], &["a", "c", "a"]),
        &manifest,
    );
    assert!(builder.reuse_archive(archive));
    let build = builder.pause().unwrap();
    assert_eq!(build.meetings_reused, 2);
    assert!(build.hashes.contains_key("meetings/a.html"));
    assert!(build.hashes.contains_key("meetings/c.html"));
}

#[test]
fn a_persons_page_is_rendered_at_most_once_a_day() {
    let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let next = day.succ_opt().unwrap();
    let page = CachedFiles {
        key: h("old"),
        files: FileHashes::from([("people/p.html".into(), h("hash-p"))]),
        rendered: Some(day),
    };
    let mut cache = RenderCache::new("f".into());
    cache.people.insert("people/p.html".into(), page.clone());
    let manifest: Manifest = [("people/p.html".into(), h("hash-p"))]
        .into_iter()
        .collect();
    let take = |published: &Manifest, key: &str, today| {
        let mut cache = cache.clone();
        Kept {
            cache: &mut cache,
            published,
        }
        .take_person("people/p.html", &h(key), today)
    };
    // Their sessions changed, and the page was rendered today: kept until tomorrow.
    assert_eq!(take(&manifest, "new", day), Some(page.clone()));
    // Rendered on an earlier day: rendered again.
    assert_eq!(take(&manifest, "new", next), None);
    // Unchanged: kept whatever the day.
    assert_eq!(take(&manifest, "old", next), Some(page));
    // No longer published as rendered: rendered again.
    assert_eq!(take(&Manifest::new(), "old", day), None);
}

#[test]
fn a_meeting_rendered_again_lets_go_of_its_previous_entry_at_once() {
    use crate::db::test_support::{changes_with_call, t, tempdir};
    let scratch = tempdir();
    let mut db = Database::open(&scratch.path().join("db.sqlite")).unwrap();
    let body = three_participants();
    db.apply(&changes_with_call("a", t("2025-06-02T14:00:00Z"), &body))
        .unwrap();
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    // "a" was rendered from other inputs; "z" is in no database this build reads.
    let cache = cache_with(&options, &thresholds, &["a", "z"]);
    let manifest = Manifest::new();
    let mut builder = over_previous(&options, &thresholds, cache, &manifest);
    builder.add_database(&db, None).unwrap();
    let previous = &builder.previous.as_ref().unwrap().meetings;
    assert!(!previous.contains_key("a"), "superseded, not held");
    assert!(previous.contains_key("z"), "not reached: kept for a pause");
    let build = builder.pause().unwrap();
    assert_eq!(build.meetings_rendered, 1);
    assert_ne!(build.cache.meetings["a"], cached("a"), "this build's entry");
    assert_eq!(build.cache.meetings["z"], cached("z"));
}

#[test]
fn an_archives_stored_part_is_kept_unless_the_build_rendered_one_of_its_meetings() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let f = fixture(&[("a_I_1", start), ("b_I_2", start)]);
    let first = f.build(None);
    // The previous build's cache, as read back: four archives, each with its stored part.
    let mut cache = first.cache.clone();
    let archives = [
        ("archive/2025-06-01.sqlite.zst", "a_I_1"),
        ("archive/2025-06-02.sqlite.zst", "b_I_2"),
        ("archive/2025-06-03.sqlite.zst", "a_I_1"),
        ("archive/2025-06-04.sqlite.zst", "c_I_3"),
    ];
    for (archive, id) in archives {
        cache
            .archives
            .insert(archive.into(), vec![MeetingKey::new(id)]);
    }
    let mut cache = cache.round_trip();
    assert_eq!(cache.parts.len(), 4);
    // "a" has other inputs now: the build renders it again from the hot database.
    cache.meetings.get_mut("a_I_1").unwrap().key = h("other inputs");
    let published = first.manifest().to_map();
    let mut builder = SiteBuilder::new(
        &f.options,
        &f.thresholds,
        Some(Previous {
            cache: Some(cache),
            manifest: published,
        }),
    );
    builder.add_database(&f.db, None).unwrap();
    assert!(builder.reuse_archive(archives[0].0));
    assert!(builder.reuse_archive(archives[1].0));
    // The other two are not reached: the build's time is up.
    let build = builder.pause().unwrap();
    assert_eq!((build.meetings_rendered, build.meetings_reused), (1, 1));
    assert_eq!(build.cache.archives.len(), 4);
    // The parts of the archives listing "a" are written again (reached or not); the others stay.
    assert_eq!(build.cache.parts_to_write(), [archives[0].0, archives[2].0]);
    // Written and read back, the cache is the build's.
    let mut saved = build.cache.clone();
    for archive in saved.parts_to_write() {
        let (_, digest) = saved.part_to_bytes(&archive).unwrap();
        saved.parts.insert(archive, digest);
    }
    assert_eq!(saved.round_trip().meetings, build.cache.meetings);
}

#[test]
fn the_string_table_only_grows_until_most_of_it_is_unused() {
    use crate::db::test_support::{changes_with_call, t, tempdir};
    let scratch = tempdir();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/webex/meeting-qualities-3-participants.json"
    ))
    .unwrap();
    let start = t("2025-06-02T14:00:00Z");
    let database = |file: &str, meetings: &[(&str, &str)]| {
        let mut db = Database::open(&scratch.path().join(file)).unwrap();
        for (id, body) in meetings {
            db.apply(&changes_with_call(id, start, body.as_bytes()))
                .unwrap();
        }
        db
    };
    let strings = |build: &SiteBuild| -> std::collections::BTreeSet<String> {
        let texts = &build.cache.texts;
        (0..texts.len())
            .map(|i| {
                texts
                    .get(crate::site::texts::Text::at(u32::try_from(i).unwrap()))
                    .to_owned()
            })
            .collect()
    };
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let build = |db: &Database, previous: Option<&SiteBuild>| {
        let status = StatusView::from_sources(db, None, start).unwrap();
        let previous = previous.map(|p| Previous {
            cache: Some(p.cache.clone()),
            manifest: p.manifest().to_map(),
        });
        build_incremental(db, &status, &options, &thresholds, previous).unwrap()
    };
    // "a" has no sessions: "b"'s strings are most of the table.
    let empty = r#"{"items": []}"#;
    let zed = fixture.replace("Marco Bellini", "Zed Unique");
    let both = database("1.sqlite", &[("a", empty), ("b", &zed)]);
    let first = build(&both, None);
    assert!(strings(&first).contains("Zed Unique"));

    // Nothing changed: every string is still used, and the table is left as it was.
    let again = build(&both, Some(&first));
    assert_eq!(again.meetings_reused, 2);
    assert_eq!(again.cache.texts, first.cache.texts);

    // "b" is rendered again from other pages: the string only its old entry used stays (the
    // stored parts' summaries keep their strings' numbers), and the table grows by one.
    let yan = fixture.replace("Marco Bellini", "Yan Other");
    let changed = build(
        &database("2.sqlite", &[("a", empty), ("b", &yan)]),
        Some(&again),
    );
    assert_eq!(changed.meetings_rendered, 1);
    let held = strings(&changed);
    assert!(held.contains("Zed Unique") && held.contains("Yan Other"));
    assert_eq!(held.len(), strings(&first).len() + 1);

    // "b" is no longer in the data: most of the table is unused, and it is compacted.
    let gone = build(&database("3.sqlite", &[("a", empty)]), Some(&changed));
    assert_eq!(gone.meetings_reused, 1);
    let held = strings(&gone);
    assert!(!held.contains("Yan Other") && !held.contains("Zed Unique"));
    assert!(!held.contains("Dana Whitfield"));
    let a = gone.cache.meetings["a"].summary.get().unwrap().into_owned();
    assert!(held.contains(a.title(&gone.cache.texts)) && !a.title(&gone.cache.texts).is_empty());
}

#[test]
fn the_counting_holds_the_sessions_of_people_whose_page_may_be_rendered_only() {
    use crate::site::render_cache::{SessionSummary, Texts};
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let today = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let mut texts = Texts::default();
    let [today_p, stale_in, stale_out, new_p] =
        ["today@x", "in@x", "out@x", "new@x"].map(|p| texts.intern(p));
    // "m" was rendered by this build; "in" took part in it, "out" did not.
    let mut meeting = cached("m");
    meeting.summary = HeldSummary::here(MeetingSummary {
        sessions: [today_p, stale_in]
            .into_iter()
            .map(|person| SessionSummary {
                person,
                ..SessionSummary::default()
            })
            .collect(),
        ..meeting.summary.get().unwrap().into_owned()
    });
    let mut meetings = CachedMeetings::new();
    meetings.insert("m".into(), meeting);
    for k in 1..=8 {
        let id = format!("k{k}");
        meetings.insert(id.as_str().into(), cached(&id));
    }
    let rendered: HashSet<String> = ["m".to_owned(), "gone".to_owned()].into();
    let mut cache = cache_with(&options, &thresholds, &[]);
    let page = |rendered| CachedFiles {
        key: h("k"),
        files: FileHashes::default(),
        rendered,
    };
    let path = |person| options.person_key.person_path(texts.get(person));
    cache.people.insert(path(today_p), page(Some(today)));
    for stale in [stale_in, stale_out] {
        cache.people.insert(path(stale), page(today.pred_opt()));
    }
    let asked = |cache: Option<&RenderCache>, rendered: &HashSet<String>| {
        let mut hold = history_pages::hold_sessions(
            cache,
            (&meetings, rendered, meetings.len()),
            (&texts, &options, today),
        )
        .unwrap();
        [today_p, stale_in, stale_out, new_p].map(&mut hold)
    };
    // Kept whatever its key (rendered today); its key may have changed (in a rendered meeting);
    // unchanged (in none); no page yet.
    assert_eq!(asked(Some(&cache), &rendered), [false, true, false, true]);
    // No previous cache, or more than a quarter of the meetings rendered: everyone's.
    assert_eq!(asked(None, &rendered), [true; 4]);
    let most: HashSet<String> = ["m", "k1", "k2"].map(str::to_owned).into();
    assert_eq!(asked(Some(&cache), &most), [true; 4]);
}

#[test]
fn a_person_whose_page_changed_without_a_rendered_meeting_has_it_rendered_from_the_history() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let both = fixture(&[("a_I_1", start), ("b_I_2", start)]);
    let first = both.build(None);
    let manifest: Manifest = first
        .manifest()
        .iter()
        .map(|(path, hash)| (path.clone(), *hash))
        .collect();
    // The next day "b" is gone (in no database the build reads): its people's pages list one
    // meeting fewer, though the build renders no meeting, so the counting held none of their
    // sessions.
    let mut one = fixture(&[("a_I_1", start)]);
    one.options.generated += chrono::Duration::days(1);
    let previous = Previous {
        cache: Some(first.cache),
        manifest,
    };
    let next = one.build(Some(previous));
    assert_eq!((next.meetings_rendered, next.meetings_reused), (0, 1));
    assert_eq!((next.people_rendered, next.people_reused), (3, 0));
    let full = one.build(None);
    let people = |build: &SiteBuild| {
        build
            .files
            .iter()
            .filter(|(path, _)| path.starts_with("people/"))
            .map(|(path, bytes)| (path.clone(), bytes.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(people(&next).len(), 3);
    assert_eq!(people(&next), people(&full), "what a full build renders");
    assert_eq!(next.cache.people, full.cache.people);
}
