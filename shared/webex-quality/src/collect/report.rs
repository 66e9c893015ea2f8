//! What a cycle reports: how it ended, its counts, and its failures.

use std::time::Duration;

use crate::db::DbError;
use crate::storage::StoreError;
use crate::tokens::TokenError;
use crate::webex::WebexError;

/// How a cycle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every due meeting was called and recorded.
    Ok,
    /// Recorded, but some calls failed or did not fit in the budget.
    Partial,
    /// Webex wants a human to authorize again; recorded in the token object.
    AuthorizationRequired(String),
    /// Another run holds the lease; nothing was done.
    Skipped(String),
    /// Webex could not be listed; what was done is recorded.
    Failed(String),
}

impl Outcome {
    /// `ok`, `partial`, `authorization required`, `skipped` or `failed`.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Partial => "partial",
            Self::AuthorizationRequired(_) => "authorization required",
            Self::Skipped(_) => "skipped",
            Self::Failed(_) => "failed",
        }
    }

    /// Why it was not ok, when Webex or the store said.
    #[must_use]
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::Ok | Self::Partial => None,
            Self::AuthorizationRequired(d) | Self::Skipped(d) | Self::Failed(d) => Some(d.clone()),
        }
    }
}

/// What a cycle did.
#[derive(Debug, Clone)]
pub struct CycleReport {
    /// Run id.
    pub run_id: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Meeting instances listed.
    pub listed: usize,
    /// Meetings due.
    pub due: usize,
    /// Qualities calls made.
    pub calls: usize,
    /// Calls that did not fit in the budget.
    pub deferred: usize,
    /// Pages received.
    pub pages: usize,
    /// Bytes received.
    pub bytes: usize,
    /// Calls answered 429.
    pub rate_limited: usize,
    /// Errors.
    pub errors: usize,
    /// Uploads tried (more than one after conflicts).
    pub upload_attempts: usize,
    /// Whether the database was downloaded (false: the cache was current).
    pub downloaded: bool,
    /// Archive objects written by this cycle (days that left List Meetings' window).
    pub archives_written: usize,
    /// What the alerts did after the cycle (`None`: no alerts configured, or they failed).
    pub alerts: Option<crate::alerts::AlertsReport>,
    /// Wall time.
    pub wall_time: Duration,
}

/// A cycle failure that left nothing recorded (store or database trouble).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The token object failed.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// The Webex client could not be built.
    #[error(transparent)]
    Webex(#[from] WebexError),
    /// Every conditional upload lost a race.
    #[error(
        "the database kept changing under this run ({0} attempts); its work is lost and will be redone"
    )]
    Contention(usize),

    /// The database would be uploaded smaller than the one it was made from, with no `VACUUM` to
    /// explain it: something removed data, so it is not uploaded.
    #[error(
        "the database would shrink from {base} to {now} bytes without a VACUUM: not uploaded (something removed data; the stored object is left as it was)"
    )]
    Shrunk {
        /// Bytes of the copy at checkout.
        base: u64,
        /// Bytes now.
        now: u64,
    },
}
