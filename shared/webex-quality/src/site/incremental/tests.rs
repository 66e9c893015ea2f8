//! A build paused and resumed: what it keeps of the previous cache.
use super::*;

fn cached(id: &str) -> CachedMeeting {
    CachedMeeting {
        key: format!("key-{id}"),
        summary: MeetingSummary {
            instance_id: id.into(),
            title: "Weekly".into(),
            host: "Ann".into(),
            start: chrono::DateTime::UNIX_EPOCH,
            end: None,
            sessions: Vec::new(),
            headline: crate::quality::headline::Headline::default(),
        },
        files: BTreeMap::from([(format!("meetings/{id}.html"), format!("hash-{id}"))]),
    }
}

#[test]
fn a_paused_build_keeps_what_it_did_and_what_it_did_not_reach() {
    let options = SiteOptions::default();
    let thresholds = Thresholds::default();
    let mut cache = RenderCache::new(summary::fingerprint(&options, &thresholds));
    for id in ["a", "b"] {
        cache.meetings.insert(id.into(), cached(id));
    }
    let archive = "archive/2026-01-05.sqlite.zst";
    cache.archives.insert(archive.into(), vec!["a".into()]);
    let person = CachedFiles {
        key: "key-p".into(),
        files: BTreeMap::from([("people/p.html".into(), "hash-p".into())]),
        rendered: None,
    };
    cache.people.insert("people/p.html".into(), person.clone());
    let manifest: Manifest = [
        ("meetings/a.html", "hash-a"),
        ("meetings/b.html", "hash-b"),
        ("people/p.html", "hash-p"),
    ]
    .into_iter()
    .map(|(p, h)| (p.to_owned(), h.to_owned()))
    .collect();
    let mut builder = SiteBuilder::new(
        &options,
        &thresholds,
        Some(Previous {
            cache,
            manifest: &manifest,
        }),
    );
    // The build reaches the archive holding "a", then its time is up.
    assert!(builder.reuse_archive(archive));
    let build = builder.pause();
    assert_eq!(build.meetings_reused, 1);
    assert!(build.hashes.contains_key("meetings/a.html"));
    assert!(!build.hashes.contains_key("meetings/b.html"), "not reached");
    // What it did not reach is still in the cache, for the next build to check.
    assert_eq!(build.cache.meetings.get("b"), Some(&cached("b")));
    assert_eq!(build.cache.meetings.get("a"), Some(&cached("a")));
    assert_eq!(
        build.cache.archives.get(archive),
        Some(&vec!["a".to_owned()])
    );
    assert_eq!(build.cache.people.get("people/p.html"), Some(&person));
}

#[test]
fn a_persons_page_is_rendered_at_most_once_a_day() {
    let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let next = day.succ_opt().unwrap();
    let page = CachedFiles {
        key: "old".into(),
        files: BTreeMap::from([("people/p.html".into(), "hash-p".into())]),
        rendered: Some(day),
    };
    let mut cache = RenderCache::new("f".into());
    cache.people.insert("people/p.html".into(), page.clone());
    let manifest: Manifest = [("people/p.html".to_owned(), "hash-p".to_owned())]
        .into_iter()
        .collect();
    let previous = || Previous {
        cache: cache.clone(),
        manifest: &manifest,
    };
    // Their sessions changed, and the page was rendered today: kept until tomorrow.
    assert_eq!(
        previous().take_person("people/p.html", "new", day),
        Some(page.clone())
    );
    // Rendered on an earlier day: rendered again.
    assert_eq!(previous().take_person("people/p.html", "new", next), None);
    // Unchanged: kept whatever the day.
    assert_eq!(
        previous().take_person("people/p.html", "old", next),
        Some(page)
    );
    // No longer published as rendered: rendered again.
    let empty = Manifest::new();
    let mut gone = Previous {
        cache: cache.clone(),
        manifest: &empty,
    };
    assert_eq!(gone.take_person("people/p.html", "old", day), None);
}
