//! The analytics copy (SQL over all history): a render copies each archived day once into
//! `analytics/<table>/date=.../part-N.json.gz`, and its rows say what the dashboard says.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use chrono::Duration as Span;
use webex_quality::collect::Outcome;
use webex_quality::history;
use webex_quality::quality::Thresholds;
use webex_quality::site::analytics::{TABLES, object_key, write_analytics};
use webex_quality::site::offices::Offices;
use webex_quality::site::{SiteOptions, render_from_store};
use webex_quality::storage::{Fetched, FolderStore, ObjectStore, SharedStore};
use webex_sim::SimConfig;

use crate::helpers::*;

type Row = serde_json::Map<String, serde_json::Value>;

/// The rows of a gzipped JSON Lines object.
async fn rows(store: &dyn ObjectStore, key: &str) -> Vec<Row> {
    let Fetched::Found(object) = store.get(key, None).await.unwrap() else {
        panic!("{key} is missing");
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(object.bytes.as_ref())
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn json_file(store: &dyn ObjectStore, key: &str) -> Vec<Row> {
    let Fetched::Found(object) = store.get(key, None).await.unwrap() else {
        panic!("{key} is missing");
    };
    serde_json::from_slice(&object.bytes).unwrap()
}

fn text<'a>(row: &'a Row, key: &str) -> &'a str {
    row.get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("{key} in {row:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_archived_day_is_copied_once_and_its_rows_say_what_the_dashboard_says() {
    // Three days of meetings, collected every two hours until every day is archived.
    let days = 3;
    let sim = spawn_sim_at(
        week_start() + Span::minutes(15),
        SimConfig {
            first_day: Some(week_start()),
            days,
            meetings_per_day: Some(5),
            ..SimConfig::default()
        },
    )
    .await;
    let store: SharedStore = Arc::new(FolderStore::new(temp_dir("analytics-store")).unwrap());
    store_login(&sim, &store).await;
    let collector = collector(&sim, &store, temp_dir("analytics"), quick_cycle());
    let end = week_start() + Span::days(i64::from(days) + 2) + Span::hours(2);
    while sim.clock().now() <= end {
        let report = collector.run_cycle().await.unwrap();
        assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
        sim.clock().advance(Span::hours(2));
    }
    let archives = history::list_archives(&store).await.unwrap();
    assert!(archives.len() >= 3, "{archives:?}");

    let site: SharedStore = Arc::new(FolderStore::new(temp_dir("analytics-site")).unwrap());
    let options = SiteOptions {
        offices: Arc::new(Offices::parse(&webex_sim::org::sites_csv()).unwrap()),
        ..SiteOptions::default()
    };
    let render = async || {
        render_from_store(
            &store,
            site.as_ref(),
            temp_dir("analytics-render"),
            options.clone(),
            &Thresholds::default(),
            sim_clock(&sim),
        )
        .await
        .unwrap()
    };
    let first = render().await;
    assert_eq!(first.analytics_parts, archives.len(), "every archived day");

    // Each day's rows against the dashboard's exports of the same day.
    let emails: Vec<String> = sim.org().people.iter().map(|p| p.email.clone()).collect();
    let mut checked = 0;
    for archive in &archives {
        let day = archive.day;
        let meetings = rows(store.as_ref(), &object_key("meetings", *archive)).await;
        let sessions = rows(store.as_ref(), &object_key("sessions", *archive)).await;
        let intervals = rows(store.as_ref(), &object_key("intervals", *archive)).await;
        if meetings.is_empty() {
            // A day with runs but no meeting (the archive holds its runs): empty tables.
            assert!(sessions.is_empty() && intervals.is_empty(), "{day}");
            continue;
        }
        let shown_meetings = json_file(site.as_ref(), &format!("days/{day}.json")).await;
        let shown_sessions = json_file(site.as_ref(), &format!("days/{day}.sessions.json")).await;
        // Meetings: the day page's rows, verdicts and figures alike (the day page lists them
        // most affected first; the copy, by start).
        let by_id = |rows: &[Row]| -> BTreeMap<String, Row> {
            rows.iter()
                .map(|r| (text(r, "instance_id").to_owned(), r.clone()))
                .collect()
        };
        assert_eq!(by_id(&meetings), by_id(&shown_meetings), "{day}: meetings");
        // Sessions: the same rows as the day's sessions export, plus their ids.
        assert_eq!(sessions.len(), shown_sessions.len(), "{day}: sessions");
        for (copy, shown) in sessions.iter().zip(&shown_sessions) {
            for (key, value) in shown {
                assert_eq!(copy.get(key), Some(value), "{day}: {key} of {copy:?}");
            }
            assert!(!text(copy, "person_id").is_empty());
            assert!(!text(copy, "office").is_empty(), "offices configured");
        }
        // Intervals: per session and stream, the poor minutes the dashboard counts, and intervals
        // with data exactly for the streams the dashboard judged.
        let mut poor: BTreeMap<(String, u64, String), u64> = BTreeMap::new();
        let mut judged: BTreeMap<(String, u64, String), u64> = BTreeMap::new();
        for row in &intervals {
            let key = (
                text(row, "meeting_id").to_owned(),
                row["session_index"].as_u64().unwrap(),
                text(row, "stream").to_owned(),
            );
            *judged.entry(key.clone()).or_default() += u64::from(text(row, "verdict") != "no data");
            *poor.entry(key).or_default() += u64::from(text(row, "verdict") == "poor");
            assert!(
                chrono::DateTime::parse_from_rfc3339(text(row, "at")).is_ok(),
                "{row:?}"
            );
        }
        assert!(!intervals.is_empty(), "{day}");
        for session in &sessions {
            let id = text(session, "meeting_id").to_owned();
            let index = session["session_index"].as_u64().unwrap();
            for (stream, column) in [
                ("audio", "audio"),
                ("video", "video"),
                ("sharing", "sharing"),
            ] {
                let counted = poor
                    .get(&(id.clone(), index, stream.to_owned()))
                    .copied()
                    .unwrap_or(0);
                assert_eq!(
                    Some(counted),
                    session[&format!("{column}_poor_minutes")].as_u64(),
                    "{id} session {index} {stream}"
                );
                let judged = judged
                    .get(&(id.clone(), index, stream.to_owned()))
                    .copied()
                    .unwrap_or(0);
                assert_eq!(
                    judged == 0,
                    text(session, column) == "no data",
                    "{id} session {index} {stream}: intervals with data, and the verdict"
                );
            }
            checked += 1;
        }
        // Personal data follows the masking setting: no email in the clear.
        for row in sessions.iter().chain(&intervals) {
            let line = serde_json::to_string(row).unwrap();
            assert!(
                !emails.iter().any(|e| line.contains(e.as_str())),
                "an email in the clear: {line}"
            );
        }
    }
    assert!(checked > 20, "{checked} sessions checked");

    // The Glue tables of infra/ (what Athena reads) have exactly the rows' columns.
    let template = crate::infra::template();
    let archive = archives
        .iter()
        .find(|a| a.day == week_start().date_naive())
        .unwrap();
    for (table, resource) in [
        ("intervals", "AnalyticsIntervalsTable"),
        ("sessions", "AnalyticsSessionsTable"),
        ("meetings", "AnalyticsMeetingsTable"),
    ] {
        let input = &template["Resources"][resource]["Properties"]["TableInput"];
        assert_eq!(input["Name"].as_str(), Some(table));
        let columns: std::collections::BTreeSet<&str> = input["StorageDescriptor"]["Columns"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c["Name"].as_str().unwrap())
            .collect();
        let rows = rows(store.as_ref(), &object_key(table, *archive)).await;
        for row in &rows {
            let keys: std::collections::BTreeSet<&str> = row.keys().map(String::as_str).collect();
            assert_eq!(keys, columns, "{table}");
        }
    }

    // Written once: the next render copies nothing; a part whose marker is gone is written again.
    assert_eq!(render().await.analytics_parts, 0);
    let part = archives[0];
    let before = rows(store.as_ref(), &object_key("intervals", part)).await;
    store.delete(&object_key("meetings", part)).await.unwrap();
    store.delete(&object_key("intervals", part)).await.unwrap();
    sim.clock().advance(Span::minutes(5));
    let again = render().await;
    assert_eq!(again.analytics_parts, 1);
    assert_eq!(
        rows(store.as_ref(), &object_key("intervals", part)).await,
        before
    );

    // `export --analytics`: the same files into a folder, for DuckDB.
    let folder = temp_dir("analytics-export");
    let out = FolderStore::new(folder.clone()).unwrap();
    let written = write_analytics(
        &store,
        &out,
        &temp_dir("analytics-export-work"),
        (&options, &Thresholds::default()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(written.parts, archives.len());
    let mut meetings = 0;
    for archive in &archives {
        for table in TABLES {
            let key = object_key(table, *archive);
            assert!(folder.join(&key).is_file(), "{key}");
        }
        meetings += rows(&out, &object_key("meetings", *archive)).await.len();
    }

    // The README's queries run in DuckDB on that export, and count what the copy holds.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = std::process::Command::new(repo.join("target/test-tools/venv/bin/python"))
        .arg(repo.join("tests/analytics/readme_queries.py"))
        .arg(&folder)
        .arg(repo.join("README.md"))
        .output()
        .expect("the test tools' Python (tests/run installs DuckDB into it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results.len(), 3, "three queries");
    for result in &results {
        assert!(
            !result["rows"].as_array().unwrap().is_empty(),
            "{}",
            result["query"]
        );
    }
    // By office and stream: every office of the simulated week, and remote.
    let offices: std::collections::BTreeSet<&str> = results[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    assert!(
        offices.contains("remote") && offices.len() >= 3,
        "{offices:?}"
    );
    // Meetings by day and verdict: every meeting once.
    let counted: u64 = results[2]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[2].as_u64().unwrap())
        .sum();
    assert_eq!(counted, meetings as u64);
    sim.shutdown().await;
}
