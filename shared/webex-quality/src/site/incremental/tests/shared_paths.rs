//! A meeting's key is its page's path, one allocation with the manifests': in the cache, in what
//! the published manifest still lists, and in the archives' lists.
use super::*;

#[test]
fn a_meetings_cache_key_is_its_pages_path_as_the_manifests_hold_it() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let f = fixture(&[("a_I_1", start), ("b_I_2", start)]);
    let one_allocation = |key: &MeetingKey, manifest: &Manifest| {
        let (path, _) = manifest.get_key_value(&**key.page()).unwrap();
        Arc::ptr_eq(path, key.page())
    };
    // Rendered: the key is the build's manifest's path; the manifest lists the page through the
    // entry, not in a node of its own.
    let first = f.build(None);
    assert_eq!(first.cache.meetings.len(), 2);
    for (key, entry) in &first.cache.meetings {
        assert!(!first.hashes.contains_key(&**key.page()));
        let (path, hash) = first.manifest().get_key_value(key.page()).unwrap();
        assert!(Arc::ptr_eq(path, key.page()) && *hash == entry.page);
        assert_eq!(*hash, ContentHash::of(&first.files[&**key.page()]));
    }
    // Kept: the key is the published manifest's path (the previous cache and the manifest read
    // back, as a render reads them: no path shared). The build takes the entry over: the
    // published manifest it was given no longer holds the page, and the build's lists it through
    // the entry, with its hash, not in a node of its own.
    let published: Manifest =
        serde_json::from_slice(&serde_json::to_vec(&first.manifest().to_map()).unwrap()).unwrap();
    let previous = Previous {
        cache: Some(RenderCache::from_bytes(&first.cache.to_bytes().unwrap()).unwrap()),
        manifest: published.clone(),
    };
    let kept = f.build(Some(previous));
    assert_eq!((kept.meetings_reused, kept.taken), (2, 2));
    for (key, entry) in &kept.cache.meetings {
        assert!(one_allocation(key, &published));
        assert!(!kept.hashes.contains_key(&**key.page()));
        assert!(!kept.published.contains_key(&**key.page()));
        assert_eq!(kept.manifest().get(key.page()), Some(&entry.page));
    }
    assert_eq!(kept.published.len() + 2, published.len());
    assert_eq!(kept.manifest().to_map(), published, "the site as it was");
}

#[test]
fn a_rebuild_over_a_published_site_takes_over_the_entries_of_the_pages_it_published() {
    let start = crate::db::test_support::t("2025-06-02T14:00:00Z");
    let f = fixture(&[("a_I_1", start), ("b_I_2", start)]);
    let published = f.build(None).manifest().to_map();
    // No cache: everything is rendered.
    let previous = Previous {
        cache: None,
        manifest: published.clone(),
    };
    let mut builder = SiteBuilder::new(&f.options, &f.thresholds, Some(previous));
    builder.add_database(&f.db, None).unwrap();
    let files = builder.take_files();
    assert!(files.contains_key("meetings/a_I_1.html"));
    builder.take_over_published(files.keys().map(String::as_str));
    let left: Vec<&str> = builder.published().keys().map(|p| &**p).collect();
    assert!(!left.iter().any(|p| p.starts_with("meetings/")), "{left:?}");
    // The files that are not meeting pages stay, for the build's own files to be compared with.
    assert!(left.contains(&"index.html") && left.len() + 2 == published.len());
    let build = builder.finish(&f.status).unwrap();
    assert_eq!((build.meetings_rendered, build.taken), (2, 2));
    assert_eq!(
        build.manifest().to_map().keys().collect::<Vec<_>>(),
        published.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_kept_archives_list_holds_its_meetings_keys_as_the_build_does() {
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let mut cache = with_archive(cache_with(&options, &thresholds, &["a", "b"]), &["a", "b"]);
    let archive = ARCHIVE;
    cache.share_ids();
    let manifest = manifest_of(&[("meetings/a.html", "hash-a"), ("meetings/b.html", "hash-b")]);
    let mut builder = over_previous(&options, &thresholds, cache, &manifest);
    assert!(builder.reuse_archive(archive));
    let build = builder.pause().unwrap();
    let listed = &build.cache.archives[archive];
    assert_eq!(listed.len(), 2);
    for id in listed {
        let (key, _) = build.cache.meetings.get_key_value(id.id()).unwrap();
        let (path, _) = manifest.get_key_value(&**id.page()).unwrap();
        assert!(Arc::ptr_eq(id.page(), key.page()) && Arc::ptr_eq(id.page(), path));
    }
}
