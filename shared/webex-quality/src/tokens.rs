//! The token object: the integration's tokens, kept in their own private object in the store (never in
//! the SQLite file or the site), and the "authorization needed" state the status page and alarms read.
//!
//! Every write is conditional on the ETag last read, so a login and a refresh racing each other cannot
//! silently overwrite one another. A refreshed record is written before its access token is used
//! ([`StoredTokens`] is the client's [`TokenSink`]), so a rotated refresh token is never lost.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::storage::{ETag, Fetched, PutCondition, SharedStore, StoreError};
use crate::webex::{TokenRecord, TokenSink};

/// The key of the token object in the data store.
pub const TOKENS_KEY: &str = "tokens.json";

/// Why a human must authorize the integration again, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationNeeded {
    /// When it was noticed.
    pub since: DateTime<Utc>,
    /// What Webex or the collector said.
    pub reason: String,
}

/// Who authorized the integration: recorded by each login (the email masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorizer {
    /// Their email, masked (`a***@acme.example`).
    pub email: String,
    /// Their organisation.
    pub org_id: String,
    /// When they authorized.
    pub at: DateTime<Utc>,
    /// The scopes granted.
    pub scopes: Vec<String>,
}

/// The token object's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenState {
    /// The current tokens, if anyone has authorized.
    pub record: Option<TokenRecord>,
    /// Set when the tokens stopped working; cleared by the next login.
    pub authorization_needed: Option<AuthorizationNeeded>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The organisation whose admin may log in: `WEBEX_QUALITY_ORG_ID`, or the first login's
    /// organisation, pinned.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Who authorized last.
    #[serde(default)]
    pub authorized_by: Option<Authorizer>,
}

impl TokenState {
    fn empty(now: DateTime<Utc>) -> Self {
        Self {
            record: None,
            authorization_needed: None,
            updated_at: now,
            org_id: None,
            authorized_by: None,
        }
    }
}

impl TokenState {
    /// Days until the refresh token (or, without one, the access token) expires; negative once past.
    #[must_use]
    pub fn days_left(&self, now: DateTime<Utc>) -> Option<i64> {
        let record = self.record.as_ref()?;
        let expiry = record
            .refresh_expires_at
            .unwrap_or(record.access_expires_at);
        Some((expiry - now).num_days())
    }
}

