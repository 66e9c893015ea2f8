//! The login use case: an administrator authorizes the integration, and its tokens go to the token
//! object. The same [`router`] serves it in the oauth-redirect Lambda function and in
//! `webex-quality serve` / `login`.
//!
//! - **Who may start**: `POST /login` with the form field `setup_secret` equal to
//!   `WEBEX_QUALITY_SETUP_SECRET` (a Lambda requires the setting; `serve` on loopback may run
//!   without it). Anything else is refused with 403 and nothing happens.
//! - **Nothing kept in memory**: the OAuth `state` and PKCE verifier travel in a sealed cookie
//!   ([`pending`]); the callback must find the same `state` in its query and in the cookie, within
//!   15 minutes, and the cookie is cleared whatever the outcome.
//! - **Who may finish**: after the code exchange, `/people/me` names the person. Their organisation
//!   must be `WEBEX_QUALITY_ORG_ID` when set, and otherwise the one pinned in the token object by the
//!   first login. A login from elsewhere is refused with 403: nothing stored, nothing replaced.
//! - Each login records who authorized (masked email), when, and the scopes granted, and clears
//!   "authorization needed" in the token object and in the status object.

#[cfg(feature = "s3")]
pub mod cloudfront;
pub mod pending;
mod routes;
#[cfg(feature = "s3")]
pub mod signin;

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use url::Url;

pub use routes::{router, standalone_router};

use self::pending::{PendingLogin, Sealer, Unsealed};
use crate::clock::SharedClock;
use crate::config::{LoginConfig, Secret, WebexUrls};
use crate::privacy::mask_email;
use crate::status::{AuthorizationStatus, StatusStore};
use crate::storage::SharedStore;
use crate::tokens::{Authorizer, TokenError, TokenStore};
use crate::webex::{ClientOptions, Credentials, OAuthClient, WebexClient, WebexError, http_client};

/// Why a login step was refused. Each maps to one page of our own words: nothing from the request
/// is echoed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `POST /login` without the right setup secret.
    SetupSecret,
    /// Webex (or the admin) declined: `error=...` on the callback.
    Denied,
    /// The callback came without a pending-login cookie.
    NoPendingLogin,
    /// The cookie was not sealed by this installation.
    ForgedCookie,
    /// The login began more than 15 minutes ago.
    Expired,
    /// The callback's `state` is not the cookie's.
    StateMismatch,
    /// The callback carries no code.
    NoCode,
    /// Webex refused the code (used already, expired, or not ours).
    CodeRefused,
    /// Webex could not be reached, or answered with something unusable.
    Webex,
    /// The person belongs to another organisation than the one allowed.
    OtherOrganisation,
    /// The tokens could not be stored.
    Store,
}

impl Refusal {
    /// The HTTP status of the page.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::SetupSecret | Self::OtherOrganisation => 403,
            Self::Webex => 502,
            Self::Store => 500,
            _ => 400,
        }
    }

    /// The page's title and text.
    #[must_use]
    pub fn page(&self) -> (&'static str, &'static str) {
        match self {
            Self::SetupSecret => (
                "Setup secret needed",
                "Starting a login needs the setup secret of this installation (the WEBEX_QUALITY_SETUP_SECRET setting). Ask whoever deployed Webex Quality for it, then try again.",
            ),
            Self::Denied => (
                "Authorization refused",
                "Webex did not grant access. Start again from the login page with a Webex administrator account.",
            ),
            Self::NoPendingLogin | Self::ForgedCookie | Self::StateMismatch | Self::NoCode => (
                "Unknown login",
                "This callback does not match a login started in this browser. Start again from the login page.",
            ),
            Self::Expired => (
                "Login expired",
                "More than 15 minutes passed since this login began. Start again from the login page.",
            ),
            Self::CodeRefused => (
                "Login failed",
                "Webex did not accept the authorization code (it may have been used already). Start again from the login page.",
            ),
            Self::Webex => (
                "Webex unavailable",
                "Webex could not be reached or gave an answer that could not be used. Nothing was stored; try again in a few minutes.",
            ),
            Self::OtherOrganisation => (
                "Another organisation",
                "This installation collects for another Webex organisation. Nothing was stored; sign in with an administrator of that organisation.",
            ),
            Self::Store => (
                "Login not saved",
                "The tokens could not be stored. Nothing was replaced; see the log and try again.",
            ),
        }
    }
}

