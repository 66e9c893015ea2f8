//! A build's result: the files it rendered, what it kept as published, its counts, and the render
//! cache for the next build.

use super::SiteManifest;
use crate::site::build::Files;
use crate::site::publish::Manifest;
use crate::site::render_cache::{ContentHash, FileHashes, RenderCache, SitePath};

/// A build: the files rendered now, the files kept as published, and the cache for the next build.
#[derive(Debug, Clone)]
pub struct SiteBuild {
    /// Files rendered by this build.
    pub files: Files,
    /// Content hash of the files rendered or kept, but the meeting pages: a meeting's page has its
    /// hash in its cache entry, and its path as the entry's key (every file of the site:
    /// [`SiteBuild::manifest`]).
    pub hashes: Manifest,
    /// Whether `hashes` lists the meeting pages too: a paused build's does, since its cache also
    /// holds the previous build's entries that it did not reach ([`SiteBuilder::pause`]).
    pub(super) pages_listed: bool,
    /// What the site store holds (the previous build's manifest), but the meeting pages this
    /// build kept: it took their entries over (its manifest lists each page through its cache
    /// entry, and holding the published entry too was a map node a meeting of history).
    pub published: Manifest,
    /// Meeting pages kept, their entries taken out of `published`.
    pub taken: usize,
    /// Files whose inputs did not change: still valid as published.
    pub kept: usize,
    /// Meetings analysed and rendered.
    pub meetings_rendered: usize,
    /// Meetings whose files were kept.
    pub meetings_reused: usize,
    /// Meetings whose page could not be made: an error page was published for each.
    pub meetings_failed: usize,
    /// Person pages rendered.
    pub people_rendered: usize,
    /// Person pages kept.
    pub people_reused: usize,
    /// What the next build starts from.
    pub cache: RenderCache,
}

impl SiteBuild {
    /// A build with nothing in it yet, leaving `cache` for the next one.
    pub(crate) fn empty(cache: RenderCache) -> Self {
        Self {
            files: Files::new(),
            hashes: Manifest::new(),
            pages_listed: false,
            published: Manifest::new(),
            taken: 0,
            kept: 0,
            meetings_rendered: 0,
            meetings_reused: 0,
            meetings_failed: 0,
            people_rendered: 0,
            people_reused: 0,
            cache,
        }
    }

    /// Lists a rendered file in the build's manifest; returns its path (shared with the
    /// manifest) and hash.
    pub(super) fn record(&mut self, path: &str, bytes: &[u8]) -> (SitePath, ContentHash) {
        self.record_hash(path, ContentHash::of(bytes))
    }

    /// Lists a file rendered with content hash `hash` in the build's manifest
    /// ([`SiteBuild::record`]).
    pub(super) fn record_hash(&mut self, path: &str, hash: ContentHash) -> (SitePath, ContentHash) {
        let shared = SitePath::from(path);
        self.hashes.insert(shared.clone(), hash);
        (shared, hash)
    }

    /// Adds a rendered file to publish with the build ([`SiteBuild::record`]).
    pub(super) fn insert(&mut self, path: String, bytes: Vec<u8>) -> (SitePath, ContentHash) {
        let recorded = self.record(&path, &bytes);
        self.files.insert(path, bytes);
        recorded
    }

    pub(super) fn keep(&mut self, files: &FileHashes) {
        self.kept += files.len();
        self.hashes
            .extend(files.iter().map(|(p, h)| (p.clone(), *h)));
    }

    /// Takes over the published manifest's entry for `path` (a meeting page this build lists
    /// through its cache entry), if it has one: counted in [`SiteBuild::taken`].
    pub(super) fn take_over(&mut self, path: &str) {
        if self.published.remove(path).is_some() {
            self.taken += 1;
        }
    }

    /// Every file of the site and its content hash: [`SiteBuild::hashes`], and the page of each
    /// meeting, with its cache entry's hash.
    #[must_use]
    pub fn manifest(&self) -> SiteManifest<'_> {
        if self.pages_listed {
            SiteManifest::of(&self.hashes)
        } else {
            SiteManifest::with_meeting_pages(
                &self.hashes,
                (&self.cache.meetings, &self.cache.settled),
            )
        }
    }
}
