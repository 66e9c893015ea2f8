//! Cycles racing each other: started at the same moment, and an upload that loses the race.

use chrono::Duration as Span;
use webex_quality::collect::Outcome;
use webex_quality::storage::SharedStore;
use webex_sim::{Route, SimConfig};

use super::week::assert_lossless;
use crate::helpers::*;
use crate::hooked::{Hook, Hooked};
use crate::s3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cycles_started_at_the_same_moment_lose_nothing() {
    // Late in the week, so the first cycle has most of the week to collect at once.
    let sim = spawn_sim_at(
        week_start() + Span::days(6) + Span::hours(18),
        SimConfig::default(),
    )
    .await;
    let (store, _) = s3::store("twins").await;
    store_login(&sim, &store).await;
    let a = collector(&sim, &store, temp_dir("twin-a"), quick_cycle());
    let b = collector(&sim, &store, temp_dir("twin-b"), quick_cycle());
    let (ra, rb) = tokio::join!(a.run_cycle(), b.run_cycle());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let skipped = [&ra, &rb]
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped(_)))
        .count();
    assert_eq!(
        skipped, 1,
        "one stands down: {:?} / {:?}",
        ra.outcome, rb.outcome
    );
    assert_eq!(
        ra.calls + rb.calls,
        usize::try_from(sim.stats().qualities_calls()).unwrap()
    );
    // Both go on, cycle after cycle, until the week is done: nothing lost, no 429.
    let end = week_start() + Span::days(7) + Span::hours(1);
    while sim.clock().now() <= end {
        sim.clock().advance(Span::minutes(5));
        let (ra, rb) = tokio::join!(a.run_cycle(), b.run_cycle());
        assert!(ra.is_ok() && rb.is_ok());
    }
    assert_eq!(sim.stats().answers(Route::Qualities, 429), 0);
    let meetings_before = sim
        .org()
        .meetings
        .iter()
        .filter(|m| m.start < week_start() + Span::days(6) + Span::hours(18))
        .count();
    assert!(meetings_before > 50);
    assert_lossless(&sim, &store, 100).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_loses_the_race_merges_and_retries() {
    let sim = spawn_sim_at(
        week_start() + Span::days(1) + Span::hours(12),
        SimConfig::default(),
    )
    .await;
    let (inner, _) = s3::store("race").await;
    store_login(&sim, &inner).await;
    // The first cycle records the first day.
    collector(&sim, &inner, temp_dir("race-0"), quick_cycle())
        .run_cycle()
        .await
        .unwrap();
    sim.clock().advance(Span::hours(6));
    // While the next cycle works, another writer (an older run finishing late) uploads first.
    let store: SharedStore = std::sync::Arc::new(Hooked {
        inner: inner.clone(),
        hook: Interfering {
            inner: inner.clone(),
            done: std::sync::atomic::AtomicBool::new(false),
        },
    });
    let report = collector(&sim, &store, temp_dir("race-1"), quick_cycle())
        .run_cycle()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Ok);
    assert_eq!(report.upload_attempts, 2, "lost once, merged, won");
    let db = stored_history(&inner).await;
    assert_eq!(
        db.recent_runs(usize::MAX)
            .unwrap()
            .iter()
            .filter(|run| run.id == "interloper")
            .count(),
        1,
        "the other writer's rows survive"
    );
    assert_eq!(
        db.recent_runs(usize::MAX)
            .unwrap()
            .iter()
            .filter(|run| run.id == report.run_id)
            .count(),
        1,
        "and ours"
    );
    assert_eq!(
        db.totals().unwrap().calls,
        i64::try_from(sim.stats().qualities_calls()).unwrap()
    );
    sim.shutdown().await;
}

/// Another writer (an older run finishing late) uploads the database just before this store's
/// first upload of it.
#[derive(Debug)]
struct Interfering {
    /// The store the other writer writes to.
    inner: SharedStore,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Hook for Interfering {
    async fn before_put(
        &self,
        key: &str,
        _condition: &webex_quality::storage::PutCondition,
    ) -> Result<(), webex_quality::storage::StoreError> {
        if key == webex_quality::history::DATABASE_KEY
            && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let replica =
                webex_quality::history::Replica::new(self.inner.clone(), temp_dir("interloper"));
            let copy = replica.checkout("interloper").await?;
            let mut db = webex_quality::db::Database::open(&copy.path).unwrap();
            db.apply(&webex_quality::db::Changes {
                run: Some(webex_quality::db::RunRecord {
                    id: "interloper".into(),
                    started_at: week_start() + Span::days(1),
                    outcome: "ok".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .unwrap();
            drop(db);
            replica.commit(&copy).await?;
        }
        Ok(())
    }
}
