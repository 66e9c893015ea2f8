//! A cached meeting's summary where the build holds it: in memory, or in the render's spill file
//! ([`Spill`]) with its start kept beside it (the build sorts the history by it), read back when a
//! page needs it. In the spill file a summary is its packed sessions followed by a small record of
//! its fields and headline (about 100 bytes), read back together with one read. Memory then holds
//! about 40 bytes for it instead of the summary (about 600 bytes with its sessions, id and
//! headline's strings).

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MeetingSummary, PackedSessions, Spill, SpillError, Text};
use crate::quality::Verdict;
use crate::quality::headline::Headline;
use crate::site::sessions::Spilled;

/// A meeting's summary, in memory or in a spill file ([`HeldSummary::spill_to`]).
#[derive(Clone)]
pub struct HeldSummary(Body);

#[derive(Clone)]
enum Body {
    Here(Box<MeetingSummary>),
    /// The meeting's start; where the sessions and the record are, and the record's length (it
    /// comes last).
    Spilled(DateTime<Utc>, Arc<Spill>, Spilled, u32),
}

/// A summary's record in the spill file (after its packed sessions), written from a summary.
#[derive(Serialize)]
struct RecordRef<'a> {
    instance_id: &'a str,
    title: Text,
    host: Text,
    start: (i64, u32),
    end: Option<(i64, u32)>,
    headline: &'a Headline,
    /// The sessions' count and worst verdict (their bytes come before the record).
    sessions: (u32, Verdict),
}

/// [`RecordRef`] read back.
#[derive(Deserialize)]
struct Record {
    instance_id: Arc<str>,
    title: Text,
    host: Text,
    start: (i64, u32),
    end: Option<(i64, u32)>,
    headline: Headline,
    sessions: (u32, Verdict),
}

/// A time as seconds and nanoseconds since the epoch: a record is read without parsing text.
fn instant(time: DateTime<Utc>) -> (i64, u32) {
    (time.timestamp(), time.timestamp_subsec_nanos())
}

fn from_instant((seconds, nanos): (i64, u32)) -> Result<DateTime<Utc>, SpillError> {
    DateTime::from_timestamp(seconds, nanos)
        .ok_or_else(|| std::io::Error::other("a time out of range in the spill file").into())
}

impl HeldSummary {
    /// `summary`, in memory.
    #[must_use]
    pub fn here(summary: MeetingSummary) -> Self {
        Self(Body::Here(Box::new(summary)))
    }

