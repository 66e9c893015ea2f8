//! The login router (`webex_quality::login`), driven with `oneshot` (no socket) against the
//! simulator speaking HTTP as Webex: who may start a login, who may finish one, and that every
//! refusal stores nothing.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use webex_quality::config::{LoginConfig, Secret};
use webex_quality::login::{LoginService, router};
use webex_quality::status::StatusStore;
use webex_quality::storage::{FolderStore, SharedStore, StoreLocation};
use webex_quality::tokens::TOKENS_KEY;
use webex_sim::SimHandle;
use webex_sim::browser::{approve, cookie_of, get, location_of, path_and_query, post_login};

use crate::helpers::{oauth_settings, quick_options, sim_clock, spawn_sim, temp_dir, urls};

const SETUP_SECRET: &str = "correct-horse-battery-staple";

struct Installation {
    app: axum::Router,
    data: PathBuf,
    store: SharedStore,
}

impl Installation {
    fn tokens(&self) -> Option<Vec<u8>> {
        std::fs::read(self.data.join(TOKENS_KEY)).ok()
    }

    fn tokens_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.tokens().expect("tokens stored")).unwrap()
    }
}

fn installation(sim: &SimHandle, org_id: Option<&str>) -> Installation {
    let data = temp_dir("login");
    let config = LoginConfig {
        store: StoreLocation::Folder(data.clone()),
        s3: webex_quality::storage::S3Settings::default(),
        urls: urls(sim),
        oauth: oauth_settings(sim),
        setup_secret: Some(Secret::new(SETUP_SECRET)),
        org_id: org_id.map(str::to_owned),
    };
    let store: SharedStore = Arc::new(FolderStore::new(data.clone()).unwrap());
    let service =
        LoginService::new(&config, store.clone(), quick_options(), sim_clock(sim)).unwrap();
    Installation {
        app: router(Arc::new(service)),
        data,
        store,
    }
}

