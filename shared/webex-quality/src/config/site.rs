//! The site-builder's configuration: the site-builder function and the CLI's `render`.

use std::path::PathBuf;

use super::{
    ConfigError, Lookup, bool_setting, environment, number_setting, store_setting, text_setting,
    work_dir_setting,
};
use crate::storage::StoreLocation;

/// Everything rendering and publishing the dashboard needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteConfig {
    /// `WEBEX_QUALITY_STORE`: the data store (read-only here, but for the render cache).
    pub store: StoreLocation,
    /// How to reach S3 (`WEBEX_QUALITY_S3_FORCE_PATH_STYLE`).
    pub s3: crate::storage::S3Settings,
    /// `WEBEX_QUALITY_SITE_STORE`: where the dashboard is published; default `site/` under a folder
    /// store (required with an S3 data store).
    pub site_store: StoreLocation,
    /// `WEBEX_QUALITY_WORK_DIR`: where the working copy of the database goes.
    pub work_dir: PathBuf,
    /// `WEBEX_QUALITY_SHOW_PERSONAL`: show emails and IP addresses (masked by default).
    pub show_personal: bool,
    /// `WEBEX_QUALITY_THRESHOLDS_FILE`: a JSON file of threshold changes.
    pub thresholds_file: Option<PathBuf>,
    /// `WEBEX_QUALITY_SITES_FILE`: a CSV of `cidr,name` naming the offices' IP ranges.
    pub sites_file: Option<PathBuf>,
    /// `WEBEX_QUALITY_RENDER_INTERVAL_MINUTES`: the site-builder function renders at most this
    /// often (0, the default: on every change). Every render uploads the changed meetings' pages
    /// and their people's pages, so at 5-minute cycles S3 PUT requests are most of the bill.
    pub render_interval_minutes: u64,
}

impl SiteConfig {
    /// Reads the configuration from the process environment (the site-builder function).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed setting.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&environment)
    }

    /// Reads the configuration through `lookup`.
    ///
    /// # Errors
    /// As [`SiteConfig::from_env`].
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let store = store_setting(lookup, "WEBEX_QUALITY_STORE", None)?;
        let default_site = match &store {
            StoreLocation::Folder(path) => Some(path.join("site").display().to_string()),
            StoreLocation::S3 { .. } => None,
        };
        let site_store =
            store_setting(lookup, "WEBEX_QUALITY_SITE_STORE", default_site.as_deref())?;
        if let Some(problem) = store.site_conflict(&site_store) {
            return Err(ConfigError {
                name: "WEBEX_QUALITY_SITE_STORE",
                problem,
                fix: "Publish the dashboard outside the data store: another folder, bucket or prefix.".into(),
            });
        }
        Ok(Self {
            work_dir: work_dir_setting(lookup, &store),
            s3: super::s3_setting(lookup)?,
            store,
            site_store,
            show_personal: bool_setting(lookup, "WEBEX_QUALITY_SHOW_PERSONAL", false)?,
            thresholds_file: text_setting(lookup, "WEBEX_QUALITY_THRESHOLDS_FILE").map(Into::into),
            sites_file: text_setting(lookup, "WEBEX_QUALITY_SITES_FILE").map(Into::into),
            render_interval_minutes: number_setting(
                lookup,
                "WEBEX_QUALITY_RENDER_INTERVAL_MINUTES",
                0..=1440,
                "minutes",
            )?
            .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_data_store_needs_a_site_store_and_a_folder_has_one_inside() {
        let s3 =
            |name: &str| (name == "WEBEX_QUALITY_STORE").then(|| "s3://data-bucket".to_owned());
        let err = SiteConfig::from_lookup(&s3).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_SITE_STORE");
        let folder = |name: &str| (name == "WEBEX_QUALITY_STORE").then(|| "/srv/wq".to_owned());
        let config = SiteConfig::from_lookup(&folder).unwrap();
        assert_eq!(
            config.site_store,
            StoreLocation::Folder("/srv/wq/site".into())
        );
        assert!(!config.show_personal);
        let inside = |name: &str| match name {
            "WEBEX_QUALITY_STORE" => Some("/srv/wq".to_owned()),
            "WEBEX_QUALITY_SITE_STORE" => Some("/srv".to_owned()),
            _ => None,
        };
        let err = SiteConfig::from_lookup(&inside).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_SITE_STORE");
        assert!(
            err.problem.contains("holds the data folder"),
            "{}",
            err.problem
        );
    }

    #[test]
    fn show_personal_must_be_a_yes_or_no() {
        let lookup = |name: &str| match name {
            "WEBEX_QUALITY_STORE" => Some("/srv/wq".to_owned()),
            "WEBEX_QUALITY_SHOW_PERSONAL" => Some("maybe".to_owned()),
            _ => None,
        };
        let err = SiteConfig::from_lookup(&lookup).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_SHOW_PERSONAL");
    }
}
