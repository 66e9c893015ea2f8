//! Faults at volume: two simulated days collected while Webex fails over a thousand times and the
//! store hundreds (5xx bursts, 429s with and without `Retry-After`, answers slower than the timeout, dropped
//! connections, bodies cut short, HTML where JSON belongs; store outages and write conflicts), then
//! compared with the same two days collected undisturbed: the same final pages, byte for byte, none
//! lost, none kept twice, and not one call inside Webex's 5 minutes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Duration as Span;
use webex_quality::storage::{ETag, PutCondition, SharedStore, StoreError};
use webex_sim::{Fault, Route, SimConfig, SimHandle};

use crate::helpers::*;
use crate::hooked::{Hook, Hooked, outage};

/// Store faults on a fixed schedule: outages of single reads and writes (every 13th), longer
/// outages (six operations in a row out of every sixty: enough to exhaust a cycle's upload attempts
/// after its calls were made), and every 11th conditional write refused as if another writer had
/// come first.
#[derive(Debug, Default)]
struct Flaky {
    reads: AtomicU64,
    writes: AtomicU64,
    failed: AtomicU64,
    /// Spills written: pages of cycles whose upload failed, for a later cycle to record.
    spills: AtomicU64,
}

impl Flaky {
    fn outage(&self, operation: &'static str, key: &str) -> StoreError {
        self.failed.fetch_add(1, Ordering::Relaxed);
        outage(operation, key)
    }
}

#[async_trait::async_trait]
impl Hook for Flaky {
    async fn before_get(&self, key: &str) -> Result<(), StoreError> {
        let n = self.reads.fetch_add(1, Ordering::Relaxed);
        if n % 13 == 6 || (n / 6) % 10 == 7 {
            return Err(self.outage("get", key));
        }
        Ok(())
    }