/// A login begun with the right secret: Webex's authorize URL and the cookie.
async fn begin(install: &Installation) -> (String, String) {
    let started = post_login(install.app.clone(), Some(SETUP_SECRET))
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    (location_of(&started).unwrap(), cookie_of(&started).unwrap())
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn clears_the_cookie(response: &Response<Body>) -> bool {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Max-Age=0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_logs_in_and_the_organisation_is_pinned_with_who_authorized() {
    let sim = spawn_sim().await;
    let install = installation(&sim, None);
    let form = get(install.app.clone(), "/login", None).await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(text(form).await.contains("name=\"setup_secret\""));

    let (authorize, cookie) = begin(&install).await;
    assert!(cookie.starts_with("wq-login="), "{cookie}");
    let back = approve(&authorize).await.unwrap();
    let done = get(install.app.clone(), &path_and_query(&back), Some(&cookie))
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(done.headers()["cache-control"], "no-store");
    assert_eq!(done.headers()["referrer-policy"], "no-referrer");
    assert!(clears_the_cookie(&done));

    let tokens = install.tokens_json();
    assert_eq!(tokens["org_id"], sim.org().id.as_str());
    let admin = sim.org().member(0);
    let masked = tokens["authorized_by"]["email"].as_str().unwrap();
    assert!(masked.contains("***@") && masked != admin.email, "{masked}");
    assert_eq!(
        tokens["authorized_by"]["scopes"].as_array().unwrap().len(),
        4
    );
    // The status object says who authorized, and holds no token.
    let (status, _) = StatusStore::new(install.store.clone())
        .load()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.authorization.authorized_by.as_deref(), Some(masked));
    assert!(status.authorization.has_tokens);
    let status_text = std::fs::read_to_string(install.data.join("status.json")).unwrap();
    let access = tokens["record"]["access_token"].as_str().unwrap();
    let refresh = tokens["record"]["refresh_token"].as_str().unwrap();
    assert!(!status_text.contains(access) && !status_text.contains(refresh));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_login_without_the_setup_secret_or_with_a_wrong_one_is_forbidden() {
    let sim = spawn_sim().await;
    let install = installation(&sim, None);
    for secret in [None, Some("wrong-secret-guess"), Some("")] {
        let answer = post_login(install.app.clone(), secret).await.unwrap();
        assert_eq!(answer.status(), 403, "{secret:?}");
        assert!(answer.headers().get("location").is_none());
        assert!(answer.headers().get("set-cookie").is_none());
        let page = text(answer).await;
        assert!(page.contains("WEBEX_QUALITY_SETUP_SECRET"), "{page}");
        assert!(!page.contains("wrong-secret-guess"));
    }
    assert_eq!(
        sim.stats().requests(webex_sim::Route::Authorize),
        0,
        "nothing reached Webex"
    );
    assert!(install.tokens().is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_that_do_not_match_their_login_are_refused_and_store_nothing() {
    let sim = spawn_sim().await;
    let install = installation(&sim, None);
    let (authorize, cookie) = begin(&install).await;
    let back = approve(&authorize).await.unwrap();
    let callback = path_and_query(&back);
    let state = back
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    // No cookie at all: the login was not begun in this browser.
    let answer = get(install.app.clone(), &callback, None).await.unwrap();
    assert_eq!(answer.status(), 400);
    assert!(clears_the_cookie(&answer));
    // A forged state in the query.
    let forged = callback.replace(&state, "forged-state-value");
    let answer = get(install.app.clone(), &forged, Some(&cookie))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(!text(answer).await.contains("forged-state-value"));
    // A forged cookie: another value under the same name.
    let (name, value) = cookie.split_once('=').unwrap();
    let mut altered = value.to_owned();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let answer = get(
        install.app.clone(),
        &callback,
        Some(&format!("{name}={altered}")),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 400);
    // The cookie of another login begun in this browser: its state is not this callback's.
    let (_, other_cookie) = begin(&install).await;
    let answer = get(install.app.clone(), &callback, Some(&other_cookie))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(install.tokens().is_none(), "nothing stored");
    assert_eq!(
        sim.stats().requests(webex_sim::Route::AccessToken),
        0,
        "no code was exchanged"
    );

    // The genuine callback still works, once; replaying it changes nothing.
    let done = get(install.app.clone(), &callback, Some(&cookie))
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let stored = install.tokens().unwrap();
    let replay = get(install.app.clone(), &callback, Some(&cookie))
        .await
        .unwrap();
    assert_eq!(replay.status(), 400, "Webex refuses a used code");
    assert_eq!(install.tokens().unwrap(), stored, "nothing replaced");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_older_than_fifteen_minutes_is_refused() {
    let sim = spawn_sim().await;
    let install = installation(&sim, None);
    let (authorize, cookie) = begin(&install).await;
    let back = approve(&authorize).await.unwrap();
    sim.clock().advance(chrono::Duration::minutes(16));
    let answer = get(install.app.clone(), &path_and_query(&back), Some(&cookie))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(text(answer).await.contains("15 minutes"));
    assert!(install.tokens().is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_who_declines_stores_nothing() {
    let sim = spawn_sim().await;
    let install = installation(&sim, None);
    let (authorize, cookie) = begin(&install).await;
    sim.deny_next_authorization();
    let back = approve(&authorize).await.unwrap();
    assert!(back.query().unwrap().contains("error=access_denied"));
    let answer = get(install.app.clone(), &path_and_query(&back), Some(&cookie))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(clears_the_cookie(&answer));
    assert!(!text(answer).await.contains("access_denied"));
    assert!(install.tokens().is_none());
    sim.shutdown().await;
}

/// The whole login, with the next authorize request approved by `who`.
async fn login_as(install: &Installation, sim: &SimHandle, who: webex_sim::Identity) -> u16 {
    let (authorize, cookie) = begin(install).await;
    sim.authorize_next_as(who);
    let back = approve(&authorize).await.unwrap();
    get(install.app.clone(), &path_and_query(&back), Some(&cookie))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_another_organisation_replaces_nothing() {
    let sim = spawn_sim().await;
    let install = installation(&sim, None);
    assert_eq!(login_as(&install, &sim, sim.org().member(0)).await, 200);
    let pinned = install.tokens().unwrap();
    // Someone from elsewhere who got hold of the setup secret.
    assert_eq!(login_as(&install, &sim, sim.org().outsider()).await, 403);
    assert_eq!(install.tokens().unwrap(), pinned, "nothing replaced");
    // Another administrator of the same organisation may log in again.
    assert_eq!(login_as(&install, &sim, sim.org().member(1)).await, 200);
    assert_ne!(install.tokens().unwrap(), pinned);
    assert_eq!(install.tokens_json()["org_id"], sim.org().id.as_str());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_organisation_configured_no_other_may_log_in_even_first() {
    let sim = spawn_sim().await;
    let install = installation(&sim, Some(&sim.org().outsider().org_id));
    assert_eq!(login_as(&install, &sim, sim.org().member(0)).await, 403);
    assert!(install.tokens().is_none(), "nothing stored");
    assert_eq!(login_as(&install, &sim, sim.org().outsider()).await, 200);
    sim.shutdown().await;
}
