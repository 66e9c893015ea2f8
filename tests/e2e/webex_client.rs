//! The Webex client against the simulator: one test per behaviour of `webex_quality::webex`.

use std::time::Duration;

use chrono::Utc;
use webex_quality::config::Secret;
use webex_quality::webex::{
    ClientOptions, Credentials, MeetingInstanceId, MeetingQuery, WebexClient, WebexError,
};
use webex_sim::{Fault, Route, SimConfig};

use crate::helpers::*;

fn whole_week() -> MeetingQuery {
    MeetingQuery {
        from: week_start(),
        to: week_start() + chrono::Duration::days(7),
        state: None,
    }
}

#[tokio::test]
async fn authorize_url_carries_every_parameter_webex_needs() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let request = oauth.authorize_url();
    let pairs: std::collections::HashMap<String, String> =
        request.url.query_pairs().into_owned().collect();
    assert!(
        request
            .url
            .as_str()
            .starts_with(&format!("{}/authorize?", sim.api_url()))
    );
    assert_eq!(pairs["client_id"], sim.config().client_id);
    assert_eq!(pairs["response_type"], "code");
    assert_eq!(pairs["redirect_uri"], REDIRECT_URI);
    assert_eq!(
        pairs["scope"],
        "meeting:schedules_read meeting:admin_schedule_read analytics:read_all spark:people_read"
    );
    assert_eq!(pairs["state"], request.state);
    assert_eq!(pairs["code_challenge_method"], "S256");
    assert_eq!(pairs["code_challenge"].len(), 43);
    assert!(
        !request
            .url
            .as_str()
            .contains(request.pkce_verifier.expose())
    );
    assert_eq!(format!("{:?}", request.pkce_verifier), "[redacted]");
    sim.shutdown().await;
}

