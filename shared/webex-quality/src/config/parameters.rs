//! Secret settings kept in AWS Systems Manager Parameter Store, for the Lambda functions.
//!
//! A Lambda function's environment is readable by anyone who may read its configuration, so the
//! template does not put secrets there: for a secret setting `NAME` it sets `NAME_PARAMETER`, the
//! name of an SSM SecureString parameter, and [`resolve`] reads the value through the AWS Parameters
//! and Secrets Lambda Extension (a layer that answers on `localhost:2773`, authenticated by the
//! invocation's session token, and caches). It was chosen over the SSM SDK crate, which would add a
//! second AWS client to compile, and over Secrets Manager, which costs $0.40 a secret a month
//! while SecureString parameters are free.
//!
//! The extension answers only during an invocation, not while the function initialises, so the
//! functions resolve their secrets at their first invocation and keep the result. Where the setting
//! itself is set (the CLI, `cargo lambda watch`, the tests), nothing is fetched: the extension is
//! not there.

use std::collections::HashMap;
use std::time::Duration;

use super::{ConfigError, Lookup, text_setting};

/// The settings that may come from a parameter instead of the environment.
pub const SECRET_SETTINGS: [&str; 5] = [
    "WEBEX_CLIENT_SECRET",
    "WEBEX_QUALITY_SETUP_SECRET",
    "WEBEX_QUALITY_COOKIE_KEY",
    "WEBEX_QUALITY_ALERTS_BOT_TOKEN",
    "WEBEX_QUALITY_ALERTS_WEBHOOK_URL",
];

/// The extension's port, unless `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` says otherwise.
const DEFAULT_PORT: u16 = 2773;

/// Values read from parameters, by setting name, to layer over the environment with [`layered`].
#[derive(Default)]
pub struct Resolved(HashMap<&'static str, String>);

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// What [`resolve`] fetches: for each secret, its setting, its `NAME_PARAMETER` setting and the
/// parameter's name; and where the extension listens, with which token.
struct Plan {
    wanted: Vec<(&'static str, &'static str, String)>,
    port: u16,
    token: String,
}

fn plan(lookup: Lookup<'_>) -> Result<Plan, ConfigError> {
    let wanted = SECRET_SETTINGS
        .iter()
        .zip(PARAMETER_SETTINGS)
        .filter(|(name, _)| text_setting(lookup, name).is_none())
        .filter_map(|(name, setting)| {
            text_setting(lookup, setting).map(|parameter| (*name, setting, parameter))
        })
        .collect();
    let port = match text_setting(lookup, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT") {
        Some(text) => text.parse::<u16>().map_err(|_| ConfigError {
            name: "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            problem: format!("{text:?} is not a port"),
            fix: "Unset it (the extension listens on 2773) or give a port number.".into(),
        })?,
        None => DEFAULT_PORT,
    };
    Ok(Plan {
        wanted,
        port,
        token: text_setting(lookup, "AWS_SESSION_TOKEN").unwrap_or_default(),
    })
}

/// Reads, for each of [`SECRET_SETTINGS`] that `lookup` does not set but whose `NAME_PARAMETER` it
/// does, the parameter's decrypted value through the extension (`lookup` is read before this
/// returns; the future holds none of it).
///
/// # Errors
/// A [`ConfigError`] naming the `NAME_PARAMETER` setting when the extension cannot be reached or
/// refuses (the parameter is missing, or the function may not read it). Values are never in it.
pub fn resolve(
    lookup: Lookup<'_>,
) -> impl Future<Output = Result<Resolved, ConfigError>> + Send + 'static {
    let plan = plan(lookup);
    async move { fetch(plan?).await }
}

