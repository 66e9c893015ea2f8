//! The three Lambda functions end to end under the local Lambda emulator (`cargo lambda watch` and
//! `cargo lambda invoke`, from PyPI's cargo-lambda), with the simulator as Webex and moto as S3:
//! an administrator's login through the oauth-redirect function, the collector invoked with the
//! EventBridge scheduled event, the site-builder invoked with the S3 event, and the dashboard in
//! the site bucket.
//!
//! Ignored by a plain `cargo test` (it builds and runs the functions as processes, which takes
//! minutes); `tests/run` runs it with `--ignored` after installing cargo-lambda.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::helpers::{free_port, get_with_cookie, start_login, temp_dir};
use crate::s3;

const SETUP_SECRET: &str = "correct-horse-battery-staple";
/// The bucket and prefix the S3 event fixtures name.
const DATA_BUCKET: &str = "webex-quality-data-123456789012";
const DATA_PREFIX: &str = "data";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo_lambda() -> PathBuf {
    let venv = repo().join("target/test-tools/venv/bin/cargo-lambda");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("cargo-lambda"))
                .find(|p| p.exists())
        })
        .expect("cargo-lambda not found: run tests/run, which installs it from PyPI")
}

/// Debug for the functions, the core, the runtime, the AWS SDK and HTTP; info for the rest.
const FUNCTION_LOG: &str = "info,collector=debug,site_builder=debug,oauth_redirect=debug,\
    webex_quality=debug,lambda_runtime=debug,lambda_http=debug,aws_smithy_runtime=debug,\
    aws_sdk_s3=debug,aws_config=debug,reqwest=debug,hyper_util=debug";

