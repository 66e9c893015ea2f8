//! The site-builder never makes the dashboard worse: a corrupt database, a lost one or an empty one
//! publishes nothing, and two builders racing leave a manifest that matches the files.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use webex_quality::clock::SharedClock;
use webex_quality::history::DATABASE_KEY;
use webex_quality::quality::Thresholds;
use webex_quality::site::{
    MANIFEST_KEY, RefreshError, Rendered, SiteOptions, read_manifest, render_from_store,
};
use webex_quality::storage::{
    ETag, Fetched, FolderStore, ObjectStore, PutCondition, SharedStore, StoreError,
};

use crate::helpers::{collect_once, sim_clock, spawn_sim, temp_dir};

async fn render(
    data: &SharedStore,
    site: &dyn ObjectStore,
    clock: SharedClock,
) -> Result<Rendered, RefreshError> {
    render_from_store(
        data,
        site,
        temp_dir("safety-work"),
        SiteOptions::default(),
        &Thresholds::default(),
        clock,
    )
    .await
}

fn folder(name: &str) -> SharedStore {
    Arc::new(FolderStore::new(temp_dir(name)).unwrap())
}

/// Every file the manifest lists is there, with the content the manifest says.
async fn manifest_matches_the_files(site: &dyn ObjectStore) {
    let manifest = read_manifest(site).await.unwrap();
    assert!(!manifest.files.is_empty());
    for (path, hash) in &manifest.files {
        let Fetched::Found(object) = site.get(path, None).await.unwrap() else {
            panic!("{path} is listed but missing");
        };
        assert_eq!(
            webex_quality::db::sha256_hex(&object.bytes),
            hash.to_string(),
            "{path} differs from the manifest"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_lost_or_empty_database_never_replaces_the_published_dashboard() {
    let sim = spawn_sim().await;
    let (data, _) = collect_once(&sim, "safety-data").await;
    let site = folder("safety-site");
    let first = render(&data, site.as_ref(), sim_clock(&sim)).await.unwrap();
    assert!(first.files > 20, "{first:?}");
    let published = read_manifest(site.as_ref()).await.unwrap();
    let Fetched::Found(good) = data.get(DATABASE_KEY, None).await.unwrap() else {
        panic!("no database");
    };

    // Corrupt: the database object's pages are overwritten half-way.
    let mut corrupt = good.bytes.to_vec();
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 8192].fill(0x5a);
    data.put(
        DATABASE_KEY,
        Bytes::from(corrupt),
        PutCondition::Always,
        "application/vnd.sqlite3",
    )
    .await
    .unwrap();
    // Refused when it is downloaded (its check fails before it becomes the cache).
    let refused = render(&data, site.as_ref(), sim_clock(&sim)).await;
    assert!(
        matches!(&refused, Err(RefreshError::Store(e)) if e.to_string().contains("failed its check")),
        "{refused:?}"
    );
    assert_eq!(read_manifest(site.as_ref()).await.unwrap(), published);

    // Lost: no database object at all.
    data.delete(DATABASE_KEY).await.unwrap();
    let refused = render(&data, site.as_ref(), sim_clock(&sim)).await;
    assert!(
        matches!(refused, Err(RefreshError::NoDatabase { .. })),
        "{refused:?}"
    );
    assert_eq!(read_manifest(site.as_ref()).await.unwrap(), published);

    // Empty: a valid database with nothing in it, and no archives, would remove every meeting's
    // page.
    let mut archives = Vec::new();
    for archive in webex_quality::history::list_archives(&data).await.unwrap() {
        let Fetched::Found(object) = data.get(&archive.key(), None).await.unwrap() else {
            panic!("{} is listed", archive.key());
        };
        data.delete(&archive.key()).await.unwrap();
        archives.push((archive.key(), object.bytes));
    }
    let empty_dir = temp_dir("safety-empty");
    webex_quality::db::Database::open(&empty_dir.join("empty.sqlite")).unwrap();
    let empty = std::fs::read(empty_dir.join("empty.sqlite")).unwrap();
    data.put(
        DATABASE_KEY,
        Bytes::from(empty),
        PutCondition::Always,
        "application/vnd.sqlite3",
    )
    .await
    .unwrap();
    let refused = render(&data, site.as_ref(), sim_clock(&sim)).await;
    assert!(
        matches!(refused, Err(RefreshError::WouldWipe { .. })),
        "{refused:?}"
    );
    assert_eq!(read_manifest(site.as_ref()).await.unwrap(), published);
    manifest_matches_the_files(site.as_ref()).await;

    // The good database and the archives back: the dashboard publishes again.
    for (key, bytes) in archives {
        data.put(&key, bytes, PutCondition::IfAbsent, "application/zstd")
            .await
            .unwrap();
    }
    data.put(
        DATABASE_KEY,
        good.bytes,
        PutCondition::Always,
        "application/vnd.sqlite3",
    )
    .await
    .unwrap();
    render(&data, site.as_ref(), sim_clock(&sim)).await.unwrap();
    manifest_matches_the_files(site.as_ref()).await;
    sim.shutdown().await;
}

/// A site store where another builder publishes just before this one writes its manifest: it
/// overwrites every file this builder uploaded with other content, and writes its own manifest.
#[derive(Debug)]
struct RacedSite {
    inner: SharedStore,
    raced: AtomicBool,
    uploaded: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl ObjectStore for RacedSite {
    async fn get(&self, key: &str, if_none_match: Option<&ETag>) -> Result<Fetched, StoreError> {
        self.inner.get(key, if_none_match).await
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        content_type: &str,
    ) -> Result<ETag, StoreError> {
        self.inner.put(key, bytes, condition, content_type).await
    }

    async fn publish(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        cache_control: &str,
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        if key == MANIFEST_KEY && !self.raced.swap(true, Ordering::SeqCst) {
            // The other builder: stale content for the files this one just uploaded, and a
            // manifest that claims this builder's hashes for them (it rendered the same inputs).
            let uploaded = self.uploaded.lock().unwrap().clone();
            for path in &uploaded {
                self.inner
                    .publish(
                        path,
                        Bytes::from_static(b"stale"),
                        content_type,
                        cache_control,
                        PutCondition::Always,
                    )
                    .await?;
            }
            self.inner
                .publish(
                    key,
                    bytes.clone(),
                    content_type,
                    cache_control,
                    PutCondition::Always,
                )
                .await?;
        } else if key != MANIFEST_KEY {
            self.uploaded.lock().unwrap().push(key.to_owned());
        }
        self.inner
            .publish(key, bytes, content_type, cache_control, condition)
            .await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_builder_that_loses_the_manifest_race_renders_again_and_leaves_no_stale_page() {
    let sim = spawn_sim().await;
    let (data, _) = collect_once(&sim, "race-data").await;
    let site = RacedSite {
        inner: folder("race-site"),
        raced: AtomicBool::new(false),
        uploaded: std::sync::Mutex::new(Vec::new()),
    };
    let refreshed = render(&data, &site, sim_clock(&sim)).await.unwrap();
    assert!(site.raced.load(Ordering::SeqCst), "the race happened");
    assert!(refreshed.published.uploaded.len() > 20, "{refreshed:?}");
    manifest_matches_the_files(&site).await;
    sim.shutdown().await;
}
