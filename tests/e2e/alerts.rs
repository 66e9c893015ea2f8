//! Alerts after each cycle: posted to the simulator's Webex space (through a bot) and to its
//! webhook sink, each alert once, through failures and a lost answer, within each rule's limit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Duration as Span;
use webex_quality::alerts::{AlertState, Alerter, Delivery, Rule};
use webex_quality::collect::Outcome;
use webex_quality::config::{AlertsConfig, Secret};
use webex_quality::quality::{Thresholds, headline, meeting_report};
use webex_quality::storage::{FolderStore, SharedStore};
use webex_sim::SimConfig;
use webex_sim::faults::{Fault, Route};

use crate::helpers::*;

/// The alert ids in a message or webhook text.
fn alert_id(text: &str) -> String {
    text.rsplit("alert id: ")
        .next()
        .unwrap()
        .replace('\\', "")
        .trim()
        .to_owned()
}

/// Alerts to the simulator's webhook sink only, with `rules` (JSON).
fn webhook_alerts(sim: &webex_sim::SimHandle, rules: &str) -> AlertsConfig {
    AlertsConfig {
        rules: serde_json::from_str(rules).unwrap(),
        bot_token: None,
        webhook_url: Some(Secret::new(sim.webhook_url())),
        dashboard_url: None,
        show_personal: false,
        sites_file: None,
        thresholds_file: None,
    }
}

/// A collector on a new folder store, logged in, running `config`'s alerts after each cycle.
async fn alerting_collector(
    sim: &webex_sim::SimHandle,
    name: &str,
    config: &AlertsConfig,
) -> (SharedStore, webex_quality::collect::Collector) {
    let store: SharedStore =
        Arc::new(FolderStore::new(temp_dir(&format!("{name}-store"))).unwrap());
    store_login(sim, &store).await;
    let work = temp_dir(name);
    let alerter = Alerter::new(store.clone(), config, &sim.api_url(), work.clone()).unwrap();
    let collector = collector(sim, &store, work, quick_cycle()).with_alerts(alerter);
    (store, collector)
}

