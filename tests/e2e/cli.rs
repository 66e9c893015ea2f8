//! The `webex-quality` CLI: `demo --once` end to end as a process, `serve` walked from `/login` to a
//! collected dashboard over HTTP, and clear failures (exit code and message) for bad settings, a
//! missing data folder, a port in use and a revoked token.

use std::path::Path;
use std::process::{Command, Output};

use webex_quality_cli::{Global, OutArgs, ServeArgs, serve_until};

use crate::helpers::*;

fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cli-under-test"));
    // Only what each test sets: nothing from the machine's environment.
    command.env_clear().env("RUST_LOG", "warn");
    command
}

/// The CLI on the data folder `data`.
fn cli_in(data: &Path) -> Command {
    let mut command = cli();
    command.arg("--data-dir").arg(data);
    command
}

/// The CLI as an asynchronous child process, with the same clean environment.
fn process() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cli-under-test"));
    command.env_clear().env("RUST_LOG", "warn");
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the CLI runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Midnight, UTC, seven days before today: the demo's first day.
fn demo_first_day() -> chrono::DateTime<chrono::Utc> {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(7))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

#[test]
fn demo_once_builds_the_site_and_the_data_can_be_rendered_exported_and_inspected() {
    let data = temp_dir("cli-demo");
    let first_day = demo_first_day();
    let (code, stdout, stderr) =
        run(cli_in(&data).args(["demo", "--once", "--step-minutes", "60"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("collected a simulated week"), "{stdout}");
    let site = data.join("site");
    assert!(site.join("index.html").is_file());
    assert!(site.join("status.html").is_file());
    // Every meeting of the simulated week has its page.
    let org = webex_sim::Org::generate(1, first_day, 7);
    assert!(org.meetings.len() > 50);
    for meeting in &org.meetings {
        let page = site.join(webex_quality::site::meeting_path(&meeting.instance_id));
        assert!(page.is_file(), "{}", page.display());
    }

    // Nothing new: render again renders no meeting.
    let (code, stdout, stderr) = run(cli_in(&data).args(["render"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(0 meetings rendered"), "{stdout}");

    // The status, in the terminal.
    let (code, stdout, stderr) = run(cli_in(&data).args(["status"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Meetings collected:"), "{stdout}");

    // Raw export: every body byte for byte, named <meetingId>.<page>.json.
    let raw = temp_dir("cli-export-raw");
    let (code, _, stderr) =
        run(cli_in(&data).args(["export", "--raw", "--out", raw.to_str().unwrap()]));
    assert_eq!(code, 0, "{stderr}");
    let store: webex_quality::storage::SharedStore =
        std::sync::Arc::new(webex_quality::storage::FolderStore::new(data.clone()).unwrap());
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(stored_history(&store));
    let mut compared = 0;
    for meeting in db.meetings().unwrap() {
        for page in db.latest_complete_pages(&meeting.instance_id).unwrap() {
            let file = raw.join(format!("{}.{}.json", meeting.instance_id, page.page));
            assert_eq!(
                std::fs::read(&file).unwrap(),
                page.body.as_ref(),
                "{}",
                file.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= org.meetings.len());
    assert_eq!(std::fs::read_dir(&raw).unwrap().count(), compared);

    // CSV export: a row per meeting and per participant session.
    let tables = temp_dir("cli-export-csv");
    let (code, _, stderr) =
        run(cli_in(&data).args(["export", "--csv", "--out", tables.to_str().unwrap()]));
    assert_eq!(code, 0, "{stderr}");
    let meetings = std::fs::read_to_string(tables.join("meetings.csv")).unwrap();
    assert_eq!(meetings.lines().count(), org.meetings.len() + 1);
    let sessions = std::fs::read_to_string(tables.join("sessions.csv")).unwrap();
    assert!(sessions.starts_with("meeting_id,meeting_start,meeting_title,name,email"));
    assert!(sessions.lines().count() > org.meetings.len() * 2);
    // Emails masked: every participant's address shows as `***@domain`, none in full.
    assert!(sessions.contains("***@sim.example"), "emails masked");
    let mut checked = 0;
    for person in &org.people {
        assert!(
            !sessions.contains(&person.email),
            "{} in the CSV unmasked",
            person.email
        );
        checked += 1;
    }
    assert!(checked > 10);

    // Person pages are named by an HMAC under this deployment's key (kept in the data folder),
    // not by a hash anyone with the email could compute.
    let key = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(webex_quality::site::PersonKey::load_or_create(
            store.as_ref(),
        ))
        .unwrap();
    assert_ne!(key, webex_quality::site::PersonKey::default());
    let mut named = 0;
    for person in &org.people {
        let email = person.email.to_lowercase();
        let plain = format!(
            "people/{}.html",
            &webex_quality::db::sha256_hex(email.as_bytes())[..16]
        );
        assert!(!site.join(&plain).exists(), "{plain}");
        if site.join(key.person_path(&email)).is_file() {
            named += 1;
        }
    }
    assert!(
        named > 10,
        "{named} person pages under the deployment's key"
    );

    // The data folder is its owner's alone: tokens and database are not for other accounts.
    assert_private(&data);
}

/// `folder` is `0700` and every file in it, at any depth, `0600` (what the data folder holds:
/// tokens, the database, the collector's working copies).
#[cfg(unix)]
fn assert_private(folder: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    let mut files = 0;
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        // The dashboard's site folder is for a web server to read: not private data.
        if dir.file_name().is_some_and(|n| n == "site") {
            continue;
        }
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(files > 0, "no files under {}", folder.display());
}

#[cfg(not(unix))]
fn assert_private(_: &std::path::Path) {}

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
fn a_missing_data_folder_or_bad_settings_give_a_clear_message_and_exit_2() {
    let missing = temp_dir("cli-missing").join("nothing-here");
    let (code, _, stderr) = run(cli_in(&missing).args(["render"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("does not exist") && stderr.contains("--data-dir"),
        "{stderr}"
    );
    assert!(!missing.exists(), "nothing was created");

    // A site folder that holds the data folder (serve would publish the tokens) or sits inside it
    // (a build's clean-up could delete data) is refused, for render and serve alike.
    let data = temp_dir("cli-overlap");
    let parent = data.parent().unwrap().to_owned();
    for (command, out, says) in [
        ("render", data.clone(), "holds the data folder"),
        ("render", parent, "holds the data folder"),
        ("render", data.join("archive"), "inside the data folder"),
        ("serve", data.clone(), "holds the data folder"),
    ] {
        let (code, _, stderr) = run(cli_in(&data).args([command, "--out", out.to_str().unwrap()]));
        assert_eq!(code, 2, "{command} --out {}: {stderr}", out.display());
        assert!(stderr.contains(says), "{stderr}");
    }
    assert!(!data.join("archive").exists() && !data.join("index.html").exists());

    let data = temp_dir("cli-settings");
    let (code, _, stderr) = run(cli_in(&data).args(["collect"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("WEBEX_ACCESS_TOKEN") && stderr.contains("WEBEX_CLIENT_ID"),
        "{stderr}"
    );

    let (code, _, stderr) = run(cli_in(&data)
        .args(["collect"])
        .env("WEBEX_ACCESS_TOKEN", "secret-pat-value")
        .env("WEBEX_API_URL", "not a url"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("WEBEX_API_URL"), "{stderr}");
    assert!(
        !stderr.contains("secret-pat-value"),
        "no secret in messages"
    );

    let (code, _, stderr) = run(cli_in(&data)
        .args(["collect"])
        .env("WEBEX_ACCESS_TOKEN", "secret-pat-value")
        .env("WEBEX_QUALITY_CONCURRENCY", "many"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("WEBEX_QUALITY_CONCURRENCY"), "{stderr}");

    let (code, _, stderr) = run(cli().args(["--data-dir", "s3://bucket/prefix", "status"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("local folder"), "{stderr}");
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
            counts.0 += part.db.count("SELECT count(*) FROM quality_pages").unwrap();
            // The bytes every page refers to (a body shared by two days is stored in both).
            counts.1 += part
                .db
                .count("SELECT coalesce(sum(b.length), 0) FROM quality_pages p JOIN bodies b ON b.sha256 = p.body_sha256")
                .unwrap();
            counts.2 += part.db.count("SELECT count(*) FROM meetings").unwrap();
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
    let tokens: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join(webex_quality::tokens::TOKENS_KEY)).unwrap(),
    )
    .unwrap();
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

/// GET without following redirects; retried while the server comes up.
async fn get_when_up(url: &str) -> reqwest::Response {
    let browser = webex_sim::browser::client().unwrap();
    for _ in 0..200 {
        if let Ok(response) = browser.get(url).send().await {
            return response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
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
    let tokens: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join(webex_quality::tokens::TOKENS_KEY)).unwrap(),
    )
    .unwrap();
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
    let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default())
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
    assert!(db.count("SELECT count(*) FROM quality_pages").unwrap() > 0);
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
    assert!(db.count("SELECT count(*) FROM quality_pages").unwrap() > 0);
    // The token is in no output and no file of the data folder.
    assert!(!stdout.contains(&token) && !stderr.contains(&token));
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{}",
                path.display()
            );
        }
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_runs_the_simulator_alone_and_prints_its_urls() {
    use tokio::io::AsyncBufReadExt;
    let port = free_port();
    let mut child = process()
        .args(["sim", "--port", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first, format!("WEBEX_API_URL=http://127.0.0.1:{port}/v1"));
    // It speaks Webex: no token, 401 with a tracking id.
    let response = get_when_up(&format!("http://127.0.0.1:{port}/v1/people/me")).await;
    assert_eq!(response.status(), 401);
    child.kill().await.unwrap();
}
