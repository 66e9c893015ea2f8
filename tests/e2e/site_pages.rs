//! Dashboard pages rendered from collected data: the figures match the raw data they came from.

use std::time::Duration;

use chrono::Duration as Span;
use webex_quality::quality::{StreamKind, Thresholds, Verdict, meeting_report};
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
            .map(|(m, _)| i64::try_from(*m).unwrap())
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
    };
    let html = render_meeting(&meta, &report, &SiteOptions::default()).unwrap();
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
        assert!(files.contains_key(&format!("meetings/{}.csv", meeting.instance_id)));
        assert!(files.contains_key(&format!("meetings/{}.json", meeting.instance_id)));
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
            files.contains_key(&webex_quality::site::person_path(key)),
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
async fn publishing_uploads_only_what_changed_and_removes_what_is_gone() {
    let sim = spawn_sim_at(
        week_start() + Span::days(1) + Span::hours(12),
        SimConfig::default(),
    )
    .await;
    let (data, _) = crate::s3::store("data").await;
    let (site_store, bucket) = crate::s3::store("site").await;
    store_login(&sim, &data).await;
    let collector = collector(&sim, &data, temp_dir("publish-work"), quick_cycle());
    collector.run_cycle().await.unwrap();
    let build = |db: &webex_quality::db::Database| {
        let status = webex_quality::site::StatusView {
            last_run: "—".into(),
            last_outcome: "ok".into(),
            collected: 0,
            pending: 0,
            archived_days: 0,
            rate_limited: 0,
            token_days: "—".into(),
            errors: vec![],
        };
        let options = SiteOptions {
            generated: week_start(),
            ..SiteOptions::default()
        };
        webex_quality::site::build_site(db, &status, &options, &Thresholds::default()).unwrap()
    };
    let first = build(&stored_database(&data).await);
    let published = webex_quality::site::publish(site_store.as_ref(), &first)
        .await
        .unwrap();
    assert_eq!(published.uploaded.len(), first.len());

    // Nothing new: nothing uploaded.
    let again =
        webex_quality::site::publish(site_store.as_ref(), &build(&stored_database(&data).await))
            .await
            .unwrap();
    assert!(
        again.uploaded.is_empty() && again.deleted.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.unchanged, first.len());

    // One more meeting collected: its files and the pages that list it change, nothing else.
    let before: std::collections::BTreeSet<_> = first.keys().cloned().collect();
    let next = sim
        .org()
        .meetings
        .iter()
        .find(|m| m.start > sim.clock().now())
        .unwrap()
        .clone();
    sim.clock().set(next.end + Span::minutes(16));
    collector.run_cycle().await.unwrap();
    let second = build(&stored_database(&data).await);
    let published = webex_quality::site::publish(site_store.as_ref(), &second)
        .await
        .unwrap();
    let page = webex_quality::site::meeting_path(&next.instance_id);
    assert!(published.uploaded.contains(&page));
    assert!(published.uploaded.contains(&"meetings.html".to_owned()));
    assert!(
        published.uploaded.iter().all(|p| !p.starts_with("assets/")),
        "{:?}",
        published.uploaded
    );
    let old_meeting_pages = before
        .iter()
        .filter(|p| p.starts_with("meetings/") && p.ends_with(".html"))
        .count();
    let reuploaded_old = published
        .uploaded
        .iter()
        .filter(|p| before.contains(*p) && p.starts_with("meetings/"))
        .count();
    assert_eq!(
        reuploaded_old, 0,
        "{old_meeting_pages} older meeting pages untouched"
    );
    assert!(
        published.uploaded.len() < second.len() / 2,
        "{} of {}",
        published.uploaded.len(),
        second.len()
    );

    // A page that is no longer built is removed.
    let mut fewer = second.clone();
    fewer.remove(&page);
    let published = webex_quality::site::publish(site_store.as_ref(), &fewer)
        .await
        .unwrap();
    assert_eq!(published.deleted, vec![page.clone()]);
    assert_eq!(
        site_store.get(&page, None).await.unwrap(),
        webex_quality::storage::Fetched::NotFound
    );

    // Assets are cached for good, pages revalidated.
    let client = crate::s3::client();
    let css = second
        .keys()
        .find(|p| p.starts_with("assets/style."))
        .unwrap();
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(format!("site/{css}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    let head = client
        .head_object()
        .bucket(&bucket)
        .key("site/index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.cache_control(), Some("no-cache"));
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_loads_in_a_real_browser_with_no_errors_and_nothing_from_elsewhere() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let modules = repo.join("target/test-tools/node/node_modules");
    assert!(
        modules.join("playwright-core").exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium and playwright-core are needed: run tests/run, which installs them"
    );
    // A site with a hostile meeting title among real collected meetings.
    let sim = spawn_sim_at(
        week_start() + Span::days(2) + Span::hours(18),
        SimConfig::default(),
    )
    .await;
    let (_store, db) = collect_once(&sim, "browser-data").await;
    let status = webex_quality::site::StatusView {
        last_run: "2026-01-07 18:00".into(),
        last_outcome: "ok".into(),
        collected: 10,
        pending: 1,
        archived_days: 2,
        rate_limited: 0,
        token_days: "89 days".into(),
        errors: vec![],
    };
    let options = SiteOptions {
        generated: sim.clock().now(),
        ..SiteOptions::default()
    };
    let files =
        webex_quality::site::build_site(&db, &status, &options, &Thresholds::default()).unwrap();
    let root = temp_dir("browser-site");
    for (path, bytes) in &files {
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
    let all_hands = sim
        .org()
        .meetings
        .iter()
        .find(|m| m.title.starts_with("All hands"))
        .unwrap();
    let meeting_page = webex_quality::site::meeting_path(&all_hands.instance_id);
    assert!(files.contains_key(&meeting_page));

    // Served over HTTP on loopback, as CloudFront or the CLI would serve it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(&root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "static server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shots = repo.join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let output = std::process::Command::new("node")
        .arg(repo.join("tests/browser/check.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(&shots)
        .args([
            "index.html",
            "meetings.html",
            meeting_page.as_str(),
            "status.html",
            "breakdowns.html",
        ])
        .env("PLAYWRIGHT_MODULES", &modules)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let pages = report.as_array().unwrap();
    assert_eq!(pages.len(), 5);
    for page in pages {
        assert_eq!(page["status"], 200, "{page}");
        assert_eq!(
            page["console"].as_array().unwrap().len(),
            0,
            "console: {page}"
        );
        assert_eq!(
            page["errors"].as_array().unwrap().len(),
            0,
            "page errors: {page}"
        );
        assert_eq!(
            page["external"].as_array().unwrap().len(),
            0,
            "requests elsewhere: {page}"
        );
        assert!(
            page["requests"].as_u64().unwrap() >= 3,
            "page, stylesheet and script: {page}"
        );
    }
    assert!(
        pages[2]["title"]
            .as_str()
            .unwrap()
            .starts_with("All hands — <Q3> & \"numbers\""),
        "{}",
        pages[2]["title"]
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_cycle_only_the_pages_whose_inputs_changed_are_rendered_again() {
    use webex_quality::site::{Refreshed, render_from_store};
    let sim = spawn_sim_at(
        week_start() + Span::days(1) + Span::hours(12),
        SimConfig::default(),
    )
    .await;
    let (data, _) = crate::s3::store("data").await;
    let (site, _) = crate::s3::store("site").await;
    store_login(&sim, &data).await;
    let collector = collector(&sim, &data, temp_dir("incremental-work"), quick_cycle());
    collector.run_cycle().await.unwrap();
    let work = temp_dir("incremental-render");
    let render = |thresholds: Thresholds| {
        let (data, site, work, clock) = (data.clone(), site.clone(), work.clone(), sim_clock(&sim));
        async move {
            render_from_store(
                &data,
                site.as_ref(),
                work,
                SiteOptions::default(),
                &thresholds,
                clock,
            )
            .await
            .unwrap()
        }
    };

    // The first build renders everything.
    let first: Refreshed = render(Thresholds::default()).await;
    assert!(first.meetings_rendered > 10, "{first:?}");
    assert_eq!(first.meetings_reused, 0);
    assert_eq!(first.published.uploaded.len(), first.files);
    assert!(!first.authorization_needed);

    // Nothing new: no meeting or person page is rendered, nothing is uploaded.
    let again = render(Thresholds::default()).await;
    assert_eq!(again.meetings_rendered, 0, "{again:?}");
    assert_eq!(again.meetings_reused, first.meetings_rendered);
    assert_eq!(again.people_rendered, 0);
    assert_eq!(again.people_reused, first.people_rendered);
    assert!(again.published.uploaded.is_empty(), "{again:?}");

    // A meeting in progress, five minutes apart: the second cycle fetches new minutes of the same
    // meeting (same title, host, times and state), and only the meetings it fetched are rendered again.
    let next = sim
        .org()
        .meetings
        .iter()
        .find(|m| m.start > sim.clock().now() && m.end - m.start >= Span::minutes(30))
        .unwrap()
        .clone();
    sim.clock().set(next.start + Span::minutes(15));
    collector.run_cycle().await.unwrap();
    let during = render(Thresholds::default()).await;
    assert!(during.meetings_rendered >= 1, "{during:?}");
    sim.clock().advance(Span::seconds(5 * 60 + 30));
    let cycle = collector.run_cycle().await.unwrap();
    assert!(cycle.calls >= 1, "{cycle:?}");
    let db = stored_database(&data).await;
    let fetched: std::collections::BTreeSet<String> = db
        .meetings()
        .unwrap()
        .into_iter()
        .filter(|m| {
            db.calls(&m.instance_id)
                .unwrap()
                .iter()
                .any(|c| c.completed && c.called_at >= sim.clock().now() - Span::minutes(1))
        })
        .map(|m| m.instance_id)
        .collect();
    assert!(fetched.contains(&next.instance_id), "{fetched:?}");
    let after = render(Thresholds::default()).await;
    assert_eq!(after.meetings_rendered, fetched.len(), "{after:?}");
    assert_eq!(
        after.meetings_reused,
        during.meetings_rendered + during.meetings_reused - fetched.len()
    );
    assert!(
        after.people_reused > 0,
        "people outside the new meetings are kept: {after:?}"
    );
    let page = webex_quality::site::meeting_path(&next.instance_id);
    assert!(after.published.uploaded.contains(&page));

    // A page missing from the site store is rendered again even though its inputs did not change.
    site.delete(&page).await.unwrap();
    let mut manifest = webex_quality::site::read_manifest(site.as_ref())
        .await
        .unwrap();
    manifest.files.remove(&page);
    site.publish(
        webex_quality::site::MANIFEST_KEY,
        serde_json::to_vec(&manifest.files).unwrap().into(),
        "application/json",
        "no-cache",
        webex_quality::storage::PutCondition::Always,
    )
    .await
    .unwrap();
    let repaired = render(Thresholds::default()).await;
    assert_eq!(repaired.meetings_rendered, 1, "{repaired:?}");
    assert!(repaired.published.uploaded.contains(&page));

    // What the incremental builds left (kept pages, the cache's summaries and strings) is what a
    // full rebuild renders: the same files, byte for byte.
    let (fresh, _) = crate::s3::store("fresh-site").await;
    data.delete(webex_quality::site::summary::SITE_CACHE_KEY)
        .await
        .unwrap();
    let full = render_from_store(
        &data,
        fresh.as_ref(),
        temp_dir("full-render"),
        SiteOptions::default(),
        &Thresholds::default(),
        sim_clock(&sim),
    )
    .await
    .unwrap();
    assert_eq!(full.meetings_reused, 0, "{full:?}");
    let incremental = webex_quality::site::read_manifest(site.as_ref())
        .await
        .unwrap();
    let rebuilt = webex_quality::site::read_manifest(fresh.as_ref())
        .await
        .unwrap();
    assert_eq!(incremental.files, rebuilt.files);

    // Other thresholds: every meeting is judged again.
    let mut strict = Thresholds::default();
    strict.audio.packet_loss.fair = 0.0;
    let rejudged = render(strict).await;
    assert_eq!(rejudged.meetings_reused, 0);
    assert_eq!(
        rejudged.meetings_rendered,
        after.meetings_rendered + after.meetings_reused
    );

    // Authorization lost: the next cycle finds the refresh token revoked and says so in the status
    // object; the banner is on every page, so every page is rendered again.
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    let refused = collector.run_cycle().await.unwrap();
    assert_eq!(
        refused.outcome.label(),
        "authorization required",
        "{refused:?}"
    );
    let banner = render(strict).await;
    assert!(banner.authorization_needed);
    assert_eq!(banner.meetings_reused, 0);
    for path in [page.as_str(), "index.html", "status.html", "meetings.html"] {
        let webex_quality::storage::Fetched::Found(object) = site.get(path, None).await.unwrap()
        else {
            panic!("{path} missing")
        };
        let text = String::from_utf8(object.bytes.to_vec()).unwrap();
        assert!(
            text.contains("role=\"alert\"")
                && text.contains("The refresh token provided is expired, revoked"),
            "{path} has the banner"
        );
    }
    sim.shutdown().await;
}
