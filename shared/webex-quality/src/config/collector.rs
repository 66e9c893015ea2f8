//! The collector's configuration: the collector function, and the CLI's `collect`, `serve` and
//! `demo`.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    Access, ConfigError, Lookup, WebexSettings, WebexUrls, environment, number_setting,
    store_setting, work_dir_setting,
};
use crate::storage::StoreLocation;

/// The cycle's tunables as set; unset ones keep the collector's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleConfig {
    /// `WEBEX_QUALITY_CYCLE_BUDGET_SECONDS`: the wall time of one cycle.
    pub budget: Option<Duration>,
    /// `WEBEX_QUALITY_CONCURRENCY`: qualities calls in flight.
    pub concurrency: Option<usize>,
    /// `WEBEX_QUALITY_FINAL_GRACE_MINUTES`: the final call is made this long after a meeting ends.
    pub final_grace: Option<chrono::Duration>,
    /// `WEBEX_QUALITY_REFRESH_MARGIN_HOURS`: refresh the access token when less than this is left.
    pub refresh_margin: Option<chrono::Duration>,
    /// `WEBEX_QUALITY_CALL_INTERVAL_SECONDS`: Webex's one-call-per-meeting interval (change it only
    /// for a simulator, or if Webex changes the limit).
    pub call_interval: Option<chrono::Duration>,
    /// `WEBEX_QUALITY_KEEP_SNAPSHOTS`: `final` (the default) drops a meeting's in-progress snapshots
    /// once its final fetch is stored complete and valid; `all` keeps every call's pages.
    pub keep_snapshots: KeepSnapshots,
}

/// Which qualities snapshots are kept once a meeting's final fetch is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeepSnapshots {
    /// Only the final fetch's pages (earlier calls keep their record, marked pruned).
    #[default]
    Final,
    /// Every call's pages.
    All,
}

impl KeepSnapshots {
    fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        match super::text_setting(lookup, "WEBEX_QUALITY_KEEP_SNAPSHOTS")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("final") => Ok(Self::Final),
            Some("all") => Ok(Self::All),
            Some(other) => Err(ConfigError {
                name: "WEBEX_QUALITY_KEEP_SNAPSHOTS",
                problem: format!("{other:?} is neither final nor all"),
                fix: "Give final (keep each meeting's final fetch) or all (keep every snapshot)."
                    .into(),
            }),
        }
    }
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl CycleConfig {
    /// Reads the optional cycle settings.
    ///
    /// # Errors
    /// A [`ConfigError`] naming a malformed setting.
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            budget: number_setting(
                lookup,
                "WEBEX_QUALITY_CYCLE_BUDGET_SECONDS",
                2..=3600,
                "seconds",
            )?
            .map(Duration::from_secs),
            concurrency: number_setting(lookup, "WEBEX_QUALITY_CONCURRENCY", 1..=32, "calls")?
                .map(|n| usize::try_from(n).unwrap_or(4)),
            final_grace: number_setting(
                lookup,
                "WEBEX_QUALITY_FINAL_GRACE_MINUTES",
                0..=24 * 60,
                "minutes",
            )?
            .map(|m| chrono::Duration::minutes(signed(m))),
            refresh_margin: number_setting(
                lookup,
                "WEBEX_QUALITY_REFRESH_MARGIN_HOURS",
                0..=24 * 90,
                "hours",
            )?
            .map(|h| chrono::Duration::hours(signed(h))),
            call_interval: number_setting(
                lookup,
                "WEBEX_QUALITY_CALL_INTERVAL_SECONDS",
                1..=3600,
                "seconds",
            )?
            .map(|s| chrono::Duration::seconds(signed(s))),
            keep_snapshots: KeepSnapshots::from_lookup(lookup)?,
        })
    }
}

/// Everything the collector needs.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// `WEBEX_QUALITY_STORE`: the data store.
    pub store: StoreLocation,
    /// How to reach S3 (`WEBEX_QUALITY_S3_FORCE_PATH_STYLE`).
    pub s3: crate::storage::S3Settings,
    /// `WEBEX_API_URL`, `WEBEX_ANALYTICS_URL`.
    pub urls: WebexUrls,
    /// The integration (`WEBEX_CLIENT_ID`, ...) or `WEBEX_ACCESS_TOKEN`.
    pub access: Access,
    /// `WEBEX_QUALITY_WORK_DIR`: where working copies of the database go.
    pub work_dir: PathBuf,
    /// The cycle's tunables.
    pub cycle: CycleConfig,
    /// The alerts sent after each cycle (`WEBEX_QUALITY_ALERTS_FILE`), if any.
    pub alerts: Option<super::AlertsConfig>,
}

impl CollectorConfig {
    /// Reads the configuration from the process environment (the collector function).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed setting.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&environment)
    }

    /// Reads the configuration through `lookup`.
    ///
    /// # Errors
    /// As [`CollectorConfig::from_env`].
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let store = store_setting(lookup, "WEBEX_QUALITY_STORE", None)?;
        let webex = WebexSettings::from_lookup(lookup)?;
        Ok(Self {
            work_dir: work_dir_setting(lookup, &store),
            s3: super::s3_setting(lookup)?,
            access: webex.access()?,
            urls: webex.urls,
            store,
            cycle: CycleConfig::from_lookup(lookup)?,
            alerts: super::AlertsConfig::from_lookup(lookup)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;

    #[test]
    fn the_collector_needs_a_store_and_a_way_into_webex() {
        let err = CollectorConfig::from_lookup(&env(&[])).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_STORE");
        let err =
            CollectorConfig::from_lookup(&env(&[("WEBEX_QUALITY_STORE", "s3://data-bucket")]))
                .unwrap_err();
        assert_eq!(err.name, "WEBEX_CLIENT_ID");
        assert!(err.to_string().contains("WEBEX_ACCESS_TOKEN"), "{err}");
    }

    #[test]
    fn an_s3_store_works_in_the_temporary_folder_and_a_folder_store_beside_its_data() {
        let config = CollectorConfig::from_lookup(&env(&[
            ("WEBEX_QUALITY_STORE", "s3://data-bucket/team"),
            ("WEBEX_ACCESS_TOKEN", "pat"),
            ("WEBEX_QUALITY_CONCURRENCY", "8"),
        ]))
        .unwrap();
        assert!(config.work_dir.starts_with(std::env::temp_dir()));
        assert_eq!(config.cycle.concurrency, Some(8));
        assert!(matches!(config.access, Access::PersonalToken(_)));
        let config = CollectorConfig::from_lookup(&env(&[
            ("WEBEX_QUALITY_STORE", "/srv/wq"),
            ("WEBEX_ACCESS_TOKEN", "pat"),
        ]))
        .unwrap();
        assert_eq!(config.work_dir, PathBuf::from("/srv/wq/.work"));
    }

    #[test]
    fn a_malformed_cycle_setting_is_named() {
        let err = CycleConfig::from_lookup(&env(&[("WEBEX_QUALITY_CYCLE_BUDGET_SECONDS", "soon")]))
            .unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_CYCLE_BUDGET_SECONDS");
    }
}
