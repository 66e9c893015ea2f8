//! A page per person: every session of theirs, newest first, and their recurring problem.

use std::collections::BTreeMap;

use askama::Template;
use foldhash::HashMap;

use crate::quality::{Metric, Verdict};
use crate::site::build::meeting_path;
use crate::site::render_cache::{
    CombinedKey, ContentHash, MeetingSummary, SessionSummary, Text, Texts,
};
use crate::site::{Chrome, SiteOptions, VerdictView, mask_email, verdict_view};

struct PersonSession {
    date: String,
    href: String,
    title: String,
    client: String,
    network: String,
    verdicts: Vec<crate::site::meeting_page::StreamCell>,
    /// The session's minutes judged poor, of its minutes with data.
    poor_minutes: String,
    /// The meeting's verdict by the meeting rule, and how many it affected.
    meeting: VerdictView,
    meeting_label: String,
}

#[derive(Template)]
#[template(path = "person.html")]
pub(in crate::site) struct PersonPage {
    chrome: Chrome,
    name: String,
    email: String,
    finding: String,
    sessions: Vec<PersonSession>,
}

/// A person's sessions: the key of the meeting's inputs, the meeting, the session.
type SessionsOf<'a> = Vec<(&'a ContentHash, &'a MeetingSummary, SessionSummary)>;

/// A person as the counting passes their sessions ([`super::SessionCounter`]): their page's key,
/// made as their sessions go by (the combined key of their sessions' meetings' keys, in order:
/// [`crate::site::render_cache::combined_key`]), and their sessions when the counting holds them (a person
/// whose page is kept needs none: see [`super::SessionCounter::new`]).
#[derive(Debug, Clone)]
pub(in crate::site) struct PersonCount {
    key: CombinedKey,
    sessions: Option<SessionRefs>,
}

impl PersonCount {
    /// A person seen first, their sessions held when `hold`.
    pub(super) fn new(hold: bool) -> Self {
        Self {
            key: CombinedKey::default(),
            sessions: hold.then(SessionRefs::default),
        }
    }

    /// Adds their session `i` of meeting `m`, whose inputs' key is `key`.
    pub(super) fn add(&mut self, (m, i): (u32, u32), key: &ContentHash) {
        self.key.add(key);
        if let Some(sessions) = self.sessions.as_mut() {
            sessions.push((m, i));
        }
    }
}

/// A person's page as the counting left it ([`people`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::site) struct PersonSessions {
    /// The page's key; `None` when the string table held the person twice (the key is then made
    /// from their sessions, once they are read: [`crate::site::render_cache::combined_key`]).
    pub(in crate::site) key: Option<ContentHash>,
    /// Their sessions, oldest first, when the counting held them.
    pub(in crate::site) sessions: Option<SessionRefs>,
}

/// Every person counted, by the person's key (sorted): their page's key and, when held, their
/// sessions (the index of the meeting in the history and of the session in the meeting, oldest
/// first, as [`super::SessionCounter`] counted them).
pub(in crate::site) fn people<'a>(
    by_person: HashMap<Text, PersonCount>,
    texts: &'a Texts,
) -> BTreeMap<&'a str, PersonSessions> {
    let mut sorted: BTreeMap<&'a str, PersonSessions> = BTreeMap::new();
    for (person, count) in by_person {
        let mut sessions = count.sessions;
        if let Some(sessions) = sessions.as_mut() {
            sessions.shrink_to_fit();
        }
        // One index per string; were there two, their sessions are one person's, in order, and
        // their key is made from them.
        match sorted.entry(texts.get(person)) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(PersonSessions {
                    key: Some(count.key.finish()),
                    sessions,
                });
            }
            std::collections::btree_map::Entry::Occupied(mut entry) => {
                let both = entry.get_mut();
                both.key = None;
                both.sessions = match (both.sessions.take(), sessions) {
                    (Some(mut one), Some(other)) => {
                        one.merge(&other);
                        Some(one)
                    }
                    _ => None,
                };
            }
        }
    }
    sorted
}

/// A person's sessions, each as the index of its meeting in the history and its own index in the
/// meeting, packed: the meeting index as its difference from the one before (sessions come oldest
/// meeting first) and the session index, each in as few bytes as it needs (LEB128), about 3 bytes
/// a session instead of 8. Every session of the history is in one such list until the person
/// pages are rendered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(in crate::site) struct SessionRefs {
    bytes: Vec<u8>,
    /// The meeting index of the last session pushed.
    last: u32,
}