/// `cargo lambda watch` for one function package on its own port, its output in `log`.
fn watch(package: &str, port: u16, env: &[(String, String)], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let mut command = Command::new(cargo_lambda());
    command
        .args(["lambda", "watch", "-p", package])
        .args(["--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(["--ignore-changes", "--disable-cors", "--timeout", "120"])
        .current_dir(repo())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // The functions and the crates they call at debug, the most an operator would turn on,
        // for the secrets sweep. The emulator's own request trace stays at info: at debug it logs
        // each request's whole URL, the callback's code included, as API Gateway would with a
        // `$context.path` access log (the template's logs the route key:
        // infra::the_apis_access_log_names_the_route_not_the_url).
        .env("RUST_LOG", FUNCTION_LOG)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true);
    command.spawn().expect("cargo lambda watch starts")
}

/// Builds a function package as `cargo lambda watch` will run it (`cargo run -p PACKAGE`), so
/// that no invocation waits for a build while its deadline passes.
async fn build(package: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--package", package, "--bin", package])
        .current_dir(repo())
        .stdin(Stdio::null())
        .status()
        .await
        .expect("cargo build runs");
    assert!(status.success(), "cargo build -p {package}");
}

/// `cargo lambda invoke` with an event file of the repository; the function's JSON answer.
async fn invoke(function: &str, port: u16, event: &str) -> serde_json::Value {
    let output = Command::new(cargo_lambda())
        .args(["lambda", "invoke", function])
        .args(["--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(["--data-file", event])
        .current_dir(repo())
        .output()
        .await
        .expect("cargo lambda invoke runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "invoke {function}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{function} answered {stdout}: {e}"))
}

/// Waits until `url` answers (the first request also builds the function).
async fn when_up(client: &reqwest::Client, url: &str, logs: &Path) -> reqwest::Response {
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().as_u16() != 502
            && response.status().as_u16() != 503
        {
            return response;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "{url} never answered; logs in {}",
            logs.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the emulator on `port` accepts connections: `cargo lambda watch` starts its own
/// server some time after it is spawned (longer on a busy machine), and only the login's function
/// is waited for through an HTTP request.
async fn when_listening(port: u16, logs: &Path) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "nothing listens on port {port}; logs in {}",
            logs.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn objects(bucket: &str, prefix: &str) -> Vec<String> {
    let listed = s3::client()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(1000)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn object(bucket: &str, key: &str) -> Vec<u8> {
    s3::client()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{bucket}/{key}: {e}"))
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds and runs the functions under cargo lambda watch; tests/run runs it"]
async fn the_functions_under_the_lambda_emulator_log_in_collect_and_publish_the_dashboard() {
    let sim = webex_sim::Simulator::new(webex_sim::SimConfig::default())
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let client = s3::client();
    client
        .create_bucket()
        .bucket(DATA_BUCKET)
        .send()
        .await
        .unwrap();
    let (_, site_bucket) = s3::store("site").await;
    let logs = temp_dir("lambda-logs");
    let ports = (free_port(), free_port(), free_port());
    let callback = format!(
        "http://127.0.0.1:{}/lambda-url/oauth-redirect/oauth/callback",
        ports.0
    );
    let mut env: Vec<(String, String)> = s3::env(DATA_BUCKET, DATA_PREFIX)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.extend(
        [
            ("WEBEX_QUALITY_SITE_STORE", format!("s3://{site_bucket}")),
            ("WEBEX_API_URL", sim.api_url()),
            ("WEBEX_ANALYTICS_URL", sim.analytics_url()),
            ("WEBEX_CLIENT_ID", sim.config().client_id.clone()),
            ("WEBEX_CLIENT_SECRET", sim.config().client_secret.clone()),
            ("WEBEX_REDIRECT_URI", callback.clone()),
            ("WEBEX_QUALITY_SETUP_SECRET", SETUP_SECRET.to_owned()),
            (
                "WEBEX_QUALITY_WORK_DIR",
                temp_dir("lambda-work").display().to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    for package in ["oauth-redirect", "collector", "site-builder"] {
        build(package).await;
    }
    let _oauth = watch(
        "oauth-redirect",
        ports.0,
        &env,
        &logs.join("oauth-redirect.log"),
    );
    let _collector = watch("collector", ports.1, &env, &logs.join("collector.log"));
    let _builder = watch(
        "site-builder",
        ports.2,
        &env,
        &logs.join("site-builder.log"),
    );

    // The administrator's login, through the function's URL as the emulator serves it.
    let browser = webex_sim::browser::client().unwrap();
    let base = format!("http://127.0.0.1:{}/lambda-url/oauth-redirect", ports.0);
    // Every answer, URL and object below goes into the secrets sweep at the end.
    let mut seen = crate::secrets::Haystacks::default();
    let form = when_up(&browser, &format!("{base}/login"), &logs).await;
    assert_eq!(form.status(), 200);
    let form = answer_text(form).await;
    assert!(form.contains("setup_secret"));
    seen.add("GET /login", form);
    let refused = browser
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("setup_secret=not-the-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    seen.add("POST /login refused", answer_text(refused).await);
    let (authorize, cookie) = start_login(&browser, &base, Some(SETUP_SECRET)).await;
    seen.add("the authorize URL", authorize.clone());
    seen.add("the login's cookie", cookie.clone());
    let back = webex_sim::browser::approve(&authorize).await.unwrap();
    assert!(back.as_str().starts_with(&callback), "{back}");
    // The code is in Webex's redirect to the callback (that URL is Webex's, not swept); it must not
    // travel further.
    let code = back
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let done = get_with_cookie(&browser, back.as_str(), &cookie).await;
    let done_status = done.status();
    let done = answer_text(done).await;
    assert_eq!(done_status, 200, "{done}");
    seen.add("the callback's answer", done);
    let tokens: serde_json::Value =
        serde_json::from_slice(&object(DATA_BUCKET, "data/tokens.json").await).unwrap();
    assert_eq!(tokens["org_id"], sim.org().id.as_str());

    // The collector, invoked with the EventBridge scheduled event.
    when_listening(ports.1, &logs).await;
    when_listening(ports.2, &logs).await;
    let cycle = invoke(
        "collector",
        ports.1,
        "tests/fixtures/events/eventbridge-scheduled.json",
    )
    .await;
    seen.add("the collector's answer", cycle.to_string());
    assert_eq!(cycle["outcome"], "ok", "{cycle}");
    assert!(cycle["calls"].as_u64().unwrap() > 10, "{cycle}");
    assert_eq!(cycle["rate_limited"], 0, "{cycle}");
    let data = objects(DATA_BUCKET, "data/").await;
    for key in [
        "data/webex-quality.sqlite",
        "data/status.json",
        "data/collector-lease.json",
    ] {
        assert!(data.contains(&key.to_owned()), "{key} in {data:?}");
    }
    let status = String::from_utf8(object(DATA_BUCKET, "data/status.json").await).unwrap();
    let access = tokens["record"]["access_token"].as_str().unwrap();
    assert!(!status.contains(access), "no token in the status object");

    // Another key of the bucket renders nothing; the database's key renders the dashboard.
    let ignored = invoke(
        "site-builder",
        ports.2,
        "tests/fixtures/events/s3-put-other.json",
    )
    .await;
    seen.add("the site-builder's answer", ignored.to_string());
    assert_eq!(ignored["rendered"], false, "{ignored}");
    assert!(objects(&site_bucket, "").await.is_empty());
    let built = invoke(
        "site-builder",
        ports.2,
        "tests/fixtures/events/s3-put-database.json",
    )
    .await;
    seen.add("the site-builder's answer", built.to_string());
    assert_eq!(built["rendered"], true, "{built}");
    let site = objects(&site_bucket, "").await;
    for page in [
        "index.html",
        "meetings.html",
        "status.html",
        "manifest.json",
    ] {
        assert!(site.contains(&page.to_owned()), "{page} in {site:?}");
    }
    let meeting_pages = site
        .iter()
        .filter(|k| k.starts_with("meetings/") && k.ends_with(".html"))
        .count();
    assert!(meeting_pages > 10, "{meeting_pages} meeting pages");
    let overview = String::from_utf8(object(&site_bucket, "index.html").await).unwrap();
    assert!(!overview.contains(access));

    // No secret anywhere but the token object: not in the three functions' logs (at debug), their
    // answers, the URLs and cookies of the login, any other object of the data bucket (the
    // database, the status, the lease) or any object of the site bucket.
    let mut secrets = crate::secrets::Secrets::default();
    secrets
        .add("the access token", access)
        .add(
            "the refresh token",
            tokens["record"]["refresh_token"].as_str().unwrap(),
        )
        .add("the client secret", &sim.config().client_secret)
        .add("the setup secret", SETUP_SECRET)
        .add("the authorization code", &code);
    for key in objects(DATA_BUCKET, "").await {
        if key != "data/tokens.json" {
            seen.add(
                format!("s3://{DATA_BUCKET}/{key}"),
                object(DATA_BUCKET, &key).await,
            );
        }
    }
    assert!(site.len() < 1000, "the listing above holds every page");
    for key in &site {
        seen.add(
            format!("s3://{site_bucket}/{key}"),
            object(&site_bucket, key).await,
        );
    }
    seen.add_folder(&logs, &|_| false);
    let findings = seen.findings(&secrets);
    assert!(findings.is_empty(), "{findings:#?}");
    println!(
        "secrets sweep: {} secrets and 3 token patterns, none in {} places ({} bytes)",
        secrets.len(),
        seen.count(),
        seen.bytes()
    );
    sim.shutdown().await;
}

/// An answer's status line, headers and body, as text.
async fn answer_text(answer: reqwest::Response) -> String {
    let head = format!("{:?} {:?}", answer.status(), answer.headers());
    format!("{head}\n{}", answer.text().await.unwrap())
}
