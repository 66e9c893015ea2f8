//! A build paused and resumed: what it keeps of the previous cache.
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
fn a_meeting_that_cannot_be_rendered_gets_an_error_page_and_the_rest_publishes() {
    use crate::db::test_support::{changes_with_call, t, tempdir};
    let scratch = tempdir();
    let dir = scratch.path();
    let path = dir.join("db.sqlite");
    let mut db = Database::open(&path).unwrap();
    let good = three_participants();
    // Samples dated years from the meeting, at an absurd interval: without the bounds its page
    // allocated a column per minute up to them.
    let hostile = br#"{"items":[{"webexUserName":"Eve","webexUserEmail":"eve@example.com",
        "joinTime":"2025-06-02T14:00:00Z","leaveTime":"2025-06-02T14:30:00Z",
        "videoIn":[{"samplingInterval":1e300,"startTime":"2025-06-02T14:01:00Z","packetLoss":[50,50,50]},
                   {"samplingInterval":60,"startTime":"9999-12-31T23:59:00Z","packetLoss":[50,50]},
                   {"samplingInterval":-5,"startTime":"1970-01-01T00:00:00Z","packetLoss":[50,50]},
                   {"samplingInterval":60,"startTime":"2025-06-02T14:02:00Z","packetLoss":[1,2,3]}]}]}"#;
    // A body whose stored bytes are then damaged (another body than `good`: bodies are shared).
    let mut damaged = good.clone();
    damaged.extend_from_slice(b"\n");
    let start = t("2025-06-02T14:00:00Z");
    for (id, body) in [
        ("good_I_1", good.as_slice()),
        ("hostile_I_2", hostile.as_slice()),
        ("damaged_I_3", damaged.as_slice()),
    ] {
        db.apply(&changes_with_call(id, start, body)).unwrap();
    }
    drop(db);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE bodies SET data = x'00' WHERE sha256 = ?1",
            [crate::db::sha256_hex(&damaged)],
        )
        .unwrap();
    let db = Database::open(&path).unwrap();
    let options = SiteOptions::default();
    let status = StatusView::from_sources(&db, None, start).unwrap();
    let build = build_incremental(&db, &status, &options, &Thresholds::default(), None).unwrap();
    let page =
        |id: &str| String::from_utf8(build.files[&format!("meetings/{id}.html")].clone()).unwrap();
    assert!(
        page("good_I_1").contains("<table"),
        "the good meeting has its page"
    );
    let hostile_page = page("hostile_I_2");
    assert!(hostile_page.contains("Eve"));
    assert!(
        hostile_page.len() < 200_000,
        "the timeline stays within the meeting: {} bytes",
        hostile_page.len()
    );
    let error_page = page("damaged_I_3");
    assert!(error_page.contains("could not be made"), "{error_page}");
    assert!(error_page.contains("damaged"), "{error_page}");
    assert_eq!(build.meetings_failed, 1);
    assert_eq!(build.meetings_rendered, 2);
    assert!(build.files.contains_key("index.html"));
    assert!(
        !build.cache.meetings.contains_key("damaged_I_3"),
        "tried again by the next build"
    );
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
fn a_build_with_a_spill_file_holds_no_summaries_and_renders_what_one_without_does() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let f = fixture(&[("a_I_1", start), ("b_I_2", start), ("c_I_3", start)]);
    let in_memory = f.build(None);

    let work = f.scratch.path().join("work");
    let spill = Spill::create(&work).unwrap();
    let mut builder = f.builder();
    builder.spill_meetings_to(Arc::clone(&spill));
    builder.add_database(&f.db, None).unwrap();
    let spilled = builder.finish(&f.status).unwrap();
    assert_eq!(spilled.files, in_memory.files, "the same site");
    assert_eq!(spilled.cache, in_memory.cache, "the same cache, read back");
    // Each meeting's sessions, and whether its summary (with them) is spilled.
    let sessions = |cache: &RenderCache| {
        cache
            .meetings
            .values()
            .map(|m| {
                (
                    m.summary.get().unwrap().sessions.len(),
                    m.summary.is_spilled(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(sessions(&spilled.cache), vec![(3, true); 3]);
    assert_eq!(sessions(&in_memory.cache), vec![(3, false); 3]);

    // The cache read back by the next render goes to that render's spill file as it is read, and
    // that build keeps every meeting.
    let stored = f.scratch.path().join("site-cache.bin.zst");
    spilled.cache.write_file(&stored).unwrap();
    let next_spill = Spill::create(&work).unwrap();
    let (read, _) = RenderCache::read_file(&stored, Some(&next_spill)).unwrap();
    assert_eq!(sessions(&read), vec![(3, true); 3]);
    assert_eq!(read, in_memory.cache);
    drop((spilled, spill, read, next_spill));
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "the spill files go with the builds"
    );
}

#[test]
fn the_recent_exports_then_a_days_page_and_exports_come_a_part_at_a_time() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let next_day = start + chrono::Duration::days(1);
    let f = fixture(&[("a_I_1", start), ("b_I_2", next_day)]);
    let whole = f.build(None);

    let mut builder = f.builder();
    builder.add_database(&f.db, None).unwrap();
    let (mut build, mut people) = builder.finish_lists(&f.status).unwrap();
    // What is still to render counts as coming, not removed (`check_removals`).
    let coming = people.paths();
    for path in [
        "meetings.csv",
        "meetings.json",
        "days/2025-06-03.sessions.json",
    ] {
        assert!(coming.iter().any(|p| p == path), "{path}");
    }
    let mut batches = Vec::new();
    loop {
        // A budget of one byte: each call renders one of the last 7 days' exports, or one part
        // of a day (its cache entry with the last), or one person's page.
        let files = build.render_people(&mut people, 1).unwrap();
        if files.is_empty() {
            break;
        }
        batches.push(files.keys().cloned().collect::<Vec<_>>());
        if batches.len() == 1 {
            // The JSON export is still coming; the CSV is not.
            let coming = people.paths();
            assert!(coming.iter().any(|p| p == "meetings.json"));
            assert!(!coming.iter().any(|p| p == "meetings.csv"));
        }
        let day = "days/2025-06-02.html";
        if batches.len() < 5 {
            assert!(
                !build.cache.days.contains_key(day),
                "not before its last part"
            );
        }
        build.files.extend(files);
    }
    let day = |d: &str, ends: &[&str]| ends.iter().map(|e| format!("days/{d}{e}")).collect();
    let expected: Vec<Vec<String>> = vec![
        vec!["meetings.csv".into()],
        vec!["meetings.json".into()],
        day("2025-06-02", &[".csv", ".html", ".json"]),
        day("2025-06-02", &[".sessions.csv"]),
        day("2025-06-02", &[".sessions.json"]),
        day("2025-06-03", &[".csv", ".html", ".json"]),
        day("2025-06-03", &[".sessions.csv"]),
        day("2025-06-03", &[".sessions.json"]),
    ];
    assert_eq!(batches[..8], expected[..]);
    assert!(people.paths().is_empty());
    assert!(
        batches[8..]
            .iter()
            .all(|b| b.len() == 1 && b[0].starts_with("people/"))
    );
    for d in ["2025-06-02", "2025-06-03"] {
        assert_eq!(build.cache.days[&format!("days/{d}.html")].files.len(), 5);
        // Each export has the day's three participant sessions.
        let json: Vec<serde_json::Value> =
            serde_json::from_slice(&build.files[&format!("days/{d}.sessions.json")]).unwrap();
        let csv = csv::Reader::from_reader(&build.files[&format!("days/{d}.sessions.csv")][..]);
        assert_eq!((json.len(), csv.into_records().count()), (3, 3), "{d}");
    }
    // The last 7 days' exports list both meetings, the newest first.
    let recent: Vec<serde_json::Value> =
        serde_json::from_slice(&build.files["meetings.json"]).unwrap();
    let ids: Vec<&str> = recent
        .iter()
        .filter_map(|m| m["instance_id"].as_str())
        .collect();
    assert_eq!(ids, ["b_I_2", "a_I_1"]);
    let csv = csv::Reader::from_reader(&build.files["meetings.csv"][..]);
    assert_eq!(csv.into_records().count(), 2);
    assert_eq!(build.files, whole.files, "the same site as in one go");
    assert_eq!(build.cache, whole.cache);
}

#[test]
fn a_meetings_cache_key_is_its_pages_path_as_the_manifests_hold_it() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let f = fixture(&[("a_I_1", start), ("b_I_2", start)]);
    let one_allocation = |key: &MeetingKey, manifest: &Manifest| {
        let (path, _) = manifest.get_key_value(&**key.page()).unwrap();
        Arc::ptr_eq(path, key.page())
    };
    // Rendered: the key is the build's manifest's path; the manifest lists the page through the
    // entry, not in a node of its own.
    let first = f.build(None);
    assert_eq!(first.cache.meetings.len(), 2);
    for (key, entry) in &first.cache.meetings {
        assert!(!first.hashes.contains_key(&**key.page()));
        let (path, hash) = first.manifest().get_key_value(key.page()).unwrap();
        assert!(Arc::ptr_eq(path, key.page()) && *hash == entry.page);
        assert_eq!(*hash, ContentHash::of(&first.files[&**key.page()]));
    }
    // Kept: the key is the published manifest's path (the previous cache and the manifest read
    // back, as a render reads them: no path shared). The build takes the entry over: the
    // published manifest it was given no longer holds the page, and the build's lists it through
    // the entry, with its hash, not in a node of its own.
    let published: Manifest =
        serde_json::from_slice(&serde_json::to_vec(&first.manifest().to_map()).unwrap()).unwrap();
    let previous = Previous {
        cache: Some(RenderCache::from_bytes(&first.cache.to_bytes().unwrap()).unwrap()),
        manifest: published.clone(),
    };
    let kept = f.build(Some(previous));
    assert_eq!((kept.meetings_reused, kept.taken), (2, 2));
    for (key, entry) in &kept.cache.meetings {
        assert!(one_allocation(key, &published));
        assert!(!kept.hashes.contains_key(&**key.page()));
        assert!(!kept.published.contains_key(&**key.page()));
        assert_eq!(kept.manifest().get(key.page()), Some(&entry.page));
    }
    assert_eq!(kept.published.len() + 2, published.len());
    assert_eq!(kept.manifest().to_map(), published, "the site as it was");
}

#[test]
fn a_rebuild_over_a_published_site_takes_over_the_entries_of_the_pages_it_published() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let f = fixture(&[("a_I_1", start), ("b_I_2", start)]);
    let published = f.build(None).manifest().to_map();
    // No cache: everything is rendered.
    let previous = Previous {
        cache: None,
        manifest: published.clone(),
    };
    let mut builder = SiteBuilder::new(&f.options, &f.thresholds, Some(previous));
    builder.add_database(&f.db, None).unwrap();
    let files = builder.take_files();
    assert!(files.contains_key("meetings/a_I_1.html"));
    builder.take_over_published(files.keys().map(String::as_str));
    let left: Vec<&str> = builder.published().keys().map(|p| &**p).collect();
    assert!(!left.iter().any(|p| p.starts_with("meetings/")), "{left:?}");
    // The files that are not meeting pages stay, for the build's own files to be compared with.
    assert!(left.contains(&"index.html") && left.len() + 2 == published.len());
    let build = builder.finish(&f.status).unwrap();
    assert_eq!((build.meetings_rendered, build.taken), (2, 2));
    assert_eq!(
        build.manifest().to_map().keys().collect::<Vec<_>>(),
        published.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_kept_archives_list_holds_its_meetings_keys_as_the_build_does() {
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let mut cache = with_archive(cache_with(&options, &thresholds, &["a", "b"]), &["a", "b"]);
    let archive = ARCHIVE;
    cache.share_ids();
    let manifest = manifest_of(&[("meetings/a.html", "hash-a"), ("meetings/b.html", "hash-b")]);
    let mut builder = over_previous(&options, &thresholds, cache, &manifest);
    assert!(builder.reuse_archive(archive));
    let build = builder.pause().unwrap();
    let listed = &build.cache.archives[archive];
    assert_eq!(listed.len(), 2);
    for id in listed {
        let (key, _) = build.cache.meetings.get_key_value(id.id()).unwrap();
        let (path, _) = manifest.get_key_value(&**id.page()).unwrap();
        assert!(Arc::ptr_eq(id.page(), key.page()) && Arc::ptr_eq(id.page(), path));
    }
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
