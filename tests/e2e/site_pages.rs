//! Dashboard pages rendered from collected data: the figures match the raw data they came from.

use std::time::Duration;

use chrono::Duration as Span;
use webex_quality::collect::CycleSettings;
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
    let store: webex_quality::storage::SharedStore = std::sync::Arc::new(
        webex_quality::storage::FolderStore::new(temp_dir("site-store")).unwrap(),
    );
    store_login(&sim, &store).await;
    let settings = CycleSettings {
        budget: Duration::from_secs(60),
        upload_reserve: Duration::from_secs(10),
        ..CycleSettings::default()
    };
    collector(&sim, &store, temp_dir("site-work"), settings)
        .run_cycle()
        .await
        .unwrap();
    let db = stored_database(&store).await;

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
    for item in &raw {
        assert!(
            html.contains(&format!(
                "<summary>{} ·",
                askama_escape(&item.webex_user_name)
            )),
            "{}",
            item.webex_user_name
        );
    }
    // Saved for review.
    let preview = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site-preview");
    std::fs::create_dir_all(preview.join("meetings")).unwrap();
    std::fs::create_dir_all(preview.join("assets")).unwrap();
    std::fs::write(preview.join("meetings/sample.html"), &html).unwrap();
    std::fs::write(
        preview.join("assets/style.css"),
        webex_quality::site::STYLE_CSS,
    )
    .unwrap();
    std::fs::write(preview.join("assets/app.js"), webex_quality::site::APP_JS).unwrap();
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
