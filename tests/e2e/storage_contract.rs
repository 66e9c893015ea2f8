//! Both object store adapters pass the same contract.

use std::sync::Arc;

use bytes::Bytes;
use webex_quality::storage::{
    Fetched, FetchedFile, FolderStore, PutCondition, SharedStore, SiteFile, StoreError,
};

use crate::s3;

async fn contract(store: SharedStore) {
    let key = "data/webex-quality.sqlite";
    assert_eq!(store.get(key, None).await.unwrap(), Fetched::NotFound);

    let first = store
        .put(
            key,
            Bytes::from_static(b"one"),
            PutCondition::IfAbsent,
            "application/octet-stream",
        )
        .await
        .unwrap();
    let again = store
        .put(
            key,
            Bytes::from_static(b"two"),
            PutCondition::IfAbsent,
            "application/octet-stream",
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::PreconditionFailed { .. })),
        "{again:?}"
    );

    match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => {
            assert_eq!(object.bytes.as_ref(), b"one");
            assert_eq!(object.etag, first);
        }
        other => panic!("expected the object, got {other:?}"),
    }
    assert_eq!(
        store.get(key, Some(&first)).await.unwrap(),
        Fetched::NotModified
    );

    let second = store
        .put(
            key,
            Bytes::from_static(b"two"),
            PutCondition::IfMatch(first.clone()),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_ne!(second, first);
    let stale = store
        .put(
            key,
            Bytes::from_static(b"three"),
            PutCondition::IfMatch(first.clone()),
            "application/octet-stream",
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "{stale:?}"
    );
    match store.get(key, Some(&first)).await.unwrap() {
        Fetched::Found(object) => assert_eq!(object.bytes.as_ref(), b"two"),
        other => panic!("a changed object is read again, got {other:?}"),
    }

    store
        .put(
            "data/other.json",
            Bytes::from_static(b"{}"),
            PutCondition::Always,
            "application/json",
        )
        .await
        .unwrap();
    store
        .put(
            "site/index.html",
            Bytes::from_static(b"<p>"),
            PutCondition::Always,
            "text/html",
        )
        .await
        .unwrap();
    assert_eq!(
        store.list("data/").await.unwrap(),
        ["data/other.json", "data/webex-quality.sqlite"]
    );
    store.delete("data/other.json").await.unwrap();
    store.delete("data/never-there").await.unwrap();
    assert_eq!(
        store.list("data/").await.unwrap(),
        ["data/webex-quality.sqlite"]
    );

    for bad in ["../escape", "/abs", "a//b"] {
        assert!(store.get(bad, None).await.is_err(), "{bad}");
    }

    file_contract(&store).await;
    publish_contract(&store).await;

    // Sixteen writers race from the same version: exactly one wins.
    let base = match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => object.etag,
        other => panic!("{other:?}"),
    };
    let racers = (0..16).map(|n| {
        let store = store.clone();
        let base = base.clone();
        tokio::spawn(async move {
            store
                .put(
                    key,
                    Bytes::from(format!("writer {n}")),
                    PutCondition::IfMatch(base),
                    "application/octet-stream",
                )
                .await
        })
    });
    let results = futures_util::future::join_all(racers).await;
    let winners = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(StoreError::PreconditionFailed { .. }))))
        .count();
    assert_eq!((winners, refused), (1, 15));
}

/// `publish_all`: every file of a batch larger than the uploads S3 keeps in flight is there byte
/// for byte, and a batch with a bad key is an error.
async fn publish_contract(store: &SharedStore) {
    let files: Vec<SiteFile> = (0..40)
        .map(|n| SiteFile {
            key: format!("site/meetings/m{n}.html"),
            bytes: Bytes::from(format!("<p>meeting {n}").repeat(n + 1)),
            content_type: "text/html; charset=utf-8",
            cache_control: "no-cache",
        })
        .collect();
    store.publish_all(files.clone()).await.unwrap();
    let listed = store.list("site/meetings/").await.unwrap();
    assert_eq!(listed.len(), files.len(), "{listed:?}");
    for file in &files {
        match store.get(&file.key, None).await.unwrap() {
            Fetched::Found(object) => assert_eq!(object.bytes, file.bytes, "{}", file.key),
            other => panic!("{}: {other:?}", file.key),
        }
    }
    let mut bad = files[..2].to_vec();
    bad[1].key = "site/../escape.html".into();
    assert!(store.publish_all(bad).await.is_err());
    for file in &files {
        store.delete(&file.key).await.unwrap();
    }

    // `publish_file` (a render's manifest, from its work folder): its bytes, under the same
    // conditions as `put`.
    let dir = crate::helpers::temp_dir("publish-file");
    let (key, source) = ("site/manifest.json", dir.join("manifest.json"));
    let metadata = ("application/json", "no-cache");
    let first = format!("{{\"a\": \"{}\"}}", "0".repeat(1 << 20));
    std::fs::write(&source, &first).unwrap();
    let publish = |condition| store.publish_file(key, &source, metadata, condition);
    publish(PutCondition::IfAbsent).await.unwrap();
    let again = publish(PutCondition::IfAbsent).await;
    assert!(
        matches!(again, Err(StoreError::PreconditionFailed { .. })),
        "{again:?}"
    );
    let etag = match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => {
            assert!(
                object.bytes.as_ref() == first.as_bytes(),
                "the file's bytes"
            );
            object.etag
        }
        other => panic!("{other:?}"),
    };
    std::fs::write(&source, b"{}").unwrap();
    publish(PutCondition::IfMatch(etag.clone())).await.unwrap();
    let stale = publish(PutCondition::IfMatch(etag)).await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "{stale:?}"
    );
    match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => assert_eq!(object.bytes.as_ref(), b"{}"),
        other => panic!("{other:?}"),
    }
    store.delete(key).await.unwrap();
    // Unconditionally (a large export from the work folder): its bytes, over what was there.
    let key = "site/meetings.json";
    std::fs::write(&source, &first).unwrap();
    let metadata = ("application/json", "no-cache");
    for _ in 0..2 {
        store
            .publish_file(key, &source, metadata, PutCondition::Always)
            .await
            .unwrap();
    }
    match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => assert!(object.bytes.as_ref() == first.as_bytes()),
        other => panic!("{other:?}"),
    }
    store.delete(key).await.unwrap();
}

