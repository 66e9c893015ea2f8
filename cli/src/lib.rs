//! `webex-quality`: the whole product in one local process, with a data folder instead of S3.
//!
//! - `demo`: the simulator in process, the OAuth flow against it as a browser does it, a simulated
//!   week collected cycle by cycle, the dashboard rendered and served (`--once`: built, then exit).
//! - `serve`: the product for real: the OAuth routes and the dashboard on a local address, a cycle
//!   every 5 minutes; Ctrl-C stops after the current cycle.
//! - `login`, `collect`, `render`, `status`, `export`: one step each, fit for cron.
//! - `sim`: the simulator alone.
//!
//! Settings come from flags or from the environment variables of the design's section 3a (the same
//! names the Lambda functions read); this crate never compiles the AWS SDK.

mod commands;
mod web;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;
use webex_quality::clock::{Clock, SharedClock};
use webex_quality::config::ConfigError;
use webex_quality::storage::{FolderStore, SharedStore};

pub use commands::run;
pub use web::serve_until;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "webex-quality",
    version,
    about = "Webex meeting quality, collected and shown on one machine."
)]
pub struct Cli {
    /// Settings every command shares.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares (flags, or the environment variables named in `--help`).
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The data folder: the SQLite file, the tokens, the render cache.
    #[arg(
        long,
        global = true,
        env = "WEBEX_QUALITY_STORE",
        default_value = "./webex-quality-data"
    )]
    pub data_dir: String,
    /// Webex's API (OAuth, meetings, people).
    #[arg(long, global = true, env = "WEBEX_API_URL")]
    pub webex_api_url: Option<String>,
    /// Webex's analytics API (meeting qualities).
    #[arg(long, global = true, env = "WEBEX_ANALYTICS_URL")]
    pub webex_analytics_url: Option<String>,
    /// The integration's client id.
    #[arg(long, global = true, env = "WEBEX_CLIENT_ID")]
    pub webex_client_id: Option<String>,
    /// The integration's client secret: never a flag (`ps` would show it), only
    /// `WEBEX_CLIENT_SECRET` or a file named by `WEBEX_CLIENT_SECRET_FILE`. Set here only by code
    /// that embeds the CLI.
    #[arg(skip)]
    pub webex_client_secret: Option<String>,
    /// The redirect URI registered on the integration (default for serve and login:
    /// `http://localhost:<port>/oauth/callback`).
    #[arg(long, global = true, env = "WEBEX_REDIRECT_URI")]
    pub webex_redirect_uri: Option<String>,
    /// Scopes to ask for, space-separated.
    #[arg(long, global = true, env = "WEBEX_SCOPES")]
    pub webex_scopes: Option<String>,
    /// A personal access token, for a quick trial without an integration (no refresh): never a
    /// flag, only `WEBEX_ACCESS_TOKEN` or a file named by `WEBEX_ACCESS_TOKEN_FILE`. Set here only
    /// by code that embeds the CLI.
    #[arg(skip)]
    pub webex_access_token: Option<String>,
    /// Show emails and IP addresses on the dashboard and in exports (masked by default).
    #[arg(long, global = true, env = "WEBEX_QUALITY_SHOW_PERSONAL")]
    pub show_personal: bool,
    /// No progress bars or summaries (for cron); errors still go to stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// The commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// The simulator, a simulated week collected, the dashboard served.
    Demo(DemoArgs),
    /// OAuth routes, dashboard and a cycle every 5 minutes on a local address.
    Serve(ServeArgs),
    /// The OAuth flow through a local redirect; stores the tokens.
    Login(LoginArgs),
    /// One collection cycle.
    Collect,
    /// Render the dashboard (only what changed).
    Render(OutArgs),
    /// What the status page says, in the terminal.
    Status,
    /// The data, for you: raw response bodies or spreadsheet tables.
    Export(ExportArgs),
    /// The Webex simulator alone.
    Sim(SimArgs),
}

/// Where the dashboard goes.
#[derive(Debug, Clone, Default, Args)]
pub struct OutArgs {
    /// The dashboard's folder (default: `site/` in the data folder).
    #[arg(long, env = "WEBEX_QUALITY_SITE_STORE")]
    pub out: Option<PathBuf>,
}

/// `demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Port of the dashboard on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Build everything into the data folder and exit.
    #[arg(long)]
    pub once: bool,
    /// Seed of the simulated organisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated minutes between two cycles (5 is Webex's pace; larger is faster to run).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(5..=1440))]
    pub step_minutes: u32,
    /// Where the dashboard goes.
    #[command(flatten)]
    pub out: OutArgs,
}

/// `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (keep it local: the dashboard has no login of its own).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Seconds between cycles (Webex allows one call per meeting every 5 minutes).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(60..))]
    pub interval_seconds: u64,
    /// Where the dashboard goes.
    #[command(flatten)]
    pub out: OutArgs,
}

/// `login`.
#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// Address to listen on for the redirect (default: the redirect URI's port on 127.0.0.1).
    #[arg(long)]
    pub listen: Option<String>,
}

/// `export`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["raw", "csv"])))]
pub struct ExportArgs {
    /// Every stored response body of each meeting's latest complete fetch, byte for byte, as
    /// `<meetingId>.<page>.json`.
    #[arg(long)]
    pub raw: bool,
    /// `meetings.csv` and `sessions.csv` (participant sessions with their per-stream figures).
    #[arg(long)]
    pub csv: bool,
    /// The folder to write to (created if needed).
    #[arg(long)]
    pub out: PathBuf,
}

