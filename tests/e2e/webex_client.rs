//! The Webex client against the simulator: listing meetings across pages and windows, qualities
//! pages byte for byte, the regional host, Webex's windows and scopes, malformed bodies.

use chrono::Utc;
use webex_quality::webex::{ClientOptions, MeetingInstanceId, MeetingQuery, WebexError};
use webex_sim::{Fault, Route, SimConfig};

use crate::helpers::*;

#[tokio::test]
async fn list_meetings_follows_link_over_many_pages() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        meetings_page_size: 5,
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    let listing = client
        .list_meetings(&whole_week(), deadline())
        .await
        .unwrap();
    let expected: Vec<&str> = sim
        .org()
        .meetings
        .iter()
        .map(|m| m.instance_id.as_str())
        .collect();
    let got: Vec<&str> = listing.meetings.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(got, expected, "every instance once, in start order");
    assert!(
        listing.requests >= 3 * 7,
        "several pages per daily slice: {}",
        listing.requests
    );
    let all_hands = listing
        .meetings
        .iter()
        .find(|m| {
            m.view
                .title
                .as_deref()
                .is_some_and(|t| t.starts_with("All hands"))
        })
        .unwrap();
    assert_eq!(all_hands.view.state.as_deref(), Some("ended"));
    assert!(all_hands.raw.get().contains("\"meetingSeriesId\""));
    sim.shutdown().await;
}

