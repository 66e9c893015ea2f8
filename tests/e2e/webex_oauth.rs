//! The Webex client's OAuth against the simulator: the authorize URL, the code exchange, refresh on
//! 401, revoked and expired tokens, personal tokens, scopes.

use webex_quality::config::Secret;
use webex_quality::webex::{Credentials, MeetingInstanceId, WebexClient, WebexError};
use webex_sim::{Fault, Route};

use crate::helpers::*;

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
    // This call fails; the authorization is not declared lost (the refresh itself succeeded).
    assert!(!err.is_authorization_required(), "{err:?}");
    assert!(
        matches!(&err, WebexError::Status { status: 401, message, .. } if message.contains("freshly refreshed")),
        "{err:?}"
    );
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

/// A token store that fails its first `failures` saves, then keeps what it is given.
#[derive(Debug, Default)]
struct FlakySink {
    failures: std::sync::atomic::AtomicUsize,
    saved: std::sync::Mutex<Vec<webex_quality::webex::TokenRecord>>,
}

#[async_trait::async_trait]
impl webex_quality::webex::TokenSink for FlakySink {
    async fn save(&self, record: &webex_quality::webex::TokenRecord) -> Result<(), String> {
        use std::sync::atomic::Ordering;
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err("the store is down".into());
        }
        self.saved.lock().unwrap().push(record.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_refreshed_record_whose_save_failed_is_kept_and_saved_by_a_later_request() {
    let sim = spawn_sim().await;
    let options = quick_options();
    let oauth = oauth_client(&sim, &options);
    let before = login(&sim, &oauth).await;
    // Every save of the first request fails (it tries three times); the next request's succeeds.
    let sink = std::sync::Arc::new(FlakySink {
        failures: 3.into(),
        ..FlakySink::default()
    });
    let session = std::sync::Arc::new(webex_quality::webex::OAuthSession::new(
        oauth,
        before.clone(),
        sink.clone(),
    ));
    let client = WebexClient::new(
        urls(&sim),
        Credentials::OAuth(session.clone()),
        options,
        sim_clock(&sim),
    )
    .unwrap();
    sim.expire_access_tokens();
    let err = client.me(deadline()).await.unwrap_err();
    assert!(matches!(err, WebexError::TokenStore { .. }), "{err:?}");
    assert!(!err.is_authorization_required());
    // The rotated record is kept, not dropped: the old refresh token may be spent.
    assert!(session.unsaved().await);
    let kept = session.record().await;
    assert_ne!(kept.refresh_token, before.refresh_token);
    assert!(sink.saved.lock().unwrap().is_empty());
    // The next request saves it first, then uses it: no second refresh.
    client.me(deadline()).await.unwrap();
    assert!(!session.unsaved().await);
    assert_eq!(
        sink.saved.lock().unwrap().as_slice(),
        std::slice::from_ref(&kept)
    );
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        2,
        "login and one refresh"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_token_endpoints_5xx_are_retried_and_its_refusals_are_not() {
    let sim = spawn_sim().await;
    let options = quick_options();
    let (_, session, _) = oauth_webex_client(&sim, options.clone()).await;
    // Two server errors, then the refresh goes through: three requests.
    sim.faults()
        .inject(Route::AccessToken, Fault::Status(503), 2);
    let before = sim.stats().requests(Route::AccessToken);
    session.refresh_now().await.unwrap();
    assert_eq!(sim.stats().requests(Route::AccessToken), before + 3);

    // More server errors than retries: unavailable after 1 + max_retries requests, and not a lost
    // authorization.
    sim.faults().inject(
        Route::AccessToken,
        Fault::Status(500),
        options.max_retries + 5,
    );
    let before = sim.stats().requests(Route::AccessToken);
    let err = session.refresh_now().await.unwrap_err();
    assert!(!err.is_authorization_required(), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("after {} attempts", options.max_retries + 1)),
        "{err}"
    );
    assert_eq!(
        sim.stats().requests(Route::AccessToken),
        before + u64::try_from(options.max_retries).unwrap() + 1
    );
    sim.faults().clear();

    // A refusal (the refresh token revoked) is final: one request.
    sim.revoke_refresh_tokens();
    let before = sim.stats().requests(Route::AccessToken);
    assert!(
        session
            .refresh_now()
            .await
            .unwrap_err()
            .is_authorization_required()
    );
    assert_eq!(sim.stats().requests(Route::AccessToken), before + 1);
    sim.shutdown().await;
}
