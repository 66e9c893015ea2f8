//! The alerts' configuration ([`crate::alerts`]): the rules file, where alerts go, and the secrets
//! that take them there. Read by the collector function and the CLI's `collect`, `serve` and `demo`.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, Lookup, Secret, bool_setting, text_setting};

/// The rules of `WEBEX_QUALITY_ALERTS_FILE` (JSON). A rule left out is off, but for the
/// collection's own health ("authorization needed", no successful cycle, meetings whose 7-day
/// window is closing), which are on unless turned off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRules {
    /// The Webex space (room id) alerts are posted to with the bot token.
    #[serde(default)]
    pub webex_room_id: Option<String>,
    /// A meeting where at least this many participants had a poor stream.
    #[serde(default)]
    pub meeting_poor_participants: Option<u32>,
    /// A person with a poor stream in at least this many meetings in 7 days.
    #[serde(default)]
    pub person_poor_meetings: Option<u32>,
    /// An office whose participant-minutes of the last hour were poor above this percentage.
    #[serde(default)]
    pub office_poor_percent: Option<f64>,
    /// ... counting only offices with at least this many participant-minutes in that hour.
    #[serde(default = "thirty")]
    pub office_minimum_minutes: u32,
    /// When Webex needs an administrator to authorize again.
    #[serde(default = "yes")]
    pub authorization_needed: bool,
    /// No successful cycle for this many minutes (`null`: off).
    #[serde(default = "some_thirty")]
    pub no_cycle_minutes: Option<u32>,
    /// A meeting whose 7-day window closes within this many hours with its data not fetched
    /// (`null`: off).
    #[serde(default = "some_twelve")]
    pub window_closing_hours: Option<u32>,
    /// At most this many alerts of one rule in an hour; more are recorded as suppressed.
    #[serde(default = "ten")]
    pub max_per_rule_per_hour: u32,
}

fn thirty() -> u32 {
    30
}
fn yes() -> bool {
    true
}
fn some_thirty() -> Option<u32> {
    Some(30)
}
fn some_twelve() -> Option<u32> {
    Some(12)
}
fn ten() -> u32 {
    10
}

/// Everything the alerts need; `None` from [`AlertsConfig::from_lookup`] when no rules file is set.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// The rules.
    pub rules: AlertRules,
    /// `WEBEX_QUALITY_ALERTS_BOT_TOKEN`: a Webex bot's token, to post to the space.
    pub bot_token: Option<Secret>,
    /// `WEBEX_QUALITY_ALERTS_WEBHOOK_URL`: a generic incoming webhook (Slack, Teams), a secret too.
    pub webhook_url: Option<Secret>,
    /// `WEBEX_QUALITY_DASHBOARD_URL`: where alerts link to (the meeting's page), when set.
    pub dashboard_url: Option<String>,
    /// `WEBEX_QUALITY_SHOW_PERSONAL`: emails in the clear (masked by default).
    pub show_personal: bool,
    /// `WEBEX_QUALITY_SITES_FILE`: the offices, for the office rule.
    pub sites_file: Option<PathBuf>,
    /// `WEBEX_QUALITY_THRESHOLDS_FILE`: the verdicts' thresholds, as the dashboard's.
    pub thresholds_file: Option<PathBuf>,
}

const FILE: &str = "WEBEX_QUALITY_ALERTS_FILE";

