//! Crashes and failed uploads: a cycle killed mid-way, and pages a cycle could not upload.

use std::time::Duration;

use chrono::Duration as Span;
use webex_quality::collect::Outcome;
use webex_quality::storage::SharedStore;
use webex_sim::{Route, SimConfig};

use crate::helpers::*;
use crate::hooked::{Hook, Hooked, outage};
use crate::s3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_killed_midway_and_run_again_loses_nothing() {
    // Real time here: the cycle runs in its own process, which is killed part-way.
    let config = SimConfig {
        first_day: Some(webex_sim::org::days_before(chrono::Utc::now(), 3)),
        days: 2,
        // Longer than the crashed run's lease lives: the next run must wait for the calls it planned.
        qualities_interval: Span::seconds(15),
        ..SimConfig::default()
    };
    let (sim, store, bucket, work) = process_setup(config, "killed").await;
    let cycle = CycleProcess {
        call_interval_seconds: 15,
        budget_seconds: 6,
        concurrency: 1,
    };
    let run = || collect_cycle_process(&sim, (&bucket, "killed"), &work, &cycle);
    sim.faults().inject(
        Route::Qualities,
        webex_sim::Fault::Slow(Duration::from_millis(700)),
        20,
    );
    let mut doomed = run().spawn().unwrap();
    let started = std::time::Instant::now();
    while sim.stats().qualities_calls() < 2 {
        if doomed.try_wait().unwrap().is_some() {
            let output = doomed.wait_with_output().unwrap();
            panic!(
                "the first run ended before it was killed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run made no calls"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    sim.faults().clear();
    // The killed run left its files in the working folder (its delta, at least). Aged past the
    // hour (as on a Lambda instance that runs again later), the next run removes them.
    let left = left_by_runs(&work);
    assert!(!left.is_empty(), "the killed run left nothing to clean up");
    for path in &left {
        age_past_the_hour(path);
    }
    let calls_before_kill = sim.stats().qualities_calls();
    // Run again until every meeting is final (the crashed run's lease lapses first).
    let mut runs = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let output = run().output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        runs += 1;
        if runs == 1 {
            for path in &left {
                assert!(!path.exists(), "{} was left", path.display());
            }
        }
        let db = stored_history_if_any(&store).await;
        let finals = db.map_or(0, |db| db.totals().unwrap().final_meetings);
        if finals == i64::try_from(sim.org().meetings.len()).unwrap() {
            break;
        }
        assert!(
            runs < 40,
            "not done after {runs} runs: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    assert!(calls_before_kill >= 2);
    assert_eq!(
        sim.stats().rate_limited_calls(),
        0,
        "the crashed run's calls counted as made"
    );
    let db = stored_history(&store).await;
    let recorded = db.totals().unwrap().calls;
    assert!(
        u64::try_from(recorded).unwrap() + 2 <= sim.stats().qualities_calls(),
        "the killed run's calls were never recorded ({recorded} of {})",
        sim.stats().qualities_calls()
    );
    assert!(
        db.recent_runs(usize::MAX)
            .unwrap()
            .iter()
            .any(|run| run.outcome == "ok"),
        "later runs finished the job"
    );
    for meeting in &sim.org().meetings {
        let pages = db.latest_complete_pages(&meeting.instance_id).unwrap();
        let items = sim.org().quality_items(meeting, sim.clock().now());
        assert_eq!(pages.len(), items.len().div_ceil(100));
        for (n, page) in pages.iter().enumerate() {
            assert_eq!(page.body.as_ref(), expected_page(&items, n, 100).as_slice());
        }
    }
    sim.shutdown().await;
}

/// The files of `work` (a collector's working folder) but what a run keeps there on purpose: the
/// cached database, its ETag and lock, and the folder of spills.
fn left_by_runs(work: &std::path::Path) -> Vec<std::path::PathBuf> {
    let kept = [
        "webex-quality.sqlite",
        "webex-quality.sqlite.etag",
        ".cache.lock",
    ];
    std::fs::read_dir(work)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_file())
        .filter(|entry| !kept.iter().any(|name| entry.file_name() == *name))
        .map(|entry| entry.path())
        .collect()
}

/// Writes of the database refused, and of spills too when told: an outage of the hot object's
/// writes (or conflicts past the upload attempts) after the cycle's calls were made.
#[derive(Debug, Default)]
struct Refusing {
    database: std::sync::atomic::AtomicBool,
    spills: std::sync::atomic::AtomicBool,
}

impl Refusing {
    fn set(&self, database: bool, spills: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        self.database.store(database, SeqCst);
        self.spills.store(spills, SeqCst);
    }
}

#[async_trait::async_trait]
impl Hook for Refusing {
    async fn before_put(
        &self,
        key: &str,
        _condition: &webex_quality::storage::PutCondition,
    ) -> Result<(), webex_quality::storage::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let refused = (key == webex_quality::history::DATABASE_KEY && self.database.load(SeqCst))
            || (key.starts_with(webex_quality::collect::SPILL_PREFIX) && self.spills.load(SeqCst));
        if refused {
            return Err(outage("put", key));
        }
        Ok(())
    }
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_a_cycle_could_not_upload_are_kept_and_recorded_by_a_later_one_without_calling_again()
{
    let started = week_start() + Span::days(1) + Span::hours(12);
    let sim = spawn_sim_at(started, SimConfig::default()).await;
    let (inner, _) = s3::store("spill").await;
    store_login(&sim, &inner).await;
    let refusing = std::sync::Arc::new(Hooked {
        inner: inner.clone(),
        hook: Refusing::default(),
    });
    let store: SharedStore = refusing.clone();
    let spills = webex_quality::collect::SPILL_PREFIX;

    // 1: neither the database nor a spill can be written: the pages stay in the working folder.
    refusing.hook.set(true, true);
    let here = temp_dir("spill-here");
    collector(&sim, &store, here.clone(), quick_cycle())
        .run_cycle()
        .await
        .expect_err("the upload fails");
    let first_calls = sim.stats().qualities_calls();
    assert!(first_calls > 20, "{first_calls} calls");
    assert_eq!(
        files_in(&here.join(spills)),
        1,
        "kept in the working folder"
    );
    assert!(inner.list(spills).await.unwrap().is_empty());

    // 2: a minute later the store takes spills but still not the database: the next cycle on this
    // machine merges the local spill into its own, which goes to the store.
    sim.clock().advance(Span::minutes(1));
    refusing.hook.set(true, false);
    collector(&sim, &store, here.clone(), quick_cycle())
        .run_cycle()
        .await
        .expect_err("the upload fails again");
    assert_eq!(files_in(&here.join(spills)), 0, "moved to the store");
    assert_eq!(inner.list(spills).await.unwrap().len(), 1);

    // 3: twenty minutes on, another machine (a new working folder), the store whole again.
    sim.clock().advance(Span::minutes(19));
    refusing.hook.set(false, false);
    let report = collector(&sim, &store, temp_dir("spill-there"), quick_cycle())
        .run_cycle()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
    assert!(
        inner.list(spills).await.unwrap().is_empty(),
        "merged, then deleted"
    );
    assert_eq!(
        sim.stats().rate_limited_calls(),
        0,
        "no call inside 5 minutes"
    );

    // Every call Webex answered is stored, byte for byte: the first cycle's too.
    let db = stored_history(&inner).await;
    let mut stored = 0;
    let mut final_in_the_first = 0;
    for meeting in &sim.org().meetings {
        let calls = db.calls(&meeting.instance_id).unwrap();
        stored += calls.len();
        for call in &calls {
            assert!(call.completed, "{}: {:?}", meeting.instance_id, call.error);
            let pages = db.call_pages(call.id).unwrap();
            if call.pages_pruned {
                continue;
            }
            let items = sim.org().quality_items(meeting, call.called_at);
            assert_eq!(pages.len(), items.len().div_ceil(100).max(1));
            for (n, page) in pages.iter().enumerate() {
                assert_eq!(page.body.as_ref(), expected_page(&items, n, 100).as_slice());
            }
        }
        // A meeting whose final fetch was spilled is not fetched again.
        if calls.len() == 1 && calls[0].called_at == started {
            let status = db
                .meeting_statuses(started - Span::days(8))
                .unwrap()
                .into_iter()
                .find(|s| s.instance_id == meeting.instance_id)
                .unwrap();
            if status.checkpoint.final_ {
                final_in_the_first += 1;
            }
        }
    }
    assert_eq!(
        u64::try_from(stored).unwrap(),
        sim.stats().qualities_calls()
    );
    assert!(
        final_in_the_first > 10,
        "{final_in_the_first} meetings fetched final by the first cycle only"
    );
    sim.shutdown().await;
}
