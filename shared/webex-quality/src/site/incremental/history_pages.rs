//! Finishing a build: the pages built from every meeting of the history (overviews, the meetings
//! list and its days, people, breakdowns, offices, status), from the summaries the build gathered,
//! and the day and person pages rendered a batch at a time.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use foldhash::HashMap;

use super::history::{History, Meetings};
use super::meetings_lists::{self, meetings_lists};
use super::{CachedMeetings, Kept, SiteBuild, SiteBuilder};
use crate::site::build::{BuildError, render};
use crate::site::list_pages::{
    Counted, HoldSessions, OverviewTallies, PersonSessions, SessionCounter, SessionRefs,
    breakdowns, people, person_page,
};
use crate::site::office_pages::OfficeTallies;
use crate::site::render_cache::{
    CachedFiles, CombinedKey, ContentHash, FileHashes, MeetingSummary, RenderCache, Texts,
    UsedTexts,
};
use crate::site::written::RenderedFiles;
use crate::site::{SiteOptions, StatusView, render_status};

impl<'a> SiteBuilder<'a> {
    /// Renders the pages that depend on every meeting (overviews, meetings list and exports,
    /// people, breakdowns, status) and returns the build. The list-type pages depend on the clock,
    /// so they are rendered each time; a person's page is kept when none of their meetings changed.
    ///
    /// # Errors
    /// Template or export failures.
    pub fn finish(self, status: &StatusView) -> Result<SiteBuild, BuildError> {
        let (mut build, mut people) = self.finish_lists(status)?;
        loop {
            let files = build.render_people(&mut people, usize::MAX)?;
            if files.is_empty() {
                return Ok(build);
            }
            build.files.extend(files.into_files()?);
        }
    }

