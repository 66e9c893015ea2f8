//! The collection cycle against the simulator: a simulated week at Webex's own pace on the
//! one-machine product's folder store (2,000 cycles), and races, crashes and tokens on a real
//! S3-compatible server (the store the Lambda functions use).

use std::time::Duration;

use chrono::Duration as Span;
use webex_quality::collect::Outcome;
use webex_quality::storage::SharedStore;
use webex_quality::tokens::TokenStore;
use webex_sim::{Route, SimConfig, SimHandle};

use crate::helpers::*;
use crate::s3;

/// Every call stored for every meeting holds exactly the bytes the simulator served at that time,
/// except the in-progress snapshots a meeting's final fetch superseded (their calls stay, marked
/// pruned, with no pages; the final fetch is the meeting's last call and is kept whole).
async fn assert_lossless(sim: &SimHandle, store: &SharedStore, page_size: usize) -> (usize, usize) {
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
    let store: SharedStore = std::sync::Arc::new(Interfering::new(inner.clone()));
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

/// A store that, on the first upload of the database, lets another writer upload first.
#[derive(Debug)]
struct Interfering {
    inner: SharedStore,
    done: std::sync::atomic::AtomicBool,
}

impl Interfering {
    fn new(inner: SharedStore) -> Self {
        Self {
            inner,
            done: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

#[async_trait::async_trait]
impl webex_quality::storage::ObjectStore for Interfering {
    async fn get(
        &self,
        key: &str,
        etag: Option<&webex_quality::storage::ETag>,
    ) -> Result<webex_quality::storage::Fetched, webex_quality::storage::StoreError> {
        self.inner.get(key, etag).await
    }
    async fn put(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        condition: webex_quality::storage::PutCondition,
        content_type: &str,
    ) -> Result<webex_quality::storage::ETag, webex_quality::storage::StoreError> {
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
        self.inner.put(key, bytes, condition, content_type).await
    }
    async fn delete(&self, key: &str) -> Result<(), webex_quality::storage::StoreError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, webex_quality::storage::StoreError> {
        self.inner.list(prefix).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

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
    let sim = webex_sim::Simulator::new(config)
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let (store, bucket) = s3::store("killed").await;
    let oauth = oauth_client(&sim, &quick_options());
    let record = login(&sim, &oauth).await;
    TokenStore::new(store.clone(), webex_quality::clock::system())
        .store_login(record)
        .await
        .unwrap();
    let work = temp_dir("killed");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_when_due_rotated_and_a_revoked_one_asks_for_authorization() {
    let config = SimConfig {
        access_lifetime: Span::days(2),
        ..SimConfig::default()
    };
    let sim = spawn_sim_at(week_start() + Span::hours(12), config).await;
    let (store, _) = s3::store("tokens").await;
    let first = store_login(&sim, &store).await;
    let tokens = TokenStore::new(store.clone(), sim_clock(&sim));
    let collector = collector(&sim, &store, temp_dir("tokens"), quick_cycle());

    // Not due yet: no refresh.
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        1,
        "only the login"
    );

    // Less than a day left: refreshed before listing, and the rotated tokens stored.
    sim.clock().advance(Span::hours(25));
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    let (state, _) = tokens.load().await.unwrap().unwrap();
    let second = state.record.unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token, "rotated");
    assert_eq!(
        second.access_expires_at,
        sim.clock().now() + Span::seconds(2 * 86_400 - 1)
    );
    assert_eq!(
        second.refresh_expires_at, first.refresh_expires_at,
        "the refresh token keeps its expiry"
    );
    assert!(state.authorization_needed.is_none());

    // Rotated again a day later; the first refresh token no longer works anywhere.
    sim.clock().advance(Span::hours(25));
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    let third = tokens.load().await.unwrap().unwrap().0.record.unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);

    // Revoked: the next due refresh fails, the state says so, nothing collected is lost.
    let before = stored_history(&store).await.totals().unwrap().pages;
    assert!(before > 0);
    sim.revoke_refresh_tokens();
    sim.clock().advance(Span::hours(25));
    let report = collector.run_cycle().await.unwrap();
    assert!(
        matches!(&report.outcome, Outcome::AuthorizationRequired(reason) if reason.contains("revoked")),
        "{:?}",
        report.outcome
    );
    let (state, _) = tokens.load().await.unwrap().unwrap();
    let needed = state
        .authorization_needed
        .expect("authorization needed is recorded");
    assert_eq!(needed.since, sim.clock().now());
    assert!(needed.reason.contains("revoked"), "{}", needed.reason);
    let db = stored_history(&store).await;
    assert_eq!(db.totals().unwrap().pages, before, "nothing lost");
    let last = db.recent_runs(1).unwrap().remove(0);
    assert_eq!(last.outcome, "authorization required");

    // Later cycles do not call Webex until someone logs in again; a login clears the state.
    let token_calls = sim.stats().requests(Route::AccessToken);
    sim.clock().advance(Span::minutes(5));
    assert!(matches!(
        collector.run_cycle().await.unwrap().outcome,
        Outcome::AuthorizationRequired(_)
    ));
    assert_eq!(sim.stats().requests(Route::AccessToken), token_calls);
    store_login(&sim, &store).await;
    assert!(
        tokens
            .load()
            .await
            .unwrap()
            .unwrap()
            .0
            .authorization_needed
            .is_none()
    );
    sim.clock().advance(Span::minutes(5));
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_answer_cut_in_half_during_a_cycle_leaves_no_token_in_the_data() {
    let sim = spawn_sim().await;
    let data = temp_dir("token-cut");
    let store: SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    store_login(&sim, &store).await;
    // The first qualities call is refused with 401; the refresh it causes gets a token answer cut
    // in half, which still holds the new access token.
    sim.faults()
        .inject(Route::Qualities, webex_sim::Fault::Status(401), 1);
    sim.faults()
        .inject(Route::AccessToken, webex_sim::Fault::Malformed, 1);
    let report = collector(&sim, &store, temp_dir("token-cut-work"), quick_cycle())
        .run_cycle()
        .await
        .unwrap();
    assert!(report.errors >= 1, "{report:?}");
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        2,
        "login and the cut refresh"
    );
    // The simulator's tokens are base64 of `access-...` and `refresh-...`.
    let tokens: [&[u8]; 3] = [b"YWNjZXNzL", b"cmVmcmVzaC", b"\"access_token\""];
    let holds_token = |bytes: &[u8]| {
        tokens
            .iter()
            .any(|t| bytes.windows(t.len()).any(|w| w == *t))
    };
    let db = stored_history(&store).await;
    let mut pages = 0;
    for meeting in db.meetings().unwrap() {
        for call in db.calls(&meeting.instance_id).unwrap() {
            for page in db.call_pages(call.id).unwrap() {
                pages += 1;
                assert!(!page.request_url.contains("access_token"));
                assert!(
                    !holds_token(&page.body),
                    "a token answer was stored as a page of {}",
                    meeting.instance_id
                );
            }
        }
    }
    assert!(pages > 0);
    for error in db.recent_errors(100).unwrap() {
        assert!(!holds_token(error.message.as_bytes()), "{}", error.message);
    }
    for name in ["status.json", "collector-lease.json"] {
        let bytes = std::fs::read(data.join(name)).unwrap();
        assert!(!holds_token(&bytes), "{name}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_that_survives_a_refresh_fails_one_call_not_the_authorization() {
    let sim = spawn_sim().await;
    let data = temp_dir("401-twice");
    let store: SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    store_login(&sim, &store).await;
    // One qualities call is refused, refreshed, and refused again with the fresh token (one call
    // at a time, so that both refusals reach the same call).
    sim.faults()
        .inject(Route::Qualities, webex_sim::Fault::Status(401), 2);
    let settings = webex_quality::collect::CycleSettings {
        concurrency: 1,
        ..quick_cycle()
    };
    let report = collector(&sim, &store, temp_dir("401-twice-work"), settings)
        .run_cycle()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Partial, "{report:?}");
    assert_eq!(report.errors, 1, "{report:?}");
    assert!(
        report.calls > 1,
        "the other meetings were fetched: {report:?}"
    );
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        2,
        "login and one refresh"
    );
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("tokens.json")).unwrap()).unwrap();
    assert!(tokens["authorization_needed"].is_null(), "{tokens}");
    let db = stored_database(&store).await;
    let errors = db.recent_errors(10).unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.kind == "refused" && e.message.contains("freshly refreshed")),
        "{errors:?}"
    );
    sim.shutdown().await;
}