    /// The meeting's start (held in memory either way).
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        match &self.0 {
            Body::Here(summary) => summary.start,
            Body::Spilled(start, ..) => *start,
        }
    }

    /// The summary: borrowed when in memory, read back with its sessions when spilled.
    ///
    /// # Errors
    /// The spill file failed, or what it holds is damaged.
    pub fn get(&self) -> Result<Cow<'_, MeetingSummary>, SpillError> {
        let (spill, at, record_len) = match &self.0 {
            Body::Here(summary) => return Ok(Cow::Borrowed(summary)),
            Body::Spilled(_, spill, at, record_len) => (spill, *at, *record_len as usize),
        };
        let mut bytes = spill.read(at)?;
        let split = bytes
            .len()
            .checked_sub(record_len)
            .ok_or_else(|| std::io::Error::other("a summary in the spill file is cut short"))?;
        let record: Record =
            postcard::from_bytes(&bytes[split..]).map_err(std::io::Error::other)?;
        // The sessions are the bytes before the record, as they were written (each is checked
        // as it is read).
        bytes.truncate(split);
        let (count, worst) = record.sessions;
        Ok(Cow::Owned(MeetingSummary {
            instance_id: record.instance_id,
            title: record.title,
            host: record.host,
            start: from_instant(record.start)?,
            end: record.end.map(from_instant).transpose()?,
            sessions: PackedSessions::from_parts(count, worst, bytes.into_boxed_slice()),
            headline: record.headline,
        }))
    }

    /// Moves the summary and its sessions to `spill` (nothing to do when it is in a spill file).
    ///
    /// # Errors
    /// The spill file failed.
    pub fn spill_to(&mut self, spill: &Arc<Spill>) -> Result<(), SpillError> {
        let Body::Here(summary) = &self.0 else {
            return Ok(());
        };
        let record = RecordRef {
            instance_id: &summary.instance_id,
            title: summary.title,
            host: summary.host,
            start: instant(summary.start),
            end: summary.end.map(instant),
            headline: &summary.headline,
            sessions: (
                u32::try_from(summary.sessions.len()).unwrap_or(u32::MAX),
                summary.sessions.worst(),
            ),
        };
        let sessions = summary.sessions.packed();
        let bytes =
            postcard::to_extend(&record, sessions.to_vec()).map_err(std::io::Error::other)?;
        let record_len = u32::try_from(bytes.len() - sessions.len())
            .map_err(|_| std::io::Error::other("a summary's record passed 4 GiB"))?;
        let at = spill.append(&bytes)?;
        self.0 = Body::Spilled(summary.start, Arc::clone(spill), at, record_len);
        Ok(())
    }

    /// Changes the summary with `change`: in place when in memory; else read back, changed, and
    /// appended to the same spill file again.
    ///
    /// # Errors
    /// The spill file failed.
    pub fn update(&mut self, change: impl FnOnce(&mut MeetingSummary)) -> Result<(), SpillError> {
        let spill = match &mut self.0 {
            Body::Here(summary) => {
                change(summary);
                return Ok(());
            }
            Body::Spilled(_, spill, ..) => Arc::clone(spill),
        };
        let mut summary = self.get()?.into_owned();
        change(&mut summary);
        *self = Self::here(summary);
        self.spill_to(&spill)
    }

    /// Where the summary is in its spill file, with its start and its record's length, when it
    /// is in one ([`HeldSummary::spilled_at`] makes it again).
    pub(crate) fn place(&self) -> Option<(DateTime<Utc>, Spilled, u32)> {
        match &self.0 {
            Body::Here(_) => None,
            Body::Spilled(start, _, at, record_len) => Some((*start, *at, *record_len)),
        }
    }

    /// The summary of a meeting starting at `start` in `spill` at `at`, its record `record_len`
    /// bytes long ([`HeldSummary::place`]).
    pub(crate) fn spilled_at(
        spill: &Arc<Spill>,
        (start, at, record_len): (DateTime<Utc>, Spilled, u32),
    ) -> Self {
        Self(Body::Spilled(start, Arc::clone(spill), at, record_len))
    }

    /// Whether the summary is in a spill file.
    #[cfg(test)]
    pub(crate) fn is_spilled(&self) -> bool {
        matches!(self.0, Body::Spilled(..))
    }
}

impl PartialEq for HeldSummary {
    /// The same summary, wherever it is (unreadable ones are equal to nothing).
    fn eq(&self, other: &Self) -> bool {
        self.start() == other.start()
            && matches!((self.get(), other.get()), (Ok(a), Ok(b)) if a == b)
    }
}

impl std::fmt::Debug for HeldSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.get() {
            Ok(summary) => summary.fmt(f),
            Err(error) => write!(f, "<summary: {error}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spilled_summary_reads_back_as_it_was_with_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(dir.path()).unwrap();
        let session = super::super::tests::session_json(2);
        let summary: MeetingSummary = serde_json::from_value(serde_json::json!({
            "instance_id": "a_I_1", "title": 3, "host": 4,
            "start": "2026-01-05T10:00:00.250Z", "end": "2026-01-05T10:50:00Z",
            "sessions": vec![session; 3],
            "headline": Headline::default(),
        }))
        .unwrap();
        let mut held = HeldSummary::here(summary.clone());
        assert!(!held.is_spilled());
        held.spill_to(&spill).unwrap();
        assert!(held.is_spilled());
        assert_eq!(held.start(), summary.start);
        let read = held.get().unwrap();
        assert!(matches!(read, Cow::Owned(_)));
        assert_eq!(*read, summary, "the same fields, headline and sessions");
        // Changed, it goes back to the file, changed.
        held.update(|s| s.title = Text::NONE).unwrap();
        assert!(held.is_spilled());
        assert_eq!(held.get().unwrap().title, Text::NONE);
        assert_eq!(held.get().unwrap().sessions, summary.sessions);
        // A meeting without sessions too.
        let mut empty = HeldSummary::here(MeetingSummary {
            sessions: PackedSessions::default(),
            end: None,
            ..summary
        });
        let before = empty.get().unwrap().into_owned();
        empty.spill_to(&spill).unwrap();
        assert_eq!(*empty.get().unwrap(), before);
    }
}
