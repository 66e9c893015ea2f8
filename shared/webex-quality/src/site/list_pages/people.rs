//! A page per person: every session of theirs, newest first, and their recurring problem.

use std::collections::BTreeMap;

use askama::Template;
use foldhash::HashMap;

use crate::quality::{Metric, Verdict};
use crate::site::build::meeting_path;
use crate::site::render_cache::{ContentHash, MeetingSummary, SessionSummary, Text, Texts};
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
type PersonSessions<'a> = Vec<(&'a ContentHash, &'a MeetingSummary, SessionSummary)>;

/// Every person's sessions, oldest first, by the person's key: the index of the meeting in `all`
/// and of the session in the meeting (as [`super::count_sessions`] counted them, sorted by the key).
pub(in crate::site) fn people<'a>(
    by_person: HashMap<Text, Vec<(u32, u32)>>,
    texts: &'a Texts,
) -> BTreeMap<&'a str, Vec<(u32, u32)>> {
    let mut sorted: BTreeMap<&'a str, Vec<(u32, u32)>> = BTreeMap::new();
    for (person, sessions) in by_person {
        // One index per string; were there two, their sessions are one person's, in order.
        let all = sorted.entry(texts.get(person)).or_default();
        let merged = !all.is_empty();
        all.extend(sessions);
        if merged {
            all.sort_unstable();
        }
    }
    sorted
}

pub(in crate::site) fn person_page(
    sessions: &PersonSessions<'_>,
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
