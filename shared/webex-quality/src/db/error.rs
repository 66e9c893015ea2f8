//! What can go wrong with a database file.

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is from a newer Webex Quality.
    #[error(
        "database {path} has schema version {found}; this build knows up to {known}: upgrade Webex Quality"
    )]
    TooNew {
        /// The file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// `PRAGMA integrity_check` found damage.
    #[error("database {path} failed its integrity check: {report}")]
    Corrupt {
        /// The file.
        path: String,
        /// What SQLite reported.
        report: String,
    },
    /// A run's delta file could not be read or copied.
    #[error("delta {path}: {detail}")]
    Delta {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A stored body could not be inflated, or does not hash to its key.
    #[error("stored body {sha256} is damaged: {detail}")]
    BadBody {
        /// The body's key.
        sha256: String,
        /// What is wrong.
        detail: String,
    },
}