impl SessionRefs {
    /// Adds a session of meeting `m` (not before the last one's), its index in it `i`.
    pub(in crate::site) fn push(&mut self, (m, i): (u32, u32)) {
        debug_assert!(m >= self.last, "sessions come oldest meeting first");
        push_varint(&mut self.bytes, m.saturating_sub(self.last));
        push_varint(&mut self.bytes, i);
        self.last = m;
    }

    /// The sessions, in order.
    pub(in crate::site) fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let mut at = 0;
        let mut meeting = 0u32;
        std::iter::from_fn(move || {
            let delta = read_varint(&self.bytes, &mut at)?;
            let index = read_varint(&self.bytes, &mut at)?;
            meeting = meeting.saturating_add(delta);
            Some((meeting, index))
        })
    }

    /// Adds `other`'s sessions, the whole kept in order.
    fn merge(&mut self, other: &Self) {
        let mut all: Vec<(u32, u32)> = self.iter().chain(other.iter()).collect();
        all.sort_unstable();
        *self = all.into_iter().collect();
        self.shrink_to_fit();
    }

    fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

impl FromIterator<(u32, u32)> for SessionRefs {
    fn from_iter<I: IntoIterator<Item = (u32, u32)>>(sessions: I) -> Self {
        let mut refs = Self::default();
        for session in sessions {
            refs.push(session);
        }
        refs
    }
}

fn push_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

pub(in crate::site) fn person_page(
    sessions: &SessionsOf<'_>,
    texts: &Texts,
    options: &SiteOptions,
) -> PersonPage {
    let first = &sessions[0].2;
    // The recurring problem: the most frequent network and deciding metric of poor streams.
    let mut problems: BTreeMap<(&str, &'static str), usize> = BTreeMap::new();
    let mut poor_sessions = 0;
    for (_, _, s) in sessions {
        let mut any = false;
        for v in s.streams.iter().filter(|v| v.verdict == Verdict::Poor) {
            any = true;
            let network = texts.opt(s.network_type).unwrap_or("unknown network");
            let metric = v.metric.map_or("several metrics", Metric::label);
            *problems.entry((network, metric)).or_default() += 1;
        }
        poor_sessions += usize::from(any);
    }
    let finding = match problems.iter().max_by_key(|(_, n)| **n) {
        None => format!("none: no poor stream in {} sessions.", sessions.len()),
        Some(((network, metric), _)) => format!(
            "{poor_sessions} of {} sessions had a poor stream, most often on {network} with {metric}.",
            sessions.len()
        ),
    };
    let name = texts.opt(first.name).unwrap_or("Participant");
    PersonPage {
        chrome: Chrome::new(name, "../", options),
        name: texts.get(first.name).to_owned(),
        email: if options.mask_personal {
            mask_email(texts.get(first.email))
        } else {
            texts.get(first.email).to_owned()
        },
        finding,
        sessions: sessions
            .iter()
            .rev()
            .map(|(_, a, s)| PersonSession {
                date: a.start.format("%Y-%m-%d %H:%M").to_string(),
                href: format!("../{}", meeting_path(&a.instance_id)),
                title: a.title(texts).to_owned(),
                client: texts.get(s.client_type).to_owned(),
                network: texts.get(s.network_type).to_owned(),
                verdicts: crate::site::meeting_page::verdict_cells(|kind| {
                    s.stream(kind).map(|v| (v.verdict, v.metric))
                }),
                poor_minutes: format!("{} of {}", s.minutes.poor, s.minutes.with_data),
                meeting: verdict_view(a.headline.verdict),
                meeting_label: a.headline.label(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_session_lists_read_back_in_order_and_merge_in_order() {
        let sessions = [
            (0, 0),
            (0, 3),
            (1, 0),
            (130, 200),
            (70_000, 1),
            (u32::MAX, u32::MAX),
        ];
        let refs: SessionRefs = sessions.into_iter().collect();
        assert_eq!(refs.iter().collect::<Vec<_>>(), sessions);
        assert!(refs.bytes.len() < 8 * sessions.len());
        let mut one: SessionRefs = [(1, 0), (5, 2)].into_iter().collect();
        one.merge(&[(0, 4), (5, 1), (9, 0)].into_iter().collect());
        assert_eq!(
            one.iter().collect::<Vec<_>>(),
            [(0, 4), (1, 0), (5, 1), (5, 2), (9, 0)]
        );
        assert_eq!(SessionRefs::default().iter().count(), 0);
    }
}
