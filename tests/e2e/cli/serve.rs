//! `serve` walked from `/login` to a collected dashboard over HTTP, beyond loopback, on a port in
//! use, stopped and restarted; `login` through a local redirect.

use webex_quality_cli::{Global, OutArgs, ServeArgs, serve_until};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_walks_login_to_the_callback_then_collects_and_serves_the_dashboard() {
    // A simulator on the real clock: a week of meetings that ends tomorrow.
    let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default())
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let data = temp_dir("cli-serve");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let global = Global {
        data_dir: data.to_str().unwrap().to_owned(),
        webex_api_url: Some(sim.api_url()),
        webex_analytics_url: Some(sim.analytics_url()),
        webex_client_id: Some(sim.config().client_id.clone()),
        webex_client_secret: Some(sim.config().client_secret.clone()),
        webex_redirect_uri: None,
        webex_scopes: None,
        webex_access_token: None,
        show_personal: false,
        quiet: true,
    };
    let args = ServeArgs {
        listen: format!("127.0.0.1:{port}"),
        interval_seconds: 300,
        out: OutArgs::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve_until(&global, args, async {
            let _ = stopped.await;
        })
        .await
    });
    let base = format!("http://127.0.0.1:{port}");
    let browser = webex_sim::browser::client().unwrap();
    // The server comes up with the login form (no setup secret on loopback).
    let mut form = None;
    for _ in 0..100 {
        if let Ok(response) = browser.get(format!("{base}/login")).send().await {
            form = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let form = form.expect("serve listens");
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let form = form.text().await.unwrap();
    assert!(form.contains("method=\"post\""), "{form}");
    assert!(!form.contains("setup_secret"), "{form}");
    let (authorize, cookie) = start_login(&browser, &base, None).await;
    assert!(authorize.starts_with(&sim.api_url()), "{authorize}");
    assert!(authorize.contains("code_challenge_method=S256"));
    // Webex (the simulator) sends the browser back to the default redirect URI on our port.
    let back = browser.get(&authorize).send().await.unwrap();
    assert_eq!(back.status(), 302);
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("http://localhost:{port}/oauth/callback?")),
        "{callback}"
    );
    let callback = callback.replace("localhost", "127.0.0.1");
    let done = get_with_cookie(&browser, &callback, &cookie).await;
    assert_eq!(done.status(), 200);
    assert!(
        done.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "the pending-login cookie is cleared"
    );
    assert!(done.text().await.unwrap().contains("Authorized"));
    // The tokens are stored, in their own object, with who authorized; a replayed callback is
    // refused and changes nothing.
    let tokens_path = data.join(webex_quality::tokens::TOKENS_KEY);
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tokens_path).unwrap()).unwrap();
    assert!(tokens["record"]["refresh_token"].is_string(), "{tokens}");
    assert_eq!(tokens["org_id"], sim.org().id.as_str());
    assert!(
        tokens["authorized_by"]["email"]
            .as_str()
            .unwrap()
            .contains("***@"),
        "{tokens}"
    );
    let before = std::fs::read(&tokens_path).unwrap();
    let replay = get_with_cookie(&browser, &callback, &cookie).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(std::fs::read(&tokens_path).unwrap(), before);

    // The login starts a cycle; the dashboard then lists collected meetings.
    let mut listed = String::new();
    for _ in 0..300 {
        let response = browser
            .get(format!("{base}/meetings.html"))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            listed = response.text().await.unwrap();
            if listed.contains("href=\"meetings/") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        listed.contains("href=\"meetings/"),
        "collected meetings are listed"
    );
    let index = browser.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.text().await.unwrap().contains("Overview"));
    assert!(data.join(webex_quality::history::DATABASE_KEY).is_file());

    // A clean stop.
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    sim.shutdown().await;
}