/// `put_file` and `get_to_file`: the same conditions and ETags as `put` and `get`, and a large
/// object (several chunks) byte for byte.
async fn file_contract(store: &SharedStore) {
    let dir = crate::helpers::temp_dir("file-contract");
    let key = "data/big.sqlite";
    // 3 MB that do not repeat, so no chunk is like another.
    let mut big = Vec::with_capacity(3 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while big.len() < 3 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.extend_from_slice(&x.to_le_bytes());
    }
    let source = dir.join("source.sqlite");
    std::fs::write(&source, &big).unwrap();
    let target = dir.join("target.sqlite");

    assert_eq!(
        store.get_to_file(key, None, &target).await.unwrap(),
        FetchedFile::NotFound
    );
    assert!(!target.exists(), "nothing is written for a missing object");
    let first = store
        .put_file(
            key,
            &source,
            PutCondition::IfAbsent,
            "application/vnd.sqlite3",
        )
        .await
        .unwrap();
    let twice = store
        .put_file(
            key,
            &source,
            PutCondition::IfAbsent,
            "application/vnd.sqlite3",
        )
        .await;
    assert!(
        matches!(twice, Err(StoreError::PreconditionFailed { .. })),
        "{twice:?}"
    );
    // The ETag is the one `get` reports.
    match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => {
            assert_eq!(object.etag, first);
            assert!(
                object.bytes.as_ref() == big.as_slice(),
                "put_file stores the file's bytes"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.get_to_file(key, None, &target).await.unwrap(),
        FetchedFile::Found(first.clone())
    );
    assert!(
        std::fs::read(&target).unwrap() == big,
        "get_to_file writes the object's bytes"
    );
    std::fs::write(&target, b"untouched").unwrap();
    assert_eq!(
        store.get_to_file(key, Some(&first), &target).await.unwrap(),
        FetchedFile::NotModified
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"untouched");

    std::fs::write(&source, b"second version").unwrap();
    let second = store
        .put_file(
            key,
            &source,
            PutCondition::IfMatch(first.clone()),
            "application/vnd.sqlite3",
        )
        .await
        .unwrap();
    let stale = store
        .put_file(
            key,
            &source,
            PutCondition::IfMatch(first.clone()),
            "application/vnd.sqlite3",
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "{stale:?}"
    );
    assert_eq!(
        store.get_to_file(key, Some(&first), &target).await.unwrap(),
        FetchedFile::Found(second)
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"second version");
    store.delete(key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_folder_store_keeps_the_contract() {
    let dir = crate::helpers::temp_dir("folder-contract");
    contract(Arc::new(FolderStore::new(dir).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_s3_store_keeps_the_contract() {
    let (store, _) = s3::store("team/data").await;
    contract(store).await;
}

#[tokio::test]
async fn two_processes_racing_on_a_folder_store_cannot_both_win() {
    // Two FolderStore values on one folder stand for two processes: the lock is the file system's.
    let dir = crate::helpers::temp_dir("folder-race");
    let a = FolderStore::new(dir.clone()).unwrap();
    let b = FolderStore::new(dir).unwrap();
    use webex_quality::storage::ObjectStore;
    let base = a
        .put("k", Bytes::from_static(b"0"), PutCondition::IfAbsent, "x")
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        a.put(
            "k",
            Bytes::from_static(b"a"),
            PutCondition::IfMatch(base.clone()),
            "x"
        ),
        b.put(
            "k",
            Bytes::from_static(b"b"),
            PutCondition::IfMatch(base.clone()),
            "x"
        ),
    );
    assert_eq!(usize::from(ra.is_ok()) + usize::from(rb.is_ok()), 1);
}