/// A store that refuses to write the database, and spills too when told: an outage of the hot
/// object's writes (or conflicts past the upload attempts) after the cycle's calls were made.
#[derive(Debug, Default)]
struct Refusing {
    inner: Option<SharedStore>,
    database: std::sync::atomic::AtomicBool,
    spills: std::sync::atomic::AtomicBool,
}

impl Refusing {
    fn set(&self, database: bool, spills: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        self.database.store(database, SeqCst);
        self.spills.store(spills, SeqCst);
    }

    fn inner(&self) -> &SharedStore {
        self.inner.as_ref().unwrap()
    }
}

#[async_trait::async_trait]
impl webex_quality::storage::ObjectStore for Refusing {
    async fn get(
        &self,
        key: &str,
        etag: Option<&webex_quality::storage::ETag>,
    ) -> Result<webex_quality::storage::Fetched, webex_quality::storage::StoreError> {
        self.inner().get(key, etag).await
    }
    async fn put(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        condition: webex_quality::storage::PutCondition,
        content_type: &str,
    ) -> Result<webex_quality::storage::ETag, webex_quality::storage::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let refused = (key == webex_quality::history::DATABASE_KEY && self.database.load(SeqCst))
            || (key.starts_with(webex_quality::collect::SPILL_PREFIX) && self.spills.load(SeqCst));
        if refused {
            return Err(webex_quality::storage::StoreError::Backend {
                operation: "put",
                key: key.to_owned(),
                detail: "injected outage".into(),
            });
        }
        self.inner().put(key, bytes, condition, content_type).await
    }
    async fn delete(&self, key: &str) -> Result<(), webex_quality::storage::StoreError> {
        self.inner().delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, webex_quality::storage::StoreError> {
        self.inner().list(prefix).await
    }
    fn describe(&self) -> String {
        self.inner().describe()
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
    let refusing = std::sync::Arc::new(Refusing {
        inner: Some(inner.clone()),
        ..Refusing::default()
    });
    let store: SharedStore = refusing.clone();
    let spills = webex_quality::collect::SPILL_PREFIX;

    // 1: neither the database nor a spill can be written: the pages stay in the working folder.
    refusing.set(true, true);
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
    refusing.set(true, false);
    collector(&sim, &store, here.clone(), quick_cycle())
        .run_cycle()
        .await
        .expect_err("the upload fails again");
    assert_eq!(files_in(&here.join(spills)), 0, "moved to the store");
    assert_eq!(inner.list(spills).await.unwrap().len(), 1);

    // 3: twenty minutes on, another machine (a new working folder), the store whole again.
    sim.clock().advance(Span::minutes(19));
    refusing.set(false, false);
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
