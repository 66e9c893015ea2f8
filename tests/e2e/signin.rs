//! The viewers' sign-in (`webex_quality::login::signin`), driven with `oneshot` against the
//! simulator speaking HTTP as Webex: a person of the organisation gets CloudFront's signed cookies
//! and goes back to the page they asked for; another organisation, someone not listed, a forged
//! return path and an installation nobody has set up get no cookie.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use webex_quality::config::{LoginConfig, Secret, SignInConfig};
use webex_quality::login::signin::{self, SignIn};
use webex_quality::storage::{FolderStore, SharedStore, StoreLocation};
use webex_sim::SimHandle;
use webex_sim::browser::{approve, get, location_of, path_and_query};

use crate::helpers::{oauth_settings, quick_options, sim_clock, spawn_sim, temp_dir, urls};

const KEY: &str = include_str!("../fixtures/cloudfront/test-key.pem");
const DASHBOARD: &str = "https://d111111abcdef8.cloudfront.net";

/// The sign-in router for the simulator's organisation (`org`: the configured organisation;
/// `viewers`: the list).
fn sign_in(sim: &SimHandle, org: Option<&str>, viewers: &[&str]) -> axum::Router {
    let data = temp_dir("signin");
    let login = LoginConfig {
        store: StoreLocation::Folder(data.clone()),
        s3: webex_quality::storage::S3Settings::default(),
        urls: urls(sim),
        oauth: oauth_settings(sim),
        setup_secret: None,
        org_id: org.map(str::to_owned),
    };
    let config = SignInConfig {
        dashboard: DASHBOARD.parse().unwrap(),
        key_id: "K2JCJMDEHXQW5F".into(),
        key: Secret::new(KEY),
        viewers: viewers.iter().map(|v| (*v).to_owned()).collect(),
        hours: 8,
    };
    let store: SharedStore = Arc::new(FolderStore::new(data).unwrap());
    let service = SignIn::new(&login, &config, store, quick_options(), sim_clock(sim)).unwrap();
    signin::router(Arc::new(service))
}

/// Every `Set-Cookie` value of a response.
fn set_cookies(response: &Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The sign-in as a browser does it: `/auth/login?return=...`, Webex's authorize approved, the
/// callback followed with the pending cookie. Returns the callback's answer.
async fn sign_in_returning_to(app: &axum::Router, return_to: &str) -> Response<Body> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return", return_to)
        .finish();
    let started = get(app.clone(), &format!("/auth/login?{query}"), None)
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let authorize = location_of(&started).unwrap();
    assert!(
        authorize.contains("scope=spark%3Apeople_read&")
            || authorize.ends_with("scope=spark%3Apeople_read"),
        "{authorize}"
    );
    assert!(
        authorize
            .contains("redirect_uri=https%3A%2F%2Fd111111abcdef8.cloudfront.net%2Fauth%2Fcallback"),
        "{authorize}"
    );
    let pending = set_cookies(&started)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(pending.starts_with("__Host-wq-signin="), "{pending}");
    let back = approve(&authorize).await.unwrap();
    get(app.clone(), &path_and_query(&back), Some(&pending))
        .await
        .unwrap()
}

fn cloudfront_cookies(response: &Response<Body>) -> Vec<String> {
    set_cookies(response)
        .into_iter()
        .filter(|c| c.starts_with("CloudFront-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_of_the_organisation_gets_the_signed_cookies_and_the_page_they_asked_for() {
    let sim = spawn_sim().await;
    let org = sim.org().id.clone();
    let app = sign_in(&sim, Some(&org), &[]);
    sim.authorize_next_as(sim.org().member(7));
    let done = sign_in_returning_to(&app, "/meetings.html?x=1").await;
    assert_eq!(done.status(), 303);
    assert_eq!(location_of(&done).as_deref(), Some("/meetings.html?x=1"));
    let cookies = cloudfront_cookies(&done);
    let names: Vec<&str> = cookies
        .iter()
        .map(|c| c.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CloudFront-Policy",
            "CloudFront-Signature",
            "CloudFront-Key-Pair-Id",
            "CloudFront-Hash-Algorithm"
        ]
    );
    for cookie in &cookies {
        assert!(
            cookie.contains("; Secure") && cookie.contains("; HttpOnly"),
            "{cookie}"
        );
    }
    // The policy covers the whole dashboard for eight hours from the (simulated) now.
    let policy = cookies[0]
        .trim_start_matches("CloudFront-Policy=")
        .split(';')
        .next()
        .unwrap()
        .replace('-', "+")
        .replace('_', "=")
        .replace('~', "/");
    use base64::Engine;
    let policy = base64::engine::general_purpose::STANDARD
        .decode(policy)
        .unwrap();
    let policy: serde_json::Value = serde_json::from_slice(&policy).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Resource"], format!("{DASHBOARD}/*"));
    assert_eq!(
        statement["Condition"]["DateLessThan"]["AWS:EpochTime"],
        (sim.clock().now() + chrono::Duration::hours(8)).timestamp()
    );
    // The pending sign-in is cleared.
    assert!(
        set_cookies(&done)
            .iter()
            .any(|c| c.starts_with("__Host-wq-signin=") && c.contains("Max-Age=0"))
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisation_someone_not_listed_or_nobody_set_up_gets_no_cookie() {
    let sim = spawn_sim().await;
    let org = sim.org().id.clone();
    // Another organisation.
    let app = sign_in(&sim, Some(&org), &[]);
    let mut stranger = sim.org().member(3);
    stranger.org_id = "another-org".into();
    sim.authorize_next_as(stranger);
    let refused = sign_in_returning_to(&app, "/").await;
    assert_eq!(refused.status(), 403);
    assert!(cloudfront_cookies(&refused).is_empty());
    // Listed viewers only: member 5 is not listed, member 6's domain is... not either.
    let listed = sim.org().member(6).email;
    let app = sign_in(&sim, Some(&org), &[&listed, "partner.example"]);
    sim.authorize_next_as(sim.org().member(5));
    let refused = sign_in_returning_to(&app, "/").await;
    assert_eq!(refused.status(), 403);
    assert!(cloudfront_cookies(&refused).is_empty());
    sim.authorize_next_as(sim.org().member(6));
    let admitted = sign_in_returning_to(&app, "/").await;
    assert_eq!(admitted.status(), 303);
    assert_eq!(cloudfront_cookies(&admitted).len(), 4);
    // No organisation configured and no administrator logged in yet: nobody can be checked.
    let app = sign_in(&sim, None, &[]);
    let refused = sign_in_returning_to(&app, "/").await;
    assert_eq!(refused.status(), 503);
    assert!(cloudfront_cookies(&refused).is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_return_path_goes_home_and_a_forged_callback_gets_nothing() {
    let sim = spawn_sim().await;
    let org = sim.org().id.clone();
    let app = sign_in(&sim, Some(&org), &[]);
    for forged in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let done = sign_in_returning_to(&app, forged).await;
        assert_eq!(done.status(), 303, "{forged}");
        assert_eq!(location_of(&done).as_deref(), Some("/"), "{forged}");
    }
    // A callback without the pending cookie, or with a state of its own.
    let refused = get(app.clone(), "/auth/callback?code=abc&state=xyz", None)
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(cloudfront_cookies(&refused).is_empty());
    // CloudFront's page for a viewer without cookies signs in, keeping the page with the script.
    let page = get(app.clone(), "/auth/required", None).await.unwrap();
    assert_eq!(page.status(), 403);
    let body = axum::body::to_bytes(page.into_body(), 1 << 16)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("href=\"/auth/login\"") && body.contains("/auth/return.js"));
    sim.shutdown().await;
}