impl AlertsConfig {
    /// Reads the alerts' settings; `None` without `WEBEX_QUALITY_ALERTS_FILE`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting when the file cannot be read or is invalid, or when
    /// no destination is configured.
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Option<Self>, ConfigError> {
        let Some(path) = text_setting(lookup, FILE) else {
            return Ok(None);
        };
        let fail = |name: &'static str, problem: String, fix: &str| ConfigError {
            name,
            problem,
            fix: fix.into(),
        };
        let example = "Give a JSON file such as {\"webex_room_id\": \"...\", \"meeting_poor_participants\": 3}, or unset it.";
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fail(FILE, format!("{path} cannot be read ({e})"), example))?;
        let rules: AlertRules = serde_json::from_str(&text)
            .map_err(|e| fail(FILE, format!("{path} is not valid ({e})"), example))?;
        if rules
            .office_poor_percent
            .is_some_and(|p| !(0.0..=100.0).contains(&p))
        {
            return Err(fail(
                FILE,
                format!("{path}: office_poor_percent must be from 0 to 100"),
                example,
            ));
        }
        let bot_token = text_setting(lookup, "WEBEX_QUALITY_ALERTS_BOT_TOKEN").map(Secret::new);
        let webhook_url = text_setting(lookup, "WEBEX_QUALITY_ALERTS_WEBHOOK_URL");
        if let Some(url) = &webhook_url {
            let parsed = url::Url::parse(url).ok();
            if !parsed.is_some_and(|u| matches!(u.scheme(), "https" | "http")) {
                return Err(fail(
                    "WEBEX_QUALITY_ALERTS_WEBHOOK_URL",
                    "it is not an http(s) URL".into(),
                    "Give the incoming webhook's URL, https://...",
                ));
            }
        }
        match (&rules.webex_room_id, &bot_token) {
            (Some(_), None) => {
                return Err(fail(
                    "WEBEX_QUALITY_ALERTS_BOT_TOKEN",
                    "the alerts file names a Webex space but no bot token is set".into(),
                    "Set the token of a Webex bot that is a member of the space.",
                ));
            }
            (None, Some(_)) => {
                return Err(fail(
                    FILE,
                    format!("{path}: a bot token is set but no webex_room_id"),
                    example,
                ));
            }
            (None, None) if webhook_url.is_none() => {
                return Err(fail(
                    FILE,
                    format!("{path}: alerts have nowhere to go"),
                    "Set webex_room_id in the file and WEBEX_QUALITY_ALERTS_BOT_TOKEN, or WEBEX_QUALITY_ALERTS_WEBHOOK_URL.",
                ));
            }
            _ => {}
        }
        Ok(Some(Self {
            rules,
            bot_token,
            webhook_url: webhook_url.map(Secret::new),
            dashboard_url: text_setting(lookup, "WEBEX_QUALITY_DASHBOARD_URL")
                .map(|u| u.trim_end_matches('/').to_owned()),
            show_personal: bool_setting(lookup, "WEBEX_QUALITY_SHOW_PERSONAL", false)?,
            sites_file: text_setting(lookup, "WEBEX_QUALITY_SITES_FILE").map(Into::into),
            thresholds_file: text_setting(lookup, "WEBEX_QUALITY_THRESHOLDS_FILE").map(Into::into),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;

    fn file(json: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), json).unwrap();
        file
    }

    #[test]
    fn rules_need_somewhere_to_go_and_name_what_is_wrong() {
        assert_eq!(AlertsConfig::from_lookup(&env(&[])).unwrap(), None);
        let rules = file(r#"{"webex_room_id": "room", "meeting_poor_participants": 3}"#);
        let path = rules.path().to_str().unwrap();
        let err = AlertsConfig::from_lookup(&env(&[(FILE, path)])).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_ALERTS_BOT_TOKEN");
        let config = AlertsConfig::from_lookup(&env(&[
            (FILE, path),
            ("WEBEX_QUALITY_ALERTS_BOT_TOKEN", "bot"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.rules.meeting_poor_participants, Some(3));
        assert_eq!(config.rules.no_cycle_minutes, Some(30));
        assert!(
            !format!("{config:?}").contains("bot\""),
            "the token is redacted"
        );
        let webhook_only = file(r#"{"person_poor_meetings": 2}"#);
        let path = webhook_only.path().to_str().unwrap();
        let err = AlertsConfig::from_lookup(&env(&[(FILE, path)])).unwrap_err();
        assert!(err.problem.contains("nowhere to go"), "{err}");
        let err = AlertsConfig::from_lookup(&env(&[
            (FILE, path),
            ("WEBEX_QUALITY_ALERTS_WEBHOOK_URL", "ftp://x"),
        ]))
        .unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_ALERTS_WEBHOOK_URL");
        let typo = file(r#"{"meeting_poor_participant": 3}"#);
        let err = AlertsConfig::from_lookup(&env(&[
            (FILE, typo.path().to_str().unwrap()),
            (
                "WEBEX_QUALITY_ALERTS_WEBHOOK_URL",
                "https://hooks.example/x",
            ),
        ]))
        .unwrap_err();
        assert!(err.problem.contains("unknown field"), "{err}");
    }
}
