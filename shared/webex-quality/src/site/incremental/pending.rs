//! The meetings of one database still to be added to a build, read from it a page at a time.

use crate::db::{Database, DbError, MeetingsCursor, StoredMeeting};
use crate::site::render_cache::MeetingKey;

/// Meetings read from a database a page at a time ([`Database::meetings_after`]): a build holds
/// one page of them, not the database's list (about 0.4 KB a meeting with its pages' hashes: 8
/// MB for the 20,000 meetings of 2 days at 10,000 meetings a day).
const MEETINGS_PAGE: usize = 500;

/// Meetings of one database still to be added to a build.
#[derive(Debug)]
pub struct PendingMeetings {
    /// The page being added: each meeting with its pages' hashes.
    page: std::vec::IntoIter<(StoredMeeting, Vec<String>)>,
    /// Where the next page starts.
    next: Next,
    /// The meetings with pages seen so far (what an archive holds).
    pub(super) holds: Vec<MeetingKey>,
    /// The archive the database is, if it is one.
    pub(super) archive: Option<String>,
}

/// Where [`PendingMeetings`] reads its next page.
#[derive(Debug)]
enum Next {
    /// The first page.
    First,
    /// The page after this meeting.
    After(MeetingsCursor),
    /// None: every page was read.
    Done,
}

impl PendingMeetings {
    /// The meetings of a database (`archive`, or the hot one), none read yet.
    pub(super) fn new(archive: Option<&str>) -> Self {
        Self {
            page: Vec::new().into_iter(),
            next: Next::First,
            holds: Vec::new(),
            archive: archive.map(str::to_owned),
        }
    }

    /// The next meeting and its pages' hashes, reading the next page of `db` when this one is
    /// done; `None` after the last.
    pub(super) fn next_meeting(
        &mut self,
        db: &Database,
    ) -> Result<Option<(StoredMeeting, Vec<String>)>, DbError> {
        loop {
            if let Some(meeting) = self.page.next() {
                return Ok(Some(meeting));
            }
            let after = match &self.next {
                Next::Done => return Ok(None),
                Next::First => None,
                Next::After(cursor) => Some(cursor),
            };
            let page = db.meetings_after(after, MEETINGS_PAGE)?;
            self.next = page.next.map_or(Next::Done, Next::After);
            self.page = page.meetings.into_iter();
        }
    }
}