    /// [`SiteBuilder::finish`] in parts, so that the last 7 days' exports, the meetings list's day
    /// pages (each with every session of its day in its exports) and the person pages (each
    /// listing every session of its person) need not all be held at once: renders every other
    /// list-type page, and returns those exports and the days and people whose meetings changed,
    /// to render with [`SiteBuild::render_people`] a batch at a time.
    ///
    /// # Errors
    /// Template or export failures.
    pub(crate) fn finish_lists(
        mut self,
        status: &StatusView,
    ) -> Result<(SiteBuild, PeoplePages<'a>), BuildError> {
        let options = self.options;
        // The meetings stay in the cache (one copy); the pages go through them oldest start first
        // as the database lists them, whichever partition they came from, each summary read back
        // when it is needed (from the spill file: memory holds one at a time), each entry looked
        // up by its id, or in the settled archives' list ([`History`]).
        let entries = std::mem::take(&mut self.build.cache.meetings);
        let settled = std::mem::take(&mut self.build.cache.settled);
        let texts = std::mem::take(&mut self.build.cache.texts);
        let meetings = Meetings {
            entries: &entries,
            settled: &settled,
        };
        let ids = History::of(meetings)?;
        let history = || ids.iter(meetings);
        let mut cache = self.previous;
        let build = &mut self.build;
        let now = options.generated;
        let today = now.date_naive();
        // Every summary read back once, and its sessions, for the overviews, the breakdowns, the
        // offices and the people (each person's page key made as their sessions go by; their
        // sessions held only when their page may be rendered: [`hold_sessions`]).
        let hold = hold_sessions(
            cache.as_ref(),
            (&entries, &self.rendered, ids.len()),
            (&texts, options, today),
        )?;
        let mut counter = SessionCounter::new(now, options, hold);
        let mut overview = OverviewTallies::new(now);
        let mut offices = OfficeTallies::new(now, options);
        let mut used = UsedTexts::new(&texts);
        for meeting in history() {
            let (m, meeting) = meeting?;
            let summary = meeting.summary()?;
            counter.add((m, &meeting.key), &summary, &texts);
            overview.add(&summary, &texts);
            offices.add(&summary, &texts);
            summary.mark_texts(&mut used);
        }
        let Counted {
            periods,
            breakdowns: tables,
            people: by_person,
        } = counter.finish();
        for (path, page) in overview.pages(periods, status, options) {
            build.insert(path.to_owned(), render(path, &page)?);
        }
        // Out of the build while its cache and manifest are kept from (and back in it after).
        let published = std::mem::take(&mut build.published);
        let mut previous = cache.as_mut().map(|cache| Kept {
            cache,
            published: &published,
        });
        let mut todo = Vec::new();
        // People whose page is rendered but whose sessions were not held (their page's key
        // changed though none of their meetings was rendered: one left the build), read again.
        let mut missed = BTreeMap::new();
        for (person, counted) in people(by_person, &texts) {
            let path = options.person_key.person_path(person);
            let kept = counted.key.as_ref().and_then(|key| {
                previous
                    .as_mut()
                    .and_then(|p| p.take_person(&path, key, today))
            });
            if let Some(cached) = kept {
                build.keep(&cached.files);
                build.people_reused += 1;
                build.cache.people.insert(path, cached);
                continue;
            }
            match counted {
                PersonSessions {
                    key: Some(key),
                    sessions: Some(sessions),
                } => todo.push(PersonTodo {
                    path,
                    key,
                    sessions,
                }),
                PersonSessions { key, .. } => {
                    missed.insert(person, (path, key));
                }
            }
        }
        if !missed.is_empty() {
            let mut found: HashMap<&str, SessionRefs> = HashMap::default();
            for meeting in history() {
                let (m, meeting) = meeting?;
                let summary = meeting.summary()?;
                for (i, session) in summary.sessions.iter().enumerate() {
                    let person = texts.get(session.person);
                    if missed.contains_key(person) {
                        found.entry(person).or_default().push((
                            u32::try_from(m).unwrap_or(u32::MAX),
                            u32::try_from(i).unwrap_or(u32::MAX),
                        ));
                    }
                }
            }
            tracing::debug!(
                people = missed.len(),
                "person pages to render whose sessions were read again"
            );
            for (person, (path, key)) in missed {
                let sessions = found.remove(person).unwrap_or_default();
                let key = match key {
                    Some(key) => key,
                    None => {
                        let mut combined = CombinedKey::default();
                        for meeting in ids.each(sessions.iter().map(|(m, _)| m as usize), meetings)
                        {
                            combined.add(&meeting?.1.key);
                        }
                        combined.finish()
                    }
                };
                if let Some(cached) = previous
                    .as_mut()
                    .and_then(|p| p.take_person(&path, &key, today))
                {
                    build.keep(&cached.files);
                    build.people_reused += 1;
                    build.cache.people.insert(path, cached);
                    continue;
                }
                todo.push(PersonTodo {
                    path,
                    key,
                    sessions,
                });
            }
        }
        // After the people's lists are let go (but those of the pages to render): the last 7
        // days' page (its rows and HTML, 6 MB at 1,000 meetings a day) is not held beside them.
        let (days, recent) = meetings_lists(
            build,
            previous.as_mut(),
            (meetings, &ids, &texts),
            (options, self.thresholds, self.work_dir.as_deref()),
        )?;
        build.insert(
            "breakdowns.html".into(),
            render("breakdowns.html", &breakdowns(tables, &texts, options))?,
        );
        for (path, page) in offices.pages(&texts, options) {
            let html = render(&path, &page)?;
            build.insert(path, html);
        }
        let status_html = render_status(status, options).map_err(|source| BuildError::Render {
            page: "status.html".into(),
            source,
        })?;
        build.insert("status.html".into(), status_html.into_bytes());
        self.build.published = published;
        self.build.cache.meetings = entries;
        self.build.cache.settled = settled;
        self.build.cache.texts = texts;
        // The table only grows (the stored parts' summaries keep their strings' numbers), until
        // most of it is unused: the strings of meetings rendered again, or no longer cached.
        if used.mostly_unused() {
            self.build.cache.compact_texts()?;
        }
        Ok((
            self.build,
            PeoplePages {
                options,
                ids,
                recent,
                days: days.into_iter(),
                day: None,
                rule: self.thresholds.meeting.describe(),
                todo: todo.into_iter(),
                work_dir: self.work_dir,
            },
        ))
    }
}

/// Whether the counting holds a person's sessions ([`HoldSessions`], asked when their first session
/// is counted): only when their page may be rendered. A person's page is kept when the previous
/// build rendered it from the same meetings, or rendered it today ([`Kept::take_person`]), and
/// what it was rendered from changes when this build renders one of their meetings. So everyone's
/// are held without a previous `cache`, or when this build `rendered` more than a quarter of the
/// `total` meetings (a full rebuild, or nearly); else those of people without a page in the cache,
/// and of people in a meeting this build rendered (and holds an entry of) whose page was not
/// rendered today. A person whose page must be rendered all the same (a meeting of theirs left
/// the build, or their page is no longer published) has their sessions read again
/// ([`SiteBuilder::finish_lists`]).
///
/// # Errors
/// The spill file failed.
pub(super) fn hold_sessions<'h>(
    cache: Option<&'h RenderCache>,
    (meetings, rendered, total): (&CachedMeetings, &HashSet<String>, usize),
    (texts, options, today): (&'h Texts, &'h SiteOptions, NaiveDate),
) -> Result<HoldSessions<'h>, BuildError> {
    let Some(cache) = cache else {
        return Ok(Box::new(|_| true));
    };
    if rendered.len().saturating_mul(4) > total {
        return Ok(Box::new(|_| true));
    }
    let mut in_rendered = HashSet::new();
    for id in rendered {
        if let Some(meeting) = meetings.get(id.as_str()) {
            for session in meeting.summary.get()?.sessions.iter() {
                in_rendered.insert(session.person);
            }
        }
    }
    Ok(Box::new(move |person| {
        let path = options.person_key.person_path(texts.get(person));
        match cache.people.get(&path) {
            None => true,
            Some(cached) if cached.rendered == Some(today) => false,
            Some(_) => in_rendered.contains(&person),
        }
    }))
}

