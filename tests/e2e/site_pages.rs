//! Dashboard pages rendered from collected data: the figures match the raw data they came from.

use chrono::Duration as Span;
use webex_quality::quality::{StreamKind, Thresholds, Verdict, headline, meeting_report};
use webex_quality::site::{MeetingMeta, SiteOptions, render_meeting};
use webex_sim::SimConfig;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collected_meeting_page_shows_what_the_raw_data_says() {
    let sim = spawn_sim_at(
        week_start() + Span::days(1) + Span::hours(22),
        SimConfig::default(),
    )
    .await;
    let (_store, db) = collect_once(&sim, "site-store").await;

    // A meeting with someone on a bad network.
    let org = sim.org();
    let meeting = org
        .meetings
        .iter()
        .filter(|m| m.start < sim.clock().now() - Span::hours(1))
        .find(|m| {
            m.attendances.len() >= 5
                && m.attendances.iter().any(|a| {
                    a.person.is_some_and(|p| {
                        org.people[p].quality == webex_sim::org::NetworkQuality::Bad
                    })
                })
        })
        .expect("a meeting with a bad network");
    let pages = db.latest_complete_pages(&meeting.instance_id).unwrap();
    let report = meeting_report(
        pages.iter().map(|p| p.body.as_ref()),
        meeting.start,
        &Thresholds::default(),
    );
    let raw = org.quality_items(meeting, sim.clock().now());
    assert_eq!(
        report.sessions.len(),
        raw.len(),
        "one row per participant session"
    );

    // Hand-computed from the raw arrays: the minutes where audio (in or out) passed a poor limit:
    // loss above 10 %, latency above 500 ms or jitter above 30 ms (-1 is no data).
    for (session, item) in report.sessions.iter().zip(&raw) {
        let mut poor_by_hand = std::collections::BTreeSet::new();
        for segment in item.audio_in.iter().chain(&item.audio_out) {
            let start = chrono::DateTime::parse_from_rfc3339(&segment.start_time)
                .unwrap()
                .with_timezone(&chrono::Utc);
            for i in 0..segment.packet_loss.len() {
                let poor = segment.packet_loss[i] > 10.0
                    || segment.latency[i] > 500
                    || segment.jitter[i] > 30;
                if poor {
                    poor_by_hand
                        .insert((start + Span::minutes(i as i64) - meeting.start).num_minutes());
                }
            }
        }
        let poor_on_page: std::collections::BTreeSet<i64> = session.quality.timelines
            [&StreamKind::Audio]
            .iter()
            .filter(|(_, c)| c.verdict == Verdict::Poor)
            .map(|(m, _)| i64::try_from(m).unwrap())
            .collect();
        assert_eq!(poor_on_page, poor_by_hand, "{}", item.webex_user_name);
    }
    assert_eq!(report.worst(), Verdict::Poor);

    let meta = MeetingMeta {
        instance_id: meeting.instance_id.clone(),
        title: meeting.title.clone(),
        host_name: org.people[meeting.host].display_name.clone(),
        start: meeting.start,
        end: Some(meeting.end),
        headline: headline::of_report(
            &report,
            &org.people[meeting.host].email,
            &Thresholds::default(),
        ),
    };
    let html = render_meeting(&meta, &report, &SiteOptions::default()).unwrap();
    // The headline: the meeting's verdict in words and who was affected.
    let participants: std::collections::BTreeSet<String> =
        report.sessions.iter().map(|s| s.person_key()).collect();
    assert_eq!(
        meta.headline.participants.total() as usize,
        participants.len()
    );
    assert!(
        meta.headline.participants.poor >= 1,
        "someone on a bad network"
    );
    assert!(
        html.contains(&askama_escape(&meta.headline.label())),
        "{}",
        meta.headline.label()
    );
    assert!(html.contains(&format!(
        "<dt>Participants</dt><dd>{}</dd>",
        participants.len()
    )));
    assert!(html.contains(&format!(
        "<dt>Participant sessions</dt><dd>{}</dd>",
        raw.len()
    )));
    // Charts for every session with a fair or poor stream, and for no other.
    let mut charted = 0;
    for session in &report.sessions {
        let name = session.session.webex_user_name.clone().unwrap_or_default();
        let summary = format!("<summary>{} ·", askama_escape(&name));
        let affected = matches!(session.quality.worst(), Verdict::Fair | Verdict::Poor);
        charted += usize::from(affected);
        if affected {
            assert!(html.contains(&summary), "{name} has charts");
        } else if report
            .sessions
            .iter()
            .filter(|s| s.session.webex_user_name.as_deref() == Some(&name))
            .count()
            == 1
        {
            assert!(
                !html.contains(&summary),
                "{name} was good throughout: no charts"
            );
        }
    }
    assert!(charted > 0, "someone on the bad network has charts");
    assert_eq!(
        html.matches("<details class=\"person-charts\">").count(),
        charted
    );
    // Saved for review.
    let preview = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site-preview");
    std::fs::create_dir_all(preview.join("meetings")).unwrap();
    std::fs::create_dir_all(preview.join("assets")).unwrap();
    std::fs::write(preview.join("meetings/sample.html"), &html).unwrap();
    let options = SiteOptions::default();
    std::fs::write(
        preview.join(&options.css_path),
        webex_quality::site::STYLE_CSS,
    )
    .unwrap();
    std::fs::write(preview.join(&options.js_path), webex_quality::site::APP_JS).unwrap();
    sim.shutdown().await;
}