/// `sim`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 4010)]
    pub port: u16,
    /// Seed of the organisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Client id the simulator accepts.
    #[arg(long, default_value = "C-sim-integration")]
    pub client_id: String,
    /// Client secret the simulator accepts.
    #[arg(long, default_value = "sim-client-secret")]
    pub client_secret: String,
}

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

    fn failed(context: &str, error: impl std::fmt::Display) -> Self {
        Self::Failed(format!("{context}: {error}"))
    }
}

/// Parses the command line, runs the command, and turns the outcome into an exit code (the binary's
/// whole `main`).
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `RUST_LOG` as `target=level` directives; `Targets` parses them without the regex engine that
    // `EnvFilter` compiles in (a part of the build's time that the first run would pay).
    let default = if cli.global.quiet { "error" } else { "warn" };
    let filter: Targets = webex_quality::config::environment("RUST_LOG")
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| default.parse().unwrap_or_default());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
    // One thread runs every task (blocking work still goes to `spawn_blocking`'s threads): a cycle's
    // HTTP responses no longer hop between worker threads to reach the collector. Measured with
    // `bench/cycle.py` (1,000 meetings, five runs each, 2026-12-02): 0.92 s of CPU against 1.01 s
    // with the multi-threaded runtime.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

impl Global {
    /// A setting by its environment name: the flag's value (clap has already read the environment
    /// into it), else the environment for settings without a flag.
    fn lookup(&self, name: &str) -> Option<String> {
        let secret = |given: &Option<String>| {
            given
                .clone()
                .or_else(|| webex_quality::config::environment(name))
        };
        let flag = match name {
            "WEBEX_API_URL" => &self.webex_api_url,
            "WEBEX_ANALYTICS_URL" => &self.webex_analytics_url,
            "WEBEX_CLIENT_ID" => &self.webex_client_id,
            // Secrets have no flag: what embedding code set, else the environment.
            "WEBEX_CLIENT_SECRET" => return secret(&self.webex_client_secret),
            "WEBEX_ACCESS_TOKEN" => return secret(&self.webex_access_token),
            "WEBEX_REDIRECT_URI" => &self.webex_redirect_uri,
            "WEBEX_SCOPES" => &self.webex_scopes,
            "WEBEX_QUALITY_STORE" => return Some(self.data_dir.clone()),
            "WEBEX_QUALITY_SHOW_PERSONAL" if self.show_personal => return Some("true".into()),
            _ => return webex_quality::config::environment(name),
        };
        flag.clone()
    }

    /// [`Global::lookup`], with the redirect URI defaulting to this machine's callback on `port`
    /// when an integration is configured.
    fn with_local_redirect(&self, port: u16) -> impl Fn(&str) -> Option<String> + '_ {
        self.with_local_redirect_opt(Some(port))
    }

    /// As [`Global::with_local_redirect`]; `None`: no default redirect URI.
    fn with_local_redirect_opt(&self, port: Option<u16>) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| {
            self.lookup(name).or_else(|| {
                let port = port?;
                (name == "WEBEX_REDIRECT_URI" && self.lookup("WEBEX_CLIENT_ID").is_some())
                    .then(|| format!("http://localhost:{port}/oauth/callback"))
            })
        }
    }

    /// The data folder; `create`: make it when missing (commands that start the data), otherwise
    /// a missing folder is an error.
    fn data_folder(&self, create: bool) -> Result<PathBuf, CliError> {
        if self.data_dir.starts_with("s3://") {
            return Err(CliError::Usage(format!(
                "--data-dir (WEBEX_QUALITY_STORE) is {:?}: the CLI keeps its data in a local folder; S3 stores are for the Lambda functions (infra/).",
                self.data_dir
            )));
        }
        let path = PathBuf::from(&self.data_dir);
        if !create && !path.is_dir() {
            return Err(CliError::MissingDataDir(path.display().to_string()));
        }
        Ok(path)
    }

    fn data_store(&self, create: bool) -> Result<(PathBuf, SharedStore), CliError> {
        let path = self.data_folder(create)?;
        let store = FolderStore::new(path.clone())
            .map_err(|e| CliError::failed(&format!("data folder {}", path.display()), e))?;
        Ok((path, Arc::new(store)))
    }
}

/// The dashboard's folder.
fn site_folder(data: &Path, out: &OutArgs) -> Result<PathBuf, CliError> {
    match &out.out {
        Some(path) if path.to_string_lossy().starts_with("s3://") => Err(CliError::Usage(
            "--out (WEBEX_QUALITY_SITE_STORE) must be a local folder for the CLI".into(),
        )),
        Some(path) => {
            let (data_location, site_location) = (
                webex_quality::storage::StoreLocation::Folder(data.to_owned()),
                webex_quality::storage::StoreLocation::Folder(path.clone()),
            );
            match data_location.site_conflict(&site_location) {
                Some(problem) => Err(CliError::Usage(format!(
                    "--out (WEBEX_QUALITY_SITE_STORE): {problem}"
                ))),
                None => Ok(path.clone()),
            }
        }
        None => Ok(data.join(webex_quality::storage::SITE_FOLDER)),
    }
}

/// Private working files (the database cache) inside the data folder, out of the store's reach.
fn work_folder(data: &Path) -> PathBuf {
    data.join(".work")
}

/// The simulator's clock as the product's clock.
#[derive(Debug, Clone)]
struct SimTime(webex_sim::SimClock);

impl Clock for SimTime {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}

fn sim_clock(clock: &webex_sim::SimClock) -> SharedClock {
    Arc::new(SimTime(clock.clone()))
}