    async fn before_put(&self, key: &str, condition: &PutCondition) -> Result<(), StoreError> {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        if n % 13 == 3 || (n / 6) % 10 == 4 {
            return Err(self.outage("put", key));
        }
        if n % 11 == 5 && !matches!(condition, PutCondition::Always) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::PreconditionFailed {
                key: key.to_owned(),
            });
        }
        Ok(())
    }

    fn after_put(&self, key: &str, written: &Result<ETag, StoreError>) {
        if written.is_ok() && key.starts_with(webex_quality::collect::SPILL_PREFIX) {
            self.spills.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A small deterministic generator (xorshift64*): the same faults in the same order on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The request timeout of both runs; a slow fault waits longer than this.
const TIMEOUT: Duration = Duration::from_millis(1500);

fn options() -> webex_quality::webex::ClientOptions {
    webex_quality::webex::ClientOptions {
        request_timeout: TIMEOUT,
        // A 429 ends the call at once (the collector plans it again after the wait) rather than
        // sleeping in real time while the simulated clock stands still.
        max_rate_limit_waits: 0,
        ..quick_options()
    }
}

fn collector_on(
    sim: &SimHandle,
    store: &SharedStore,
    name: &str,
) -> webex_quality::collect::Collector {
    collector_with(sim, store, temp_dir(name), quick_cycle(), options())
}

/// One Webex fault, drawn.
fn draw(dice: &mut Dice, slow_left: &mut u32) -> Fault {
    match dice.below(20) {
        0..=2 => Fault::Status(500),
        3 | 4 => Fault::Status(502),
        5 | 6 => Fault::Status(503),
        7 => Fault::Status(504),
        8..=10 => Fault::Status(429),
        11 | 12 => Fault::RateLimitedWithoutRetryAfter,
        13 | 14 => Fault::Drop,
        15 | 16 => Fault::Malformed,
        17 | 18 => Fault::WrongContentType,
        _ if *slow_left > 0 => {
            *slow_left -= 1;
            Fault::Slow(TIMEOUT + Duration::from_millis(300))
        }
        _ => Fault::Status(500),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_faults_lose_nothing_duplicate_nothing_and_never_call_too_early() {
    let config = SimConfig {
        first_day: Some(week_start()),
        days: 2,
        ..SimConfig::default()
    };
    // Faults until the evening of the second day; the quiet night after lets the last fetches
    // through, as it does in production.
    let faults_until = week_start() + Span::days(1) + Span::hours(22);
    let end = week_start() + Span::days(2) + Span::hours(1);

    // Undisturbed.
    let calm = spawn_sim_at(week_start(), config.clone()).await;
    let calm_store: SharedStore =
        Arc::new(webex_quality::storage::FolderStore::new(temp_dir("faults-calm-store")).unwrap());
    store_login(&calm, &calm_store).await;
    let collector = collector_on(&calm, &calm_store, "faults-calm");
    while calm.clock().now() <= end {
        collector.run_cycle().await.unwrap();
        calm.clock().advance(Span::minutes(5));
    }

    // Disturbed.
    let sim = spawn_sim_at(week_start(), config).await;
    let folder: SharedStore =
        Arc::new(webex_quality::storage::FolderStore::new(temp_dir("faults-store")).unwrap());
    store_login(&sim, &folder).await;
    let flaky = Arc::new(Hooked {
        inner: folder.clone(),
        hook: Flaky::default(),
    });
    let store: SharedStore = flaky.clone();
    let collector = collector_on(&sim, &store, "faults");
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let mut slow_left = 12;
    let (mut cycles, mut failed_cycles, mut unrecorded) = (0, 0, 0);
    let mut last_seen_run = String::new();
    while sim.clock().now() <= end {
        if sim.clock().now() < faults_until && sim.faults().pending() < 24 {
            for _ in 0..10 {
                let route = if dice.below(10) < 8 {
                    Route::Qualities
                } else {
                    Route::Meetings
                };
                sim.faults()
                    .inject(route, draw(&mut dice, &mut slow_left), 1);
            }
        }
        if sim.clock().now() >= faults_until {
            sim.faults().clear();
        }
        let failed = match collector.run_cycle().await {
            Ok(report) => {
                assert!(
                    !matches!(
                        report.outcome,
                        webex_quality::collect::Outcome::AuthorizationRequired(_)
                    ),
                    "no fault asks for a human: {report:?}"
                );
                false
            }
            Err(_) => {
                failed_cycles += 1;
                true
            }
        };
        // Calls made by a cycle that could not record them (its upload failed): they must count
        // against the 5-minute rule all the same.
        if let Some((lease, _)) = webex_quality::collect::read_lease(&folder).await.unwrap()
            && let Some(run) = lease.last_run
            && run.run_id != last_seen_run
        {
            if run.calls > 0 && !run.recorded {
                unrecorded += run.calls;
            }
            last_seen_run = run.run_id;
        }
        cycles += 1;
        // Not always 5 minutes apart: Lambda retries a failed invocation about a minute later, and
        // a late schedule or a manual run can start a cycle soon after the last; the 5-minute rule
        // must hold all the same.
        let step = match dice.below(10) {
            _ if failed => 1,
            0 | 1 => 1,
            2 | 3 => 2,
            4 => 4,
            _ => 5,
        };
        sim.clock().advance(Span::minutes(step));
    }
    // Not one qualities call inside 5 minutes of the last for its meeting (the simulator answers
    // such a call 429 and counts it apart from injected ones).
    assert_eq!(
        sim.stats().rate_limited_calls(),
        0,
        "the 5-minute rule held"
    );
    assert_eq!(calm.stats().rate_limited_calls(), 0);

    // The same final pages as the undisturbed run, byte for byte, and as Webex serves them now;
    // each meeting keeps the pages of one call.
    let disturbed = stored_history(&folder).await;
    let undisturbed = stored_history(&calm_store).await;
    let mut pages = 0;
    for meeting in &sim.org().meetings {
        let id = &meeting.instance_id;
        let got = disturbed.latest_complete_pages(id).unwrap();
        let want = undisturbed.latest_complete_pages(id).unwrap();
        assert!(!want.is_empty(), "{id}: the undisturbed run has its pages");
        assert_eq!(got.len(), want.len(), "{id}: pages");
        let items = sim.org().quality_items(meeting, sim.clock().now());
        for (n, (got, want)) in got.iter().zip(&want).enumerate() {
            assert_eq!(got.body, want.body, "{id} page {}", n + 1);
            assert_eq!(
                got.body.as_ref(),
                expected_page(&items, n, 100).as_slice(),
                "{id} page {}",
                n + 1
            );
            pages += 1;
        }
        let with_pages = disturbed
            .calls(id)
            .unwrap()
            .iter()
            .filter(|call| !disturbed.call_pages(call.id).unwrap().is_empty())
            .count();
        assert_eq!(with_pages, 1, "{id}: one call's pages kept");
    }
    assert_eq!(
        disturbed.meetings().unwrap().len(),
        sim.org().meetings.len(),
        "every meeting, once"
    );
    let webex_faults = sim.faults().served();
    let store_faults = flaky.hook.failed.load(Ordering::Relaxed);
    assert!(
        webex_faults >= 1000 && store_faults >= 500,
        "{webex_faults} Webex faults and {store_faults} store faults"
    );

    assert!(
        unrecorded > 0,
        "some calls were made by cycles that could not record them"
    );
    // Their pages were spilled, and every spill was merged by a later cycle.
    let spills = flaky.hook.spills.load(Ordering::Relaxed);
    assert!(spills > 0, "pages of unrecorded calls were spilled");
    assert!(
        folder
            .list(webex_quality::collect::SPILL_PREFIX)
            .await
            .unwrap()
            .is_empty(),
        "every spill merged"
    );
    eprintln!(
        "faults at volume: {cycles} cycles ({failed_cycles} failed, {unrecorded} calls made but not \
         recorded at once, {spills} spills merged later), {webex_faults} Webex faults and {store_faults} store faults injected; {} meetings, {pages} final pages identical to the \
         undisturbed run's; 0 calls inside 5 minutes",
        sim.org().meetings.len()
    );
    calm.shutdown().await;
    sim.shutdown().await;
}

/// The pages every meeting of `sim` should have, compared with what `store` holds: the meetings
/// still missing or different.
async fn meetings_not_yet_stored(sim: &SimHandle, store: &SharedStore) -> usize {
    let Some(db) = stored_history_if_any(store).await else {
        return sim.org().meetings.len();
    };
    sim.org()
        .meetings
        .iter()
        .filter(|meeting| {
            let pages = db.latest_complete_pages(&meeting.instance_id).unwrap();
            let items = sim.org().quality_items(meeting, sim.clock().now());
            pages.len() != items.len().div_ceil(100)
                || pages
                    .iter()
                    .enumerate()
                    .any(|(n, page)| page.body.as_ref() != expected_page(&items, n, 100).as_slice())
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_killed_at_random_points_many_times_converges_losing_nothing() {
    // Real time: each cycle is a process of its own (configured as the collector function is, on
    // the S3-compatible server), killed with SIGKILL after a random delay: while it checks out,
    // lists, calls (some answers are slowed to stretch the cycle), records, uploads or releases.
    const KILLS: usize = 20;
    let config = SimConfig {
        first_day: Some(webex_sim::org::days_before(chrono::Utc::now(), 3)),
        days: 2,
        // Enough meetings that most cycles are killed with calls to make.
        meetings_per_day: Some(40),
        // Longer than a killed run's lease lives (its 3-second budget and a tenth): a later run
        // must wait for the calls it planned.
        qualities_interval: Span::seconds(6),
        ..SimConfig::default()
    };
    let (sim, store, bucket, work) = process_setup(config, "kills").await;
    let cycle = CycleProcess {
        call_interval_seconds: 6,
        budget_seconds: 3,
        concurrency: 2,
    };
    let run = || collect_cycle_process(&sim, (&bucket, "kills"), &work, &cycle);
    let mut dice = Dice(0x51ed_2701_c0ff_ee11);
    let mut killed = 0;
    let mut finished = 0;
    while killed < KILLS && meetings_not_yet_stored(&sim, &store).await > 0 {
        sim.faults().clear();
        // Every answer slowed a little, so that a cycle's calls last seconds and a kill lands
        // among them as often as before or after them.
        sim.faults().inject(
            Route::Qualities,
            Fault::Slow(Duration::from_millis(120)),
            60,
        );
        let mut cycle = run().spawn().unwrap();
        let delay = Duration::from_millis(50 + dice.below(1200));
        let started = std::time::Instant::now();
        while started.elapsed() < delay && cycle.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if cycle.try_wait().unwrap().is_some() {
            // Done before its kill (often: nothing due while a killed run's calls are held
            // back): give the held calls time to come due.
            finished += 1;
            tokio::time::sleep(Duration::from_millis(700)).await;
        } else {
            cycle.kill().unwrap();
            cycle.wait().unwrap();
            killed += 1;
        }
    }
    sim.faults().clear();
    assert_eq!(killed, KILLS, "the work lasted through every kill");
    let calls_while_killing = sim.stats().qualities_calls();

    // Undisturbed runs from here until every meeting's pages are stored.
    let mut runs = 0;
    while meetings_not_yet_stored(&sim, &store).await > 0 {
        assert!(runs < 40, "not converged after {runs} runs");
        tokio::time::sleep(Duration::from_millis(700)).await;
        let output = run().output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        runs += 1;
    }
    assert_eq!(
        sim.stats().rate_limited_calls(),
        0,
        "no call inside the interval, across {killed} kills"
    );
    let db = stored_history(&store).await;
    for meeting in &sim.org().meetings {
        let kept = db
            .calls(&meeting.instance_id)
            .unwrap()
            .iter()
            .filter(|call| !db.call_pages(call.id).unwrap().is_empty())
            .count();
        assert_eq!(kept, 1, "{}: one call's pages", meeting.instance_id);
    }
    assert_eq!(db.meetings().unwrap().len(), sim.org().meetings.len());
    eprintln!(
        "kills: {killed} cycles killed at random points ({finished} finished before their kill), \
         {calls_while_killing} qualities calls meanwhile; {runs} runs after; {} meetings, every \
         page stored once, byte for byte; 0 calls inside the interval",
        sim.org().meetings.len()
    );
    sim.shutdown().await;
}
