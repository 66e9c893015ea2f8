//! The breakdowns page: sessions grouped by office, client, system, network, region and transport,
//! with their poor shares (the office pages use the same breakdowns).

use std::collections::BTreeMap;

use askama::Template;
use foldhash::HashMap;

use super::{StreamShares, share_cell};
use crate::quality::headline::Minutes;
use crate::site::render_cache::{SessionSummary, Text, Texts};
use crate::site::{Chrome, SiteOptions};

/// A breakdown key, with `unknown` for what Webex did not say.
fn unknown(value: Option<&str>) -> String {
    value.unwrap_or("unknown").to_owned()
}

/// One row of a breakdown: a value of the key, its sessions, and their poor shares.
pub(in crate::site) struct BreakdownRow {
    pub(in crate::site) key: String,
    /// The page of the value, when it has one (an office).
    pub(in crate::site) href: String,
    pub(in crate::site) sessions: usize,
    /// Participant-minutes judged poor: for sorting, as text.
    pub(in crate::site) poor_minutes: (String, String),
    pub(in crate::site) shares: Vec<(String, String)>,
}

/// A breakdown of sessions by one key.
pub(in crate::site) struct BreakdownTable {
    pub(in crate::site) name: &'static str,
    pub(in crate::site) rows: Vec<BreakdownRow>,
}

/// How a breakdown groups sessions: by the strings (one or two) that `group` picks of a session,
/// as the table's indexes (no string is made per session), each group named by `label` once, when
/// the table is made. Groups whose names are the same (a missing client type and one Webex
/// reported as "unknown") are one row.
#[derive(Clone, Copy)]
pub(in crate::site) struct BreakdownKey {
    pub(in crate::site) group: fn(&SessionSummary) -> [Text; 2],
    pub(in crate::site) label: fn([Text; 2], &Texts) -> String,
}

/// Per-stream poor and judged counts, sessions and minutes of a breakdown's group.
#[derive(Default)]
struct Tally {
    sessions: usize,
    minutes: Minutes,
    streams: StreamShares,
}

impl Tally {
    fn merge(&mut self, other: &Self) {
        self.sessions += other.sessions;
        self.minutes.add(other.minutes);
        self.streams.merge(other.streams);
    }
}

/// Sessions grouped by a key as they go by (they are read back one at a time from the cache's
/// packed form, so none is held): each group with its poor participant-minutes and per-stream poor
/// shares.
pub(in crate::site) struct Breakdown {
    name: &'static str,
    key: BreakdownKey,
    groups: HashMap<[Text; 2], Tally>,
}

