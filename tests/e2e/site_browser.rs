//! The dashboard in a real browser (Debian's Chromium): every page loads with no error and nothing
//! from elsewhere.

use std::time::Duration;

use chrono::Duration as Span;
use webex_quality::quality::Thresholds;
use webex_quality::site::SiteOptions;
use webex_sim::SimConfig;

use crate::helpers::*;

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
        offices: std::sync::Arc::new(
            webex_quality::site::offices::Offices::parse(&webex_sim::org::sites_csv()).unwrap(),
        ),
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
    let filter = &pages[1]["filter"];
    assert_eq!(filter["visible"], true, "the script shows the filters");
    let shown = filter["shown"].as_array().unwrap();
    assert_eq!(
        shown.len() as u64,
        filter["wanted"].as_u64().unwrap(),
        "{filter}"
    );
    assert!(
        !shown.is_empty() && shown.iter().all(|v| v == "poor"),
        "{filter}"
    );
    let office = &pages[1]["officeFilter"];
    let shown = office["shown"].as_array().unwrap();
    assert_eq!(
        shown.len() as u64,
        office["wanted"].as_u64().unwrap(),
        "{office}"
    );
    assert!(
        !shown.is_empty()
            && shown
                .iter()
                .all(|v| v.as_str().is_some_and(|v| v.contains(" 0 "))),
        "{office}"
    );
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