/// A token object failure.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A login from another organisation than the pinned one: nothing was stored.
    #[error(
        "the tokens belong to organisation {pinned}; a login from organisation {other} is refused"
    )]
    OtherOrganisation {
        /// The pinned organisation.
        pinned: String,
        /// The login's organisation.
        other: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The object is not a token state.
    #[error("token object {key} is unreadable: {source}")]
    Unreadable {
        /// The key.
        key: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Reads and writes the token object.
#[derive(Debug, Clone)]
pub struct TokenStore {
    store: SharedStore,
    clock: SharedClock,
}

impl TokenStore {
    /// The token object in `store`.
    #[must_use]
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// The current state and its ETag; `None` when nobody has authorized yet.
    ///
    /// # Errors
    /// Store failures, or an unreadable object.
    pub async fn load(&self) -> Result<Option<(TokenState, ETag)>, TokenError> {
        match self.store.get(TOKENS_KEY, None).await? {
            Fetched::Found(object) => {
                let state = serde_json::from_slice(&object.bytes).map_err(|source| {
                    TokenError::Unreadable {
                        key: TOKENS_KEY.into(),
                        source,
                    }
                })?;
                Ok(Some((state, object.etag)))
            }
            Fetched::NotFound | Fetched::NotModified => Ok(None),
        }
    }

    /// Writes `state` if the object still has `expected` (or does not exist, for `None`).
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] when someone else wrote first.
    pub async fn save(
        &self,
        state: &TokenState,
        expected: Option<&ETag>,
    ) -> Result<ETag, TokenError> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|source| TokenError::Unreadable {
            key: TOKENS_KEY.into(),
            source,
        })?;
        let condition =
            expected.map_or(PutCondition::IfAbsent, |e| PutCondition::IfMatch(e.clone()));
        Ok(self
            .store
            .put(
                TOKENS_KEY,
                Bytes::from(bytes),
                condition,
                "application/json",
            )
            .await?)
    }

    /// Stores the tokens of a new login and clears "authorization needed" (for logins whose
    /// organisation was not looked up: the demo and the tests).
    ///
    /// # Errors
    /// Store failures.
    pub async fn store_login(&self, record: TokenRecord) -> Result<ETag, TokenError> {
        self.update(|state| {
            state.record = Some(record.clone());
            state.authorization_needed = None;
            Ok(())
        })
        .await
        .map(|(etag, _)| etag)
    }

    /// Stores the tokens of a login by `authorizer`, whose organisation must be the pinned one; the
    /// first login pins its organisation. Clears "authorization needed". Returns the new state.
    ///
    /// # Errors
    /// [`TokenError::OtherOrganisation`] (nothing stored), or store failures.
    pub async fn store_login_by(
        &self,
        record: TokenRecord,
        authorizer: Authorizer,
    ) -> Result<TokenState, TokenError> {
        self.update(|state| {
            if let Some(pinned) = &state.org_id
                && *pinned != authorizer.org_id
            {
                return Err(TokenError::OtherOrganisation {
                    pinned: pinned.clone(),
                    other: authorizer.org_id.clone(),
                });
            }
            state.org_id = Some(authorizer.org_id.clone());
            state.record = Some(record.clone());
            state.authorized_by = Some(authorizer.clone());
            state.authorization_needed = None;
            Ok(())
        })
        .await
        .map(|(_, state)| state)
    }

    /// Records that a human must authorize again (keeps the tokens for the record).
    ///
    /// # Errors
    /// Store failures.
    pub async fn mark_authorization_needed(&self, reason: &str) -> Result<ETag, TokenError> {
        let since = self.clock.now();
        self.update(|state| {
            if state.authorization_needed.is_none() {
                state.authorization_needed = Some(AuthorizationNeeded {
                    since,
                    reason: reason.to_owned(),
                });
            }
            Ok(())
        })
        .await
        .map(|(etag, _)| etag)
    }

    /// Read, change, conditional write; again on a conflict. `change` may refuse, and then nothing
    /// is written.
    async fn update(
        &self,
        change: impl Fn(&mut TokenState) -> Result<(), TokenError>,
    ) -> Result<(ETag, TokenState), TokenError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (mut state, etag) = match self.load().await? {
                Some((state, etag)) => (state, Some(etag)),
                None => (TokenState::empty(self.clock.now()), None),
            };
            change(&mut state)?;
            state.updated_at = self.clock.now();
            match self.save(&state, etag.as_ref()).await {
                Err(TokenError::Store(StoreError::PreconditionFailed { .. })) if attempts < 5 => {}
                other => return other.map(|etag| (etag, state)),
            }
        }
    }
}

/// The client's [`TokenSink`]: each refreshed record goes to the token object (conditionally on the
/// version this collector last saw) before its access token is used. The rest of the object (the
/// pinned organisation, who authorized) is kept as it was read.
#[derive(Debug)]
pub struct StoredTokens {
    tokens: TokenStore,
    last: tokio::sync::Mutex<(TokenState, Option<ETag>)>,
}

impl StoredTokens {
    /// A sink over `tokens`, whose object held `state` at `etag`.
    #[must_use]
    pub fn new(tokens: TokenStore, state: TokenState, etag: Option<ETag>) -> Arc<Self> {
        Arc::new(Self {
            tokens,
            last: tokio::sync::Mutex::new((state, etag)),
        })
    }
}

