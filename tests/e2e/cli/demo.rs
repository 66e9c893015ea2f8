//! `demo --once` end to end as a process and the commands on its data folder (render, status,
//! export), bad settings and a missing folder, and `sim` alone.

use super::*;

#[test]
fn demo_once_builds_the_site_and_the_data_can_be_rendered_exported_and_inspected() {
    let data = temp_dir("cli-demo");
    let first_day = demo_first_day();
    // Every output of the commands below, for the secrets sweep at the end; logged at debug, the
    // most a user would turn on.
    let mut seen = crate::secrets::Haystacks::default();
    let (code, stdout, stderr) = run(cli_in(&data).env("RUST_LOG", "debug").args([
        "demo",
        "--once",
        "--step-minutes",
        "60",
    ]));
    seen.add("demo's output", stdout.clone());
    seen.add("demo's log", stderr.clone());
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
    let (code, stdout, stderr) = run(cli_in(&data).env("RUST_LOG", "debug").args(["render"]));
    seen.add("render's output", format!("{stdout}{stderr}"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(0 meetings rendered"), "{stdout}");

    // The status, in the terminal.
    let (code, stdout, stderr) = run(cli_in(&data).env("RUST_LOG", "debug").args(["status"]));
    seen.add("status's output", format!("{stdout}{stderr}"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Meetings collected:"), "{stdout}");

    // Raw export: every body byte for byte, named <meetingId>.<page>.json.
    let raw = temp_dir("cli-export-raw");
    let (code, stdout, stderr) = run(cli_in(&data).env("RUST_LOG", "debug").args([
        "export",
        "--raw",
        "--out",
        raw.to_str().unwrap(),
    ]));
    seen.add("export --raw's output", format!("{stdout}{stderr}"));
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
    let (code, stdout, stderr) = run(cli_in(&data).env("RUST_LOG", "debug").args([
        "export",
        "--csv",
        "--out",
        tables.to_str().unwrap(),
    ]));
    seen.add("export --csv's output", format!("{stdout}{stderr}"));
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

    // No secret anywhere but the token file: not in a log line or message, a page, an export, the
    // database or any other file of the data folder (the site is in it), and no simulator code or
    // token either (codes are exchanged inside the demo and never seen here).
    let tokens = tokens_json(&data);
    let mut secrets = crate::secrets::Secrets::default();
    secrets
        .add(
            "the access token",
            tokens["record"]["access_token"].as_str().unwrap(),
        )
        .add(
            "the refresh token",
            tokens["record"]["refresh_token"].as_str().unwrap(),
        )
        .add(
            "the client secret",
            &webex_sim::SimConfig::default().client_secret,
        );
    let token_file = data.join(webex_quality::tokens::TOKENS_KEY);
    seen.add_folder(&data, &|path| path == token_file);
    seen.add_folder(&raw, &|_| false);
    seen.add_folder(&tables, &|_| false);
    let findings = seen.findings(&secrets);
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(
        seen.count() > org.meetings.len() * 2 && seen.bytes() > 1_000_000,
        "swept {} places, {} bytes",
        seen.count(),
        seen.bytes()
    );
    println!(
        "secrets sweep: {} secrets and 3 token patterns, none in {} places ({} bytes)",
        secrets.len(),
        seen.count(),
        seen.bytes()
    );
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
