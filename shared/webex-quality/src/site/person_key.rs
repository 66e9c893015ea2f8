//! The key behind person pages' URLs. A page's name is an HMAC-SHA256 of the person's key (their
//! lower-cased email) under a random per-deployment key, so nobody holding a list of emails can tell
//! whose page a URL is (a plain SHA-256 of the email could be checked against such a list).
//!
//! The key is made once, at the first render, and kept in the data store ([`PERSON_KEY_KEY`]),
//! never in the site; losing it renames every person page at the next render, nothing worse.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::storage::{Fetched, ObjectStore, PutCondition, StoreError};

/// The key's object in the data store.
pub const PERSON_KEY_KEY: &str = "person-url-key.json";

/// A deployment's key for person page URLs.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonKey([u8; 32]);

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey(..)")
    }
}

impl Default for PersonKey {
    /// A fixed key for tests and benches: every real render loads its deployment's
    /// ([`PersonKey::load_or_create`]).
    fn default() -> Self {
        Self([0x5a; 32])
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    /// 32 random bytes, hex.
    person_url_key: String,
}

impl PersonKey {
    /// The key from its bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A person's page, from the site root.
    #[must_use]
    pub fn person_path(&self, person: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(person.as_bytes());
        format!(
            "people/{}.html",
            &hex::encode(mac.finalize().into_bytes())[..20]
        )
    }

    /// What the render cache's fingerprint takes of the key: a hash, not the key.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        self.person_path("\u{0}fingerprint")
    }

    /// The deployment's key from the data store, made (32 random bytes) and stored there first
    /// when there is none; of two first renders racing, both end with the one stored first.
    ///
    /// # Errors
    /// Store failures, a stored key that is not one, or no randomness from the system.
    pub async fn load_or_create(store: &dyn ObjectStore) -> Result<Self, StoreError> {
        for _ in 0..3 {
            match store.get(PERSON_KEY_KEY, None).await? {
                Fetched::Found(object) => return Self::parse(&object.bytes),
                Fetched::NotModified => {}
                Fetched::NotFound => {
                    let mut bytes = [0_u8; 32];
                    getrandom::fill(&mut bytes).map_err(|e| {
                        StoreError::backend("put", PERSON_KEY_KEY, format!("randomness: {e}"))
                    })?;
                    let stored = serde_json::to_vec_pretty(&Stored {
                        person_url_key: hex::encode(bytes),
                    })
                    .map_err(|e| StoreError::backend("put", PERSON_KEY_KEY, e))?;
                    match store
                        .put(
                            PERSON_KEY_KEY,
                            stored.into(),
                            PutCondition::IfAbsent,
                            "application/json",
                        )
                        .await
                    {
                        Ok(_) => {
                            tracing::info!("made this deployment's key for person page URLs");
                            return Ok(Self(bytes));
                        }
                        Err(StoreError::PreconditionFailed { .. }) => {}
                        Err(error) => return Err(error),
                    }
                }
            }
        }
        Err(StoreError::backend(
            "get",
            PERSON_KEY_KEY,
            "the key changed three times while it was read",
        ))
    }

    fn parse(bytes: &[u8]) -> Result<Self, StoreError> {
        let bad = |detail: &str| {
            StoreError::backend(
                "get",
                PERSON_KEY_KEY,
                format!(
                    "{detail}: delete the object and render again (person pages get new names)"
                ),
            )
        };
        let stored: Stored = serde_json::from_slice(bytes).map_err(|_| bad("not a key object"))?;
        let text = stored.person_url_key.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key is not 64 hex digits"));
        }
        let mut key = [0_u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| bad("the key is not 64 hex digits"))?;
        }
        Ok(Self(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_path_depends_on_the_key_and_is_no_plain_hash_of_the_email() {
        let email = "ana.lima@example.com";
        let a = PersonKey::from_bytes([1; 32]).person_path(email);
        let b = PersonKey::from_bytes([2; 32]).person_path(email);
        assert_ne!(a, b);
        assert!(a.starts_with("people/") && a.ends_with(".html"));
        assert_eq!(
            a,
            PersonKey::from_bytes([1; 32]).person_path(email),
            "stable"
        );
        let plain = crate::db::sha256_hex(email.as_bytes());
        assert!(!a.contains(&plain[..16]) && !b.contains(&plain[..16]));
        assert!(!format!("{:?}", PersonKey::from_bytes([7; 32])).contains("07"));
    }

    #[tokio::test]
    async fn the_key_is_made_once_and_read_back() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        let store = crate::storage::FolderStore::new(dir.clone()).unwrap();
        let first = PersonKey::load_or_create(&store).await.unwrap();
        let again = PersonKey::load_or_create(&store).await.unwrap();
        assert_eq!(first, again);
        assert_ne!(first, PersonKey::default());
        let other_dir =
            std::env::temp_dir().join(format!("wq-person-key-{}", uuid::Uuid::new_v4().simple()));
        let other = crate::storage::FolderStore::new(other_dir.clone()).unwrap();
        assert_ne!(
            PersonKey::load_or_create(&other).await.unwrap(),
            first,
            "per deployment"
        );
        store
            .put(
                PERSON_KEY_KEY,
                bytes::Bytes::from_static(b"{\"person_url_key\":\"zz\"}"),
                PutCondition::Always,
                "application/json",
            )
            .await
            .unwrap();
        let error = PersonKey::load_or_create(&store).await.unwrap_err();
        assert!(error.to_string().contains("delete the object"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(other_dir).unwrap();
    }
}
