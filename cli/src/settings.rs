//! Settings: each one from its flag or its environment variable (the names the Lambda functions
//! read), turned into the core's typed configurations; the data, site and work folders.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use webex_quality::clock::{Clock, SharedClock};
use webex_quality::collect::Collector;
use webex_quality::config::{CollectorConfig, LoginConfig, SetupSecretRule};
use webex_quality::login::LoginService;
use webex_quality::quality::Thresholds;
use webex_quality::site::SiteOptions;
use webex_quality::site::offices::Offices;
use webex_quality::storage::{FolderStore, SharedStore};
use webex_quality::webex::ClientOptions;

use crate::args::{Global, OutArgs};
use crate::error::CliError;

impl Global {
    /// A setting by its environment name: the flag's value (clap has already read the environment
    /// into it), else the environment for settings without a flag.
    pub(crate) fn lookup(&self, name: &str) -> Option<String> {
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
    pub(crate) fn with_local_redirect(&self, port: u16) -> impl Fn(&str) -> Option<String> + '_ {
        self.with_local_redirect_opt(Some(port))
    }

    /// As [`Global::with_local_redirect`]; `None`: no default redirect URI.
    pub(crate) fn with_local_redirect_opt(
        &self,
        port: Option<u16>,
    ) -> impl Fn(&str) -> Option<String> + '_ {
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
    pub(crate) fn data_folder(&self, create: bool) -> Result<PathBuf, CliError> {
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

    pub(crate) fn data_store(&self, create: bool) -> Result<(PathBuf, SharedStore), CliError> {
        let path = self.data_folder(create)?;
        let store = FolderStore::new(path.clone())
            .map_err(|e| CliError::failed(&format!("data folder {}", path.display()), e))?;
        Ok((path, Arc::new(store)))
    }
}

/// The thresholds (defaults, or `WEBEX_QUALITY_THRESHOLDS_FILE`).
pub(crate) fn thresholds(global: &Global) -> Result<Thresholds, CliError> {
    Ok(Thresholds::from_lookup(&|name| global.lookup(name))?)
}

/// How pages are rendered: masking, and the offices (`WEBEX_QUALITY_SITES_FILE`).
pub(crate) fn site_options(global: &Global) -> Result<SiteOptions, CliError> {
    Ok(SiteOptions {
        mask_personal: !global.show_personal,
        offices: std::sync::Arc::new(Offices::from_lookup(&|name| global.lookup(name))?),
        ..SiteOptions::default()
    })
}

/// The collector of `serve` and `collect`, configured like the collector function.
pub(crate) fn collector_for(
    global: &Global,
    redirect_port: Option<u16>,
    store: SharedStore,
    clock: SharedClock,
) -> Result<Collector, CliError> {
    let lookup = global.with_local_redirect_opt(redirect_port);
    let config = CollectorConfig::from_lookup(&lookup)?;
    Ok(
        Collector::from_config(store, &config, ClientOptions::default(), clock)
            .map_err(|e| CliError::failed("collector", e))?
            .alerts_from_config(&config)?,
    )
}

/// The login flow on `local`: the redirect URI defaults to `http://localhost:<port>/oauth/callback`,
/// and a listener beyond loopback needs the setup secret.
pub(crate) fn login_service(
    global: &Global,
    local: SocketAddr,
    store: &SharedStore,
    clock: &SharedClock,
) -> Result<Arc<LoginService>, CliError> {
    let lookup = global.with_local_redirect(local.port());
    let config = LoginConfig::from_lookup(&lookup, SetupSecretRule::Optional)?;
    if config.setup_secret.is_none() && !local.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "{local} can be reached from other machines, so starting a login needs a setup secret: set WEBEX_QUALITY_SETUP_SECRET (a long random value), or listen on 127.0.0.1"
        )));
    }
    let service = LoginService::new(
        &config,
        store.clone(),
        ClientOptions::default(),
        clock.clone(),
    )
    .map_err(|e| CliError::failed("login", e))?;
    Ok(Arc::new(service))
}

/// The dashboard's folder.
pub(crate) fn site_folder(data: &Path, out: &OutArgs) -> Result<PathBuf, CliError> {
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
pub(crate) fn work_folder(data: &Path) -> PathBuf {
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

pub(crate) fn sim_clock(clock: &webex_sim::SimClock) -> SharedClock {
    Arc::new(SimTime(clock.clone()))
}