impl Breakdown {
    pub(in crate::site) fn new((name, key): (&'static str, BreakdownKey)) -> Self {
        Self {
            name,
            key,
            groups: HashMap::default(),
        }
    }

    pub(in crate::site) fn add(&mut self, s: &SessionSummary) {
        let tally = self.groups.entry((self.key.group)(s)).or_default();
        tally.sessions += 1;
        tally.minutes.add(s.minutes);
        tally.streams.add(s);
    }

    /// The table, its groups named from `texts`; `href` gives a group's page, if any ("" for
    /// none), from the page's folder.
    pub(in crate::site) fn table(
        self,
        texts: &Texts,
        href: &dyn Fn(&str) -> String,
    ) -> BreakdownTable {
        let mut named: BTreeMap<String, Tally> = BTreeMap::new();
        for (group, tally) in &self.groups {
            named
                .entry((self.key.label)(*group, texts))
                .or_default()
                .merge(tally);
        }
        BreakdownTable {
            name: self.name,
            rows: named
                .into_iter()
                .map(|(key, tally)| BreakdownRow {
                    href: href(&key),
                    key,
                    sessions: tally.sessions,
                    poor_minutes: share_cell(
                        tally.minutes.poor as usize,
                        tally.minutes.with_data as usize,
                    ),
                    shares: tally
                        .streams
                        .0
                        .iter()
                        .map(|(poor, judged)| share_cell(*poor, *judged))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The client type and version, as breakdowns name a client.
pub(in crate::site) fn client_label([client, version]: [Text; 2], t: &Texts) -> String {
    format!("{} {}", t.opt(client).unwrap_or("unknown"), t.get(version))
}

#[derive(Template)]
#[template(path = "breakdowns.html")]
pub(in crate::site) struct BreakdownsPage {
    chrome: Chrome,
    tables: Vec<BreakdownTable>,
}

/// A session's office, [`crate::site::offices::REMOTE`] outside every range.
pub(in crate::site) fn office_name<'t>(s: &SessionSummary, t: &'t Texts) -> &'t str {
    office_text(s.office, t)
}

/// The name of the office `office` ([`office_name`]).
fn office_text(office: Text, t: &Texts) -> &str {
    t.opt(office).unwrap_or(crate::site::offices::REMOTE)
}

/// [`office_name`], as a breakdown's key.
pub(in crate::site) fn office_of(s: &SessionSummary, t: &Texts) -> String {
    office_name(s, t).to_owned()
}

/// A breakdown's group's page, if any ("" for none), from the page's folder.
pub(in crate::site) type GroupPage = fn(&str) -> String;

/// The breakdowns page's tables, empty: by office when offices are configured, then by client,
/// system, network, region and transport.
pub(super) fn tallies(options: &SiteOptions) -> Vec<(Breakdown, GroupPage)> {
    /// A breakdown by one string of a session, "unknown" when Webex did not give it.
    macro_rules! by {
        ($field:ident) => {
            BreakdownKey {
                group: |s| [s.$field, Text::NONE],
                label: |[text, _], t| unknown(t.opt(text)),
            }
        };
    }
    let keys: [(&'static str, BreakdownKey); 6] = [
        ("client type", by!(client_type)),
        (
            "client version",
            BreakdownKey {
                group: |s| [s.client_type, s.client_version],
                label: client_label,
            },
        ),
        ("operating system", by!(os_type)),
        ("network type", by!(network_type)),
        ("server region", by!(server_region)),
        ("transport", by!(transport)),
    ];
    let no_page: GroupPage = |_| String::new();
    let offices = (!options.offices.is_empty()).then(|| {
        let page: GroupPage = crate::site::offices::office_path;
        let key = BreakdownKey {
            group: |s| [s.office, Text::NONE],
            label: |[office, _], t| office_text(office, t).to_owned(),
        };
        (Breakdown::new(("office", key)), page)
    });
    offices
        .into_iter()
        .chain(keys.map(|key| (Breakdown::new(key), no_page)))
        .collect()
}

/// The breakdowns page, from its tables as [`super::SessionCounter`] counted them.
pub(in crate::site) fn breakdowns(
    tables: Vec<(Breakdown, GroupPage)>,
    texts: &Texts,
    options: &SiteOptions,
) -> BreakdownsPage {
    BreakdownsPage {
        chrome: Chrome::new("Breakdowns", "", options),
        tables: tables
            .into_iter()
            .map(|(breakdown, page)| breakdown.table(texts, &page))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::count_sessions;
    use super::super::tests::meeting;
    use super::*;
    use crate::quality::Verdict;
    use chrono::Utc;

    #[test]
    fn breakdown_groups_of_the_same_name_are_one_row() {
        let mut texts = Texts::default();
        let session = |texts: &mut Texts, client: &str, video: Verdict| {
            let mut s = SessionSummary {
                client_type: texts.intern(client),
                network_type: texts.intern("wifi"),
                ..SessionSummary::default()
            };
            s.streams[1].verdict = video;
            s
        };
        // Webex said nothing of the first client and "unknown" of the second: one group.
        let sessions = vec![
            session(&mut texts, "", Verdict::Poor),
            session(&mut texts, "unknown", Verdict::Good),
            session(&mut texts, "Webex Desktop", Verdict::Good),
        ];
        let summary = meeting(sessions);
        let options = SiteOptions::default();
        let counted = count_sessions(&[&summary], &texts, Utc::now(), &options);
        let page = breakdowns(counted.breakdowns, &texts, &options);
        let rows = |name: &str| -> Vec<(String, usize, String)> {
            let table = page.tables.iter().find(|t| t.name == name).unwrap();
            table
                .rows
                .iter()
                .map(|r| (r.key.clone(), r.sessions, r.shares[1].1.clone()))
                .collect()
        };
        assert_eq!(
            rows("client type"),
            [
                ("Webex Desktop".to_owned(), 1, "0.0 %".to_owned()),
                ("unknown".to_owned(), 2, "50.0 %".to_owned()),
            ]
        );
        assert_eq!(
            rows("client version"),
            [
                ("Webex Desktop ".to_owned(), 1, "0.0 %".to_owned()),
                ("unknown ".to_owned(), 2, "50.0 %".to_owned()),
            ]
        );
        assert_eq!(
            rows("network type"),
            [("wifi".to_owned(), 3, "33.3 %".to_owned())]
        );
        assert!(
            page.tables.iter().all(|t| t.name != "office"),
            "no offices configured"
        );
    }
}