async fn fetch(plan: Plan) -> Result<Resolved, ConfigError> {
    let Plan {
        wanted,
        port,
        token,
    } = plan;
    let mut resolved = Resolved::default();
    if wanted.is_empty() {
        return Ok(resolved);
    }
    crate::tls::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(|e| ConfigError {
            name: wanted[0].1,
            problem: format!("no HTTP client ({e})"),
            fix: String::new(),
        })?;
    for (name, setting, parameter) in wanted {
        let fail = |problem: String| ConfigError {
            name: setting,
            problem,
            fix: format!(
                "Create the SSM SecureString parameter {parameter} (infra/README.md), let the function read it (ssm:GetParameter), and give the function the AWS Parameters and Secrets Lambda Extension layer; or set {name} itself where no extension runs."
            ),
        };
        let mut url = url::Url::parse(&format!(
            "http://localhost:{port}/systemsmanager/parameters/get"
        ))
        .map_err(|e| fail(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("name", &parameter)
            .append_pair("withDecryption", "true");
        let response = client
            .get(url)
            .header("X-Aws-Parameters-Secrets-Token", &token)
            .send()
            .await
            .map_err(|e| fail(format!("the extension did not answer ({e})")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!(
                "the extension answered {status} for the parameter {parameter}"
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(format!("the extension's answer broke off ({e})")))?;
        let body: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| fail("the extension's answer is not JSON".into()))?;
        let value = body
            .pointer("/Parameter/Value")
            .and_then(serde_json::Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| fail(format!("the parameter {parameter} has no value")))?;
        resolved.0.insert(name, value.to_owned());
    }
    Ok(resolved)
}

/// `NAME_PARAMETER` for each of [`SECRET_SETTINGS`].
const PARAMETER_SETTINGS: [&str; 5] = [
    "WEBEX_CLIENT_SECRET_PARAMETER",
    "WEBEX_QUALITY_SETUP_SECRET_PARAMETER",
    "WEBEX_QUALITY_COOKIE_KEY_PARAMETER",
    "WEBEX_QUALITY_ALERTS_BOT_TOKEN_PARAMETER",
    "WEBEX_QUALITY_ALERTS_WEBHOOK_URL_PARAMETER",
];

/// `resolved` over `lookup`: a setting read from a parameter, else what `lookup` says.
pub fn layered<'a>(
    resolved: &'a Resolved,
    lookup: Lookup<'a>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name: &str| resolved.0.get(name).cloned().or_else(|| lookup(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env;

    /// A stand-in for the extension: answers the parameters it knows to the right token.
    async fn extension(parameters: &'static [(&'static str, &'static str)]) -> u16 {
        use axum::extract::Query;
        use axum::http::{HeaderMap, StatusCode};
        let app = axum::Router::new().route(
            "/systemsmanager/parameters/get",
            axum::routing::get(
                move |headers: HeaderMap, Query(query): Query<HashMap<String, String>>| async move {
                    if headers
                        .get("X-Aws-Parameters-Secrets-Token")
                        .is_none_or(|t| t != "session-token")
                    {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    assert_eq!(query.get("withDecryption").map(String::as_str), Some("true"));
                    match parameters
                        .iter()
                        .find(|(name, _)| Some(*name) == query.get("name").map(String::as_str))
                    {
                        Some((name, value)) => (
                            StatusCode::OK,
                            serde_json::json!({"Parameter": {"Name": name, "Type": "SecureString", "Value": value}})
                                .to_string(),
                        ),
                        None => (StatusCode::BAD_REQUEST, "ParameterNotFound".into()),
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        port
    }

    #[tokio::test]
    async fn a_secret_named_by_a_parameter_is_read_through_the_extension() {
        let port = extension(&[("/wq/client-secret", "s3cr3t value/with?chars")]).await;
        let port = port.to_string();
        let pairs = [
            ("WEBEX_CLIENT_SECRET_PARAMETER", "/wq/client-secret"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.as_str()),
            ("AWS_SESSION_TOKEN", "session-token"),
            ("WEBEX_CLIENT_ID", "C1"),
        ];
        let lookup = test_env(&pairs);
        let resolved = resolve(&lookup).await.unwrap();
        let settings = layered(&resolved, &lookup);
        assert_eq!(
            settings("WEBEX_CLIENT_SECRET").as_deref(),
            Some("s3cr3t value/with?chars")
        );
        assert_eq!(settings("WEBEX_CLIENT_ID").as_deref(), Some("C1"));
        assert!(
            !format!("{resolved:?}").contains("s3cr3t"),
            "the value never shows"
        );
    }

    #[tokio::test]
    async fn the_setting_itself_wins_and_nothing_is_fetched() {
        // No extension listens on port 9: fetching would fail.
        let pairs = [
            ("WEBEX_CLIENT_SECRET", "from-env"),
            ("WEBEX_CLIENT_SECRET_PARAMETER", "/wq/client-secret"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "9"),
        ];
        let lookup = test_env(&pairs);
        let resolved = resolve(&lookup).await.unwrap();
        assert_eq!(
            layered(&resolved, &lookup)("WEBEX_CLIENT_SECRET").as_deref(),
            Some("from-env")
        );
    }

    #[tokio::test]
    async fn a_missing_parameter_or_a_wrong_token_names_the_setting_without_a_value() {
        let port = extension(&[("/wq/client-secret", "value")])
            .await
            .to_string();
        let pairs = [
            ("WEBEX_QUALITY_SETUP_SECRET_PARAMETER", "/wq/nope"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.as_str()),
            ("AWS_SESSION_TOKEN", "session-token"),
        ];
        let missing = test_env(&pairs);
        let err = resolve(&missing).await.unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_SETUP_SECRET_PARAMETER");
        assert!(err.to_string().contains("400"), "{err}");
        let pairs = [
            ("WEBEX_CLIENT_SECRET_PARAMETER", "/wq/client-secret"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.as_str()),
            ("AWS_SESSION_TOKEN", "another"),
        ];
        let wrong_token = test_env(&pairs);
        let err = resolve(&wrong_token).await.unwrap_err();
        assert_eq!(err.name, "WEBEX_CLIENT_SECRET_PARAMETER");
        assert!(!err.to_string().contains("value\""), "{err}");
    }
}
