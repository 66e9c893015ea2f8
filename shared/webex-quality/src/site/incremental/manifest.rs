//! A build's manifest: every file of the site it makes, with its content hash. A meeting's page,
//! rendered or kept as published, is not listed a second time beside its render cache entry, which
//! holds its hash and (as its key) its path already: a second listing was a map node of about 70
//! bytes a meeting of history, 2.2 MB of a render's peak at 30 days of 1,000 meetings a day.

use std::collections::BTreeMap;

use crate::site::file_hashes::{ContentHash, Manifest, SitePath};
use crate::site::render_cache::{CachedMeeting, MeetingKey, Settled};

/// The cache's entries, by meeting.
type Entries = BTreeMap<MeetingKey, Box<CachedMeeting>>;

/// Every file of a site and its content hash: the files `listed`, the page of each meeting of
/// `pages` that `listed` does not have (its hash is the entry's), and the `settled` archives'
/// lists of their meetings' pages, which stand for those pages (`render_cache/settled.rs`).
#[derive(Debug, Clone, Copy)]
pub struct SiteManifest<'a> {
    listed: &'a Manifest,
    pages: Option<&'a Entries>,
    settled: Option<&'a Settled>,
}

impl<'a> SiteManifest<'a> {
    /// The files of `listed`, no others.
    #[must_use]
    pub fn of(listed: &'a Manifest) -> Self {
        Self {
            listed,
            pages: None,
            settled: None,
        }
    }

    /// The files of `listed`, the page of every meeting of `entries` that `listed` does not have,
    /// and the pages of the `settled` archives' meetings: a build's meeting pages.
    #[must_use]
    pub(crate) fn with_meeting_pages(
        listed: &'a Manifest,
        (entries, settled): (&'a Entries, &'a Settled),
    ) -> Self {
        Self {
            listed,
            pages: Some(entries),
            settled: Some(settled),
        }
    }

    /// The meeting pages not listed, in the order of the meetings' ids.
    fn pages(self) -> impl Iterator<Item = (&'a SitePath, &'a ContentHash)> {
        let listed = self.listed;
        self.pages
            .into_iter()
            .flatten()
            .filter(move |(key, _)| !listed.contains_key(&**key.page()))
            .map(|(key, entry)| (key.page(), &entry.page))
    }

    /// The path (as the manifest shares it) and content hash of the file at `path`, if the site
    /// has it and it is not a settled archive's meeting page (a build asks of the files it
    /// renders and of what was published but not taken over: a settled meeting's page is
    /// neither).
    #[must_use]
    pub fn get_key_value(&self, path: &str) -> Option<(&'a SitePath, &'a ContentHash)> {
        if let Some(listed) = self.listed.get_key_value(path) {
            return Some(listed);
        }
        if let Some(settled) = self.settled.and_then(|s| s.listed().get_key_value(path)) {
            return Some(settled);
        }
        let (key, entry) = self.pages?.get_key_value(MeetingKey::id_of_page(path)?)?;
        Some((key.page(), &entry.page))
    }

    /// The content hash of the file at `path`, if the site has it.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&'a ContentHash> {
        self.get_key_value(path).map(|(_, hash)| hash)
    }

    /// Whether the site has a file at `path`.
    #[must_use]
    pub fn contains(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// How many files the site has: a settled archive's pages, and its list of them.
    #[must_use]
    pub fn len(&self) -> usize {
        let settled = self.settled.map_or(0, |s| s.len() + s.listed().len());
        self.listed.len() + self.pages().count() + settled
    }

    /// Whether the site has no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry and its hash, ordered by path as a [`Manifest`] is: each file, but a settled
    /// archive's meeting pages, listed by its list of them.
    pub fn iter(self) -> impl Iterator<Item = (&'a SitePath, &'a ContentHash)> {
        // The entries are ordered by id; by path too, unless an id holds a character that sorts
        // before the page's ".html" (then, and only then, the pages are sorted here).
        let pages: Box<dyn Iterator<Item = _> + Send> =
            if self.pages().is_sorted_by(|a, b| a.0 < b.0) {
                Box::new(self.pages())
            } else {
                let mut pages: Vec<_> = self.pages().collect();
                pages.sort_unstable_by(|a, b| a.0.cmp(b.0));
                Box::new(pages.into_iter())
            };
        let settled = self.settled.into_iter().flat_map(|s| s.listed().iter());
        merged(merged(self.listed.iter(), settled), pages)
    }

    /// The manifest as a map of its own (a copy of each entry, the paths shared).
    #[must_use]
    pub fn to_map(self) -> Manifest {
        self.iter()
            .map(|(path, hash)| (path.clone(), *hash))
            .collect()
    }
}

