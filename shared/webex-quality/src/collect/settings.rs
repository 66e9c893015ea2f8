//! The cycle's tunables.

use std::time::Duration;

use super::Rules;
use crate::config::{CycleConfig, KeepSnapshots};

/// The cycle's tunables.
#[derive(Debug, Clone)]
pub struct CycleSettings {
    /// Wall time the whole cycle may take (the Lambda timeout minus a margin).
    pub budget: Duration,
    /// Time kept at the end for writing and uploading the database: no call starts after
    /// `budget - upload_reserve`.
    pub upload_reserve: Duration,
    /// Qualities calls in flight at once.
    pub concurrency: usize,
    /// Webex's timing rules.
    pub rules: Rules,
    /// Refresh the access token when less than this is left.
    pub refresh_margin: chrono::Duration,
    /// Conditional uploads tried before giving up.
    pub upload_attempts: usize,
    /// Which snapshots stay once a meeting's final fetch is stored.
    pub keep_snapshots: KeepSnapshots,
}

impl Default for CycleSettings {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(240),
            upload_reserve: Duration::from_secs(45),
            concurrency: 4,
            rules: Rules::default(),
            refresh_margin: chrono::Duration::days(1),
            upload_attempts: 5,
            keep_snapshots: KeepSnapshots::Final,
        }
    }
}

impl CycleSettings {
    /// The defaults, with what `config` sets.
    #[must_use]
    pub fn from_config(config: &CycleConfig) -> Self {
        let mut settings = Self::default();
        if let Some(budget) = config.budget {
            settings.budget = budget;
            // Keep a fifth of the budget (at most 45 s) for recording.
            settings.upload_reserve = (budget / 5).min(Duration::from_secs(45));
        }
        if let Some(concurrency) = config.concurrency {
            settings.concurrency = concurrency;
        }
        if let Some(grace) = config.final_grace {
            settings.rules.final_grace = grace;
        }
        if let Some(margin) = config.refresh_margin {
            settings.refresh_margin = margin;
        }
        if let Some(interval) = config.call_interval {
            settings.rules.call_interval = interval;
        }
        settings.keep_snapshots = config.keep_snapshots;
        settings
    }
}
