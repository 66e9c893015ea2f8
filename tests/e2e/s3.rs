//! A real S3-compatible server for the tests: moto's server (`tests/run` installs it), started once
//! per test binary on a free port, and stopped by a watchdog when the test binary exits.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use webex_quality::storage::{S3Store, SharedStore};

static ENDPOINT: OnceLock<String> = OnceLock::new();

fn find_moto() -> PathBuf {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return path.into();
    }
    let venv =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("moto_server")).find(|p| p.exists()))
        .unwrap_or_else(|| panic!("moto_server not found: run tests/run, which installs moto into target/test-tools/venv"))
}

/// The endpoint of the test S3 server (started on first use).
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| {
        let moto = find_moto();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let me = std::process::id();
        // The watchdog stops moto when this test binary is gone, however it ends.
        let script = format!(
            "\"{}\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; while kill -0 {me} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
            moto.display()
        );
        // Not waited for: the watchdog lives as long as this test binary and then stops moto.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "moto_server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("http://127.0.0.1:{port}")
    })
}

pub fn client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A fresh bucket, and a store on it under `prefix`.
pub async fn store(prefix: &str) -> (SharedStore, String) {
    let bucket = format!("wq-{}", crate::helpers::unique_suffix());
    client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    (Arc::new(S3Store::new(client(), &bucket, prefix)), bucket)
}

/// The environment a separate process needs to reach the test server through the SDK's own settings.
pub fn env(bucket: &str, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint().to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("WEBEX_QUALITY_S3_FORCE_PATH_STYLE", "true".into()),
        ("WEBEX_QUALITY_STORE", format!("s3://{bucket}/{prefix}")),
    ]
}
