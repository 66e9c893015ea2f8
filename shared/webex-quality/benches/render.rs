//! How many meeting pages one core renders per second, for the simulator's typical meeting (the
//! median by participant sessions of a generated week), measured two ways: the page alone (from the
//! analysed report), and the page with the analysis of its raw pages (parse and verdicts).
//!
//! `cargo bench -p webex-quality --bench render` (release profile; one thread).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use webex_quality::quality::{Thresholds, meeting_report};
use webex_quality::site::{MeetingMeta, SiteOptions, render_meeting};

fn main() {
    let monday = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let org = webex_sim::Org::generate(1, monday, 7);
    let now = monday + chrono::Duration::days(8);
    let mut by_size: Vec<_> = org
        .meetings
        .iter()
        .map(|m| (org.quality_items(m, now).len(), m))
        .collect();
    by_size.sort_by_key(|(n, _)| *n);
    let (sessions, meeting) = by_size[by_size.len() / 2];
    let items = org.quality_items(meeting, now);
    let body = serde_json::to_vec(&serde_json::json!({ "items": items })).unwrap();
    let thresholds = Thresholds::default();
    let options = SiteOptions::default();
    let report = meeting_report([body.as_slice()], meeting.start, &thresholds);
    let meta = MeetingMeta {
        instance_id: meeting.instance_id.clone(),
        title: meeting.title.clone(),
        host_name: org.people[meeting.host].display_name.clone(),
        start: meeting.start,
        end: Some(meeting.end),
        headline: webex_quality::quality::headline::of_report(
            &report,
            &org.people[meeting.host].email,
            &thresholds,
        ),
    };
    let page = render_meeting(&meta, &report, &options).unwrap();
    println!(
        "typical meeting: {sessions} participant sessions, {} minutes, raw JSON {} KB, page {} KB",
        (meeting.end - meeting.start).num_minutes(),
        body.len() / 1024,
        page.len() / 1024
    );

    let render_only = rate(|| {
        black_box(render_meeting(&meta, black_box(&report), &options).unwrap());
    });
    println!("render only:             {render_only:>8.0} pages/s");
    let parse_only = rate(|| {
        black_box(
            webex_quality::webex::model::parse_qualities(black_box(body.as_slice())).unwrap(),
        );
    });
    println!("parse only:              {parse_only:>8.0} pages/s");
    // The same through serde alone (what the quick reader of the usual page is held to).
    let serde_only = rate(|| {
        black_box(
            webex_quality::webex::model::parse_qualities_generic(black_box(body.as_slice()))
                .unwrap(),
        );
    });
    println!("parse through serde:     {serde_only:>8.0} pages/s");
    // The floor of any serde reader of these bytes: serde_json going through every token and
    // building nothing. What parsing costs above it is the views' numbers, strings and vectors.
    let skip_only = rate(|| {
        black_box(
            serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body.as_slice())).unwrap(),
        );
    });
    println!("JSON skipped, nothing built: {skip_only:>4.0} pages/s");
    #[allow(clippy::cast_precision_loss)]
    let megabytes = body.len() as f64 / 1e6;
    println!(
        "  parse {:.0} MB/s, through serde {:.0} MB/s, skip {:.0} MB/s",
        parse_only * megabytes,
        serde_only * megabytes,
        skip_only * megabytes
    );
    let analysis_only = rate(|| {
        black_box(meeting_report(
            [black_box(body.as_slice())],
            meeting.start,
            &thresholds,
        ));
    });
    println!("parse + verdicts:        {analysis_only:>8.0} pages/s");
    let with_analysis = rate(|| {
        let report = meeting_report([black_box(body.as_slice())], meeting.start, &thresholds);
        black_box(render_meeting(&meta, &report, &options).unwrap());
    });
    println!("parse + verdicts + page: {with_analysis:>8.0} pages/s");
}

/// Calls per second of `f`: the median of five one-second rounds after a warm-up (the median, so that
/// a noisy neighbour on a shared machine moves it less).
fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut n = 0_u32;
            while started.elapsed() < Duration::from_secs(1) {
                f();
                n += 1;
            }
            f64::from(n) / started.elapsed().as_secs_f64()
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}
