//! A whole site, then what one cycle costs: the simulator's generated week (seed 1) in a database, a
//! full build, a build with nothing new, and a build after a cycle that brought the final data of the
//! three last meetings (seen mid-meeting before). Prints wall times (medians of five builds, one core)
//! and how many meeting and person pages each build rendered.
//!
//! `cargo bench -p webex-quality --bench site` (release profile).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use webex_quality::db::{CallRecord, Changes, Database, MeetingRow};
use webex_quality::quality::Thresholds;
use webex_quality::site::{Previous, SiteBuild, SiteOptions, StatusView, build_incremental};
use webex_quality::webex::RawPage;

fn call(org: &webex_sim::Org, index: usize, at: DateTime<Utc>) -> CallRecord {
    let meeting = &org.meetings[index];
    let items = org.quality_items(meeting, at);
    let body = serde_json::to_vec(&serde_json::json!({ "items": items })).unwrap();
    CallRecord {
        instance_id: meeting.instance_id.clone(),
        called_at: at,
        pages: vec![RawPage {
            request_url: format!(
                "https://analytics.webexapis.com/v1/meeting/qualities?meetingId={}",
                meeting.instance_id
            ),
            status: 200,
            tracking_id: format!("BENCH_{index}"),
            fetched_at: at,
            body: Bytes::from(body),
            next: None,
        }],
        completed: true,
        error: None,
        tracking_id: None,
        last_page_malformed: false,
    }
}

fn main() {
    let monday = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let org = webex_sim::Org::generate(1, monday, 7);
    let now = monday + chrono::Duration::days(8);
    let last = org.meetings.len() - 3;
    let dir = std::env::temp_dir().join(format!("wq-bench-site-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut db = Database::open(&dir.join("bench.sqlite")).unwrap();
    let meetings: Vec<MeetingRow> = org
        .meetings
        .iter()
        .map(|m| MeetingRow {
            instance_id: m.instance_id.clone(),
            series_id: Some(m.series_id.clone()),
            title: Some(m.title.clone()),
            host_name: Some(org.people[m.host].display_name.clone()),
            host_email: Some(org.people[m.host].email.clone()),
            start: Some(m.start),
            end: Some(m.end),
            state: Some("ended".into()),
            raw_item: "{}".into(),
            seen_at: now,
        })
        .collect();
    // Every meeting collected; the last three only as seen 20 minutes in.
    let calls = (0..org.meetings.len())
        .map(|i| {
            let at = if i >= last {
                org.meetings[i].start + chrono::Duration::minutes(20)
            } else {
                now
            };
            call(&org, i, at)
        })
        .collect();
    db.apply(&Changes {
        meetings,
        calls,
        ..Changes::default()
    })
    .unwrap();

    let status = StatusView {
        last_run: "2026-01-13 00:00 UTC".into(),
        last_outcome: "ok".into(),
        collected: 0,
        pending: 0,
        archived_days: 0,
        rate_limited: 0,
        token_days: "89 days".into(),
        errors: vec![],
    };
    let options = SiteOptions {
        generated: now,
        ..SiteOptions::default()
    };
    let thresholds = Thresholds::default();
    let build = |db: &Database, previous: Option<&SiteBuild>| {
        build_incremental(
            db,
            &status,
            &options,
            &thresholds,
            previous.map(|p| Previous {
                cache: Some(p.cache.clone()),
                manifest: p.manifest().to_map(),
            }),
        )
        .unwrap()
    };

    let (full_time, full) = timed(|| build(&db, None));
    println!(
        "week: {} meetings, {} files",
        full.meetings_rendered,
        full.manifest().len()
    );
    report("full build", full_time, &full);
    let (same_time, same) = timed(|| build(&db, Some(&full)));
    report("nothing new", same_time, &same);

    // A cycle: the final data of the last three meetings.
    db.apply(&Changes {
        calls: (last..org.meetings.len())
            .map(|i| call(&org, i, now + chrono::Duration::minutes(5)))
            .collect(),
        ..Changes::default()
    })
    .unwrap();
    let (cycle_time, cycle) = timed(|| build(&db, Some(&full)));
    report("after a cycle (3 meetings)", cycle_time, &cycle);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The median wall time of five runs of `f`, and its last result.
fn timed(mut f: impl FnMut() -> SiteBuild) -> (Duration, SiteBuild) {
    let mut times = Vec::new();
    let mut result = None;
    for _ in 0..5 {
        let started = Instant::now();
        result = Some(black_box(f()));
        times.push(started.elapsed());
    }
    times.sort();
    (times[times.len() / 2], result.unwrap())
}

fn report(name: &str, time: Duration, build: &SiteBuild) {
    println!(
        "{name:<28} {:>8.1} ms  meetings rendered {:>3}, kept {:>3}; person pages rendered {:>3}, kept {:>3}; files written {:>4}",
        time.as_secs_f64() * 1000.0,
        build.meetings_rendered,
        build.meetings_reused,
        build.people_rendered,
        build.people_reused,
        build.files.len()
    );
}
