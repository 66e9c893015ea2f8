//! The history's partitions: days that List Meetings can no longer return leave the hot database
//! object for immutable daily archive objects; every reader (the site, the exports) sees every
//! meeting; a single-file database from before archives is migrated by the next cycle, losing
//! nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration as Span;
use webex_quality::collect::Outcome;
use webex_quality::db::Database;
use webex_quality::history::{self, ArchiveKey, DATABASE_KEY};
use webex_quality::quality::Thresholds;
use webex_quality::site::render_cache::part_key;
use webex_quality::site::{SiteOptions, render_from_store};
use webex_quality::storage::{PutCondition, SharedStore};
use webex_sim::{Route, SimConfig, SimHandle};

use crate::helpers::*;

/// Per meeting, the partition that holds it and the content hashes of its latest complete call's
/// pages, over the hot object and every archive.
async fn history_pages(store: &SharedStore) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for part in stored_partitions(store).await {
        add_pages(&part.db, &part.name, &mut out);
    }
    out
}

fn add_pages(db: &Database, partition: &str, out: &mut BTreeMap<String, (String, Vec<String>)>) {
    for meeting in db.meetings().unwrap() {
        let pages = db.latest_complete_pages(&meeting.instance_id).unwrap();
        let hashes = pages
            .iter()
            .map(|p| webex_quality::db::sha256_hex(&p.body))
            .collect();
        assert!(
            out.insert(meeting.instance_id.clone(), (partition.to_owned(), hashes))
                .is_none(),
            "{} is in one partition only",
            meeting.instance_id
        );
    }
}

/// Every simulated meeting's final pages, byte for byte, wherever they are stored.
async fn assert_every_meeting_final(sim: &SimHandle, store: &SharedStore) {
    let stored = history_pages(store).await;
    assert_eq!(
        stored.len(),
        sim.org().meetings.len(),
        "every meeting is stored"
    );
    for meeting in &sim.org().meetings {
        let items = sim.org().quality_items(meeting, sim.clock().now());
        let expected: Vec<String> = (0..items.len().div_ceil(100))
            .map(|n| webex_quality::db::sha256_hex(&expected_page(&items, n, 100)))
            .collect();
        assert_eq!(
            stored[&meeting.instance_id].1, expected,
            "{} final pages",
            meeting.instance_id
        );
    }
}

/// A simulator with `per_day` ad-hoc meetings on each of `days` days from `week_start()`, its clock
/// just after the first midnight, and a collector on a new folder store, logged in.
async fn simulated_history(
    name: &str,
    days: u32,
    per_day: u32,
) -> (SimHandle, SharedStore, webex_quality::collect::Collector) {
    let store: SharedStore = Arc::new(
        webex_quality::storage::FolderStore::new(temp_dir(&format!("{name}-store"))).unwrap(),
    );
    simulated_history_in(name, (days, per_day), store).await
}

/// [`simulated_history`] into `store`.
async fn simulated_history_in(
    name: &str,
    (days, per_day): (u32, u32),
    store: SharedStore,
) -> (SimHandle, SharedStore, webex_quality::collect::Collector) {
    let sim = spawn_sim_at(
        week_start() + Span::minutes(15),
        SimConfig {
            first_day: Some(week_start()),
            days,
            meetings_per_day: Some(per_day),
            ..SimConfig::default()
        },
    )
    .await;
    store_login(&sim, &store).await;
    let collector = collector(&sim, &store, temp_dir(name), quick_cycle());
    (sim, store, collector)
}

