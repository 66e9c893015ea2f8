//! What a build renders: an error page for a meeting that cannot be made, the same site with its
//! summaries in a spill file, and the pages built from the history a part at a time.
use super::*;

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
fn a_summary_that_cannot_be_read_back_fails_the_day_export_that_needs_it() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let f = fixture(&[("a_I_1", start), ("b_I_2", start)]);
    let dir = crate::db::test_support::tempdir();
    let spill = Spill::create(dir.path()).unwrap();
    let mut builder = f.builder();
    builder.spill_meetings_to(Arc::clone(&spill));
    builder.write_large_files_to(dir.path());
    builder.add_database(&f.db, None).unwrap();
    let (mut build, mut people) = builder.finish_lists(&f.status).unwrap();
    // The last 7 days' page, its CSV and JSON, then the day's page and list exports.
    for _ in 0..4 {
        assert!(!build.render_people(&mut people, 1).unwrap().is_empty());
    }
    // The day's sessions exports read each summary back: gone, they fail, and leave no file.
    spill.lose_everything();
    let failed = build.render_people(&mut people, 1);
    assert!(failed.is_err(), "{failed:?}");
    assert!(!build.cache.days.contains_key("days/2025-06-02.html"));
    drop(failed);
    let left = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(
        left, 0,
        "nothing left in the work folder but the nameless spill file"
    );
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
    let later = start + chrono::Duration::hours(2);
    let f = fixture(&[("a_I_1", start), ("c_I_3", later), ("b_I_2", next_day)]);
    let whole = f.build(None);
    // Held, then written to a work folder as they are made (the last 7 days' page and exports, and
    // the days' sessions exports): the same files either way.
    for work_dir in [None, Some(crate::db::test_support::tempdir())] {
        let written = work_dir.is_some();
        let mut builder = f.builder();
        if let Some(dir) = &work_dir {
            builder.write_large_files_to(dir.path());
        }
        builder.add_database(&f.db, None).unwrap();
        let (mut build, mut people) = builder.finish_lists(&f.status).unwrap();
        // Listed in the manifest either way, but held only without a work folder.
        assert!(build.hashes.contains_key("meetings.html"));
        assert_eq!(build.files.contains_key("meetings.html"), !written);
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
            // A budget of one byte: each call renders one of the last 7 days' exports, or one
            // part of a day (its cache entry with the last), or one person's page.
            let files = build.render_people(&mut people, 1).unwrap();
            if files.is_empty() {
                break;
            }
            let big = files.written.iter().map(|w| w.path.clone());
            let mut names: Vec<String> = files.files.keys().cloned().chain(big).collect();
            names.sort();
            // Written only with a work folder: the last 7 days' and the days' files (they grow
            // with the meetings of a day), not the person pages.
            for w in &files.written {
                assert!(written, "{}", w.path);
                assert!(w.path.starts_with("meetings.") || w.path.starts_with("days/"));
                assert_eq!(w.local().parent(), work_dir.as_ref().map(|d| d.path()));
            }
            batches.push(names);
            if batches.len() == 1 + usize::from(written) {
                // The JSON export is still coming; the CSV is not.
                let coming = people.paths();
                assert!(coming.iter().any(|p| p == "meetings.json"));
                assert!(!coming.iter().any(|p| p == "meetings.csv"));
            }
            let day = "days/2025-06-02.html";
            if batches.len() < 5 + usize::from(written) {
                assert!(
                    !build.cache.days.contains_key(day),
                    "not before its last part"
                );
            }
            build.files.extend(files.into_files().unwrap());
        }
        if let Some(dir) = &work_dir {
            let left = std::fs::read_dir(dir.path()).unwrap().count();
            assert_eq!(left, 0, "each written file goes once it is read");
        }
        let day = |d: &str, ends: &[&str]| ends.iter().map(|e| format!("days/{d}{e}")).collect();
        let mut expected: Vec<Vec<String>> = vec![
            vec!["meetings.csv".into()],
            vec!["meetings.json".into()],
            day("2025-06-02", &[".csv", ".html", ".json"]),
            day("2025-06-02", &[".sessions.csv"]),
            day("2025-06-02", &[".sessions.json"]),
            day("2025-06-03", &[".csv", ".html", ".json"]),
            day("2025-06-03", &[".sessions.csv"]),
            day("2025-06-03", &[".sessions.json"]),
        ];
        if written {
            // The last 7 days' page first, from the work folder.
            expected.insert(0, vec!["meetings.html".into()]);
        }
        let days = expected.len();
        assert_eq!(batches[..days], expected[..]);
        assert!(people.paths().is_empty());
        assert!(
            batches[days..]
                .iter()
                .all(|b| b.len() == 1 && b[0].starts_with("people/"))
        );
        let ids_in = |json: &[u8], key: &str| -> Vec<String> {
            let rows: Vec<serde_json::Value> = serde_json::from_slice(json).unwrap();
            let ids = rows.iter().filter_map(|m| m[key].as_str());
            ids.map(str::to_owned).collect()
        };
        for (d, meetings) in [
            ("2025-06-02", ["c_I_3", "a_I_1"].as_slice()),
            ("2025-06-03", &["b_I_2"]),
        ] {
            assert_eq!(build.cache.days[&format!("days/{d}.html")].files.len(), 5);
            // Each sessions export has the three participant sessions of each meeting of the day,
            // the oldest meeting first; the list exports have its meetings, the newest first.
            let sessions = &build.files[&format!("days/{d}.sessions.json")];
            let mut oldest_first = meetings.to_vec();
            oldest_first.reverse();
            let each_three: Vec<&str> = oldest_first.iter().flat_map(|id| [*id; 3]).collect();
            assert_eq!(ids_in(sessions, "meeting_id"), each_three, "{d}");
            let csv = csv::Reader::from_reader(&build.files[&format!("days/{d}.sessions.csv")][..]);
            assert_eq!(csv.into_records().count(), 3 * meetings.len(), "{d}");
            let list = &build.files[&format!("days/{d}.json")];
            assert_eq!(ids_in(list, "instance_id"), meetings, "{d}");
            let csv = csv::Reader::from_reader(&build.files[&format!("days/{d}.csv")][..]);
            assert_eq!(csv.into_records().count(), meetings.len(), "{d}");
        }
        // The last 7 days' exports list every meeting, the newest first.
        let recent = ids_in(&build.files["meetings.json"], "instance_id");
        assert_eq!(recent, ["b_I_2", "c_I_3", "a_I_1"]);
        let csv = csv::Reader::from_reader(&build.files["meetings.csv"][..]);
        assert_eq!(csv.into_records().count(), 3);
        assert_eq!(build.files, whole.files, "the same site as in one go");
        assert_eq!(build.hashes, whole.hashes, "the same hashes");
        assert_eq!(build.cache, whole.cache);
    }
}