#[tokio::test]
async fn code_exchange_gives_a_record_with_absolute_expiry_times() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let record = login(&sim, &oauth).await;
    let now = sim.clock().now();
    assert_eq!(record.obtained_at, now);
    assert_eq!(
        record.access_expires_at,
        now + chrono::Duration::seconds(1_209_599)
    );
    assert_eq!(
        record.refresh_expires_at,
        Some(now + chrono::Duration::seconds(7_775_999))
    );
    let printed = format!("{record:?}");
    assert!(!printed.contains(record.access_token.expose()));
    assert!(!printed.contains(record.refresh_token.as_ref().unwrap().expose()));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_code_is_single_use_and_a_wrong_verifier_is_refused() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let (request, code) = authorize_code(&oauth).await;
    let wrong = oauth
        .exchange_code(
            &code,
            &Secret::new("not-the-verifier-but-long-enough-to-be-one-1234"),
        )
        .await;
    assert!(
        matches!(wrong, Err(WebexError::AuthorizationRequired { .. })),
        "{wrong:?}"
    );
    // The code was spent by the failed attempt.
    let again = oauth.exchange_code(&code, &request.pkce_verifier).await;
    assert!(
        matches!(again, Err(WebexError::AuthorizationRequired { .. })),
        "{again:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_declined_authorization_redirects_with_access_denied() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    sim.deny_next_authorization();
    let request = oauth.authorize_url();
    let location = browser_redirect(&request.url).await;
    let pairs: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(
        pairs.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert_eq!(pairs.get("state"), Some(&request.state));
    assert!(!pairs.contains_key("code"));
    sim.shutdown().await;
}

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
async fn a_429_is_honoured_by_waiting_for_retry_after() {
    let sim = spawn_sim().await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    sim.faults().inject(Route::Meetings, Fault::Status(429), 1);
    let started = std::time::Instant::now();
    let listing = client
        .list_meetings(&whole_week(), deadline())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After: 1"
    );
    assert_eq!(listing.meetings.len(), sim.org().meetings.len());
    assert_eq!(sim.stats().answers(Route::Meetings, 429), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_past_the_deadline_says_rate_limited_until_when() {
    let sim = spawn_sim().await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    let id = MeetingInstanceId::parse(&sim.org().meetings[3].instance_id).unwrap();
    client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap();
    let started = std::time::Instant::now();
    let second = client.meeting_qualities(&id, deadline()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not sleep 300 s"
    );
    assert!(second.pages.is_empty());
    match second.error {
        Some(WebexError::RateLimited {
            until,
            retry_after,
            ref tracking_id,
            ..
        }) => {
            assert_eq!(retry_after, Duration::from_secs(300));
            assert_eq!(until, sim.clock().now() + chrono::Duration::seconds(300));
            assert!(!tracking_id.is_empty());
            let text = second.error.as_ref().unwrap().to_string();
            assert!(text.contains("rate limited until"), "{text}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_401_refreshes_once_persists_the_rotated_tokens_and_retries() {
    let sim = spawn_sim().await;
    let (client, session, sink) = oauth_webex_client(&sim, quick_options()).await;
    let before = session.record().await;
    sim.expire_access_tokens();
    let me = client.me(deadline()).await.unwrap();
    assert_eq!(me.emails, vec![sim.org().people[0].email.clone()]);
    let after = session.record().await;
    assert_ne!(after.access_token, before.access_token);
    assert_ne!(
        after.refresh_token, before.refresh_token,
        "the simulator rotates refresh tokens"
    );
    assert_eq!(
        after.refresh_expires_at, before.refresh_expires_at,
        "the refresh token keeps its 90 days"
    );
    assert_eq!(
        sink.0.lock().unwrap().as_slice(),
        std::slice::from_ref(&after),
        "saved before use"
    );
    assert_eq!(sim.stats().answers(Route::PeopleMe, 401), 1);
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        2,
        "login and one refresh"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_401_after_the_refresh_is_not_retried_again() {
    let sim = spawn_sim().await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    sim.faults().inject(Route::PeopleMe, Fault::Status(401), 2);
    let err = client.me(deadline()).await.unwrap_err();
    assert!(err.is_authorization_required(), "{err:?}");
    assert_eq!(sim.stats().answers(Route::PeopleMe, 401), 2);
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        2,
        "exactly one refresh"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_revoked_refresh_token_means_authorization_required() {
    let sim = spawn_sim().await;
    let (client, session, sink) = oauth_webex_client(&sim, quick_options()).await;
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    let err = client.me(deadline()).await.unwrap_err();
    match &err {
        WebexError::AuthorizationRequired {
            reason,
            tracking_id,
        } => {
            assert!(reason.contains("expired, revoked"), "{reason}");
            assert!(tracking_id.is_some());
        }
        other => panic!("expected AuthorizationRequired, got {other:?}"),
    }
    assert!(sink.0.lock().unwrap().is_empty(), "nothing new to save");
    assert!(
        session
            .refresh_now()
            .await
            .unwrap_err()
            .is_authorization_required()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_refresh_token_is_not_even_sent() {
    let sim = spawn_sim().await;
    let (_, session, _) = oauth_webex_client(&sim, quick_options()).await;
    sim.clock().advance(chrono::Duration::days(91));
    let err = session.refresh_now().await.unwrap_err();
    assert!(err.to_string().contains("expired at"), "{err}");
    assert_eq!(
        sim.stats().requests(Route::AccessToken),
        1,
        "only the login"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_personal_access_token_that_is_refused_is_final() {
    let sim = spawn_sim().await;
    let client = WebexClient::new(
        urls(&sim),
        Credentials::AccessToken(Secret::new("made-up")),
        quick_options(),
        sim_clock(&sim),
    )
    .unwrap();
    let err = client.me(deadline()).await.unwrap_err();
    assert!(err.is_authorization_required(), "{err:?}");
    assert_eq!(sim.stats().answers(Route::PeopleMe, 401), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let sim = spawn_sim().await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    sim.faults().inject(Route::PeopleMe, Fault::Status(503), 2);
    sim.faults().inject(Route::PeopleMe, Fault::Status(502), 1);
    client.me(deadline()).await.unwrap();
    assert_eq!(sim.stats().requests(Route::PeopleMe), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_past_the_retry_limit_are_given_up() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        max_retries: 2,
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    sim.faults().inject(Route::PeopleMe, Fault::Status(500), 10);
    match client.me(deadline()).await.unwrap_err() {
        WebexError::Unavailable {
            attempts,
            tracking_id,
            detail,
            ..
        } => {
            assert_eq!(attempts, 3);
            assert!(detail.contains("HTTP 500"), "{detail}");
            assert!(!tracking_id.is_empty());
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(sim.stats().requests(Route::PeopleMe), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_endpoint_outage_is_retried_too() {
    let sim = spawn_sim().await;
    let (_, session, _) = oauth_webex_client(&sim, quick_options()).await;
    sim.faults()
        .inject(Route::AccessToken, Fault::Status(503), 2);
    session.refresh_now().await.unwrap();
    assert_eq!(sim.stats().answers(Route::AccessToken, 503), 2);
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
async fn a_slow_answer_times_out_and_is_retried() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    sim.faults()
        .inject(Route::PeopleMe, Fault::Slow(Duration::from_secs(2)), 1);
    client.me(deadline()).await.unwrap();
    assert_eq!(
        sim.stats().answers(Route::PeopleMe, 200),
        1,
        "the slow answer was abandoned"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn timeouts_past_the_retry_limit_are_given_up() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(200),
        max_retries: 1,
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    sim.faults()
        .inject(Route::PeopleMe, Fault::Slow(Duration::from_secs(2)), 2);
    let err = client.me(deadline()).await.unwrap_err();
    assert!(
        matches!(&err, WebexError::Unavailable { attempts: 2, detail, .. } if detail.contains("timed out")),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let sim = spawn_sim().await;
    let (client, _, _) = oauth_webex_client(&sim, quick_options()).await;
    sim.faults().inject(Route::Meetings, Fault::Drop, 2);
    let listing = client
        .list_meetings(&whole_week(), deadline())
        .await
        .unwrap();
    assert_eq!(listing.meetings.len(), sim.org().meetings.len());
    assert_eq!(
        sim.stats().requests(Route::Meetings),
        listing.requests as u64 + 2,
        "two dropped answers were asked again"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_deadline_stops_retries() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        backoff_min: Duration::from_secs(5),
        backoff_max: Duration::from_secs(5),
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    sim.faults().inject(Route::PeopleMe, Fault::Status(503), 5);
    let started = std::time::Instant::now();
    let err = client
        .me(webex_quality::webex::deadline_in(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(err, WebexError::Unavailable { attempts: 1, .. }),
        "{err:?}"
    );
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
async fn missing_scopes_are_refused_with_403() {
    let sim = spawn_sim().await;
    let mut settings = oauth_settings(&sim);
    settings.scopes = vec!["spark:people_read".into()];
    let options = quick_options();
    let oauth = webex_quality::webex::OAuthClient::new(
        &settings,
        &urls(&sim).api,
        webex_quality::webex::http_client(&options).unwrap(),
        &options,
        sim_clock(&sim),
    )
    .unwrap();
    let record = login(&sim, &oauth).await;
    let client = WebexClient::new(
        urls(&sim),
        Credentials::AccessToken(record.access_token),
        options,
        sim_clock(&sim),
    )
    .unwrap();
    let err = client
        .list_meetings(&whole_week(), deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(err, WebexError::Status { status: 403, .. }),
        "{err:?}"
    );
    let id = MeetingInstanceId::parse(&sim.org().meetings[0].instance_id).unwrap();
    let err = client
        .meeting_qualities(&id, deadline())
        .await
        .into_result()
        .unwrap_err();
    assert!(
        matches!(err, WebexError::Status { status: 403, .. }),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_authorization_code_expires_after_five_minutes() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let (request, code) = authorize_code(&oauth).await;
    sim.clock().advance(chrono::Duration::minutes(6));
    let err = oauth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap_err();
    assert!(err.is_authorization_required(), "{err:?}");
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
