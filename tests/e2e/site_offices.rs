//! Offices (`WEBEX_QUALITY_SITES_FILE`): the breakdowns and each office's page count exactly the
//! sessions that joined from the office's IP ranges.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration as Span;
use webex_quality::quality::Thresholds;
use webex_quality::site::SiteOptions;
use webex_quality::site::offices::{Offices, REMOTE, office_path};
use webex_sim::SimConfig;

use crate::helpers::*;

/// The office a simulated session came from, decided from its addresses by the simulator's own
/// plan (not by the product's lookup).
fn expected_office(local: &str, public: &str) -> &'static str {
    webex_sim::org::OFFICES
        .iter()
        .find(|o| local.starts_with(&format!("10.{}.", o.lan)) || public == o.public_ip)
        .map_or(REMOTE, |o| o.name)
}

/// The number in `<dt>{label}</dt><dd>N</dd>` of a page.
fn figure(page: &str, label: &str) -> usize {
    let marker = format!("<dt>{label}</dt><dd>");
    let start = page.find(&marker).unwrap_or_else(|| panic!("{label}")) + marker.len();
    page[start..]
        .split('<')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{label}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_office_page_counts_the_sessions_that_joined_from_its_ranges() {
    let sim = spawn_sim_at(
        week_start() + Span::days(3) + Span::hours(1),
        SimConfig::default(),
    )
    .await;
    let (_store, db) = collect_once(&sim, "site-offices").await;
    let now = sim.clock().now();
    let status = webex_quality::site::StatusView::from_sources(&db, None, now).unwrap();
    let options = SiteOptions {
        generated: now,
        offices: Arc::new(Offices::parse(&webex_sim::org::sites_csv()).unwrap()),
        ..SiteOptions::default()
    };
    let files =
        webex_quality::site::build_site(&db, &status, &options, &Thresholds::default()).unwrap();

    // What the simulator sent for every meeting the site shows, office by office.
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let mut meetings_with: BTreeMap<&str, usize> = BTreeMap::new();
    for meeting in &sim.org().meetings {
        if !files.contains_key(&webex_quality::site::meeting_path(&meeting.instance_id)) {
            continue;
        }
        let mut offices = std::collections::BTreeSet::new();
        for item in sim.org().quality_items(meeting, now) {
            let office = expected_office(&item.local_ip, &item.public_ip);
            *expected.entry(office).or_default() += 1;
            offices.insert(office);
        }
        for office in offices {
            *meetings_with.entry(office).or_default() += 1;
        }
    }
    assert_eq!(
        expected.keys().copied().collect::<Vec<_>>(),
        ["Lyon", "Paris HQ", "Singapore", REMOTE],
        "the simulated week has sessions from every office and from elsewhere"
    );
    let breakdowns = String::from_utf8(files["breakdowns.html"].clone()).unwrap();
    assert!(breakdowns.contains("<h2>By office</h2>"));
    for (office, sessions) in &expected {
        let path = office_path(office);
        let page = String::from_utf8(
            files
                .get(&path)
                .unwrap_or_else(|| panic!("{office}: no page {path}"))
                .clone(),
        )
        .unwrap();
        assert_eq!(figure(&page, "Participant sessions"), *sessions, "{office}");
        assert_eq!(
            figure(&page, "Meetings"),
            meetings_with[office],
            "{office}: meetings with a session from it"
        );
        assert!(page.contains("<h2>By network type</h2>"), "{office}");
        assert!(page.contains("<h2>By client</h2>"), "{office}");
        // The breakdowns link it, with the same count.
        assert!(
            breakdowns.contains(&format!(
                "<td><a href=\"{path}\">{}</a></td><td>{sessions}</td>",
                office.replace('&', "&#38;")
            )),
            "{office}: {sessions} sessions in the breakdowns"
        );
    }
    // The meetings list (the whole simulated week is within its 7 days) filters by office: each
    // row names the offices of its participants, as indexes into the filter's options.
    let list = String::from_utf8(files["meetings.html"].clone()).unwrap();
    let names = ["Lyon", "Paris HQ", "Singapore", REMOTE];
    let options: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("<option value=\"{i}\">{n}</option>"))
        .collect();
    assert!(
        list.contains(&format!(
            "<select id=\"office-filter\"><option value=\"\">any</option>{options}</select>"
        )),
        "the office filter"
    );
    let rows: Vec<&str> = list
        .split("data-offices=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(
        rows.len(),
        list.matches("<tr data-verdict=").count(),
        "every row names its offices"
    );
    for (i, office) in names.iter().enumerate() {
        let marked = rows
            .iter()
            .filter(|r| r.contains(&format!(" {i} ")))
            .count();
        assert_eq!(
            marked, meetings_with[office],
            "{office}: meetings in the list"
        );
    }
    // Without a sites file: no offices anywhere.
    let plain = webex_quality::site::build_site(
        &db,
        &status,
        &SiteOptions {
            generated: now,
            ..SiteOptions::default()
        },
        &Thresholds::default(),
    )
    .unwrap();
    assert!(!plain.keys().any(|p| p.starts_with("offices/")));
    assert!(!String::from_utf8_lossy(&plain["breakdowns.html"]).contains("By office"));
    let plain_list = String::from_utf8_lossy(&plain["meetings.html"]);
    assert!(!plain_list.contains("office-filter") && !plain_list.contains("data-offices"));
}
