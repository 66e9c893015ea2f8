//! A store in front of a real one, whose reads and writes a test can fail, delay or precede: the
//! one way the tests inject store faults (outages, conflicts, another writer coming first).

use webex_quality::storage::{ETag, Fetched, ObjectStore, PutCondition, SharedStore, StoreError};

/// What a test does around the real store's operations. Every method does nothing by default.
#[async_trait::async_trait]
pub trait Hook: Send + Sync + std::fmt::Debug {
    /// Before a read of `key`: an error fails it.
    async fn before_get(&self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Before a write of `key`: an error fails it (nothing is written).
    async fn before_put(&self, _key: &str, _condition: &PutCondition) -> Result<(), StoreError> {
        Ok(())
    }

    /// After a write of `key` reached the real store, with its outcome.
    fn after_put(&self, _key: &str, _written: &Result<ETag, StoreError>) {}
}

/// `inner`, with `hook` around its reads and writes (deletes and listings pass through).
#[derive(Debug)]
pub struct Hooked<H> {
    /// The real store.
    pub inner: SharedStore,
    /// What the test does around it.
    pub hook: H,
}

/// A store outage, as a backend answers it.
pub fn outage(operation: &'static str, key: &str) -> StoreError {
    StoreError::Backend {
        operation,
        key: key.to_owned(),
        detail: "injected outage".into(),
    }
}

#[async_trait::async_trait]
impl<H: Hook> ObjectStore for Hooked<H> {
    async fn get(&self, key: &str, etag: Option<&ETag>) -> Result<Fetched, StoreError> {
        self.hook.before_get(key).await?;
        self.inner.get(key, etag).await
    }

    async fn put(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        condition: PutCondition,
        content_type: &str,
    ) -> Result<ETag, StoreError> {
        self.hook.before_put(key, &condition).await?;
        let written = self.inner.put(key, bytes, condition, content_type).await;
        self.hook.after_put(key, &written);
        written
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
