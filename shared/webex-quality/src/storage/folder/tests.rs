//! The folder adapter's own tests (the contract every store keeps is in the end-to-end tests).

use super::*;

/// Asserts that `store` holds `bytes` at `key`, with the ETag of that content (no stale sidecar).
async fn assert_holds(store: &FolderStore, key: &str, bytes: &[u8]) {
    match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => {
            assert_eq!(&object.bytes[..], bytes, "{key}");
            assert_eq!(object.etag, content_etag(bytes), "{key}: no stale sidecar");
        }
        other => panic!("{key}: {other:?}"),
    }
}

#[tokio::test]
async fn a_temporary_file_a_stopped_write_left_goes_at_the_objects_next_write() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().to_path_buf();
    let store = FolderStore::new(root.clone()).unwrap();
    let aged = |name: &str, age: std::time::Duration| {
        let path = root.join(name);
        super::super::work_files::write_aged(&path, age);
        path
    };
    let hour = super::super::work_files::STALE_AFTER;
    let random = "0123456789abcdef0123456789abcdef";
    let left = aged(&format!(".db.sqlite.{random}.tmp"), hour * 2);
    // Another write of the same object, under way; another object's; not a temporary file.
    let live = aged(
        &format!(".db.sqlite.{}.tmp", random.replace('0', "1")),
        hour / 60,
    );
    let other = aged(&format!(".status.json.{random}.tmp"), hour * 2);
    let sidecar = aged(".db.sqlite.etag.tmp", hour * 2);
    store
        .put(
            "db.sqlite",
            Bytes::from_static(b"new"),
            PutCondition::Always,
            "application/vnd.sqlite3",
        )
        .await
        .unwrap();
    assert!(!left.exists());
    assert!(live.exists() && other.exists() && sidecar.exists());
    // A site store does not look (its folders hold thousands of pages).
    let site = FolderStore::for_site(root.clone()).unwrap();
    let left = aged(&format!(".index.html.{random}.tmp"), hour * 2);
    site.publish(
        "index.html",
        Bytes::from_static(b"<p>"),
        "text/html",
        "no-cache",
        PutCondition::Always,
    )
    .await
    .unwrap();
    assert!(left.exists());
}

#[tokio::test]
async fn a_lock_held_too_long_by_another_process_is_an_error_not_a_hang() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().to_path_buf();
    let store = FolderStore::new(root.clone())
        .unwrap()
        .with_lock_wait(std::time::Duration::from_millis(200));
    store
        .put(
            "a.json",
            Bytes::from_static(b"{}"),
            PutCondition::Always,
            "application/json",
        )
        .await
        .unwrap();
    // Another process's lock: another open file description of the lock file.
    let other = File::options()
        .write(true)
        .open(root.join(LOCK_FILE))
        .unwrap();
    other.lock().unwrap();
    let started = std::time::Instant::now();
    let error = store.get("a.json", None).await.unwrap_err();
    assert!(
        error.to_string().contains("held the data folder's lock"),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    other.unlock().unwrap();
    assert!(matches!(
        store.get("a.json", None).await.unwrap(),
        Fetched::Found(_)
    ));
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_published_file_reads_back_with_the_etag_of_its_content_whatever_was_there() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().to_path_buf();
    let store = FolderStore::new(root.clone()).unwrap();
    // First written with a condition (an ETag sidecar), then published over.
    store
        .put(
            "meetings/a.html",
            Bytes::from_static(b"old"),
            PutCondition::IfAbsent,
            "text/html",
        )
        .await
        .unwrap();
    store
        .publish(
            "meetings/a.html",
            Bytes::from_static(b"new"),
            "text/html",
            "no-cache",
            PutCondition::Always,
        )
        .await
        .unwrap();
    assert_holds(&store, "meetings/a.html", b"new").await;
    // The same from a file (a large export in the work folder), over a conditional write.
    store
        .put(
            "meetings.json",
            Bytes::from_static(b"old"),
            PutCondition::IfAbsent,
            "application/json",
        )
        .await
        .unwrap();
    let source = scratch.path().join("export");
    fs::write(&source, b"[1, 2]").unwrap();
    let metadata = ("application/json", "no-cache");
    store
        .publish_file("meetings.json", &source, metadata, PutCondition::Always)
        .await
        .unwrap();
    assert_holds(&store, "meetings.json", b"[1, 2]").await;
    assert!(source.exists(), "published from, not moved");
    // As any published file: no sidecar (its ETag is hashed when asked).
    assert!(!etag_path(&root.join("meetings.json")).exists());
    // A conditional publish (the manifest) still honours its condition.
    let refused = store
        .publish(
            "manifest.json",
            Bytes::from_static(b"{}"),
            "application/json",
            "no-cache",
            PutCondition::IfMatch(ETag("\"sha256:nothing\"".into())),
        )
        .await;
    assert!(matches!(
        refused,
        Err(StoreError::PreconditionFailed { .. })
    ));
    let _ = fs::remove_dir_all(root);
}

#[tokio::test]
async fn a_batch_is_published_whole_and_a_bad_key_in_it_is_an_error() {
    let scratch = tempfile::tempdir().unwrap();
    let store = FolderStore::new(scratch.path().to_path_buf()).unwrap();
    store
        .put(
            "index.html",
            Bytes::from_static(b"old"),
            PutCondition::IfAbsent,
            "text/html",
        )
        .await
        .unwrap();
    let file = |key: &str, bytes: &'static [u8]| SiteFile {
        key: key.to_owned(),
        bytes: Bytes::from_static(bytes),
        content_type: "text/html; charset=utf-8",
        cache_control: "no-cache",
    };
    store
        .publish_all(vec![
            file("index.html", b"new"),
            file("meetings/a.html", b"a"),
            file("days/2026-12-01.html", b"day"),
        ])
        .await
        .unwrap();
    for (key, bytes) in [
        ("index.html", &b"new"[..]),
        ("meetings/a.html", b"a"),
        ("days/2026-12-01.html", b"day"),
    ] {
        assert_holds(&store, key, bytes).await;
    }
    let refused = store
        .publish_all(vec![
            file("meetings/b.html", b"b"),
            file("../out.html", b"x"),
        ])
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Backend { key, .. }) if key == "../out.html"),
        "{refused:?}"
    );
    assert!(!scratch.path().parent().unwrap().join("out.html").exists());
}
