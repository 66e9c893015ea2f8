//! The command line: the commands, their flags, and the settings every command shares.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["raw", "csv", "analytics"])))]
pub struct ExportArgs {
    /// Every stored response body of each meeting's latest complete fetch, byte for byte, as
    /// `<meetingId>.<page>.json`.
    #[arg(long)]
    pub raw: bool,
    /// `meetings.csv` and `sessions.csv` (participant sessions with their per-stream figures).
    #[arg(long)]
    pub csv: bool,
    /// The analytics copy of every archived day, for SQL (DuckDB, Athena):
    /// `analytics/<table>/date=YYYY-MM-DD/part-N.json.gz` for the tables `intervals`, `sessions`
    /// and `meetings` (gzipped JSON Lines).
    #[arg(long)]
    pub analytics: bool,
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