#[async_trait::async_trait]
impl TokenSink for StoredTokens {
    async fn save(&self, record: &TokenRecord) -> Result<(), String> {
        let mut last = self.last.lock().await;
        let mut state = last.0.clone();
        state.record = Some(record.clone());
        state.authorization_needed = None;
        state.updated_at = self.tokens.clock.now();
        let new = self
            .tokens
            .save(&state, last.1.as_ref())
            .await
            .map_err(|e| {
                format!("{e} (the token object changed: another process logged in or refreshed)")
            })?;
        *last = (state, Some(new));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::config::Secret;
    use crate::db::test_support::t as at;
    use crate::storage::FolderStore;

    #[derive(Debug)]
    struct At(DateTime<Utc>);

    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    fn record(access: &str, now: DateTime<Utc>) -> TokenRecord {
        TokenRecord {
            access_token: Secret::new(access.to_owned()),
            access_expires_at: now + chrono::Duration::days(14),
            refresh_token: Some(Secret::new(format!("{access}-refresh"))),
            refresh_expires_at: Some(now + chrono::Duration::days(90)),
            obtained_at: now,
            scopes: vec!["analytics:read_all".into()],
        }
    }

    fn authorizer(org: &str, now: DateTime<Utc>) -> Authorizer {
        Authorizer {
            email: "a***@acme.example".into(),
            org_id: org.into(),
            at: now,
            scopes: vec!["analytics:read_all".into()],
        }
    }

    fn token_store() -> (TokenStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(FolderStore::new(dir.path().to_path_buf()).unwrap());
        let now = at("2026-01-05T10:00:00Z");
        (TokenStore::new(store, Arc::new(At(now))), dir)
    }

    #[tokio::test]
    async fn the_first_login_pins_its_organisation_and_another_is_refused_storing_nothing() {
        let (tokens, dir) = token_store();
        let now = at("2026-01-05T10:00:00Z");
        assert!(tokens.load().await.unwrap().is_none());
        let state = tokens
            .store_login_by(record("first", now), authorizer("org-a", now))
            .await
            .unwrap();
        assert_eq!(state.org_id.as_deref(), Some("org-a"));

        let refused = tokens
            .store_login_by(record("intruder", now), authorizer("org-b", now))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, TokenError::OtherOrganisation { .. }),
            "{refused}"
        );
        let (kept, _) = tokens.load().await.unwrap().unwrap();
        assert_eq!(kept.record.unwrap().access_token.expose(), "first");

        // Needed again: recorded once (the first reason and time stay), the tokens kept.
        tokens.mark_authorization_needed("revoked").await.unwrap();
        tokens.mark_authorization_needed("later").await.unwrap();
        let (needed, _) = tokens.load().await.unwrap().unwrap();
        let needed_since = needed.authorization_needed.unwrap();
        assert_eq!(
            (needed_since.reason.as_str(), needed_since.since),
            ("revoked", now)
        );
        assert!(needed.record.is_some());

        // A login from the pinned organisation replaces the tokens and clears it.
        let again = tokens
            .store_login_by(record("second", now), authorizer("org-a", now))
            .await
            .unwrap();
        assert!(again.authorization_needed.is_none());
        assert_eq!(again.record.unwrap().access_token.expose(), "second");
        drop(dir);
    }

    #[tokio::test]
    async fn a_refreshed_record_is_saved_only_over_the_version_the_collector_read() {
        let (tokens, dir) = token_store();
        let now = at("2026-01-05T10:00:00Z");
        tokens
            .store_login_by(record("login", now), authorizer("org-a", now))
            .await
            .unwrap();
        let (state, etag) = tokens.load().await.unwrap().unwrap();
        let sink = StoredTokens::new(tokens.clone(), state, Some(etag));

        // A refresh: saved, the pinned organisation and the authorizer kept.
        sink.save(&record("refreshed", now)).await.unwrap();
        let (saved, _) = tokens.load().await.unwrap().unwrap();
        assert_eq!(saved.record.unwrap().access_token.expose(), "refreshed");
        assert_eq!(saved.org_id.as_deref(), Some("org-a"));
        assert!(saved.authorized_by.is_some());
        // Twice in a row: the sink follows its own writes.
        sink.save(&record("refreshed-again", now)).await.unwrap();

        // Someone else logs in meanwhile: the sink's next save is refused, not written over theirs.
        tokens
            .store_login_by(record("new-login", now), authorizer("org-a", now))
            .await
            .unwrap();
        let refused = sink.save(&record("stale", now)).await.unwrap_err();
        assert!(refused.contains("the token object changed"), "{refused}");
        let (kept, _) = tokens.load().await.unwrap().unwrap();
        assert_eq!(kept.record.unwrap().access_token.expose(), "new-login");
        drop(dir);
    }
}
