//! `sim`: the Webex simulator alone, for trying the product against it.

use webex_sim::{SimConfig, Simulator};

use crate::args::SimArgs;
use crate::error::CliError;

/// `sim`: the simulator until Ctrl-C.
pub(crate) async fn sim(args: SimArgs) -> Result<(), CliError> {
    let config = SimConfig {
        seed: args.seed,
        client_id: args.client_id,
        client_secret: args.client_secret,
        ..SimConfig::default()
    };
    let addr = format!("127.0.0.1:{}", args.port);
    let handle = Simulator::new(config)
        .spawn(&addr)
        .await
        .map_err(|source| CliError::AddressInUse {
            addr: addr.clone(),
            flag: "--port",
            source,
        })?;
    println!("WEBEX_API_URL={}", handle.api_url());
    println!("WEBEX_ANALYTICS_URL={}", handle.analytics_url());
    println!("Simulating Webex; Ctrl-C stops.");
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(())
}
