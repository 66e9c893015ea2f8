//! Tests of publishing: uploads and removals, the manifest read and written, the report.
use std::sync::Arc;

use super::*;
use crate::storage::{Fetched, FolderStore, SharedStore};

fn site(files: &[(&str, &str)]) -> Files {
    files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), text.as_bytes().to_vec()))
        .collect()
}

async fn read(store: &SharedStore, key: &str) -> Option<Vec<u8>> {
    match store.get(key, None).await.unwrap() {
        Fetched::Found(object) => Some(object.bytes.to_vec()),
        _ => None,
    }
}

#[tokio::test]
async fn a_file_written_to_the_work_folder_is_published_from_there_only_when_it_changed() {
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path().join("work");
    let store = FolderStore::for_site(scratch.path().join("site")).unwrap();
    let write = |text: &'static str| {
        crate::site::written::WrittenFile::write(&work, "meetings.json", |out| {
            out.write_all(text.as_bytes())
                .map_err(|e| super::super::BuildError::Export(e.to_string()))
        })
        .unwrap()
    };
    let hashes = Manifest::from([("meetings.json".into(), ContentHash::of(b"[1]"))]);
    let mut report = Published::default();
    let first = write("[1]");
    let local = first.local().to_owned();
    let listed = SiteManifest::of(&hashes);
    publish_written(&store, (&Manifest::new(), listed), first, &mut report)
        .await
        .unwrap();
    assert_eq!(report.uploaded, vec![SitePath::from("meetings.json")]);
    assert!(Arc::ptr_eq(
        &report.uploaded[0],
        hashes.get_key_value("meetings.json").unwrap().0
    ));
    assert!(
        !local.exists(),
        "its file in the work folder is gone once published"
    );
    match store.get("meetings.json", None).await.unwrap() {
        Fetched::Found(object) => assert_eq!(&object.bytes[..], b"[1]"),
        other => panic!("{other:?}"),
    }
    // Listed as published with the same content: left as it is.
    let mut again = Published::default();
    publish_written(&store, (&hashes, listed), write("[1]"), &mut again)
        .await
        .unwrap();
    assert_eq!((again.uploaded.len(), again.unchanged), (0, 1));
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
}

#[tokio::test]
async fn only_what_changed_is_uploaded_and_what_went_is_removed_after_the_manifest() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_path_buf();
    let store: SharedStore = Arc::new(FolderStore::for_site(dir.clone()).unwrap());
    let first = site(&[
        ("index.html", "<p>1</p>"),
        ("meetings/a.html", "a"),
        ("assets/app.1.js", "js"),
    ]);
    let published = publish(store.as_ref(), &first).await.unwrap();
    assert_eq!(published.uploaded.len(), 3);
    assert_eq!(read_manifest(store.as_ref()).await.unwrap().files.len(), 3);

    // The same site again: nothing uploaded.
    let again = publish(store.as_ref(), &first).await.unwrap();
    assert_eq!(
        (again.uploaded.len(), again.unchanged, again.deleted.len()),
        (0, 3, 0)
    );

    // One page changed, one gone, one new.
    let second = site(&[
        ("index.html", "<p>2</p>"),
        ("meetings/b.html", "b"),
        ("assets/app.1.js", "js"),
    ]);
    let changed = publish(store.as_ref(), &second).await.unwrap();
    assert_eq!(
        changed.uploaded,
        vec![SitePath::from("index.html"), "meetings/b.html".into()]
    );
    assert_eq!(changed.deleted, vec!["meetings/a.html".to_owned()]);
    assert_eq!(changed.unchanged, 1);
    assert_eq!(read(&store, "index.html").await.unwrap(), b"<p>2</p>");
    assert!(read(&store, "meetings/a.html").await.is_none());
    let manifest = read_manifest(store.as_ref()).await.unwrap().files;
    assert_eq!(
        manifest.keys().map(|p| &**p).collect::<Vec<_>>(),
        vec!["assets/app.1.js", "index.html", "meetings/b.html"]
    );

    // A build made against an older manifest loses the race: its manifest is not written and
    // nothing the newer manifest lists is removed.
    let stale = Manifest::from([("index.html".into(), ContentHash::of(b"<p>1</p>"))]);
    let mut build = SiteBuild::empty(crate::site::render_cache::RenderCache::new(String::new()));
    build.files = site(&[("index.html", "<p>3</p>")]);
    build.hashes = Manifest::from([("index.html".into(), ContentHash::of(b"<p>3</p>"))]);
    let old_version = Some(ETag("\"not-the-current-one\"".into()));
    let lost = publish_build(store.as_ref(), &stale, old_version.as_ref(), &build)
        .await
        .unwrap_err();
    assert!(
        matches!(&lost, PublishError::ManifestChanged { uploaded } if uploaded == &vec!["index.html".to_owned()]),
        "{lost}"
    );
    assert!(
        read(&store, "meetings/b.html").await.is_some(),
        "still listed, still there"
    );
    assert_eq!(read_manifest(store.as_ref()).await.unwrap().files, manifest);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_damaged_manifest_is_published_anew_with_every_file() {
    let scratch = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(FolderStore::for_site(scratch.path().to_path_buf()).unwrap());
    let files = site(&[("index.html", "<p>1</p>"), ("meetings/a.html", "a")]);
    publish(store.as_ref(), &files).await.unwrap();
    let version = match store.get(MANIFEST_KEY, None).await.unwrap() {
        Fetched::Found(object) => object.etag,
        other => panic!("{other:?}"),
    };
    store
        .publish(
            MANIFEST_KEY,
            Bytes::from_static(b"{\"index.html\": \"cut sh"),
            "application/json",
            "no-cache",
            PutCondition::IfMatch(version),
        )
        .await
        .unwrap();
    let damaged = read_manifest(store.as_ref()).await.unwrap();
    assert!(damaged.files.is_empty() && damaged.etag.is_some());
    let again = publish(store.as_ref(), &files).await.unwrap();
    assert_eq!(
        (again.uploaded.len(), again.unchanged, again.deleted.len()),
        (2, 0, 0)
    );
    assert_eq!(read_manifest(store.as_ref()).await.unwrap().files.len(), 2);
}

