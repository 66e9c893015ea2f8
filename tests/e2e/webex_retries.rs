//! The Webex client's retries against the simulator: 429 with Retry-After, 5xx, timeouts, dropped
//! connections, the token endpoint, and the deadline that stops them all.

use std::time::Duration;

use webex_quality::webex::{ClientOptions, MeetingInstanceId, WebexError};
use webex_sim::{Fault, Route};

use crate::helpers::*;

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
async fn a_slow_answer_times_out_and_is_retried() {
    let sim = spawn_sim().await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    // An answer that would take a minute: without the timeout the call would wait for it.
    sim.faults()
        .inject(Route::PeopleMe, Fault::Slow(Duration::from_secs(60)), 1);
    let started = std::time::Instant::now();
    client.me(deadline()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the slow answer was abandoned after the 300 ms timeout, not waited for ({:?})",
        started.elapsed()
    );
    assert_eq!(
        sim.stats().answers(Route::PeopleMe, 200),
        1,
        "the retry answered"
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
async fn a_first_qualities_page_that_may_have_reached_webex_is_not_asked_again() {
    // Webex may have served (and counted) a request whose answer never came back: asking again
    // would be a second call inside the meeting's 5 minutes.
    let sim = spawn_sim().await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..quick_options()
    };
    let (client, _, _) = oauth_webex_client(&sim, options).await;
    let id = MeetingInstanceId::parse(&sim.org().meetings[3].instance_id).unwrap();
    sim.faults()
        .inject(Route::Qualities, Fault::Slow(Duration::from_millis(600)), 1);
    let fetch = client.meeting_qualities(&id, deadline()).await;
    assert!(
        matches!(&fetch.error, Some(WebexError::Unavailable { attempts: 1, detail, .. }) if detail.contains("not repeated")),
        "{:?}",
        fetch.error
    );
    // No second request: the simulator answers nothing to a client that went away, so any
    // answered qualities request would be a repeat.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.stats().requests(Route::Qualities), 0);

    // A connection cut mid-answer likewise; a server error is an answer, and is retried.
    sim.clock().advance(chrono::Duration::minutes(5));
    sim.faults().inject(Route::Qualities, Fault::Drop, 1);
    let fetch = client.meeting_qualities(&id, deadline()).await;
    assert!(
        matches!(
            &fetch.error,
            Some(WebexError::Unavailable { attempts: 1, .. })
        ),
        "{:?}",
        fetch.error
    );
    sim.clock().advance(chrono::Duration::minutes(5));
    sim.faults().inject(Route::Qualities, Fault::Status(503), 1);
    let fetch = client.meeting_qualities(&id, deadline()).await;
    assert!(fetch.error.is_none(), "{:?}", fetch.error);
    assert_eq!(sim.stats().rate_limited_calls(), 0);
    sim.shutdown().await;
}
