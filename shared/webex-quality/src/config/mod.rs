//! Typed settings, read once at start from the environment (and, in the CLI, from flags with the same
//! names lower-cased and dashed). The names are a fixed interface shared by every entry point; see
//! the README's configuration table. A missing or malformed setting is an error that names it and says how to fix it.
//!
//! Each entry point has one typed configuration: [`CollectorConfig`] (the collector function and the
//! CLI's `collect`, `serve`), [`SiteConfig`] (the site-builder function and `render`) and
//! [`LoginConfig`] (the oauth-redirect function, `serve` and `login`). Only this module reads the
//! environment; everything else is given a configuration (tests build theirs by hand).

mod alerts;
mod collector;
mod login;
pub mod parameters;
mod signin;
mod site;

pub use alerts::{AlertRules, AlertsConfig};
pub use collector::{CollectorConfig, CycleConfig, KeepSnapshots};
pub use login::{LoginConfig, SetupSecretRule};
pub use signin::SignInConfig;
pub use site::SiteConfig;

/// Where settings come from: the environment, or the CLI's flags layered over it.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as a [`Lookup`].
#[must_use]
pub fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// This process's host, for people reading the collector's lease: `HOSTNAME`, else the Lambda log
/// stream's name.
#[must_use]
pub fn host_name(lookup: Lookup<'_>) -> String {
    lookup("HOSTNAME")
        .or_else(|| lookup("AWS_LAMBDA_LOG_STREAM_NAME"))
        .unwrap_or_else(|| "unknown-host".into())
}

/// How to reach S3 (`WEBEX_QUALITY_S3_FORCE_PATH_STYLE=true` for S3-compatible servers); the rest of
/// the S3 client's settings are the AWS SDK's own variables.
///
/// # Errors
/// A malformed value.
pub fn s3_setting(lookup: Lookup<'_>) -> Result<crate::storage::S3Settings, ConfigError> {
    Ok(crate::storage::S3Settings {
        force_path_style: bool_setting(lookup, "WEBEX_QUALITY_S3_FORCE_PATH_STYLE", false)?,
    })
}

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// Default REST base: OAuth, meetings, people.
pub const DEFAULT_API_URL: &str = "https://webexapis.com/v1";
/// Default analytics base: meeting qualities.
pub const DEFAULT_ANALYTICS_URL: &str = "https://analytics.webexapis.com/v1";
/// The scopes Webex Quality asks for: list every meeting instance of the org as an admin, read
/// qualities, and learn who authorized.
pub const DEFAULT_SCOPES: &str =
    "meeting:schedules_read meeting:admin_schedule_read analytics:read_all spark:people_read";

/// A string that must never be printed: `Debug` and `Display` show `[redacted]`.
///
/// It serializes to its real value, because the token object in private storage has to hold it;
/// nothing else may serialize one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that has to send it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A setting that is missing or malformed, named, with how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {problem}. {fix}")]
pub struct ConfigError {
    /// The environment variable (the CLI flag is the same name, lower-cased and dashed).
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

/// Where the Webex API lives. Webex has regional and government hosts, and tests aim these at the
/// simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebexUrls {
    /// `WEBEX_API_URL`: OAuth, meetings, people.
    pub api: Url,
    /// `WEBEX_ANALYTICS_URL`: meeting qualities.
    pub analytics: Url,
}

impl Default for WebexUrls {
    fn default() -> Self {
        Self {
            api: base_url(DEFAULT_API_URL).expect("default API URL is valid"),
            analytics: base_url(DEFAULT_ANALYTICS_URL).expect("default analytics URL is valid"),
        }
    }
}

/// The OAuth integration's settings.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// `WEBEX_CLIENT_ID`.
    pub client_id: String,
    /// `WEBEX_CLIENT_SECRET`.
    pub client_secret: Secret,
    /// `WEBEX_REDIRECT_URI`: must match one registered on the integration exactly.
    pub redirect_uri: Url,
    /// `WEBEX_SCOPES`, space-separated.
    pub scopes: Vec<String>,
}