/// The last 7 days' exports, the meetings list's days and the person pages still to render (see
/// [`SiteBuilder::finish_lists`]).
#[derive(Debug)]
pub(crate) struct PeoplePages<'a> {
    options: &'a SiteOptions,
    /// The build's meetings, oldest first: what the sessions' meeting indexes point into.
    ids: History,
    /// The last 7 days' exports, still to make first, one at a time.
    recent: meetings_lists::RecentExports,
    /// Days of the meetings list to render next.
    days: std::vec::IntoIter<meetings_lists::DayTodo>,
    /// The day being rendered, a part at a time.
    day: Option<meetings_lists::DayRender>,
    /// The meeting rule in words (the day pages show it).
    rule: String,
    todo: std::vec::IntoIter<PersonTodo>,
    /// Where the largest files are written as they are made, when anywhere
    /// ([`SiteBuilder::write_large_files_to`]).
    work_dir: Option<PathBuf>,
}

impl PeoplePages<'_> {
    /// The paths of the files still to render.
    pub(crate) fn paths(&self) -> Vec<String> {
        let recent = self.recent.paths().iter();
        recent
            .map(|path| (*path).to_owned())
            .chain(self.day.iter().flat_map(meetings_lists::DayRender::paths))
            .chain(
                self.days
                    .as_slice()
                    .iter()
                    .flat_map(meetings_lists::DayTodo::paths),
            )
            .chain(self.todo.as_slice().iter().map(|t| t.path.clone()))
            .collect()
    }
}

#[derive(Debug)]
struct PersonTodo {
    path: String,
    key: ContentHash,
    /// Meeting index (in [`PeoplePages::ids`]) and session index, oldest first.
    sessions: SessionRefs,
}

impl SiteBuild {
    /// Renders the next of the last 7 days' exports (each returned alone), else the days, then
    /// the person pages of `pages` until about `budget` bytes are rendered, and returns them
    /// (their hashes and cache entries are in the build; the files are the caller's to publish).
    /// Returns an empty set when every page is rendered.
    ///
    /// # Errors
    /// Template failures.
    pub(crate) fn render_people(
        &mut self,
        pages: &mut PeoplePages<'_>,
        budget: usize,
    ) -> Result<RenderedFiles, BuildError> {
        let mut files = RenderedFiles::default();
        let work_dir = pages.work_dir.as_deref();
        // Each of the last 7 days' exports alone, whatever the budget: one is not held while the
        // other is made.
        if let Some(file) =
            meetings_lists::render_recent_export(self, &mut pages.recent, (&pages.ids, work_dir))?
        {
            files.push(file);
            return Ok(files);
        }
        let mut size = 0;
        while size < budget as u64 {
            if pages.day.is_none() {
                pages.day = pages.days.next().map(meetings_lists::DayRender::new);
            }
            let Some(day) = pages.day.as_mut() else { break };
            let (rendered, finished) = meetings_lists::render_day(
                self,
                day,
                (&pages.ids, &pages.rule, work_dir),
                pages.options,
            )?;
            if finished {
                pages.day = None;
            }
            size += rendered.len();
            files.append(rendered);
        }
        while size < budget as u64 {
            let Some(todo) = pages.todo.next() else { break };
            let cache = &self.cache;
            // Each meeting's summary read back once (a person's sessions are in meeting order).
            let mut meetings: Vec<(ContentHash, Cow<'_, MeetingSummary>)> = Vec::new();
            let mut found = Vec::new();
            let mut last = None;
            for (m, index) in todo.sessions.iter() {
                let Some(meeting) = pages.ids.at(m as usize, Meetings::of(cache))? else {
                    continue;
                };
                if last != Some(m) {
                    meetings.push((meeting.key, meeting.summary()?));
                    last = Some(m);
                }
                let at = meetings.len() - 1;
                if let Some(session) = meetings[at].1.sessions.get(index as usize) {
                    found.push((at, session));
                }
            }
            let sessions: Vec<(&ContentHash, &MeetingSummary, _)> = found
                .into_iter()
                .map(|(at, session)| (&meetings[at].0, &*meetings[at].1, session))
                .collect();
            let html = render(
                "person",
                &person_page(&sessions, &cache.texts, pages.options),
            )?;
            drop(sessions);
            drop(meetings);
            size += html.len() as u64;
            let (shared, hash) = self.record(&todo.path, &html);
            self.people_rendered += 1;
            self.cache.people.insert(
                todo.path.clone(),
                CachedFiles {
                    key: todo.key,
                    files: FileHashes::one(shared, hash),
                    rendered: Some(pages.options.generated.date_naive()),
                },
            );
            files.files.insert(todo.path, html);
        }
        Ok(files)
    }
}