/// A login that began: where to send the browser, and the cookie to give it.
#[derive(Debug, Clone)]
pub struct Begun {
    /// Webex's authorize URL.
    pub authorize_url: Url,
    /// The `Set-Cookie` value holding the sealed pending login.
    pub set_cookie: String,
}

/// A finished login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The masked email of who authorized.
    pub authorized_by: String,
    /// Their organisation.
    pub org_id: String,
}

/// The callback's query parameters.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error`, when Webex or the admin declined.
    pub error: Option<String>,
}

impl Callback {
    /// Reads the parameters from a raw query string.
    #[must_use]
    pub fn from_query(query: &str) -> Self {
        let mut callback = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        callback
    }
}

/// The login flow: built once (at Lambda INIT, or when `serve` starts), stateless between requests.
#[derive(Debug)]
pub struct LoginService {
    oauth: OAuthClient,
    urls: WebexUrls,
    http: reqwest::Client,
    options: ClientOptions,
    clock: SharedClock,
    tokens: TokenStore,
    statuses: StatusStore,
    setup_secret: Option<[u8; 32]>,
    org_id: Option<String>,
    sealer: Sealer,
    logged_in: Notify,
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl LoginService {
    /// The flow as `config` says, storing tokens in `store`.
    ///
    /// # Errors
    /// When the HTTP or OAuth client cannot be built.
    pub fn new(
        config: &LoginConfig,
        store: SharedStore,
        options: ClientOptions,
        clock: SharedClock,
    ) -> Result<Self, WebexError> {
        let http = http_client(&options)?;
        let oauth = OAuthClient::new(
            &config.oauth,
            &config.urls.api,
            http.clone(),
            &options,
            clock.clone(),
        )?;
        let mut secrets = vec![&config.oauth.client_secret];
        secrets.extend(&config.setup_secret);
        let sealer = Sealer::new(&secrets, config.oauth.redirect_uri.scheme() == "https");
        Ok(Self {
            oauth,
            urls: config.urls.clone(),
            http,
            options,
            tokens: TokenStore::new(store.clone(), clock.clone()),
            statuses: StatusStore::new(store),
            clock,
            setup_secret: config.setup_secret.as_ref().map(|s| digest(s.expose())),
            org_id: config.org_id.clone(),
            sealer,
            logged_in: Notify::new(),
        })
    }

    /// Whether starting a login asks for the setup secret.
    #[must_use]
    pub fn needs_setup_secret(&self) -> bool {
        self.setup_secret.is_some()
    }

    /// Begins a login when `setup_secret` is right (or none is configured).
    ///
    /// # Errors
    /// [`Refusal::SetupSecret`].
    pub fn begin(&self, setup_secret: Option<&str>) -> Result<Begun, Refusal> {
        if let Some(expected) = &self.setup_secret {
            // Digests are compared, so the time taken says nothing about the secret.
            let given = setup_secret.map(digest);
            if given.as_ref() != Some(expected) {
                tracing::warn!("a login was refused: missing or wrong setup secret");
                return Err(Refusal::SetupSecret);
            }
        }
        let request = self.oauth.authorize_url();
        let set_cookie = self.sealer.seal(&PendingLogin {
            state: request.state,
            verifier: request.pkce_verifier,
            issued_at: self.clock.now(),
            return_to: None,
        });
        Ok(Begun {
            authorize_url: request.url,
            set_cookie,
        })
    }

    /// The `Set-Cookie` value that removes the pending-login cookie (sent with every callback
    /// answer).
    #[must_use]
    pub fn clear_cookie(&self) -> String {
        self.sealer.clear()
    }

    /// Finishes a login: checks the callback against the cookie, exchanges the code, asks Webex who
    /// it is, checks their organisation, stores the tokens.
    ///
    /// # Errors
    /// A [`Refusal`]; nothing is stored then.
    pub async fn complete(
        &self,
        callback: &Callback,
        cookie_header: Option<&str>,
    ) -> Result<Completed, Refusal> {
        let refuse = |refusal: Refusal| {
            tracing::warn!(?refusal, "a login callback was refused");
            refusal
        };
        let (pending, code) =
            check_callback(&self.sealer, callback, cookie_header, self.clock.now()).map_err(
                |fault| {
                    refuse(match fault {
                        CallbackFault::Denied => Refusal::Denied,
                        CallbackFault::Unsealed(Unsealed::Missing) => Refusal::NoPendingLogin,
                        CallbackFault::Unsealed(Unsealed::Forged) => Refusal::ForgedCookie,
                        CallbackFault::Unsealed(Unsealed::Expired) => Refusal::Expired,
                        CallbackFault::StateMismatch => Refusal::StateMismatch,
                        CallbackFault::NoCode => Refusal::NoCode,
                    })
                },
            )?;
        let record = self
            .oauth
            .exchange_code(code, &pending.verifier)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "the code exchange failed");
                refuse(match error {
                    WebexError::AuthorizationRequired { .. } | WebexError::Status { .. } => {
                        Refusal::CodeRefused
                    }
                    _ => Refusal::Webex,
                })
            })?;
        let person = self.who(&record.access_token).await.map_err(|error| {
            tracing::warn!(%error, "people/me failed after the code exchange");
            refuse(Refusal::Webex)
        })?;
        if person.org_id.is_empty() {
            return Err(refuse(Refusal::Webex));
        }
        if let Some(allowed) = &self.org_id
            && *allowed != person.org_id
        {
            return Err(refuse(Refusal::OtherOrganisation));
        }
        let authorizer = Authorizer {
            email: mask_email(person.emails.first().map_or("", String::as_str)),
            org_id: person.org_id.clone(),
            at: self.clock.now(),
            scopes: record.scopes.clone(),
        };
        let state = self
            .tokens
            .store_login_by(record, authorizer.clone())
            .await
            .map_err(|error| match error {
                TokenError::OtherOrganisation { .. } => refuse(Refusal::OtherOrganisation),
                other => {
                    tracing::error!(error = %other, "storing the tokens failed");
                    refuse(Refusal::Store)
                }
            })?;
        let authorization = AuthorizationStatus::from_tokens(Some(&state));
        if let Err(error) = self
            .statuses
            .update(self.clock.now(), |status| {
                status.authorization = authorization.clone();
            })
            .await
        {
            // The next cycle writes it again.
            tracing::warn!(%error, "the status object could not be updated after the login");
        }
        tracing::info!(authorized_by = %authorizer.email, org_id = %authorizer.org_id, "Webex authorized");
        // One waiter (serve's scheduler, or `login` waiting to exit); a permit is kept if it is busy.
        self.logged_in.notify_one();
        Ok(Completed {
            authorized_by: authorizer.email,
            org_id: authorizer.org_id,
        })
    }

    /// Completes when the next login succeeds.
    pub async fn logged_in(&self) {
        self.logged_in.notified().await;
    }

    async fn who(&self, access_token: &Secret) -> Result<crate::webex::Person, WebexError> {
        person_of(
            (&self.http, &self.urls, &self.options, &self.clock),
            access_token,
        )
        .await
    }
}