/// How the collector gets into Webex.
#[derive(Debug, Clone)]
pub enum Access {
    /// The integration: tokens from the token object, refreshed as needed.
    OAuth(OAuthSettings),
    /// A personal access token (a trial: no refresh).
    PersonalToken(Secret),
}

/// The Webex settings every entry point shares.
#[derive(Debug, Clone, Default)]
pub struct WebexSettings {
    /// Base URLs.
    pub urls: WebexUrls,
    /// The integration, when `WEBEX_CLIENT_ID` is set.
    pub oauth: Option<OAuthSettings>,
    /// `WEBEX_ACCESS_TOKEN`: a personal access token for a quick trial (no refresh).
    pub access_token: Option<Secret>,
}

impl WebexSettings {
    /// Reads the settings from the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first setting that is malformed, or missing while another one
    /// that needs it is set.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(environment)
    }

    /// Reads the settings through `lookup` (the environment, or flags layered over it).
    ///
    /// # Errors
    /// As [`WebexSettings::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let urls = WebexUrls {
            api: url_setting("WEBEX_API_URL", get("WEBEX_API_URL"), DEFAULT_API_URL)?,
            analytics: url_setting(
                "WEBEX_ANALYTICS_URL",
                get("WEBEX_ANALYTICS_URL"),
                DEFAULT_ANALYTICS_URL,
            )?,
        };
        let oauth = match get("WEBEX_CLIENT_ID") {
            None => None,
            Some(client_id) => {
                let client_secret = secret_setting(&lookup, "WEBEX_CLIENT_SECRET")?.ok_or_else(|| ConfigError {
                    name: "WEBEX_CLIENT_SECRET",
                    problem: "missing while WEBEX_CLIENT_ID is set".into(),
                    fix: "Copy the client secret of your Webex integration (developer.webex.com, My Webex Apps).".into(),
                })?;
                let redirect = get("WEBEX_REDIRECT_URI").ok_or_else(|| ConfigError {
                    name: "WEBEX_REDIRECT_URI",
                    problem: "missing while WEBEX_CLIENT_ID is set".into(),
                    fix: "Set it to the redirect URI registered on the integration, e.g. http://localhost:8080/oauth/callback.".into(),
                })?;
                let redirect_uri = Url::parse(&redirect).map_err(|e| ConfigError {
                    name: "WEBEX_REDIRECT_URI",
                    problem: format!("{redirect:?} is not an absolute URL ({e})"),
                    fix: "Give the full URL registered on the integration, with scheme and host."
                        .into(),
                })?;
                let scopes_text = get("WEBEX_SCOPES").unwrap_or_else(|| DEFAULT_SCOPES.into());
                Some(OAuthSettings {
                    client_id: client_id.trim().to_owned(),
                    client_secret,
                    redirect_uri,
                    scopes: scopes_text.split_whitespace().map(str::to_owned).collect(),
                })
            }
        };
        Ok(Self {
            urls,
            oauth,
            access_token: secret_setting(&lookup, "WEBEX_ACCESS_TOKEN")?,
        })
    }
}

impl WebexSettings {
    /// How to get in: the integration when it is configured, else the personal access token.
    ///
    /// # Errors
    /// A [`ConfigError`] when neither is set.
    pub fn access(&self) -> Result<Access, ConfigError> {
        match (&self.oauth, &self.access_token) {
            (Some(oauth), _) => Ok(Access::OAuth(oauth.clone())),
            (None, Some(token)) => Ok(Access::PersonalToken(token.clone())),
            (None, None) => Err(ConfigError {
                name: "WEBEX_CLIENT_ID",
                problem: "missing, and so is WEBEX_ACCESS_TOKEN: there is no way to reach Webex".into(),
                fix: "Set WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET and WEBEX_REDIRECT_URI (an integration, then log in), or WEBEX_ACCESS_TOKEN (a personal access token, for a trial).".into(),
            }),
        }
    }
}

/// A yes/no setting (`true`/`false`, `1`/`0`, `yes`/`no`), or `default` when it is not set.
///
/// # Errors
/// A [`ConfigError`] naming the setting when it is something else.
pub fn bool_setting(
    lookup: Lookup<'_>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    let Some(text) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError {
            name,
            problem: format!("{text:?} is not true or false"),
            fix: "Give true or false, or unset it for the default.".into(),
        }),
    }
}