#[tokio::test]
async fn a_manifest_read_through_the_work_folder_is_the_same_and_leaves_no_file() {
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let store: SharedStore = Arc::new(FolderStore::for_site(scratch.path().join("site")).unwrap());
    let none = read_manifest_via(store.as_ref(), Some(&work))
        .await
        .unwrap();
    assert!(none.files.is_empty() && none.etag.is_none());
    let files = site(&[("index.html", "<p>1</p>"), ("meetings/a.html", "a")]);
    publish(store.as_ref(), &files).await.unwrap();
    let direct = read_manifest(store.as_ref()).await.unwrap();
    let via = read_manifest_via(store.as_ref(), Some(&work))
        .await
        .unwrap();
    assert_eq!(via.files.len(), 2);
    assert_eq!((via.files, via.etag), (direct.files, direct.etag));
    // Damaged: read as empty, at its version (as [`read_manifest`] does).
    store
        .publish(
            MANIFEST_KEY,
            Bytes::from_static(b"{\"index.html\": \"cut sh"),
            "application/json",
            "no-cache",
            PutCondition::Always,
        )
        .await
        .unwrap();
    let damaged = read_manifest_via(store.as_ref(), Some(&work))
        .await
        .unwrap();
    assert!(damaged.files.is_empty() && damaged.etag.is_some());
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
}

#[test]
fn a_renders_report_holds_its_first_uploads_and_logs_the_rest_to_a_nameless_file() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let mut report = Published::logging_to(&work).unwrap();
    let paths: Vec<String> = (0..HELD_UPLOADS + 3)
        .map(|i| format!("meetings/m{i}.html"))
        .collect();
    report
        .record(paths[..10].iter().map(|p| SitePath::from(p.as_str())))
        .unwrap();
    report
        .record(paths[10..].iter().map(|p| SitePath::from(p.as_str())))
        .unwrap();
    assert_eq!(report.uploaded.len(), HELD_UPLOADS, "the rest logged");
    assert_eq!(report.uploaded_count(), paths.len());
    assert_eq!(report.paths().unwrap(), paths);
    // Read back twice, and added to after: the log goes on at its end.
    report.record([SitePath::from("index.html")]).unwrap();
    let mut all = paths.clone();
    all.push("index.html".into());
    assert_eq!(report.paths().unwrap(), all);
    #[cfg(unix)]
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0, "nameless");
    // Without a log, every path is held.
    let mut held = Published::default();
    held.record(paths.iter().map(|p| SitePath::from(p.as_str())))
        .unwrap();
    assert_eq!(held.uploaded.len(), paths.len());
    assert_eq!(held.paths().unwrap(), paths);
}

#[test]
fn assets_are_cached_for_a_year_and_pages_revalidated() {
    assert_eq!(
        cache_control("assets/style.0123abcd.css"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(cache_control("index.html"), "no-cache");
    assert_eq!(cache_control("meetings.csv"), "no-cache");
    assert_eq!(content_type("people/x.html"), "text/html; charset=utf-8");
    assert_eq!(content_type("sessions.csv"), "text/csv; charset=utf-8");
    assert_eq!(content_type("no-extension"), "application/octet-stream");
}

#[tokio::test]
async fn a_renders_manifest_goes_through_a_file_of_its_work_folder_and_leaves_none() {
    let dir = tempfile::tempdir().unwrap();
    let (work, root) = (dir.path().join("work"), dir.path().join("site"));
    std::fs::create_dir_all(&work).unwrap();
    let store: SharedStore = Arc::new(FolderStore::new(root).unwrap());
    let files: Manifest = ["index.html", "meetings/a_I_1.html"]
        .into_iter()
        .map(|p| (SitePath::from(p), ContentHash::of(p.as_bytes())))
        .collect();
    let entries = ManifestEntries {
        files: SiteManifest::of(&files),
    };
    let report = Published::default();
    write_manifest(
        store.as_ref(),
        (&entries, Some(&work)),
        None,
        report.clone(),
    )
    .await
    .unwrap();
    let written = read(&store, MANIFEST_KEY).await.unwrap();
    assert_eq!(
        written,
        entries.to_json().unwrap(),
        "what memory would have sent"
    );
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    // Lost to another builder (a manifest is there already): said so, and no file left.
    let lost = write_manifest(store.as_ref(), (&entries, Some(&work)), None, report).await;
    assert!(matches!(lost, Err(PublishError::ManifestChanged { .. })));
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
}

#[test]
fn a_manifests_json_is_its_entries_map_written_into_a_buffer_of_its_size() {
    let files: Manifest = ["index.html", "meetings/a_I_1.html", "days/2026-01-05.json"]
        .into_iter()
        .map(|p| (SitePath::from(p), ContentHash::of(p.as_bytes())))
        .collect();
    let room = 2 + files.keys().map(|p| p.len() + 74).sum::<usize>();
    let json = ManifestEntries {
        files: SiteManifest::of(&files),
    }
    .to_json()
    .unwrap();
    assert_eq!(json, serde_json::to_vec_pretty(&files).unwrap());
    assert_eq!(json.len(), room, "the room is the size exactly");
}