async fn state(store: &SharedStore) -> AlertState {
    webex_quality::alerts::state::load(store).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_reaches_the_space_and_the_webhook_once_through_failures_and_within_limits() {
    let days = 2;
    let sim = spawn_sim_at(
        week_start() + Span::minutes(15),
        SimConfig {
            first_day: Some(week_start()),
            days,
            meetings_per_day: Some(12),
            ..SimConfig::default()
        },
    )
    .await;
    let store: SharedStore = Arc::new(FolderStore::new(temp_dir("alerts-store")).unwrap());
    store_login(&sim, &store).await;
    let sites = temp_dir("alerts-sites").join("sites.csv");
    std::fs::write(&sites, webex_sim::org::sites_csv()).unwrap();
    let limit = 3;
    let config = AlertsConfig {
        rules: serde_json::from_value(serde_json::json!({
            "webex_room_id": "room-ops",
            "meeting_poor_participants": 2,
            "person_poor_meetings": 3,
            "office_poor_percent": 5.0,
            "office_minimum_minutes": 20,
            "max_per_rule_per_hour": limit,
        }))
        .unwrap(),
        bot_token: Some(Secret::new(webex_sim::messages::BOT_TOKEN)),
        webhook_url: Some(Secret::new(sim.webhook_url())),
        dashboard_url: Some("https://dashboard.example".into()),
        show_personal: false,
        sites_file: Some(sites),
        thresholds_file: None,
    };
    let work = temp_dir("alerts");
    let alerter = Alerter::new(store.clone(), &config, &sim.api_url(), work.clone()).unwrap();
    let collector = collector(&sim, &store, work, quick_cycle()).with_alerts(alerter);

    // Every 30 minutes through the two days and the next; the space refuses three posts in the
    // middle of it.
    let end = week_start() + Span::days(i64::from(days) + 1);
    let mut failures = 0;
    let mut cycles = 0;
    while sim.clock().now() <= end {
        if cycles == 40 {
            sim.faults().inject(Route::Messages, Fault::Status(503), 3);
        }
        let report = collector.run_cycle().await.unwrap();
        assert_eq!(report.outcome, Outcome::Ok, "{report:?}");
        let alerts = report.alerts.expect("the alerts ran");
        failures += alerts.failures;
        cycles += 1;
        sim.clock().advance(Span::minutes(30));
    }
    assert!(failures >= 1, "the refused posts were failures");

    let messages = sim.messages();
    let posted: Vec<String> = messages.iter().map(|m| alert_id(&m.markdown)).collect();
    let unique: BTreeSet<&String> = posted.iter().collect();
    assert_eq!(unique.len(), posted.len(), "no alert twice in the space");
    assert!(messages.iter().all(|m| m.room_id == "room-ops"));
    let hooked: Vec<String> = sim
        .webhooks()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        hooked.iter().collect::<BTreeSet<_>>(),
        unique,
        "the webhook got the same alerts"
    );
    assert_eq!(hooked.len(), posted.len(), "no alert twice to the webhook");

    // Every alert raised is sent, or suppressed by its rule's limit: never both, never neither.
    let alerts = state(&store).await;
    for (id, entry) in &alerts.alerts {
        match entry.delivery {
            Delivery::Sent => assert!(unique.contains(id), "{id} sent"),
            Delivery::Suppressed => assert!(!unique.contains(id), "{id} suppressed"),
            other => panic!("{id}: {other:?}"),
        }
    }
    // No rule sent more than its limit in any hour.
    for (id, entry) in &alerts.alerts {
        let in_hour = alerts
            .alerts
            .values()
            .filter(|e| {
                e.rule == entry.rule
                    && e.delivery == Delivery::Sent
                    && e.created <= entry.created
                    && e.created > entry.created - Span::hours(1)
            })
            .count();
        assert!(in_hour <= limit as usize, "{id}: {in_hour} in an hour");
    }
    let rules: BTreeSet<Rule> = alerts.alerts.values().map(|e| e.rule).collect();
    assert!(
        rules.contains(&Rule::MeetingPoor)
            && rules.contains(&Rule::PersonPoor)
            && rules.contains(&Rule::OfficePoor),
        "{rules:?}"
    );
    // Offices' alerts name offices of the sites file, never "remote".
    for id in alerts
        .alerts
        .keys()
        .filter(|id| id.starts_with("office_poor:"))
    {
        let office = id.split(':').nth(1).unwrap();
        assert!(
            webex_sim::org::OFFICES.iter().any(|o| o.name == office),
            "{id}"
        );
    }

    // The poor-meeting alerts are exactly the meetings with at least 2 poor participants.
    let mut expected = BTreeSet::new();
    for part in stored_partitions(&store).await {
        for meeting in part.db.meetings().unwrap() {
            let pages = part.db.latest_complete_pages(&meeting.instance_id).unwrap();
            let Some(start) = meeting.start else { continue };
            if pages.is_empty() {
                continue;
            }
            let report = meeting_report(
                pages.iter().map(|p| p.body.as_ref()),
                start,
                &Thresholds::default(),
            );
            let h = headline::of_report(&report, &meeting.host_email, &Thresholds::default());
            if h.participants.poor >= 2 {
                expected.insert(format!("meeting_poor:{}", meeting.instance_id));
            }
        }
    }
    let raised: BTreeSet<String> = alerts
        .alerts
        .iter()
        .filter(|(_, e)| e.rule == Rule::MeetingPoor)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(raised, expected, "every qualifying meeting, once");

    // What the alerts say: links to the dashboard, Webex's strings escaped, no email in clear.
    let emails: Vec<&str> = sim.org().people.iter().map(|p| p.email.as_str()).collect();
    for message in &messages {
        assert!(
            !emails.iter().any(|e| message.markdown.contains(e)),
            "{}",
            message.markdown
        );
        if message.markdown.starts_with("**Poor meeting**") {
            assert!(
                message
                    .markdown
                    .contains("(https://dashboard.example/meetings/"),
                "{}",
                message.markdown
            );
        }
    }
    if let Some(hostile) = messages.iter().find(|m| m.markdown.contains("All hands")) {
        assert!(
            hostile.markdown.contains("\\<Q3\\>"),
            "{}",
            hostile.markdown
        );
    }

    // A post whose answer was lost (the run stopped before recording it): the next run finds it
    // in the space and does not post it again.
    let mut lost = alerts.clone();
    let (id, entry) = lost
        .alerts
        .iter_mut()
        .find(|(_, e)| e.delivery == Delivery::Sent)
        .unwrap();
    let id = id.clone();
    entry.delivery = Delivery::Pending;
    entry.sent_to = BTreeSet::from(["webhook".to_owned()]);
    entry.attempts = 1;
    let (_, version) = webex_quality::alerts::state::load(&store).await.unwrap();
    webex_quality::alerts::state::save(&store, &lost, version.as_ref())
        .await
        .unwrap();
    let before = sim.messages().len();
    sim.clock().advance(Span::minutes(5));
    collector.run_cycle().await.unwrap();
    assert_eq!(sim.messages().len(), before, "not posted again");
    assert_eq!(
        state(&store).await.alerts[&id].delivery,
        Delivery::Sent,
        "found in the space"
    );
    let per_id: BTreeMap<String, usize> =
        sim.messages()
            .iter()
            .fold(BTreeMap::new(), |mut counts, m| {
                *counts.entry(alert_id(&m.markdown)).or_default() += 1;
                counts
            });
    assert!(per_id.values().all(|n| *n == 1));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_needed_and_a_failing_collection_are_each_told_once() {
    let sim = spawn_sim_at(
        week_start() + Span::hours(12),
        SimConfig {
            access_lifetime: Span::days(2),
            ..SimConfig::default()
        },
    )
    .await;
    // The health rules are on by default: an empty rules file and a webhook.
    let (_store, collector) =
        alerting_collector(&sim, "alerts-auth", &webhook_alerts(&sim, "{}")).await;
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);

    // The refresh token is revoked: every cycle from the next due refresh on needs a login.
    sim.revoke_refresh_tokens();
    sim.clock().advance(Span::hours(25));
    for _ in 0..6 {
        let report = collector.run_cycle().await.unwrap();
        assert!(
            matches!(report.outcome, Outcome::AuthorizationRequired(_)),
            "{:?}",
            report.outcome
        );
        sim.clock().advance(Span::minutes(10));
    }
    let ids: Vec<String> = sim
        .webhooks()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    let count = |prefix: &str| ids.iter().filter(|id| id.starts_with(prefix)).count();
    assert_eq!(count("authorization_needed:"), 1, "{ids:?}");
    assert_eq!(count("no_cycle:"), 1, "{ids:?}");
    let texts: Vec<String> = sim
        .webhooks()
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("**Authorization needed**") && t.contains("revoked")),
        "{texts:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_about_to_leave_the_7_day_window_unfetched_are_told_once_each() {
    let sim = spawn_sim_at(
        week_start() + Span::minutes(15),
        SimConfig {
            first_day: Some(week_start()),
            days: 1,
            meetings_per_day: Some(4),
            ..SimConfig::default()
        },
    )
    .await;
    let config = webhook_alerts(&sim, r#"{"window_closing_hours": 12}"#);
    let (_store, collector) = alerting_collector(&sim, "alerts-window", &config).await;
    // Webex answers no qualities call for the whole week; cycles from day 6 on (the first lists
    // every meeting of the window) until the window has closed.
    sim.faults()
        .inject(Route::Qualities, Fault::Status(500), 1_000_000);
    sim.clock().advance(Span::days(6));
    let end = week_start() + Span::days(8);
    while sim.clock().now() <= end {
        collector.run_cycle().await.unwrap();
        sim.clock().advance(Span::hours(3));
    }
    let ids: Vec<String> = sim
        .webhooks()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = sim
        .org()
        .meetings
        .iter()
        .map(|m| format!("window_closing:{}", m.instance_id))
        .collect();
    let closing: Vec<&String> = ids
        .iter()
        .filter(|id| id.starts_with("window_closing:"))
        .collect();
    assert_eq!(closing.len(), expected.len(), "{ids:?}");
    assert_eq!(
        closing.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    sim.shutdown().await;
}