#[tokio::test]
async fn list_meetings_splits_a_window_that_reaches_the_cap() {
    let config = SimConfig {
        meetings_cap: 8,
        ..SimConfig::default()
    };
    let sim = spawn_sim_at(week_start() + chrono::Duration::days(7), config).await;
    let options = ClientOptions {
        meetings_list_cap: 8,
        meetings_page_size: 100,
        meetings_window_slice: chrono::Duration::days(7),
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    let listing = client
        .list_meetings(&whole_week(), deadline())
        .await
        .unwrap();
    assert_eq!(
        listing.meetings.len(),
        sim.org().meetings.len(),
        "nothing lost to the cap"
    );
    assert!(
        listing.windows > 10,
        "the week was halved until each part fit: {}",
        listing.windows
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn qualities_pages_come_back_byte_for_byte_with_their_metadata() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        qualities_page_size: 4,
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    let meeting = sim
        .org()
        .meetings
        .iter()
        .find(|m| m.attendances.len() >= 10)
        .unwrap();
    let id = MeetingInstanceId::parse(&meeting.instance_id).unwrap();
    let pages = client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap();
    let items = sim.org().quality_items(meeting, sim.clock().now());
    assert!(pages.len() >= 3, "{} pages", pages.len());
    assert_eq!(pages.len(), items.len().div_ceil(4));
    for (n, page) in pages.iter().enumerate() {
        let expected = serde_json::to_vec(
            &serde_json::json!({"items": items.iter().skip(n * 4).take(4).collect::<Vec<_>>()}),
        )
        .unwrap();
        assert_eq!(page.body.as_ref(), expected.as_slice(), "page {}", n + 1);
        assert_eq!(page.status, 200);
        assert_eq!(page.fetched_at, sim.clock().now());
        assert!(
            page.tracking_id.starts_with("WEBEXQUALITY_"),
            "{}",
            page.tracking_id
        );
        assert!(
            page.request_url
                .contains(&format!("meetingId={}", meeting.instance_id))
        );
    }
    assert!(pages.last().unwrap().next.is_none());
    assert_eq!(
        sim.stats().qualities_calls(),
        1,
        "one call, its pages followed by Link"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_malformed_body_is_an_error_that_keeps_the_raw_body_and_tracking_id() {
    let sim = spawn_sim().await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    sim.faults().inject(Route::Qualities, Fault::Malformed, 1);
    let id = MeetingInstanceId::parse(&sim.org().meetings[5].instance_id).unwrap();
    let fetch = client.meeting_qualities(&id, deadline()).await;
    match fetch.error {
        Some(WebexError::Malformed {
            body, tracking_id, ..
        }) => {
            assert!(body.starts_with(b"{\"items\":["), "raw body kept");
            assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
            assert!(tracking_id.starts_with("WEBEXQUALITY_"), "{tracking_id}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_451_moves_analytics_to_the_regional_host_it_names() {
    let sim = spawn_sim().await;
    sim.require_regional_analytics_host();
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    let id = MeetingInstanceId::parse(&sim.org().meetings[7].instance_id).unwrap();
    let pages = client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap();
    assert!(pages[0].request_url.starts_with(&format!(
        "http://localhost:{}/analytics/v1/",
        sim.addr().port()
    )));
    assert_eq!(client.analytics_url().host_str(), Some("localhost"));
    assert_eq!(sim.stats().answers(Route::Qualities, 451), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn qualities_respect_webex_windows_and_scopes() {
    let start = week_start() + chrono::Duration::days(1);
    let sim = spawn_sim_at(start, SimConfig::default()).await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    let first = sim
        .org()
        .meetings
        .iter()
        .find(|m| m.start >= start)
        .unwrap()
        .clone();
    let id = MeetingInstanceId::parse(&first.instance_id).unwrap();
    // Before it starts: unknown.
    let err = client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap_err();
    assert!(
        matches!(err, WebexError::Status { status: 404, .. }),
        "{err:?}"
    );
    // Five minutes in: no data yet.
    sim.clock().set(first.start + chrono::Duration::minutes(5));
    let early = client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap();
    assert_eq!(
        webex_quality::webex::model::parse_qualities(&early[0].body)
            .unwrap()
            .items
            .len(),
        0
    );
    // Later, in progress: data so far.
    sim.clock().set(first.start + chrono::Duration::minutes(12));
    let during = client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap();
    let page = webex_quality::webex::model::parse_qualities(&during[0].body).unwrap();
    assert!(!page.items.is_empty());
    assert!(
        page.items
            .iter()
            .all(|s| s.audio_in.iter().map(|a| a.latency.len()).sum::<usize>() <= 12)
    );
    // A series id is refused.
    let series = MeetingInstanceId::parse(&format!("{}_I_0", first.series_id)).unwrap();
    let err = client
        .meeting_qualities(&series, deadline())
        .await
        .into_result()
        .unwrap_err();
    assert!(matches!(err, WebexError::Status { status: 404, .. }));
    // After 7 days: gone.
    sim.clock().set(first.start + chrono::Duration::days(8));
    let err = client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap_err();
    assert!(
        matches!(&err, WebexError::Status { status: 404, message, .. } if message.contains("7 days")),
        "{err:?}"
    );
    let _ = Utc::now();
    sim.shutdown().await;
}

#[tokio::test]
async fn list_meetings_sees_only_started_meetings_with_their_live_state() {
    // Wednesday 16:30: the all-hands is in progress, later meetings have not started.
    let now = week_start() + chrono::Duration::days(2) + chrono::Duration::minutes(16 * 60 + 30);
    let sim = spawn_sim_at(now, SimConfig::default()).await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    let query = MeetingQuery {
        from: now - chrono::Duration::days(7),
        to: now,
        state: None,
    };
    let listing = client.list_meetings(&query, deadline()).await.unwrap();
    let started = sim.org().meetings.iter().filter(|m| m.start <= now).count();
    assert_eq!(listing.meetings.len(), started);
    let live: Vec<_> = listing
        .meetings
        .iter()
        .filter(|m| m.view.state.as_deref() == Some("inProgress"))
        .collect();
    assert!(live.iter().any(|m| {
        m.view
            .title
            .as_deref()
            .is_some_and(|t| t.starts_with("All hands"))
    }));
    assert!(live.iter().all(|m| m.view.end.unwrap() > now));
    let ended = MeetingQuery {
        state: Some("ended".into()),
        ..query
    };
    let listing = client.list_meetings(&ended, deadline()).await.unwrap();
    assert_eq!(listing.meetings.len(), started - live.len());
    sim.shutdown().await;
}

/// The instance id of the simulator's meeting `index`.
fn meeting_id(sim: &webex_sim::SimHandle, index: usize) -> MeetingInstanceId {
    MeetingInstanceId::parse(&sim.org().meetings[index].instance_id).unwrap()
}

/// The URL and reason of a refused answer; any other outcome fails the test.
fn refused(error: Option<WebexError>) -> (String, String) {
    match error {
        Some(WebexError::Refused { url, reason }) => (url, reason),
        other => panic!("expected Refused, got {other:?}"),
    }
}

/// A local port that counts the connections made to it: where a hostile `Link` points.
async fn connection_counter() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

#[tokio::test]
async fn the_access_token_follows_no_link_away_from_webex_or_the_configured_hosts() {
    let sim = spawn_sim().await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    let (port, connections) = connection_counter().await;
    for (index, target) in [
        // Another port of this machine: not the configured base's origin.
        format!("http://127.0.0.1:{port}/analytics/v1/meeting/qualities?offset=1"),
        // Plain HTTP to Webex's own host name.
        format!("http://analytics.webexapis.com:{port}/v1/meeting/qualities?offset=1"),
        "https://collector.evil.example/v1/meeting/qualities?offset=1".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        // One meeting each: Webex allows one qualities call per meeting every 5 minutes.
        let id = meeting_id(&sim, 7 + index);
        sim.faults()
            .inject(Route::Qualities, Fault::NextLink(target.clone()), 1);
        let fetch = client.meeting_qualities(&id, deadline()).await;
        assert_eq!(fetch.pages.len(), 1, "the first page is kept: {target}");
        let (url, reason) = refused(fetch.error);
        assert_eq!(url, target);
        assert!(reason.contains("access token is not sent"), "{reason}");
    }
    sim.faults().inject(
        Route::Meetings,
        Fault::NextLink(format!("http://127.0.0.1:{port}/v1/meetings?offset=1")),
        1,
    );
    let listed = client.list_meetings(&whole_week(), deadline()).await;
    assert!(
        matches!(listed, Err(WebexError::Refused { .. })),
        "{listed:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was sent to the hostile port"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_451_naming_a_host_outside_webex_is_refused_and_analytics_stays_put() {
    let sim = spawn_sim().await;
    sim.name_regional_analytics_host("analytics.evil.example");
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    let before = client.analytics_url();
    let fetch = client
        .meeting_qualities(&meeting_id(&sim, 7), deadline())
        .await;
    let (url, reason) = refused(fetch.error);
    assert!(url.contains("analytics.evil.example"), "{url}");
    assert!(reason.contains("451"), "{reason}");
    assert_eq!(client.analytics_url(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_answer_over_the_body_limit_is_refused_once_not_retried() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        max_body_bytes: 1_000,
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    let fetch = client
        .meeting_qualities(&meeting_id(&sim, 7), deadline())
        .await;
    let (_, reason) = refused(fetch.error);
    assert!(reason.contains("over the 1000-byte limit"), "{reason}");
    assert_eq!(sim.stats().requests(Route::Qualities), 1, "not retried");
    sim.shutdown().await;
}

#[tokio::test]
async fn qualities_paging_that_goes_on_forever_stops_at_the_page_limit() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        max_pages: 3,
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    let id = meeting_id(&sim, 7);
    let analytics = client.analytics_url();
    // Each answer links to a new page (another offset), as a broken server might for ever.
    for offset in 1..=5 {
        let mut next = analytics.join("meeting/qualities").unwrap();
        next.query_pairs_mut()
            .append_pair("meetingId", id.as_str())
            .append_pair("offset", &offset.to_string());
        sim.faults()
            .inject(Route::Qualities, Fault::NextLink(next.to_string()), 1);
    }
    let fetch = client.meeting_qualities(&id, deadline()).await;
    assert_eq!(fetch.pages.len(), 3);
    let (_, reason) = refused(fetch.error);
    assert!(reason.contains("past 3 pages"), "{reason}");
    assert_eq!(sim.stats().requests(Route::Qualities), 3);
    sim.shutdown().await;
}
