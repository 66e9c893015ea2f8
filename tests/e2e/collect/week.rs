//! A simulated week at Webex's own pace, collected losslessly without a single 429.

use std::time::Duration;

use chrono::Duration as Span;
use webex_quality::collect::Outcome;
use webex_quality::storage::SharedStore;
use webex_sim::{Route, SimConfig, SimHandle};

use crate::helpers::*;

/// Every call stored for every meeting holds exactly the bytes the simulator served at that time,
/// except the in-progress snapshots a meeting's final fetch superseded (their calls stay, marked
/// pruned, with no pages; the final fetch is the meeting's last call and is kept whole).
pub(super) async fn assert_lossless(
    sim: &SimHandle,
    store: &SharedStore,
    page_size: usize,
) -> (usize, usize) {
    let db = stored_history(store).await;
    let mut calls = 0;
    let mut sessions = 0;
    for meeting in &sim.org().meetings {
        let stored = db.calls(&meeting.instance_id).unwrap();
        let finals: Vec<_> = stored.iter().filter(|c| c.completed).collect();
        assert!(
            !finals.is_empty(),
            "{} has a complete call",
            meeting.instance_id
        );
        for (index, call) in stored.iter().enumerate() {
            assert!(call.completed, "{}: {:?}", meeting.instance_id, call.error);
            let items = sim.org().quality_items(meeting, call.called_at);
            let pages = db.call_pages(call.id).unwrap();
            calls += 1;
            if call.pages_pruned {
                assert!(
                    index + 1 < stored.len() && pages.is_empty(),
                    "{}: only a superseded snapshot is pruned",
                    meeting.instance_id
                );
                continue;
            }
            assert_eq!(
                pages.len(),
                items.len().div_ceil(page_size).max(1),
                "{} at {}",
                meeting.instance_id,
                call.called_at
            );
            for (n, page) in pages.iter().enumerate() {
                assert_eq!(
                    page.body.as_ref(),
                    expected_page(&items, n, page_size).as_slice(),
                    "{} page {}",
                    meeting.instance_id,
                    n + 1
                );
            }
        }
        let latest = db.latest_complete_pages(&meeting.instance_id).unwrap();
        let all = sim.org().quality_items(meeting, sim.clock().now());
        assert_eq!(
            latest.len(),
            all.len().div_ceil(page_size),
            "{} final pages",
            meeting.instance_id
        );
        sessions += all.len();
        assert!(
            db.checkpoint(&meeting.instance_id)
                .unwrap()
                .is_some_and(|c| c.final_),
            "{} final",
            meeting.instance_id
        );
    }
    assert_eq!(
        db.totals().unwrap().meetings,
        i64::try_from(sim.org().meetings.len()).unwrap()
    );
    (calls, sessions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_week_is_collected_losslessly_without_a_single_429() {
    let sim = spawn_sim_at(week_start(), SimConfig::default()).await;
    // The folder store: two thousand cycles against moto would take most of CI's time, and the
    // S3 adapter keeps the same contract (storage_contract) and runs the cycles below.
    let store: SharedStore = std::sync::Arc::new(
        webex_quality::storage::FolderStore::new(temp_dir("week-store")).unwrap(),
    );
    store_login(&sim, &store).await;
    let collector = collector(&sim, &store, temp_dir("week"), quick_cycle());
    let end = week_start() + Span::days(7) + Span::hours(1);
    let mut cycles = 0_u32;
    let mut wall = Duration::ZERO;
    let mut slowest = Duration::ZERO;
    let mut downloads = 0;
    let mut quiet = 0;
    while sim.clock().now() <= end {
        let report = collector.run_cycle().await.unwrap();
        assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
        let (lease, _) = webex_quality::collect::read_lease(&store)
            .await
            .unwrap()
            .unwrap();
        assert!(lease.released, "every cycle releases its lease: {lease:?}");
        let (status, _) = webex_quality::status::StatusStore::new(store.clone())
            .load()
            .await
            .unwrap()
            .expect("a status object");
        let last = status.last_cycle.expect("the cycle's summary");
        assert_eq!(
            last.run_id, report.run_id,
            "every cycle writes the status object"
        );
        quiet += usize::from(!last.recorded);
        cycles += 1;
        wall += report.wall_time;
        slowest = slowest.max(report.wall_time);
        downloads += usize::from(report.downloaded);
        sim.clock().advance(Span::minutes(5));
    }
    assert_eq!(
        sim.stats().answers(Route::Qualities, 429),
        0,
        "no call inside 5 minutes"
    );
    assert_eq!(downloads, 0, "the cached copy was current every time");
    assert!(
        quiet > 100,
        "quiet cycles write the status object too ({quiet})"
    );
    let (calls, sessions) = assert_lossless(&sim, &store, 100).await;
    assert_eq!(
        u64::try_from(calls).unwrap(),
        sim.stats().qualities_calls(),
        "every call recorded once"
    );
    let db = stored_history(&store).await;
    // Each meeting keeps one fetch's pages: its final one; the snapshots before it are pruned.
    assert!(db.totals().unwrap().pruned_calls > 0);
    for meeting in &sim.org().meetings {
        let with_pages = db
            .calls(&meeting.instance_id)
            .unwrap()
            .iter()
            .filter(|call| !db.call_pages(call.id).unwrap().is_empty())
            .count();
        assert_eq!(
            with_pages, 1,
            "{}: no meeting keeps pages of more than one call",
            meeting.instance_id
        );
    }
    let size = std::fs::metadata(db.path()).unwrap().len();
    let raw: i64 = db.totals().unwrap().body_bytes;
    let stored: i64 = db.totals().unwrap().stored_bytes;
    eprintln!(
        "simulated week: {cycles} cycles, mean {:?}, slowest {:?}; {} meetings, {sessions} sessions, {calls} calls ({:.2} per meeting); \
         database {size} bytes ({:.0} per session); bodies {raw} bytes raw, {stored} stored ({:.1}x)",
        wall / cycles,
        slowest,
        sim.org().meetings.len(),
        calls as f64 / sim.org().meetings.len() as f64,
        size as f64 / sessions as f64,
        raw as f64 / stored as f64,
    );
    sim.shutdown().await;
}