/// What is wrong with a callback, found before anything is asked of Webex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallbackFault {
    /// Webex or the person declined (`error=...`).
    Denied,
    /// The pending-login cookie is missing, forged or too old.
    Unsealed(Unsealed),
    /// The callback's `state` is not the cookie's.
    StateMismatch,
    /// No code to exchange.
    NoCode,
}

/// A callback checked against the pending login sealed in its cookie (the admin's login and a
/// viewer's sign-in alike): that pending login and the code to exchange.
pub(crate) fn check_callback<'c>(
    sealer: &Sealer,
    callback: &'c Callback,
    cookie_header: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(PendingLogin, &'c str), CallbackFault> {
    if callback.error.is_some() {
        return Err(CallbackFault::Denied);
    }
    let pending = sealer
        .open(cookie_header, now)
        .map_err(CallbackFault::Unsealed)?;
    // Digests are compared, so the time taken says nothing about the state.
    if callback.state.as_deref().map(digest) != Some(digest(&pending.state)) {
        return Err(CallbackFault::StateMismatch);
    }
    let code = callback
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(CallbackFault::NoCode)?;
    Ok((pending, code))
}

/// Who a fresh access token belongs to (`/people/me`), through the service's HTTP client.
pub(crate) async fn person_of(
    (http, urls, options, clock): (&reqwest::Client, &WebexUrls, &ClientOptions, &SharedClock),
    access_token: &Secret,
) -> Result<crate::webex::Person, WebexError> {
    WebexClient::with_http(
        http.clone(),
        urls.clone(),
        Credentials::AccessToken(access_token.clone()),
        options.clone(),
        clock.clone(),
    )
    .me(crate::webex::deadline_in(options.request_timeout * 2))
    .await
}

/// A shared login service.
pub type SharedLogin = Arc<LoginService>;
