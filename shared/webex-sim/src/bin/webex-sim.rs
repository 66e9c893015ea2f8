//! `webex-sim`: the Webex API simulator, by hand.

use clap::Parser;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;
use webex_sim::{SimClock, SimConfig, Simulator};

/// A Webex API simulator: OAuth, List Meetings and Meeting Qualities for a generated organisation.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4010)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Seed of the organisation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The integration's client id.
    #[arg(long, env = "WEBEX_CLIENT_ID", default_value = "C-sim-integration")]
    client_id: String,
    /// The integration's client secret.
    #[arg(
        long,
        env = "WEBEX_CLIENT_SECRET",
        default_value = "sim-client-secret",
        hide_env_values = true
    )]
    client_secret: String,
    /// Ad-hoc meetings on every day (scale runs); without it, a small organisation's week.
    #[arg(long)]
    meetings_per_day: Option<u32>,
    /// Days with meetings.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// The first day with meetings (YYYY-MM-DD, UTC); default: six days before today.
    #[arg(long)]
    first_day: Option<chrono::NaiveDate>,
    /// Also print a personal access token of the organisation's admin (`WEBEX_ACCESS_TOKEN=...`),
    /// valid for 12 hours.
    #[arg(long)]
    personal_token: bool,
    /// Run on a simulated clock standing at this time (RFC 3339) and serve `POST
    /// /sim/clock?now=...`, which moves it and answers a fresh personal token (benchmarks).
    #[arg(long)]
    simulated_clock: Option<chrono::DateTime<chrono::Utc>>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| "info".parse().unwrap_or_default());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
    let args = Args::parse();
    let config = SimConfig {
        seed: args.seed,
        client_id: args.client_id,
        client_secret: args.client_secret,
        meetings_per_day: args.meetings_per_day,
        days: args.days,
        first_day: args
            .first_day
            .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc()),
        clock_control: args.simulated_clock.is_some(),
        ..SimConfig::default()
    };
    let clock = args
        .simulated_clock
        .map_or_else(SimClock::real, SimClock::simulated);
    let sim = Simulator::with_clock(config, clock)
        .spawn(&format!("{}:{}", args.host, args.port))
        .await?;
    println!("WEBEX_API_URL={}", sim.api_url());
    println!("WEBEX_ANALYTICS_URL={}", sim.analytics_url());
    if args.personal_token {
        println!("WEBEX_ACCESS_TOKEN={}", sim.issue_personal_token());
    }
    println!(
        "# {} meetings, {} people; Ctrl-C stops",
        sim.org().meetings.len(),
        sim.org().people.len()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
