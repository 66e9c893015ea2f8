//! An integration's live tokens ([`OAuthSession`]): the access token handed to each request,
//! refreshed when it has expired or Webex rejects it, and every new record persisted through a
//! [`TokenSink`] before it is used. The token endpoint itself is [`super::oauth`].

use std::fmt;
use std::sync::Arc;

use super::error::WebexError;
use super::oauth::{OAuthClient, TokenRecord};
use crate::config::Secret;

/// Where refreshed tokens go before they are used: the token object in private storage.
#[async_trait::async_trait]
pub trait TokenSink: Send + Sync + fmt::Debug {
    /// Persists `record`. The new access token is used only after this returns `Ok`, so a rotated
    /// refresh token is never lost.
    async fn save(&self, record: &TokenRecord) -> Result<(), String>;
}

/// A sink that keeps nothing (tests, one-off runs).
#[derive(Debug, Default)]
pub struct NoTokenSink;

#[async_trait::async_trait]
impl TokenSink for NoTokenSink {
    async fn save(&self, _record: &TokenRecord) -> Result<(), String> {
        Ok(())
    }
}

/// An integration's live tokens: hands out the access token, refreshes it when it has expired or
/// Webex rejects it, and persists every new record before using it.
///
/// A refreshed record whose save failed is kept (Webex may have rotated the refresh token, so the
/// old record may no longer refresh): no access token is handed out until a later save succeeds,
/// and each request tries the save again.
#[derive(Debug)]
pub struct OAuthSession {
    client: OAuthClient,
    record: tokio::sync::Mutex<Held>,
    sink: Arc<dyn TokenSink>,
}

/// The session's record, and whether it still has to be saved.
#[derive(Debug)]
struct Held {
    record: TokenRecord,
    unsaved: bool,
}

/// Saves tried for a refreshed record before a request gives up (with short waits between).
const SAVE_ATTEMPTS: u32 = 3;

impl OAuthSession {
    /// A session starting from `record`.
    #[must_use]
    pub fn new(client: OAuthClient, record: TokenRecord, sink: Arc<dyn TokenSink>) -> Self {
        Self {
            client,
            record: tokio::sync::Mutex::new(Held {
                record,
                unsaved: false,
            }),
            sink,
        }
    }

    /// The current token record (possibly one not saved yet: see [`OAuthSession::unsaved`]).
    pub async fn record(&self) -> TokenRecord {
        self.record.lock().await.record.clone()
    }

    /// Whether the current record is a refreshed one that could not be saved yet.
    pub async fn unsaved(&self) -> bool {
        self.record.lock().await.unsaved
    }

    /// The access token to send, refreshed first if it has expired (or is about to, within a minute).
    ///
    /// # Errors
    /// As [`OAuthClient::refresh`], and [`WebexError::TokenStore`] when the new record cannot be saved.
    pub async fn access_token(&self) -> Result<Secret, WebexError> {
        let mut held = self.record.lock().await;
        if held.unsaved {
            self.save_locked(&mut held).await?;
        }
        if held
            .record
            .access_expires_within(self.client.clock.now(), chrono::Duration::minutes(1))
        {
            self.refresh_locked(&mut held).await?;
        }
        Ok(held.record.access_token.clone())
    }

    /// Refreshes after Webex rejected `rejected` with 401, unless another task already did.
    ///
    /// # Errors
    /// As [`OAuthSession::access_token`].
    pub async fn refresh_rejected(&self, rejected: &Secret) -> Result<(), WebexError> {
        let mut held = self.record.lock().await;
        if held.unsaved {
            self.save_locked(&mut held).await?;
        }
        if held.record.access_token == *rejected {
            self.refresh_locked(&mut held).await?;
        }
        Ok(())
    }

    /// Refreshes now, whatever the expiry says.
    ///
    /// # Errors
    /// As [`OAuthSession::access_token`].
    pub async fn refresh_now(&self) -> Result<TokenRecord, WebexError> {
        let mut held = self.record.lock().await;
        if held.unsaved {
            self.save_locked(&mut held).await?;
        }
        self.refresh_locked(&mut held).await?;
        Ok(held.record.clone())
    }

    /// Refreshes, keeps the new record whatever happens next, and saves it.
    async fn refresh_locked(&self, held: &mut Held) -> Result<(), WebexError> {
        let fresh = self.client.refresh(&held.record).await?;
        tracing::info!(access_expires_at = %fresh.access_expires_at, refresh_expires_at = ?fresh.refresh_expires_at, "Webex tokens refreshed");
        held.record = fresh;
        held.unsaved = true;
        self.save_locked(held).await
    }

    /// Saves the held record, trying [`SAVE_ATTEMPTS`] times; it stays unsaved (and kept) when
    /// every attempt fails.
    async fn save_locked(&self, held: &mut Held) -> Result<(), WebexError> {
        let mut last = String::new();
        for attempt in 0..SAVE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
            match self.sink.save(&held.record).await {
                Ok(()) => {
                    held.unsaved = false;
                    return Ok(());
                }
                Err(reason) => {
                    tracing::warn!(attempt = attempt + 1, %reason, "could not save the refreshed tokens");
                    last = reason;
                }
            }
        }
        Err(WebexError::TokenStore { reason: last })
    }
}