/// Meetings over 11 days, collected hourly until every day has left List Meetings' window: each
/// day is archived (once) the day after it ends, as soon as all its meetings are final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_days_leave_the_hot_object_for_archives_and_every_reader_sees_every_meeting() {
    let days = 11;
    let (sim, store, collector) = simulated_history("history", days, 4).await;
    let end = week_start() + Span::days(i64::from(days) + 8) + Span::hours(2);
    let mut archives_written = 0;
    let mut largest_hot = 0;
    while sim.clock().now() <= end {
        let report = collector.run_cycle().await.unwrap();
        assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
        archives_written += report.archives_written;
        // After every cycle, the hot object holds no day ready for its archive: none the listing
        // can no longer return, and none that ended a full day ago with every meeting final.
        let rule = history::ArchiveRule::at(sim.clock().now(), Span::days(7));
        if !matches!(
            store.get(DATABASE_KEY, None).await.unwrap(),
            webex_quality::storage::Fetched::Found(_)
        ) {
            sim.clock().advance(Span::hours(1));
            continue;
        }
        let hot = stored_database(&store).await;
        assert_eq!(
            hot.days_ready(rule.settled_before, rule.first_hot).unwrap(),
            vec![],
            "at {}",
            sim.clock().now()
        );
        largest_hot = largest_hot.max(std::fs::metadata(hot.path()).unwrap().len());
        sim.clock().advance(Span::hours(1));
    }
    assert_eq!(sim.stats().answers(Route::Qualities, 429), 0);
    let archives = history::list_archives(&store).await.unwrap();
    // One archive per day with meetings or runs, each written once, in one part.
    let first_day = week_start().date_naive();
    for day in first_day.iter_days().take(usize::try_from(days).unwrap()) {
        assert!(archives.iter().any(|a| a.day == day), "{day}: {archives:?}");
    }
    let rule = history::ArchiveRule::at(sim.clock().now(), Span::days(7));
    assert!(
        archives
            .iter()
            .all(|a| a.part == 1 && a.day >= first_day && a.day < rule.settled_before)
    );
    assert_eq!(archives_written, archives.len(), "each written once");
    // Every meeting left the hot object, and its final pages are byte for byte in its archive.
    let hot = stored_database(&store).await;
    assert_eq!(hot.meetings().unwrap().len(), 0);
    assert_every_meeting_final(&sim, &store).await;
    // Archives are compressed whole: far smaller than the JSON they hold.
    let mut stored = 0;
    let mut raw = 0;
    for part in stored_partitions(&store).await.iter().skip(1) {
        raw += part.db.totals().unwrap().page_bytes;
    }
    for archive in &archives {
        if let webex_quality::storage::Fetched::Found(object) =
            store.get(&archive.key(), None).await.unwrap()
        {
            stored += i64::try_from(object.bytes.len()).unwrap();
        }
    }
    eprintln!(
        "largest hot object after an archive step: {largest_hot} bytes; archives {stored} bytes for {raw} bytes of JSON ({:.1} %)",
        stored as f64 * 100.0 / raw as f64
    );
    assert!(stored * 4 < raw, "{stored} stored for {raw}");

    // The site: every meeting has its page; a second render keeps every archived meeting without
    // reading an archive; without the render cache, the archives are read and rendered again.
    let site: SharedStore =
        Arc::new(webex_quality::storage::FolderStore::new(temp_dir("history-site")).unwrap());
    let render = async || {
        render_from_store(
            &store,
            site.as_ref(),
            temp_dir("history-render"),
            SiteOptions::default(),
            &Thresholds::default(),
            sim_clock(&sim),
        )
        .await
        .unwrap()
    };
    let meetings = sim.org().meetings.len();
    let first = render().await;
    assert_eq!(first.meetings_rendered, meetings);
    for meeting in &sim.org().meetings {
        let page = webex_quality::site::meeting_path(&meeting.instance_id);
        assert!(
            matches!(
                site.get(&page, None).await.unwrap(),
                webex_quality::storage::Fetched::Found(_)
            ),
            "{page}"
        );
    }
    assert_eq!(first.archives_read, archives.len());
    // The render cache: a part per archive beside it, and the hot object.
    assert_eq!(first.cache_parts_written, archives.len());
    let parts: Vec<String> = archives.iter().map(|a| part_key(&a.key())).collect();
    for part in &parts {
        assert!(matches!(
            store.get(part, None).await.unwrap(),
            webex_quality::storage::Fetched::Found(_)
        ));
    }
    let second = render().await;
    assert_eq!(
        (second.meetings_rendered, second.meetings_reused),
        (0, meetings)
    );
    assert_eq!(
        second.archives_read, 0,
        "archives never change: not read again"
    );
    assert_eq!(second.cache_parts_written, 0, "nor their parts written");
    // A part missing, another damaged: those two archives are read and rendered again (the same
    // files), and their parts written again; the others are kept as they are.
    assert!(archives.len() >= 3, "{archives:?}");
    let in_archive = |at: usize| {
        let day = archives[at].day;
        sim.org()
            .meetings
            .iter()
            .filter(|m| m.start.date_naive() == day)
            .count()
    };
    store.delete(&parts[0]).await.unwrap();
    damage(&store, &parts[1]).await;
    let mended = render().await;
    assert_eq!(mended.archives_read, 2, "{mended:?}");
    assert_eq!(mended.cache_parts_written, 2);
    assert_eq!(mended.meetings_rendered, in_archive(0) + in_archive(1));
    assert!(mended.published.uploaded.is_empty(), "the same files");
    let again = render().await;
    assert_eq!(
        (
            again.archives_read,
            again.meetings_rendered,
            again.cache_parts_written
        ),
        (0, 0, 0)
    );
    store
        .delete(webex_quality::site::render_cache::SITE_CACHE_KEY)
        .await
        .unwrap();
    let third = render().await;
    assert_eq!(third.meetings_rendered, meetings);
    assert_eq!(third.archives_read, archives.len());
    assert_eq!(third.cache_parts_written, archives.len());
    assert!(third.published.uploaded.is_empty(), "the same files");

    // An archive is never rewritten: a day that turns up again in the hot object (a run that
    // stopped between the archive's write and the hot object's upload) is only removed again.
    let before = history_pages(&store).await;
    let archive = archives[0];
    put_merged_hot_object(&store, &[archive]).await;
    sim.clock().advance(Span::minutes(5));
    let report = collector.run_cycle().await.unwrap();
    assert_eq!(report.archives_written, 0);
    assert_eq!(history::list_archives(&store).await.unwrap(), archives);
    assert_eq!(history_pages(&store).await, before);
    sim.shutdown().await;
}