/// An optional text setting, trimmed; `None` when unset or blank.
#[must_use]
pub fn text_setting(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A secret: the setting `name`, else the content of the file named by `{name}_FILE` (trimmed), so
/// that a secret never has to be typed on a command line, where `ps` shows it. `None` when neither
/// is set.
///
/// # Errors
/// A [`ConfigError`] naming `{name}_FILE` when that file cannot be read or is empty.
pub fn secret_setting(
    lookup: Lookup<'_>,
    name: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    if let Some(value) = text_setting(lookup, name) {
        return Ok(Some(Secret::new(value)));
    }
    let file_setting: &'static str = match name {
        "WEBEX_CLIENT_SECRET" => "WEBEX_CLIENT_SECRET_FILE",
        "WEBEX_ACCESS_TOKEN" => "WEBEX_ACCESS_TOKEN_FILE",
        "WEBEX_QUALITY_SETUP_SECRET" => "WEBEX_QUALITY_SETUP_SECRET_FILE",
        "WEBEX_QUALITY_COOKIE_KEY" => "WEBEX_QUALITY_COOKIE_KEY_FILE",
        _ => return Ok(None),
    };
    let Some(path) = text_setting(lookup, file_setting) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
        name: file_setting,
        problem: format!("{path:?} cannot be read ({e})"),
        fix: format!(
            "Give the path of a file holding only the value of {name}, readable by this user."
        ),
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(ConfigError {
            name: file_setting,
            problem: format!("{path:?} is empty"),
            fix: format!("Put the value of {name} in it."),
        });
    }
    Ok(Some(Secret::new(value)))
}

/// The private folder where an entry point keeps its working copies: `WEBEX_QUALITY_WORK_DIR`, else
/// `.work` inside a folder store (where the store cannot reach it), else `webex-quality` in the
/// system's temporary folder (`/tmp` on Lambda).
#[must_use]
pub fn work_dir_setting(
    lookup: Lookup<'_>,
    store: &crate::storage::StoreLocation,
) -> std::path::PathBuf {
    if let Some(dir) = text_setting(lookup, "WEBEX_QUALITY_WORK_DIR") {
        return dir.into();
    }
    match store {
        crate::storage::StoreLocation::Folder(path) => path.join(".work"),
        crate::storage::StoreLocation::S3 { .. } => std::env::temp_dir().join("webex-quality"),
    }
}

/// A numeric setting, or `None` when it is not set.
///
/// # Errors
/// A [`ConfigError`] naming the setting when it is not a number in `range`.
pub fn number_setting(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
    unit: &str,
) -> Result<Option<u64>, ConfigError> {
    let Some(text) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ConfigError {
            name,
            problem: format!(
                "{text:?} is not a whole number of {unit} from {} to {}",
                range.start(),
                range.end()
            ),
            fix: format!("Give a number of {unit}, or unset it for the default."),
        }),
    }
}

/// Where the data lives: `WEBEX_QUALITY_STORE` (`s3://bucket/prefix` or a folder), else `default`.
///
/// # Errors
/// A [`ConfigError`] when the value is neither.
pub fn store_setting(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: Option<&str>,
) -> Result<crate::storage::StoreLocation, ConfigError> {
    let text = lookup(name)
        .filter(|v| !v.trim().is_empty())
        .or_else(|| default.map(str::to_owned))
        .ok_or_else(|| ConfigError {
            name,
            problem: "missing".into(),
            fix: "Set it to s3://bucket/prefix or to a folder path.".into(),
        })?;
    crate::storage::StoreLocation::parse(&text).map_err(|problem| ConfigError {
        name,
        problem: format!("{text:?} {problem}"),
        fix: "Give s3://bucket/prefix or a folder path.".into(),
    })
}

