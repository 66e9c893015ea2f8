//! Tokens during collection: refreshed when due, rotated, revoked, cut short, refused after a refresh.

use chrono::Duration as Span;
use webex_quality::collect::Outcome;
use webex_quality::storage::SharedStore;
use webex_quality::tokens::TokenStore;
use webex_sim::{Route, SimConfig};

use crate::helpers::*;
use crate::s3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_when_due_rotated_and_a_revoked_one_asks_for_authorization() {
    let config = SimConfig {
        access_lifetime: Span::days(2),
        ..SimConfig::default()
    };
    let sim = spawn_sim_at(week_start() + Span::hours(12), config).await;
    let (store, _) = s3::store("tokens").await;
    let first = store_login(&sim, &store).await;
    let tokens = TokenStore::new(store.clone(), sim_clock(&sim));
    let collector = collector(&sim, &store, temp_dir("tokens"), quick_cycle());

    // Not due yet: no refresh.
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        1,
        "only the login"
    );

    // Less than a day left: refreshed before listing, and the rotated tokens stored.
    sim.clock().advance(Span::hours(25));
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    let (state, _) = tokens.load().await.unwrap().unwrap();
    let second = state.record.unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token, "rotated");
    assert_eq!(
        second.access_expires_at,
        sim.clock().now() + Span::seconds(2 * 86_400 - 1)
    );
    assert_eq!(
        second.refresh_expires_at, first.refresh_expires_at,
        "the refresh token keeps its expiry"
    );
    assert!(state.authorization_needed.is_none());

    // Rotated again a day later; the first refresh token no longer works anywhere.
    sim.clock().advance(Span::hours(25));
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    let third = tokens.load().await.unwrap().unwrap().0.record.unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);

    // Revoked: the next due refresh fails, the state says so, nothing collected is lost.
    let before = stored_history(&store).await.totals().unwrap().pages;
    assert!(before > 0);
    sim.revoke_refresh_tokens();
    sim.clock().advance(Span::hours(25));
    let report = collector.run_cycle().await.unwrap();
    assert!(
        matches!(&report.outcome, Outcome::AuthorizationRequired(reason) if reason.contains("revoked")),
        "{:?}",
        report.outcome
    );
    let (state, _) = tokens.load().await.unwrap().unwrap();
    let needed = state
        .authorization_needed
        .expect("authorization needed is recorded");
    assert_eq!(needed.since, sim.clock().now());
    assert!(needed.reason.contains("revoked"), "{}", needed.reason);
    let db = stored_history(&store).await;
    assert_eq!(db.totals().unwrap().pages, before, "nothing lost");
    let last = db.recent_runs(1).unwrap().remove(0);
    assert_eq!(last.outcome, "authorization required");

    // Later cycles do not call Webex until someone logs in again; a login clears the state.
    let token_calls = sim.stats().requests(Route::AccessToken);
    sim.clock().advance(Span::minutes(5));
    assert!(matches!(
        collector.run_cycle().await.unwrap().outcome,
        Outcome::AuthorizationRequired(_)
    ));
    assert_eq!(sim.stats().requests(Route::AccessToken), token_calls);
    store_login(&sim, &store).await;
    assert!(
        tokens
            .load()
            .await
            .unwrap()
            .unwrap()
            .0
            .authorization_needed
            .is_none()
    );
    sim.clock().advance(Span::minutes(5));
    assert_eq!(collector.run_cycle().await.unwrap().outcome, Outcome::Ok);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_answer_cut_in_half_during_a_cycle_leaves_no_token_in_the_data() {
    let sim = spawn_sim().await;
    let data = temp_dir("token-cut");
    let store: SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    store_login(&sim, &store).await;
    // The first qualities call is refused with 401; the refresh it causes gets a token answer cut
    // in half, which still holds the new access token.
    sim.faults()
        .inject(Route::Qualities, webex_sim::Fault::Status(401), 1);
    sim.faults()
        .inject(Route::AccessToken, webex_sim::Fault::Malformed, 1);
    let report = collector(&sim, &store, temp_dir("token-cut-work"), quick_cycle())
        .run_cycle()
        .await
        .unwrap();
    assert!(report.errors >= 1, "{report:?}");
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        2,
        "login and the cut refresh"
    );
    // The simulator's tokens are base64 of `access-...` and `refresh-...`.
    let tokens: [&[u8]; 3] = [b"YWNjZXNzL", b"cmVmcmVzaC", b"\"access_token\""];
    let holds_token = |bytes: &[u8]| {
        tokens
            .iter()
            .any(|t| bytes.windows(t.len()).any(|w| w == *t))
    };
    let db = stored_history(&store).await;
    let mut pages = 0;
    for meeting in db.meetings().unwrap() {
        for call in db.calls(&meeting.instance_id).unwrap() {
            for page in db.call_pages(call.id).unwrap() {
                pages += 1;
                assert!(!page.request_url.contains("access_token"));
                assert!(
                    !holds_token(&page.body),
                    "a token answer was stored as a page of {}",
                    meeting.instance_id
                );
            }
        }
    }
    assert!(pages > 0);
    for error in db.recent_errors(100).unwrap() {
        assert!(!holds_token(error.message.as_bytes()), "{}", error.message);
    }
    for name in ["status.json", "collector-lease.json"] {
        let bytes = std::fs::read(data.join(name)).unwrap();
        assert!(!holds_token(&bytes), "{name}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_that_survives_a_refresh_fails_one_call_not_the_authorization() {
    let sim = spawn_sim().await;
    let data = temp_dir("401-twice");
    let store: SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    store_login(&sim, &store).await;
    // One qualities call is refused, refreshed, and refused again with the fresh token (one call
    // at a time, so that both refusals reach the same call).
    sim.faults()
        .inject(Route::Qualities, webex_sim::Fault::Status(401), 2);
    let settings = webex_quality::collect::CycleSettings {
        concurrency: 1,
        ..quick_cycle()
    };
    let report = collector(&sim, &store, temp_dir("401-twice-work"), settings)
        .run_cycle()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Partial, "{report:?}");
    assert_eq!(report.errors, 1, "{report:?}");
    assert!(
        report.calls > 1,
        "the other meetings were fetched: {report:?}"
    );
    assert_eq!(
        sim.stats().answers(Route::AccessToken, 200),
        2,
        "login and one refresh"
    );
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("tokens.json")).unwrap()).unwrap();
    assert!(tokens["authorization_needed"].is_null(), "{tokens}");
    let db = stored_database(&store).await;
    let errors = db.recent_errors(10).unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.kind == "refused" && e.message.contains("freshly refreshed")),
        "{errors:?}"
    );
    sim.shutdown().await;
}