/// A render of `store` into `site` with the default options, its work folder `work`, on `sim`'s
/// clock.
async fn render_with(
    store: &SharedStore,
    site: &dyn webex_quality::storage::ObjectStore,
    work: &std::path::Path,
    sim: &SimHandle,
) -> webex_quality::site::Rendered {
    render_from_store(
        store,
        site,
        work.to_path_buf(),
        SiteOptions::default(),
        &Thresholds::default(),
        sim_clock(sim),
    )
    .await
    .unwrap()
}

/// Puts bytes that are not a part of the render cache at `key`.
async fn damage(store: &SharedStore, key: &str) {
    store
        .put(
            key,
            b"not a part"[..].into(),
            PutCondition::Always,
            "application/zstd",
        )
        .await
        .unwrap();
}

/// Makes the hot object what a version without archives would have left: the hot object with
/// `archives`' rows merged back in.
async fn put_merged_hot_object(store: &SharedStore, archives: &[ArchiveKey]) {
    let dir = temp_dir("legacy");
    let hot = stored_database(store).await;
    let path = dir.join("legacy.sqlite");
    std::fs::copy(hot.path(), &path).unwrap();
    drop(hot);
    merge_archives_into(store, archives, &path).await;
    store
        .put_file(
            DATABASE_KEY,
            &path,
            PutCondition::Always,
            "application/vnd.sqlite3",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_file_database_from_before_archives_is_migrated_by_the_next_cycle() {
    // Ten days of meetings, collected hourly until the last one is final.
    let days = 10;
    let (sim, store, collector) = simulated_history("migrate", days, 3).await;
    let end = week_start() + Span::days(i64::from(days)) + Span::hours(3);
    while sim.clock().now() <= end {
        collector.run_cycle().await.unwrap();
        sim.clock().advance(Span::hours(1));
    }
    let before = history_pages(&store).await;
    let archives = history::list_archives(&store).await.unwrap();
    assert!(archives.len() >= 2, "{archives:?}");

    // What an older version left: one file with every day, and no archives.
    put_merged_hot_object(&store, &archives).await;
    for archive in &archives {
        store.delete(&archive.key()).await.unwrap();
    }
    let merged = history_pages(&store).await;
    assert!(merged.values().all(|(partition, _)| partition == "hot"));
    assert_eq!(merged.len(), before.len());

    // The next cycle, with nothing new to collect, archives the old days again.
    sim.clock().advance(Span::minutes(5));
    let report = collector.run_cycle().await.unwrap();
    assert_eq!(report.archives_written, archives.len(), "{report:?}");
    assert_eq!(history::list_archives(&store).await.unwrap(), archives);
    assert_eq!(
        history_pages(&store).await,
        before,
        "nothing lost, nothing moved elsewhere"
    );
    assert_every_meeting_final(&sim, &store).await;
    sim.shutdown().await;
}

/// A day leaves the hot object once it ended a full day ago with every meeting final, while List
/// Meetings still returns its meetings for days: listed unchanged they stay archived; a meeting
/// renamed after that comes back from its archive without a new qualities call, and goes to a
/// further part, which readers take before the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_day_is_archived_the_next_day_and_a_renamed_meeting_goes_to_a_further_part() {
    let (sim, store, collector) = simulated_history("settled", 3, 4).await;
    let first_day = week_start().date_naive();
    // Hourly until day one has ended a full day ago (and an hour for clocks).
    while sim.clock().now() <= week_start() + Span::days(2) + Span::hours(1) + Span::minutes(30) {
        let report = collector.run_cycle().await.unwrap();
        assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
        sim.clock().advance(Span::hours(1));
    }
    let first = ArchiveKey {
        day: first_day,
        part: 1,
    };
    assert_eq!(history::list_archives(&store).await.unwrap(), [first]);
    let day_one: Vec<&webex_sim::org::MeetingPlan> = sim
        .org()
        .meetings
        .iter()
        .filter(|m| m.start.date_naive() == first_day)
        .collect();
    assert!(!day_one.is_empty());
    let hot_ids = |db: &Database| -> Vec<String> {
        db.meetings()
            .unwrap()
            .into_iter()
            .map(|m| m.instance_id)
            .collect()
    };
    let hot = stored_database(&store).await;
    assert!(
        day_one
            .iter()
            .all(|m| !hot_ids(&hot).contains(&m.instance_id))
    );
    assert_eq!(hot.archived_meetings().unwrap().len(), day_one.len());

    // Listed again unchanged: they stay archived, and are not called again.
    let calls = sim.stats().qualities_calls();
    sim.clock().advance(Span::minutes(5));
    collector.run_cycle().await.unwrap();
    let hot = stored_database(&store).await;
    assert!(
        day_one
            .iter()
            .all(|m| !hot_ids(&hot).contains(&m.instance_id))
    );
    assert_eq!(history::list_archives(&store).await.unwrap(), [first]);
    let archived = stored_partitions(&store).await;
    let in_first = &archived[1].db;
    let renamed = &day_one[0].instance_id;
    let archived_pages = in_first.latest_complete_pages(renamed).unwrap();
    assert!(!archived_pages.is_empty());

    // Renamed: the meeting comes back with its data and the new item, without a qualities call
    // for it...
    let title = "Renamed <b>Q4</b> & co";
    sim.retitle(renamed, title);
    sim.clock().advance(Span::minutes(5));
    let renamed_at = sim.clock().now();
    let report = collector.run_cycle().await.unwrap();
    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    // (a cycle that recorded also archived what it could: the meeting is back for one cycle only
    // if its day is ready again, which it is: it went straight to a further part.)
    let archives = history::list_archives(&store).await.unwrap();
    let second = ArchiveKey {
        day: first_day,
        part: 2,
    };
    assert_eq!(archives, [second, first], "newest first");
    assert_eq!(
        sim.stats().qualities_calls(),
        calls,
        "no meeting was called again"
    );
    let partitions = stored_partitions(&store).await;
    assert!(!hot_ids(&partitions[0].db).contains(renamed));
    assert_eq!(
        partitions[0].db.archived_meetings().unwrap()[renamed.as_str()].part,
        2
    );
    // ...and the further part holds it whole: the new item, the same pages byte for byte.
    let part = &partitions[1].db;
    assert_eq!(hot_ids(part), std::slice::from_ref(renamed));
    assert_eq!(part.meetings().unwrap()[0].title, title);
    let pages = part.latest_complete_pages(renamed).unwrap();
    assert_eq!(pages, archived_pages);
    assert!(
        pages
            .iter()
            .all(|p| chrono::DateTime::parse_from_rfc3339(&p.fetched_at).unwrap() < renamed_at)
    );
    // The first part is never rewritten: it still holds the old item.
    assert_ne!(
        partitions[2]
            .db
            .meetings()
            .unwrap()
            .iter()
            .find(|m| &m.instance_id == renamed)
            .unwrap()
            .title,
        title
    );

    // Readers take the further part first: the meeting's page shows the new title, on the first
    // render (which reads both parts) and on the next (which keeps them: a day with two parts is
    // not settled, so the meeting is added once, from the further part).
    let site: SharedStore =
        Arc::new(webex_quality::storage::FolderStore::new(temp_dir("settled-site")).unwrap());
    let work = temp_dir("settled-render");
    for render in 0..2 {
        let rendered = render_with(&store, site.as_ref(), &work, &sim).await;
        if render == 1 {
            assert_eq!(rendered.archives_read, 0, "{rendered:?}");
        }
        let page = webex_quality::site::meeting_path(renamed);
        let webex_quality::storage::Fetched::Found(object) = site.get(&page, None).await.unwrap()
        else {
            panic!("{page} is published");
        };
        let html = String::from_utf8(object.bytes.to_vec()).unwrap();
        assert!(
            html.contains("<h1>Renamed &#60;b&#62;Q4&#60;/b&#62; &#38; co"),
            "{html}"
        );
    }
    sim.shutdown().await;
}

/// The render cache's parts on S3 (moto): the part of an archive lies beside it under the data
/// prefix, written by the render that first renders the archive and only read after that; a damaged
/// one is written again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_render_caches_part_of_an_archive_lies_beside_it_in_the_bucket() {
    use webex_quality::storage::Fetched;
    let (data, _) = crate::s3::store("parts/data").await;
    let (sim, store, collector) = simulated_history_in("parts", (3, 4), data).await;
    // Hourly until day one is archived.
    while history::list_archives(&store).await.unwrap().is_empty() {
        assert!(
            sim.clock().now() < week_start() + Span::days(3),
            "day one not archived"
        );
        let report = collector.run_cycle().await.unwrap();
        assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
        sim.clock().advance(Span::hours(1));
    }
    let archives = history::list_archives(&store).await.unwrap();
    let (site, _) = crate::s3::store("parts/site").await;
    let work = temp_dir("parts-render");
    let render = async || render_with(&store, site.as_ref(), &work, &sim).await;
    let first = render().await;
    assert_eq!(first.archives_read, archives.len(), "{first:?}");
    assert_eq!(first.cache_parts_written, archives.len());
    let part = part_key(&archives[0].key());
    assert!(part.starts_with("site-cache/"), "{part}");
    let Fetched::Found(stored) = store.get(&part, None).await.unwrap() else {
        panic!("no part at {part}");
    };
    let again = render().await;
    assert_eq!(
        (
            again.archives_read,
            again.meetings_rendered,
            again.cache_parts_written
        ),
        (0, 0, 0),
        "{again:?}"
    );
    let Fetched::Found(kept) = store.get(&part, None).await.unwrap() else {
        panic!("the part is gone");
    };
    assert_eq!(kept.etag, stored.etag, "the part is not written again");
    // Damaged: its archive is read and rendered again (the same files), and the part written again.
    damage(&store, &part).await;
    let mended = render().await;
    assert_eq!(
        (mended.archives_read, mended.cache_parts_written),
        (1, 1),
        "{mended:?}"
    );
    assert!(mended.published.uploaded.is_empty(), "{mended:?}");
    let Fetched::Found(rewritten) = store.get(&part, None).await.unwrap() else {
        panic!("the part is gone");
    };
    assert_eq!(rewritten.bytes, stored.bytes);
    sim.shutdown().await;
}
