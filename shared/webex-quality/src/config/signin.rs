//! The viewers' sign-in (the oauth-redirect function behind CloudFront): where the dashboard is,
//! the key that signs CloudFront's cookies, and who may view.

use url::Url;

use super::{ConfigError, Lookup, Secret, number_setting, secret_setting, text_setting};

/// How viewers sign in to the dashboard.
#[derive(Debug, Clone)]
pub struct SignInConfig {
    /// `WEBEX_QUALITY_DASHBOARD_URL`: the dashboard's origin (`https://d111111abcdef8.cloudfront.net`);
    /// the signed cookies cover it, and the sign-in's redirect URI is `/auth/callback` on it.
    pub dashboard: Url,
    /// `WEBEX_QUALITY_COOKIE_KEY_ID`: the CloudFront public key's id.
    pub key_id: String,
    /// `WEBEX_QUALITY_COOKIE_KEY`: the private key (PKCS#8 PEM, ECDSA P-256) that signs the cookies.
    pub key: Secret,
    /// `WEBEX_QUALITY_VIEWERS`: emails or domains allowed to view, lower-cased; empty is everyone in
    /// the organisation.
    pub viewers: Vec<String>,
    /// `WEBEX_QUALITY_SIGNIN_HOURS`: how long a sign-in lasts (default 8).
    pub hours: u32,
}

impl SignInConfig {
    /// The sign-in's configuration when `WEBEX_QUALITY_COOKIE_KEY_ID` is set, `None` otherwise (the
    /// CLI's `serve` and a function deployed without CloudFront).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed setting.
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Option<Self>, ConfigError> {
        let Some(key_id) = text_setting(lookup, "WEBEX_QUALITY_COOKIE_KEY_ID") else {
            return Ok(None);
        };
        let dashboard_text =
            text_setting(lookup, "WEBEX_QUALITY_DASHBOARD_URL").ok_or_else(|| ConfigError {
                name: "WEBEX_QUALITY_DASHBOARD_URL",
                problem: "missing while WEBEX_QUALITY_COOKIE_KEY_ID is set".into(),
                fix: "Set it to the dashboard's address, https://<distribution>.cloudfront.net (the template does).".into(),
            })?;
        let dashboard = Url::parse(&dashboard_text)
            .ok()
            .filter(|u| u.scheme() == "https" && u.host_str().is_some())
            .filter(|u| u.path() == "/" && u.query().is_none())
            .ok_or_else(|| ConfigError {
                name: "WEBEX_QUALITY_DASHBOARD_URL",
                problem: format!("{dashboard_text:?} is not an https origin"),
                fix: "Give https://host with no path, for example https://d111111abcdef8.cloudfront.net.".into(),
            })?;
        let key = secret_setting(lookup, "WEBEX_QUALITY_COOKIE_KEY")?.ok_or_else(|| ConfigError {
                name: "WEBEX_QUALITY_COOKIE_KEY",
                problem: "missing while WEBEX_QUALITY_COOKIE_KEY_ID is set".into(),
                fix: "Store the private key (PEM) in the SSM SecureString parameter named by WEBEX_QUALITY_COOKIE_KEY_PARAMETER (infra/README.md).".into(),
            })?;
        let viewers = text_setting(lookup, "WEBEX_QUALITY_VIEWERS")
            .map(|text| {
                text.split([',', ' ', ';', '\n'])
                    .map(|v| v.trim().trim_start_matches('@').to_lowercase())
                    .filter(|v| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let hours = number_setting(lookup, "WEBEX_QUALITY_SIGNIN_HOURS", 1..=24, "hours")?
            .map_or(8, |h| u32::try_from(h).unwrap_or(8));
        Ok(Some(Self {
            dashboard,
            key_id,
            key,
            viewers,
            hours,
        }))
    }

    /// The sign-in's redirect URI (register it in the Webex integration beside the admin's).
    #[must_use]
    pub fn redirect_uri(&self) -> Url {
        self.dashboard
            .join("auth/callback")
            .unwrap_or_else(|_| self.dashboard.clone())
    }

    /// Whether `email` may view: listed itself, or its domain is.
    #[must_use]
    pub fn may_view(&self, email: &str) -> bool {
        if self.viewers.is_empty() {
            return true;
        }
        let email = email.trim().to_lowercase();
        let Some((_, domain)) = email.rsplit_once('@').filter(|(_, d)| !d.is_empty()) else {
            return false;
        };
        self.viewers
            .iter()
            .any(|v| *v == email || (!v.contains('@') && v == domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;

    const SIGN_IN: [(&str, &str); 3] = [
        ("WEBEX_QUALITY_COOKIE_KEY_ID", "K2JCJMDEHXQW5F"),
        (
            "WEBEX_QUALITY_DASHBOARD_URL",
            "https://d111111abcdef8.cloudfront.net",
        ),
        ("WEBEX_QUALITY_COOKIE_KEY", "-----BEGIN PRIVATE KEY-----"),
    ];

    #[test]
    fn no_key_id_no_sign_in_and_a_key_id_needs_the_rest() {
        assert!(SignInConfig::from_lookup(&env(&[])).unwrap().is_none());
        let err = SignInConfig::from_lookup(&env(&SIGN_IN[..1])).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_DASHBOARD_URL");
        let err = SignInConfig::from_lookup(&env(&SIGN_IN[..2])).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_COOKIE_KEY");
        let config = SignInConfig::from_lookup(&env(&SIGN_IN)).unwrap().unwrap();
        assert_eq!(
            config.redirect_uri().as_str(),
            "https://d111111abcdef8.cloudfront.net/auth/callback"
        );
        assert_eq!(config.hours, 8);
        assert!(
            !format!("{config:?}").contains("BEGIN"),
            "the key never prints"
        );
    }

    #[test]
    fn the_dashboard_must_be_an_https_origin() {
        for bad in [
            "http://d111111abcdef8.cloudfront.net",
            "https://d111111abcdef8.cloudfront.net/site",
            "not a url",
        ] {
            let mut pairs = SIGN_IN.to_vec();
            pairs[1].1 = bad;
            let err = SignInConfig::from_lookup(&env(&pairs)).unwrap_err();
            assert_eq!(err.name, "WEBEX_QUALITY_DASHBOARD_URL", "{bad}");
        }
    }

    #[test]
    fn viewers_are_emails_or_domains() {
        let mut pairs = SIGN_IN.to_vec();
        pairs.push((
            "WEBEX_QUALITY_VIEWERS",
            "Ana@Example.com, @partner.example ops.example",
        ));
        let config = SignInConfig::from_lookup(&env(&pairs)).unwrap().unwrap();
        assert!(config.may_view("ana@example.com"));
        assert!(!config.may_view("bob@example.com"));
        assert!(config.may_view("Someone@Partner.Example"));
        assert!(config.may_view("x@ops.example"));
        assert!(!config.may_view("x@evil-ops.example"));
        assert!(!config.may_view("ops.example"));
        let open = SignInConfig::from_lookup(&env(&SIGN_IN)).unwrap().unwrap();
        assert!(open.may_view("anyone@anywhere.example"));
    }
}