#[test]
fn serve_beyond_loopback_refuses_to_start_a_login_route_without_a_setup_secret() {
    let data = temp_dir("cli-exposed");
    let port = free_port().to_string();
    let (code, _, stderr) = run(cli_in(&data)
        .args(["serve", "--listen", &format!("0.0.0.0:{port}")])
        .env("WEBEX_CLIENT_ID", "C-integration")
        .env("WEBEX_CLIENT_SECRET", "client-secret-value"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("WEBEX_QUALITY_SETUP_SECRET"), "{stderr}");
    assert!(!stderr.contains("client-secret-value"), "{stderr}");
}

#[test]
fn a_port_in_use_gives_a_clear_message_and_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = temp_dir("cli-port");
    let (code, _, stderr) = run(cli_in(&data).args(["demo", "--port", &port]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("--port"),
        "{stderr}"
    );
    let (code, _, stderr) = run(cli_in(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("WEBEX_ACCESS_TOKEN", "pat"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_runs_the_oauth_flow_through_a_local_redirect_and_exits() {
    let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default())
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let data = temp_dir("cli-login");
    let port = free_port();
    let mut child = process()
        .args(["--data-dir", data.to_str().unwrap(), "login"])
        .env("WEBEX_API_URL", sim.api_url())
        .env("WEBEX_CLIENT_ID", &sim.config().client_id)
        .env("WEBEX_CLIENT_SECRET", &sim.config().client_secret)
        .env(
            "WEBEX_REDIRECT_URI",
            format!("http://127.0.0.1:{port}/oauth/callback"),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(get_when_up(&format!("{base}/login")).await.status(), 200);
    let browser = webex_sim::browser::client().unwrap();
    let (authorize, cookie) = start_login(&browser, &base, None).await;
    let back = get_when_up(&authorize).await;
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{base}/oauth/callback?")));
    let done = get_with_cookie(&browser, &callback, &cookie).await;
    assert_eq!(done.status(), 200);
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("login exits after the callback")
        .unwrap();
    assert!(status.success());
    let tokens = tokens_json(&data);
    assert!(
        tokens["record"]["access_expires_at"].is_string(),
        "{tokens}"
    );
    assert!(tokens["record"]["refresh_token"].is_string(), "{tokens}");
    assert!(tokens["authorization_needed"].is_null(), "{tokens}");
    assert_private(&data);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_cleanly_on_ctrl_c_and_a_restart_carries_on() {
    // The serve process runs on the real clock, so the simulator does too. Its meetings are the
    // five days before today's: every one has started before the first run, so a meeting that
    // starts between the two runs (and is rightly called for the first time) cannot make the
    // restart's count of calls anything but zero (it did, once, in CI).
    let today = chrono::Utc::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN);
    let config = webex_sim::SimConfig {
        first_day: Some(today.and_utc() - chrono::Duration::days(5)),
        days: 5,
        ..webex_sim::SimConfig::default()
    };
    let sim = webex_sim::Simulator::new(config)
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let data = temp_dir("cli-restart");
    let store: webex_quality::storage::SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    store_login(&sim, &store).await;
    let port = free_port();
    let serve = || {
        process()
            .args([
                "--data-dir",
                data.to_str().unwrap(),
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("WEBEX_API_URL", sim.api_url())
            .env("WEBEX_ANALYTICS_URL", sim.analytics_url())
            .env("WEBEX_CLIENT_ID", &sim.config().client_id)
            .env("WEBEX_CLIENT_SECRET", &sim.config().client_secret)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let interrupt = |child: &tokio::process::Child| {
        let pid = child.id().unwrap().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    let listed = || async {
        for _ in 0..300 {
            let response = get_when_up(&format!("http://127.0.0.1:{port}/meetings.html")).await;
            if response.status() == 200 {
                let text = response.text().await.unwrap();
                if text.contains("href=\"meetings/") {
                    return text;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("no meetings listed");
    };

    // First run: the stored tokens are used at once; Ctrl-C stops it cleanly.
    let first = serve();
    listed().await;
    interrupt(&first);
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), first.wait_with_output())
        .await
        .expect("serve stops")
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("stopping after the current cycle"));
    let last_run = || async {
        webex_quality::collect::read_lease(&store)
            .await
            .unwrap()
            .and_then(|(lease, _)| lease.last_run)
            .expect("the lease keeps the last run")
    };
    let first_run = last_run().await;
    assert_eq!(first_run.outcome, "ok");
    assert!(first_run.calls > 0);

    // A restart carries on from the data folder: no new login, another cycle, and no meeting is
    // called again inside Webex's 5 minutes.
    let second = serve();
    listed().await;
    let second_run = loop {
        let run = last_run().await;
        if run.run_id != first_run.run_id {
            break run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(second_run.outcome, "ok", "{second_run:?}");
    assert_eq!(second_run.calls, 0, "every meeting was called moments ago");
    let db = stored_database(&store).await;
    assert!(db.totals().unwrap().pages > 0);
    assert_eq!(
        sim.stats().rate_limited_calls(),
        0,
        "no 429 after the restart"
    );
    interrupt(&second);
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        second.wait_with_output(),
    )
    .await
    .expect("serve stops")
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    sim.shutdown().await;
}