/// askama's HTML escaping, for comparing names.
fn askama_escape(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_meeting_person_and_breakdown_has_its_page() {
    let sim = spawn_sim_at(
        week_start() + Span::days(3) + Span::hours(1),
        SimConfig::default(),
    )
    .await;
    let (store, db) = collect_once(&sim, "site-all").await;
    // The status comes from where it lives: the database and the status object, which the cycle
    // wrote (its last run, the authorization's state; no token).
    let status_object = webex_quality::status::StatusStore::new(store.clone())
        .load()
        .await
        .unwrap()
        .map(|(status, _)| status);
    assert!(
        status_object
            .as_ref()
            .is_some_and(|s| s.last_cycle.is_some()),
        "the cycle wrote its summary: {status_object:?}"
    );
    let status = webex_quality::site::StatusView::from_sources(
        &db,
        status_object.as_ref(),
        sim.clock().now(),
    )
    .unwrap();
    assert_eq!(status.token_days, "89 days");
    assert_eq!(status.last_outcome, "ok");
    assert!(status.collected > 30);
    let options = SiteOptions {
        generated: sim.clock().now(),
        ..SiteOptions::default()
    };
    let files =
        webex_quality::site::build_site(&db, &status, &options, &Thresholds::default()).unwrap();

    let collected: Vec<_> = sim
        .org()
        .meetings
        .iter()
        .filter(|m| m.start + Span::minutes(10) <= sim.clock().now())
        .collect();
    assert!(collected.len() > 30);
    for meeting in &collected {
        let path = webex_quality::site::meeting_path(&meeting.instance_id);
        assert!(files.contains_key(&path), "{path}");
        // Its sessions are in its day's sessions export, one row each (no per-meeting files).
        assert!(!files.contains_key(&format!("meetings/{}.csv", meeting.instance_id)));
        let day = meeting.start.date_naive();
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&files[&format!("days/{day}.sessions.json")]).unwrap();
        let items = sim.org().quality_items(meeting, sim.clock().now());
        assert_eq!(
            rows.iter()
                .filter(|r| r["meeting_id"] == meeting.instance_id.as_str())
                .count(),
            items.len(),
            "{}",
            meeting.instance_id
        );
        let csv = String::from_utf8(files[&format!("days/{day}.sessions.csv")].clone()).unwrap();
        assert!(csv.contains(&meeting.instance_id));
        let page = String::from_utf8(files[&path].clone()).unwrap();
        assert!(page.contains(&format!("href=\"../days/{day}.sessions.csv\"")));
    }
    let people: std::collections::BTreeSet<String> = collected
        .iter()
        .flat_map(|m| sim.org().quality_items(m, sim.clock().now()))
        .map(|i| {
            if i.webex_user_email.is_empty() {
                format!("name:{}", i.webex_user_name)
            } else {
                i.webex_user_email.to_lowercase()
            }
        })
        .collect();
    for key in &people {
        assert!(
            files.contains_key(&options.person_key.person_path(key)),
            "{key}"
        );
    }
    for page in [
        "index.html",
        "overview-30.html",
        "overview-90.html",
        "meetings.html",
        "breakdowns.html",
        "status.html",
        "meetings.csv",
        "meetings.json",
    ] {
        assert!(files.contains_key(page), "{page}");
    }
    let breakdowns = String::from_utf8(files["breakdowns.html"].clone()).unwrap();
    for network in ["ethernet", "wifi", "cellular"] {
        assert!(
            breakdowns.contains(&format!("<td>{network}</td>")),
            "{network}"
        );
    }
    // The list export has one row per collected meeting, newest first.
    let json: serde_json::Value = serde_json::from_slice(&files["meetings.json"]).unwrap();
    assert_eq!(json.as_array().unwrap().len(), collected.len());
    // Every day with meetings has its page, which links each of them once; the list links the days.
    let meetings_page = String::from_utf8(files["meetings.html"].clone()).unwrap();
    let days: std::collections::BTreeSet<_> =
        collected.iter().map(|m| m.start.date_naive()).collect();
    for day in &days {
        let page = String::from_utf8(files[&format!("days/{day}.html")].clone()).unwrap();
        for meeting in collected.iter().filter(|m| m.start.date_naive() == *day) {
            let link = format!("href=\"../meetings/{}.html\"", meeting.instance_id);
            assert_eq!(
                page.matches(&link).count(),
                1,
                "{day}: {}",
                meeting.instance_id
            );
        }
        assert!(files.contains_key(&format!("days/{day}.csv")));
        assert!(meetings_page.contains(&format!("href=\"days/{day}.html\"")));
    }
    // Seven days after the first meeting, the list's first page (and its exports) holds the last 7
    // days only; the first meeting is on its day's page alone.
    let first = collected.iter().map(|m| m.start).min().unwrap();
    let later = SiteOptions {
        generated: first + Span::days(7) + Span::hours(1),
        ..SiteOptions::default()
    };
    let later_files =
        webex_quality::site::build_site(&db, &status, &later, &Thresholds::default()).unwrap();
    let recent = collected
        .iter()
        .filter(|m| m.start >= later.generated - Span::days(7))
        .count();
    assert!(0 < recent && recent < collected.len(), "{recent}");
    let json: serde_json::Value = serde_json::from_slice(&later_files["meetings.json"]).unwrap();
    assert_eq!(json.as_array().unwrap().len(), recent);
    let first_page = String::from_utf8(later_files["meetings.html"].clone()).unwrap();
    assert_eq!(first_page.matches("href=\"meetings/").count(), recent);
    // No email reaches a URL or, masked by default, a page.
    let any_email = &sim.org().people[1].email;
    for (path, bytes) in &files {
        assert!(!path.contains('@'), "{path}");
        assert!(
            !String::from_utf8_lossy(bytes).contains(any_email.as_str()),
            "{path} shows an email"
        );
    }
    let preview = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site-preview");
    for (path, bytes) in &files {
        let target = preview.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_weeks_meetings_list_tells_good_fair_and_poor_meetings_apart_most_affected_first()
{
    let sim = spawn_sim_at(week_start() + Span::days(7), SimConfig::default()).await;
    let (_store, db) = collect_once(&sim, "headline-store").await;
    let options = SiteOptions {
        generated: sim.clock().now(),
        ..SiteOptions::default()
    };
    let status =
        webex_quality::site::StatusView::from_sources(&db, None, sim.clock().now()).unwrap();
    let files =
        webex_quality::site::build_site(&db, &status, &options, &Thresholds::default()).unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&files["meetings.json"]).unwrap();
    let count = |verdict: &str| list.iter().filter(|m| m["verdict"] == verdict).count();
    let (poor, fair, good) = (count("poor"), count("fair"), count("good"));
    assert!(
        poor > 0 && fair > 0 && good > poor + fair,
        "most meetings are fine, some fair, some poor: {poor} poor, {fair} fair, {good} good"
    );
    // Causes name a metric, a stream and what the affected share.
    let causes: Vec<&str> = list.iter().filter_map(|m| m["cause"].as_str()).collect();
    assert!(
        causes.iter().any(|c| c.contains(" in server region ")),
        "{causes:?}"
    );
    assert!(causes.iter().any(|c| c.contains("CPU at")), "{causes:?}");
    assert!(
        causes.iter().any(|c| c.contains(" on Wi-Fi with ")),
        "{causes:?}"
    );
    // The page lists them by impact: poor participant-minutes, most first.
    let html = String::from_utf8(files["meetings.html"].clone()).unwrap();
    let mut impacts: Vec<u64> = Vec::new();
    for row in html.split("<tr data-verdict=").skip(1) {
        let href = row
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let id = href
            .trim_start_matches("meetings/")
            .trim_end_matches(".html");
        let meeting = list
            .iter()
            .find(|m| m["instance_id"] == id)
            .unwrap_or_else(|| panic!("{id} in the export"));
        impacts.push(meeting["poor_participant_minutes"].as_u64().unwrap());
    }
    assert_eq!(impacts.len(), list.len());
    assert!(impacts.windows(2).all(|w| w[0] >= w[1]), "{impacts:?}");
    assert!(impacts[0] > 0);
    // Without JavaScript the verdict and the cause are in the table; the filters come with it.
    assert!(html.contains("<th scope=\"col\">Likely cause</th>"));
    assert!(html.contains("id=\"verdict-filter\"") && html.contains("id=\"cause-filter\""));
    sim.shutdown().await;
}
