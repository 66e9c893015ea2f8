//! Publishing the site through the object store: only what changed is uploaded, pages that no longer
//! exist are removed, and a manifest of content hashes (`manifest.json`) remembers what is there.
//! Assets carry their content hash in their names and are cached for a year; HTML and exports are
//! revalidated on every view.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::Files;
use crate::db::sha256_hex;
use crate::storage::{Fetched, ObjectStore, StoreError};

/// The manifest's key in the site store.
pub const MANIFEST_KEY: &str = "manifest.json";

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Files uploaded (new or changed).
    pub uploaded: Vec<String>,
    /// Files removed.
    pub deleted: Vec<String>,
    /// Files left as they were.
    pub unchanged: usize,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("csv") => "text/csv; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn cache_control(path: &str) -> &'static str {
    if path.starts_with("assets/") {
        // Content-hashed names: a changed file gets a new name.
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// Uploads the files of `site` that differ from the manifest in `store`, removes the ones that are no
/// longer in `site`, then writes the new manifest.
///
/// # Errors
/// Store failures (the manifest is written last, so a failed publish is redone in full next time).
pub async fn publish(store: &dyn ObjectStore, site: &Files) -> Result<Published, StoreError> {
    let previous: BTreeMap<String, String> = match store.get(MANIFEST_KEY, None).await? {
        Fetched::Found(object) => serde_json::from_slice(&object.bytes).unwrap_or_default(),
        Fetched::NotFound | Fetched::NotModified => BTreeMap::new(),
    };
    let mut manifest = BTreeMap::new();
    let mut report = Published::default();
    for (path, bytes) in site {
        let hash = sha256_hex(bytes);
        if previous.get(path) == Some(&hash) {
            report.unchanged += 1;
        } else {
            store
                .publish(
                    path,
                    Bytes::from(bytes.clone()),
                    content_type(path),
                    cache_control(path),
                )
                .await?;
            report.uploaded.push(path.clone());
        }
        manifest.insert(path.clone(), hash);
    }
    for path in previous.keys().filter(|p| !site.contains_key(*p)) {
        store.delete(path).await?;
        report.deleted.push(path.clone());
    }
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| StoreError::backend("put", MANIFEST_KEY, e))?;
    store
        .publish(
            MANIFEST_KEY,
            Bytes::from(bytes),
            "application/json",
            "no-cache",
        )
        .await?;
    Ok(report)
}