/// The entries of `one` and `other`, each in path order, in path order (`one`'s first of two with
/// the same path).
fn merged<'a>(
    one: impl Iterator<Item = (&'a SitePath, &'a ContentHash)>,
    other: impl Iterator<Item = (&'a SitePath, &'a ContentHash)>,
) -> impl Iterator<Item = (&'a SitePath, &'a ContentHash)> {
    let (mut one, mut other) = (one.peekable(), other.peekable());
    std::iter::from_fn(move || match (one.peek(), other.peek()) {
        (Some(a), Some(b)) if b.0 < a.0 => other.next(),
        (Some(_), _) => one.next(),
        (None, _) => other.next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::render_cache::{HeldSummary, MeetingSummary};

    fn entry(page: &str) -> Box<CachedMeeting> {
        Box::new(CachedMeeting {
            key: ContentHash::of(b"inputs"),
            summary: HeldSummary::here(MeetingSummary {
                instance_id: "x".into(),
                title: crate::site::render_cache::Text::NONE,
                host: crate::site::render_cache::Text::NONE,
                start: chrono::DateTime::UNIX_EPOCH,
                end: None,
                sessions: crate::site::render_cache::PackedSessions::default(),
                headline: crate::quality::headline::Headline::default(),
            }),
            page: ContentHash::of(page.as_bytes()),
        })
    }

    #[test]
    fn a_meetings_page_is_listed_once_with_its_entrys_hash_in_path_order() {
        let listed: Manifest = [
            ("index.html", "i"),
            ("meetings/b.html", "rendered b"),
            ("people/p.html", "p"),
        ]
        .into_iter()
        .map(|(path, content)| (path.into(), ContentHash::of(content.as_bytes())))
        .collect();
        // "a-1" sorts before "a" as a page ("-" before "."), after it as an id.
        let entries: Entries = ["a", "a-1", "b", "c"]
            .into_iter()
            .map(|id| (MeetingKey::new(id), entry(id)))
            .collect();
        let settled = Settled::default();
        let manifest = SiteManifest::with_meeting_pages(&listed, (&entries, &settled));
        let paths: Vec<&str> = manifest.iter().map(|(path, _)| &**path).collect();
        assert_eq!(
            paths,
            [
                "index.html",
                "meetings/a-1.html",
                "meetings/a.html",
                "meetings/b.html",
                "meetings/c.html",
                "people/p.html"
            ]
        );
        assert_eq!(manifest.len(), 6);
        // The listed hash wins over the entry's; a page not listed has its entry's, and the
        // entry's key as its path.
        assert_eq!(
            manifest.get("meetings/b.html"),
            Some(&ContentHash::of(b"rendered b"))
        );
        assert_eq!(
            manifest.get("meetings/c.html"),
            Some(&ContentHash::of(b"c"))
        );
        let (key, _) = entries.get_key_value("c").unwrap();
        let (path, _) = manifest.get_key_value("meetings/c.html").unwrap();
        assert!(std::sync::Arc::ptr_eq(path, key.page()));
        assert!(!manifest.contains("meetings/d.html") && !manifest.contains("meetings/c.csv"));
        let map = manifest.to_map();
        assert_eq!(map.len(), 6);
        assert_eq!(map["meetings/a-1.html"], ContentHash::of(b"a-1"));
        // Without the entries, the listed files alone.
        let listed_only = SiteManifest::of(&listed);
        assert_eq!(listed_only.len(), 3);
        assert!(!listed_only.contains("meetings/c.html"));
        assert_eq!(listed_only.to_map(), listed);
    }
}
