//! `collect` as a process: a revoked token stops it with exit 3 and loses nothing; a personal
//! access token works and stays out of everything.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_collect_with_exit_3_and_loses_nothing() {
    let sim = spawn_sim().await;
    let data = temp_dir("cli-revoked");
    let store: webex_quality::storage::SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    store_login(&sim, &store).await;
    // One cycle collected earlier.
    collector(&sim, &store, temp_dir("cli-revoked-work"), quick_cycle())
        .run_cycle()
        .await
        .unwrap();
    // Over every partition: this command runs on today's clock, so the simulated week is old
    // enough to be archived by it.
    let stored = async |store: &webex_quality::storage::SharedStore| {
        let mut counts = (0, 0, 0);
        for part in stored_partitions(store).await {
            counts.0 += part.db.totals().unwrap().pages;
            // The bytes every page refers to (a body shared by two days is stored in both).
            counts.1 += part.db.totals().unwrap().page_bytes;
            counts.2 += part.db.totals().unwrap().meetings;
        }
        counts
    };
    let before = stored(&store).await;
    assert!(before.0 > 0);
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    let settings = oauth_settings(&sim);
    let collect = |data: &Path| {
        let mut command = cli_in(data);
        command
            .args(["collect", "--quiet"])
            .env("WEBEX_API_URL", sim.api_url())
            .env("WEBEX_ANALYTICS_URL", sim.analytics_url())
            .env("WEBEX_CLIENT_ID", &settings.client_id)
            .env("WEBEX_CLIENT_SECRET", settings.client_secret.expose())
            .env("WEBEX_REDIRECT_URI", settings.redirect_uri.as_str());
        command
    };
    let (code, _, stderr) = tokio::task::spawn_blocking({
        let mut command = collect(&data);
        move || run(&mut command)
    })
    .await
    .unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("authorization needed") && stderr.contains("webex-quality login"),
        "{stderr}"
    );
    assert!(!stderr.contains(settings.client_secret.expose()));
    // Nothing lost: every page, body and meeting is still there, and the token object says what
    // happened.
    assert_eq!(stored(&store).await, before);
    let tokens = tokens_json(&data);
    assert!(
        tokens["authorization_needed"]["reason"].is_string(),
        "{tokens}"
    );
    // The dashboard says so on every page.
    let (code, _, stderr) = tokio::task::spawn_blocking({
        let data = data.clone();
        move || run(cli_in(&data).args(["render"]))
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");
    let index = std::fs::read_to_string(data.join("site/index.html")).unwrap();
    assert!(index.contains("role=\"alert\""));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_works_with_a_personal_access_token_and_keeps_it_out_of_everything() {
    let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default())
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    // Any valid bearer token serves as a personal access token.
    let record = login(&sim, &oauth_client(&sim, &quick_options())).await;
    let token = record.access_token.expose().to_owned();
    let data = temp_dir("cli-pat");
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let (data, api, analytics, token) = (
            data.clone(),
            sim.api_url(),
            sim.analytics_url(),
            token.clone(),
        );
        move || {
            run(cli_in(&data)
                .args(["collect"])
                .env("WEBEX_API_URL", api)
                .env("WEBEX_ANALYTICS_URL", analytics)
                .env("WEBEX_ACCESS_TOKEN", token))
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("cycle ok"), "{stdout}");
    let store: webex_quality::storage::SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    let db = stored_database(&store).await;
    assert!(db.totals().unwrap().pages > 0);
    // The token is in no output and no file of the data folder.
    let mut seen = crate::secrets::Haystacks::default();
    seen.add("collect's output", format!("{stdout}{stderr}"));
    seen.add_folder(&data, &|_| false);
    let mut secrets = crate::secrets::Secrets::default();
    secrets.add("the personal access token", &token);
    let findings = seen.findings(&secrets);
    assert!(findings.is_empty(), "{findings:#?}");
    // A secret is never a flag (`ps` shows every process's arguments): refused without echoing it.
    // From a file it works.
    let secret_file = temp_dir("cli-pat-secret").join("token");
    std::fs::write(&secret_file, format!("{token}\n")).unwrap();
    let (refused, from_file) = tokio::task::spawn_blocking({
        let (data, api, analytics, token) = (
            data.clone(),
            sim.api_url(),
            sim.analytics_url(),
            token.clone(),
        );
        move || {
            let refused = run(cli_in(&data).args(["--webex-access-token", &token, "collect"]));
            let from_file = run(cli_in(&data)
                .args(["collect"])
                .env("WEBEX_API_URL", api)
                .env("WEBEX_ANALYTICS_URL", analytics)
                .env("WEBEX_ACCESS_TOKEN_FILE", &secret_file));
            (refused, from_file)
        }
    })
    .await
    .unwrap();
    assert_eq!(refused.0, 2, "{}", refused.2);
    assert!(refused.2.contains("--webex-access-token"), "{}", refused.2);
    assert!(!refused.1.contains(&token) && !refused.2.contains(&token));
    assert_eq!(from_file.0, 0, "{}\n{}", from_file.1, from_file.2);
    assert!(!from_file.1.contains(&token) && !from_file.2.contains(&token));
    sim.shutdown().await;
}
