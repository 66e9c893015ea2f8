//! What a command reports when it fails, and the exit code that goes with it.

use webex_quality::config::ConfigError;

/// A command failure: what went wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A setting is missing or malformed.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The data folder is missing.
    #[error(
        "the data folder {0} does not exist. Run `webex-quality login` (or `demo`) first, or point --data-dir (WEBEX_QUALITY_STORE) at it."
    )]
    MissingDataDir(String),
    /// A store location the CLI cannot use.
    #[error("{0}")]
    Usage(String),
    /// The address is taken.
    #[error(
        "cannot listen on {addr}: {source}. Is another webex-quality (or something else) using it? Pick another with {flag}."
    )]
    AddressInUse {
        /// The address.
        addr: String,
        /// The flag that changes it.
        flag: &'static str,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Webex wants a human to authorize again.
    #[error(
        "authorization needed: {0}. Nothing was lost; run `webex-quality login` (or open /login on `serve`) to authorize again."
    )]
    AuthorizationNeeded(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process's exit code: 2 for settings and usage, 3 when a human must authorize, 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_)
            | Self::MissingDataDir(_)
            | Self::Usage(_)
            | Self::AddressInUse { .. } => 2,
            Self::AuthorizationNeeded(_) => 3,
            Self::Failed(_) => 1,
        }
    }

    pub(crate) fn failed(context: &str, error: impl std::fmt::Display) -> Self {
        Self::Failed(format!("{context}: {error}"))
    }
}
