//! The login's configuration: the oauth-redirect function, and the CLI's `serve` and `login`.

use super::{
    ConfigError, Lookup, OAuthSettings, Secret, WebexSettings, WebexUrls, environment,
    secret_setting, store_setting, text_setting,
};
use crate::storage::StoreLocation;

/// Whether `WEBEX_QUALITY_SETUP_SECRET` must be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupSecretRule {
    /// It must (a Lambda function, reachable from anywhere).
    Required,
    /// It may be absent (`serve` on a loopback address; the caller checks the address).
    Optional,
}

/// Everything the login flow needs.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// `WEBEX_QUALITY_STORE`: where the token object goes.
    pub store: StoreLocation,
    /// How to reach S3 (`WEBEX_QUALITY_S3_FORCE_PATH_STYLE`).
    pub s3: crate::storage::S3Settings,
    /// `WEBEX_API_URL` (authorize, token, people/me).
    pub urls: WebexUrls,
    /// The integration.
    pub oauth: OAuthSettings,
    /// `WEBEX_QUALITY_SETUP_SECRET`: what an admin must type to start a login.
    pub setup_secret: Option<Secret>,
    /// `WEBEX_QUALITY_ORG_ID`: the only organisation whose admin may log in (otherwise the first
    /// login's organisation is pinned).
    pub org_id: Option<String>,
}

impl LoginConfig {
    /// Reads the configuration from the process environment (the oauth-redirect function: the
    /// setup secret is required).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed setting.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&environment, SetupSecretRule::Required)
    }

    /// Reads the configuration through `lookup`.
    ///
    /// # Errors
    /// As [`LoginConfig::from_env`].
    pub fn from_lookup(lookup: Lookup<'_>, rule: SetupSecretRule) -> Result<Self, ConfigError> {
        let store = store_setting(lookup, "WEBEX_QUALITY_STORE", None)?;
        let webex = WebexSettings::from_lookup(lookup)?;
        let oauth = webex.oauth.ok_or_else(|| ConfigError {
            name: "WEBEX_CLIENT_ID",
            problem: "missing: logging in needs a Webex integration".into(),
            fix: "Create an integration on developer.webex.com and set WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET and WEBEX_REDIRECT_URI.".into(),
        })?;
        let setup_secret = secret_setting(lookup, "WEBEX_QUALITY_SETUP_SECRET")?;
        if rule == SetupSecretRule::Required && setup_secret.is_none() {
            return Err(ConfigError {
                name: "WEBEX_QUALITY_SETUP_SECRET",
                problem: "missing: without it anyone who finds /login could replace the organisation's tokens".into(),
                fix: "Set it to a long random value (for example `openssl rand -base64 32`) and give it only to the administrators who may authorize.".into(),
            });
        }
        if let Some(secret) = &setup_secret
            && secret.expose().len() < 12
        {
            return Err(ConfigError {
                name: "WEBEX_QUALITY_SETUP_SECRET",
                problem: "shorter than 12 characters".into(),
                fix: "Use a long random value, for example `openssl rand -base64 32`.".into(),
            });
        }
        Ok(Self {
            store,
            s3: super::s3_setting(lookup)?,
            urls: webex.urls,
            oauth,
            setup_secret,
            org_id: text_setting(lookup, "WEBEX_QUALITY_ORG_ID"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;

    const INTEGRATION: [(&str, &str); 4] = [
        ("WEBEX_QUALITY_STORE", "s3://data-bucket"),
        ("WEBEX_CLIENT_ID", "C1"),
        ("WEBEX_CLIENT_SECRET", "client-secret"),
        ("WEBEX_REDIRECT_URI", "https://example.com/oauth/callback"),
    ];

    #[test]
    fn a_lambda_refuses_to_start_without_a_setup_secret() {
        let err =
            LoginConfig::from_lookup(&env(&INTEGRATION), SetupSecretRule::Required).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_SETUP_SECRET");
        assert!(LoginConfig::from_lookup(&env(&INTEGRATION), SetupSecretRule::Optional).is_ok());
    }

    #[test]
    fn a_short_setup_secret_is_refused_and_a_good_one_never_prints() {
        let mut pairs = INTEGRATION.to_vec();
        pairs.push(("WEBEX_QUALITY_SETUP_SECRET", "short"));
        let err = LoginConfig::from_lookup(&env(&pairs), SetupSecretRule::Required).unwrap_err();
        assert!(!err.to_string().contains("short\""), "{err}");
        pairs.pop();
        pairs.push(("WEBEX_QUALITY_SETUP_SECRET", "a-long-enough-setup-secret"));
        pairs.push(("WEBEX_QUALITY_ORG_ID", " org-1 "));
        let config = LoginConfig::from_lookup(&env(&pairs), SetupSecretRule::Required).unwrap();
        assert_eq!(config.org_id.as_deref(), Some("org-1"));
        assert!(!format!("{config:?}").contains("a-long-enough"));
    }

    #[test]
    fn a_login_needs_an_integration() {
        let err = LoginConfig::from_lookup(
            &env(&[
                ("WEBEX_QUALITY_STORE", "/srv/wq"),
                ("WEBEX_ACCESS_TOKEN", "pat"),
            ]),
            SetupSecretRule::Optional,
        )
        .unwrap_err();
        assert_eq!(err.name, "WEBEX_CLIENT_ID");
    }
}