fn url_setting(
    name: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<Url, ConfigError> {
    let text = value.unwrap_or_else(|| default.to_owned());
    base_url(&text).map_err(|problem| ConfigError {
        name,
        problem: format!("{text:?} {problem}"),
        fix: format!("Give an http(s) base URL ending in /v1, for example {default}."),
    })
}

/// Parses a base URL and gives it a trailing slash, so that `join("meetings")` appends a segment.
///
/// # Errors
/// A description of what is wrong with `text`.
pub fn base_url(text: &str) -> Result<Url, String> {
    let mut url = Url::parse(text.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("is not an http(s) URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or fragment".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Settings from fixed pairs, for the tests of the configurations.
#[cfg(test)]
pub(crate) fn test_env<'a>(
    pairs: &'a [(&'a str, &'a str)],
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_env as env;

    #[test]
    fn a_secret_comes_from_its_setting_or_from_the_file_its_file_setting_names() {
        let dir = std::env::temp_dir().join(format!("wq-secret-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client-secret");
        std::fs::write(&file, "from-the-file\n").unwrap();
        let path = file.to_str().unwrap();
        let id = ("WEBEX_CLIENT_ID", "C-id");
        let redirect = ("WEBEX_REDIRECT_URI", "http://localhost:8080/oauth/callback");
        let secret = |pairs: &[(&str, &str)]| {
            WebexSettings::from_lookup(env(pairs)).map(|s| s.oauth.unwrap().client_secret)
        };
        let from_file = secret(&[id, redirect, ("WEBEX_CLIENT_SECRET_FILE", path)]).unwrap();
        assert_eq!(from_file.expose(), "from-the-file");
        // The setting itself wins over the file.
        let typed = secret(&[
            id,
            redirect,
            ("WEBEX_CLIENT_SECRET", "typed"),
            ("WEBEX_CLIENT_SECRET_FILE", path),
        ])
        .unwrap();
        assert_eq!(typed.expose(), "typed");
        // A file that cannot be read, or is empty, is named.
        let missing = secret(&[
            id,
            redirect,
            ("WEBEX_CLIENT_SECRET_FILE", "/nonexistent/secret"),
        ]);
        assert_eq!(missing.unwrap_err().name, "WEBEX_CLIENT_SECRET_FILE");
        std::fs::write(&file, " \n").unwrap();
        let empty = secret(&[id, redirect, ("WEBEX_CLIENT_SECRET_FILE", path)]);
        assert_eq!(empty.unwrap_err().name, "WEBEX_CLIENT_SECRET_FILE");
        // The personal access token too.
        std::fs::write(&file, "a-token").unwrap();
        let settings =
            WebexSettings::from_lookup(env(&[("WEBEX_ACCESS_TOKEN_FILE", path)])).unwrap();
        assert_eq!(settings.access_token.unwrap().expose(), "a-token");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn defaults_point_at_the_public_webex_hosts() {
        let settings = WebexSettings::from_lookup(env(&[])).unwrap();
        assert_eq!(settings.urls.api.as_str(), "https://webexapis.com/v1/");
        assert_eq!(
            settings.urls.analytics.as_str(),
            "https://analytics.webexapis.com/v1/"
        );
        assert!(settings.oauth.is_none());
    }

    #[test]
    fn a_malformed_url_names_the_setting_and_the_fix() {
        let err = WebexSettings::from_lookup(env(&[("WEBEX_ANALYTICS_URL", "ftp://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("WEBEX_ANALYTICS_URL"), "{err}");
        assert!(err.contains("for example https://analytics"), "{err}");
    }

    #[test]
    fn a_client_id_without_secret_is_refused_by_name() {
        let err = WebexSettings::from_lookup(env(&[("WEBEX_CLIENT_ID", "C123")])).unwrap_err();
        assert_eq!(err.name, "WEBEX_CLIENT_SECRET");
    }

    #[test]
    fn secrets_never_print() {
        let settings = WebexSettings::from_lookup(env(&[
            ("WEBEX_CLIENT_ID", "C123"),
            ("WEBEX_CLIENT_SECRET", "hunter2"),
            ("WEBEX_REDIRECT_URI", "http://localhost:8080/oauth/callback"),
            ("WEBEX_ACCESS_TOKEN", "pat-value"),
        ]))
        .unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("pat-value"));
        assert!(printed.contains("[redacted]"));
        assert_eq!(settings.oauth.unwrap().scopes.len(), 4);
    }
}
