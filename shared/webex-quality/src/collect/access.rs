//! The Webex client a cycle uses (tokens from the token object, refreshed when due), and what a
//! failure to reach Webex means for the cycle: "authorization needed" or a failed cycle.

use std::sync::Arc;

use super::{Collector, CycleReport, Outcome};
use crate::config::Access;
use crate::db::{Changes, RunError};
use crate::tokens::{StoredTokens, TokenStore};
use crate::webex::{Credentials, OAuthClient, OAuthSession, WebexClient, WebexError};

impl Collector {
    /// The Webex client, with tokens from the token object (refreshed first when due).
    pub(super) async fn client(&self) -> Result<WebexClient, Outcome> {
        let credentials = match &self.access {
            Access::PersonalToken(token) => Credentials::AccessToken(token.clone()),
            Access::OAuth(settings) => {
                let tokens = TokenStore::new(self.store.clone(), self.clock.clone());
                let (state, etag) = match tokens.load().await {
                    Ok(Some(found)) => found,
                    Ok(None) => {
                        return Err(Outcome::AuthorizationRequired(
                            "nobody has authorized the integration yet: run the login".into(),
                        ));
                    }
                    Err(error) => return Err(Outcome::Failed(format!("token object: {error}"))),
                };
                if let Some(needed) = &state.authorization_needed {
                    return Err(Outcome::AuthorizationRequired(format!(
                        "since {}: {}",
                        needed.since, needed.reason
                    )));
                }
                let Some(record) = state.record.clone() else {
                    return Err(Outcome::AuthorizationRequired(
                        "the token object holds no tokens: run the login".into(),
                    ));
                };
                let oauth = OAuthClient::new(
                    settings,
                    &self.urls.api,
                    self.http.clone(),
                    &self.options,
                    self.clock.clone(),
                )
                .map_err(|e| Outcome::Failed(e.to_string()))?;
                let due =
                    record.access_expires_within(self.clock.now(), self.settings.refresh_margin);
                let session = Arc::new(OAuthSession::new(
                    oauth,
                    record,
                    StoredTokens::new(tokens, state, Some(etag)),
                ));
                if due {
                    match session.refresh_now().await {
                        Ok(_) => tracing::info!("access token refreshed ahead of expiry"),
                        Err(WebexError::AuthorizationRequired { reason, .. }) => {
                            return Err(self.authorization_required(&reason).await);
                        }
                        // Not fatal: the current token still works for a while.
                        Err(error) => {
                            tracing::warn!(%error, "token refresh failed; using the current token");
                        }
                    }
                }
                Credentials::OAuth(session)
            }
        };
        Ok(WebexClient::with_http(
            self.http.clone(),
            self.urls.clone(),
            credentials,
            self.options.clone(),
            self.clock.clone(),
        ))
    }

    pub(super) async fn authorization_required(&self, reason: &str) -> Outcome {
        tracing::error!(%reason, "Webex authorization required: an admin must log in again");
        if matches!(self.access, Access::OAuth(_))
            && let Err(error) = TokenStore::new(self.store.clone(), self.clock.clone())
                .mark_authorization_needed(reason)
                .await
        {
            tracing::error!(%error, "could not record that authorization is needed");
        }
        Outcome::AuthorizationRequired(reason.to_owned())
    }

    pub(super) async fn webex_failure(
        &self,
        report: &mut CycleReport,
        changes: &mut Changes,
        error: &WebexError,
        doing: &str,
    ) -> Outcome {
        report.errors += 1;
        changes.run_errors.push(RunError {
            at: self.clock.now(),
            instance_id: None,
            kind: doing.into(),
            message: error.to_string(),
            tracking_id: error.tracking_id().map(str::to_owned),
        });
        match error {
            WebexError::AuthorizationRequired { reason, .. } => {
                self.authorization_required(reason).await
            }
            WebexError::RateLimited { .. } => {
                report.rate_limited += 1;
                Outcome::Failed(format!("{doing}: {error}"))
            }
            _ => Outcome::Failed(format!("{doing}: {error}")),
        }
    }
}
