//! A meeting's headline: how many participants were affected and how much, whether the host or a
//! presenter was, the meeting's verdict by [`MeetingRule`](super::MeetingRule), and the likely cause in words.
//!
//! The meeting's verdict is not its worst stream: one guest's bad Wi-Fi among 27 people does not make
//! a meeting poor. The rule (all of it configurable, `meeting` in the thresholds file):
//! - **poor** when at least `poor_minutes_share` (a fifth) of the participant-minutes with data were
//!   poor, or when the host or a presenter had a poor stream (poor by the sustained rule);
//! - else **fair** when at least `fair_minutes_share` (a fifth) of the participant-minutes were fair
//!   or poor, or at least `fair_participants_share` (a quarter) of the participants had a poor stream;
//! - else **good** (said as "good for 24 of 27" when some had trouble); no data without any.
//!
//! The cause looks at the affected participants (those with a poor stream; without any, those with
//! a fair one): the stream and metric that most of them share, and what sets them apart from the
//! others: a network type, server region, client, operating system or transport that covers at least
//! three quarters of them and is more common among them than among everyone; or, when at least half
//! of them ran at `cpu_busy_percent` or more and lost frame rate, their CPU.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MeetingReport, Metric, SessionQuality, StreamKind, Thresholds, Verdict};

mod cause;

use cause::cause;
pub use cause::{Cause, Trait};

/// Participant-minutes (or one session's minutes): with data, judged fair, judged poor. A minute's
/// verdict is the worst of its streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minutes {
    /// Minutes with data.
    pub with_data: u32,
    /// Of them, judged fair.
    pub fair: u32,
    /// Of them, judged poor.
    pub poor: u32,
}

impl Minutes {
    /// One session's minutes, from its timelines.
    #[must_use]
    pub fn of(quality: &SessionQuality) -> Self {
        let last = quality
            .timelines
            .values()
            .filter_map(super::Timeline::last_minute)
            .max();
        let Some(last) = last else {
            return Self::default();
        };
        let mut worst = vec![Verdict::NoData; last + 1];
        for cells in quality.timelines.values() {
            for (minute, cell) in cells.iter() {
                let slot = &mut worst[minute];
                *slot = (*slot).max(cell.verdict);
            }
        }
        let mut minutes = Self::default();
        for verdict in worst {
            minutes.with_data += u32::from(verdict != Verdict::NoData);
            minutes.fair += u32::from(verdict == Verdict::Fair);
            minutes.poor += u32::from(verdict == Verdict::Poor);
        }
        minutes
    }

    /// Adds `other`'s minutes to these.
    pub fn add(&mut self, other: Self) {
        self.with_data += other.with_data;
        self.fair += other.fair;
        self.poor += other.poor;
    }

    /// The share (0-1) of the minutes with data that were poor; `None` without data.
    #[must_use]
    pub fn poor_share(&self) -> Option<f64> {
        (self.with_data > 0).then(|| f64::from(self.poor) / f64::from(self.with_data))
    }

    /// The share (0-1) of the minutes with data that were fair or poor; `None` without data.
    #[must_use]
    pub fn troubled_share(&self) -> Option<f64> {
        (self.with_data > 0).then(|| f64::from(self.fair + self.poor) / f64::from(self.with_data))
    }
}

/// One participant session, as the headline needs it.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts<'a> {
    /// Who (sessions of one person are one participant): the lower-cased email, or the name.
    pub person: &'a str,
    /// Each stream kind's verdict and deciding metric.
    pub streams: Vec<(StreamKind, Verdict, Option<Metric>)>,
    /// The session's minutes.
    pub minutes: Minutes,
    /// Its traits, in [`Trait::ALL`]'s order; empty when Webex did not say.
    pub traits: [&'a str; 5],
    /// The meeting's host.
    pub host: bool,
    /// Shared content (sent a sharing stream).
    pub presenter: bool,
    /// The machine's average CPU over the session, percent, when reported.
    pub cpu: Option<u8>,
}

/// Participants by their verdict (the worst stream of any of their sessions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participants {
    /// With a poor stream.
    pub poor: u32,
    /// With a fair stream, none poor.
    pub fair: u32,
    /// Good.
    pub good: u32,
    /// Without data.
    pub no_data: u32,
}

impl Participants {
    /// Everyone.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.poor + self.fair + self.good + self.no_data
    }

    /// Everyone with data.
    #[must_use]
    pub fn judged(&self) -> u32 {
        self.poor + self.fair + self.good
    }
}

/// A meeting's headline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// The meeting's verdict by the rule.
    pub verdict: Verdict,
    /// Participants by verdict.
    pub participants: Participants,
    /// Participant-minutes.
    pub minutes: Minutes,
    /// The host had a poor stream.
    pub host_poor: bool,
    /// A presenter had a poor stream.
    pub presenter_poor: bool,
    /// The likely cause, when anyone had trouble.
    pub cause: Option<Cause>,
}

impl Default for Headline {
    fn default() -> Self {
        Self {
            verdict: Verdict::NoData,
            participants: Participants::default(),
            minutes: Minutes::default(),
            host_poor: false,
            presenter_poor: false,
            cause: None,
        }
    }
}

impl Headline {
    /// Impact, the list's order: poor participant-minutes, then fair ones.
    #[must_use]
    pub fn impact(&self) -> (u32, u32) {
        (self.minutes.poor, self.minutes.fair)
    }

