//! The pieces every build uses: the files, the error, where a meeting's and a person's page live,
//! rendering one template, and a meeting's three files (page, CSV, JSON).

use std::collections::BTreeMap;

use askama::Template;
use chrono::{DateTime, Utc};

use super::{SiteOptions, render_meeting};
use crate::db::{DbError, StoredMeeting};
use crate::quality::MeetingReport;
use crate::quality::headline::Headline;

/// The site's files: path from the site root to content.
pub type Files = BTreeMap<String, Vec<u8>>;

/// A site build failure.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A template failed.
    #[error("rendering {page}: {source}")]
    Render {
        /// The page.
        page: String,
        /// The engine's error.
        #[source]
        source: askama::Error,
    },
    /// An export failed.
    #[error("export {0}")]
    Export(String),
    /// The meetings' spill file in the work folder failed.
    #[error(transparent)]
    Spill(#[from] super::sessions::SpillError),
}

/// The page of a meeting, from the site root.
#[must_use]
pub fn meeting_path(instance_id: &str) -> String {
    format!("meetings/{instance_id}.html")
}

/// [`render`] written into `out` as it is made.
///
/// # Errors
/// The template's, or `out`'s.
pub(super) fn render_to<T: Template>(
    page: &str,
    template: &T,
    out: &mut dyn std::io::Write,
) -> Result<(), BuildError> {
    /// The template's text into `out`, keeping `out`'s error (a template sees only that one
    /// happened).
    struct Text<'w> {
        out: &'w mut dyn std::io::Write,
        failed: Option<std::io::Error>,
    }
    impl std::fmt::Write for Text<'_> {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.out.write_all(text.as_bytes()).map_err(|error| {
                self.failed = Some(error);
                std::fmt::Error
            })
        }
    }
    let mut text = Text { out, failed: None };
    let rendered = template.render_into(&mut text);
    if let Some(error) = text.failed {
        return Err(BuildError::Export(format!("writing {page}: {error}")));
    }
    rendered.map_err(|source| BuildError::Render {
        page: page.to_owned(),
        source,
    })
}

pub(super) fn render<T: Template>(page: &str, template: &T) -> Result<Vec<u8>, BuildError> {
    template
        .render()
        .map(String::into_bytes)
        .map_err(|source| BuildError::Render {
            page: page.to_owned(),
            source,
        })
}

/// A meeting's page (its sessions' rows are in its day's sessions export).
/// The page published instead of a meeting's own when that cannot be made (a stored body that is
/// damaged, a template failure): the build goes on with the other meetings.
#[derive(askama::Template)]
#[template(path = "meeting_error.html")]
struct MeetingErrorPage<'a> {
    chrome: super::Chrome,
    title: &'a str,
    instance_id: &'a str,
    start: String,
    problem: &'a str,
}

/// A meeting's error page ([`MeetingErrorPage`]): its path and bytes.
///
/// # Errors
/// The template engine's.
pub(super) fn render_meeting_error(
    meeting: &StoredMeeting,
    start: DateTime<Utc>,
    problem: &str,
    options: &SiteOptions,
) -> Result<(String, Vec<u8>), BuildError> {
    let title = if meeting.title.trim().is_empty() {
        "Untitled meeting"
    } else {
        meeting.title.as_str()
    };
    let path = meeting_path(&meeting.instance_id);
    let page = MeetingErrorPage {
        chrome: super::Chrome::new(title, "../", options),
        title,
        instance_id: &meeting.instance_id,
        start: start.format("%Y-%m-%d %H:%M").to_string(),
        problem,
    };
    let html = render(&path, &page)?;
    Ok((path, html))
}

pub(super) fn render_meeting_file(
    meeting: &StoredMeeting,
    start: DateTime<Utc>,
    (report, headline): (&MeetingReport, &Headline),
    options: &SiteOptions,
) -> Result<(String, Vec<u8>), BuildError> {
    let meta = super::MeetingMeta {
        instance_id: meeting.instance_id.clone(),
        title: meeting.title.clone(),
        host_name: meeting.host_name.clone(),
        start,
        end: meeting.end.filter(|_| meeting.state != "inProgress"),
        headline: headline.clone(),
    };
    let path = meeting_path(&meeting.instance_id);
    let html = render_meeting(&meta, report, options).map_err(|source| BuildError::Render {
        page: path.clone(),
        source,
    })?;
    Ok((path, html.into_bytes()))
}