    /// The verdict in words: "poor", "fair for 3 of 5", "good for 24 of 27", "good".
    #[must_use]
    pub fn label(&self) -> String {
        let p = &self.participants;
        let n = p.judged();
        let at_level = match self.verdict {
            Verdict::NoData => return Verdict::NoData.label().to_owned(),
            Verdict::Poor => p.poor,
            Verdict::Fair => p.poor + p.fair,
            Verdict::Good => p.good,
        };
        if at_level == n || (self.verdict != Verdict::Good && at_level == 0) {
            self.verdict.label().to_owned()
        } else {
            format!("{} for {at_level} of {n}", self.verdict.label())
        }
    }

    /// Who of the host and presenters had a poor stream, in words ("host", "presenter", "host and
    /// presenter"), empty when neither.
    #[must_use]
    pub fn leaders_affected(&self) -> &'static str {
        match (self.host_poor, self.presenter_poor) {
            (true, true) => "host and presenter",
            (true, false) => "host",
            (false, true) => "presenter",
            (false, false) => "",
        }
    }
}

/// The headline of a classified meeting whose host has `host_email`.
#[must_use]
pub fn of_report<'r>(
    report: &'r MeetingReport,
    host_email: &str,
    thresholds: &Thresholds,
) -> Headline {
    let host = host_email.to_lowercase();
    let keys: Vec<String> = report.sessions.iter().map(|s| s.person_key()).collect();
    let traits: Vec<[&str; 5]> = report
        .sessions
        .iter()
        .map(|s| {
            let m = &s.session;
            let text = |v: &'r Option<String>| v.as_deref().unwrap_or("");
            [
                text(&m.server_region),
                text(&m.network_type),
                text(&m.client_type),
                text(&m.os_type),
                s.transport.as_str(),
            ]
        })
        .collect();
    headline(
        report
            .sessions
            .iter()
            .zip(&keys)
            .zip(traits)
            .map(|((s, key), traits)| SessionFacts {
                person: key,
                streams: s
                    .quality
                    .verdicts
                    .iter()
                    .map(|v| (v.kind, v.verdict, v.metric))
                    .collect(),
                minutes: Minutes::of(&s.quality),
                traits,
                host: !host.is_empty() && *key == host,
                presenter: s.presenter(),
                cpu: s.average_cpu(),
            }),
        thresholds,
    )
}

/// One participant: their sessions merged.
struct Participant<'a> {
    verdict: Verdict,
    streams: Vec<(StreamKind, Verdict, Option<Metric>)>,
    minutes: Minutes,
    traits: [&'a str; 5],
    traits_from: Verdict,
    host: bool,
    presenter: bool,
    cpu: Option<u8>,
}

/// The headline of a meeting made of `sessions`.
#[must_use]
pub fn headline<'a>(
    sessions: impl IntoIterator<Item = SessionFacts<'a>>,
    thresholds: &Thresholds,
) -> Headline {
    let mut people: BTreeMap<&'a str, Participant<'a>> = BTreeMap::new();
    for s in sessions {
        let worst = s
            .streams
            .iter()
            .map(|(_, v, _)| *v)
            .max()
            .unwrap_or(Verdict::NoData);
        let p = people.entry(s.person).or_insert_with(|| Participant {
            verdict: Verdict::NoData,
            streams: Vec::new(),
            minutes: Minutes::default(),
            traits: s.traits,
            traits_from: worst,
            host: false,
            presenter: false,
            cpu: None,
        });
        p.verdict = p.verdict.max(worst);
        // The traits of the session that went worst (a rejoin from a phone is where it went wrong).
        if worst > p.traits_from {
            p.traits = s.traits;
            p.traits_from = worst;
        }
        p.streams.extend(s.streams);
        p.minutes.add(s.minutes);
        p.host |= s.host;
        p.presenter |= s.presenter;
        p.cpu = p.cpu.max(s.cpu);
    }
    let participants: Vec<Participant<'a>> = people.into_values().collect();
    let mut counts = Participants::default();
    let mut minutes = Minutes::default();
    for p in &participants {
        match p.verdict {
            Verdict::Poor => counts.poor += 1,
            Verdict::Fair => counts.fair += 1,
            Verdict::Good => counts.good += 1,
            Verdict::NoData => counts.no_data += 1,
        }
        minutes.add(p.minutes);
    }
    let host_poor = participants
        .iter()
        .any(|p| p.host && p.verdict == Verdict::Poor);
    let presenter_poor = participants
        .iter()
        .any(|p| p.presenter && p.verdict == Verdict::Poor);
    let rule = &thresholds.meeting;
    let at_least = |share: Option<f64>, limit: f64| share.is_some_and(|s| s >= limit);
    let judged = counts.judged();
    let verdict = if judged == 0 {
        Verdict::NoData
    } else if at_least(minutes.poor_share(), rule.poor_minutes_share)
        || (rule.host_or_presenter && (host_poor || presenter_poor))
    {
        Verdict::Poor
    } else if at_least(minutes.troubled_share(), rule.fair_minutes_share)
        || (counts.poor > 0
            && f64::from(counts.poor) >= rule.fair_participants_share * f64::from(judged))
    {
        Verdict::Fair
    } else {
        Verdict::Good
    };
    Headline {
        verdict,
        participants: counts,
        minutes,
        host_poor,
        presenter_poor,
        cause: cause(&participants, judged, thresholds),
    }
}

#[cfg(test)]
mod tests;
