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
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{MeetingReport, Metric, SessionQuality, StreamKind, Thresholds, Verdict};

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
            .filter_map(|t| t.keys().next_back().copied())
            .max();
        let Some(last) = last else {
            return Self::default();
        };
        let mut worst = vec![Verdict::NoData; last + 1];
        for cells in quality.timelines.values() {
            for (minute, cell) in cells {
                let slot = &mut worst[*minute];
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

    fn add(&mut self, other: Self) {
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

/// What participants can have in common, in the order a cause names them when several fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trait {
    /// Webex's server region.
    Region,
    /// Network type (`wifi`, `ethernet`, `cellular`).
    Network,
    /// Client type.
    Client,
    /// Operating system.
    Os,
    /// Transport (`UDP`, `TCP`).
    Transport,
}

impl Trait {
    /// All of them, in naming order.
    pub const ALL: [Self; 5] = [
        Self::Region,
        Self::Network,
        Self::Client,
        Self::Os,
        Self::Transport,
    ];

    /// How a cause says that participants share `value`: "on Wi-Fi", "in server region X".
    #[must_use]
    pub fn phrase(self, value: &str) -> String {
        match self {
            Self::Region => format!("in server region {value}"),
            Self::Network => match value {
                "wifi" => "on Wi-Fi".to_owned(),
                "ethernet" => "on wired ethernet".to_owned(),
                other => format!("on {other}"),
            },
            Self::Client => format!("using {value}"),
            Self::Os => format!("on {value}"),
            Self::Transport => match value {
                "TCP, UDP" | "UDP, TCP" => "falling back to TCP".to_owned(),
                other => format!("over {other}"),
            },
        }
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

/// The likely cause of a meeting's trouble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// Poor, or fair when nobody was poor.
    pub level: Verdict,
    /// Participants at that level.
    pub affected: u32,
    /// Participants with data.
    pub of: u32,
    /// The stream most of them had trouble with.
    pub stream: StreamKind,
    /// Its metric, when one decided.
    pub metric: Option<Metric>,
    /// The limit that metric passed (at `level`), in its unit.
    pub limit: Option<f64>,
    /// What the affected share that the others mostly do not.
    pub shared: Option<(Trait, String)>,
    /// The lowest average CPU (percent) of the affected when their CPU is the cause.
    pub cpu: Option<u8>,
}

impl Cause {
    /// What a filter calls it: the metric (`jitter`, `packet loss`...), `CPU`, or the stream.
    #[must_use]
    pub fn category(&self) -> &'static str {
        if self.cpu.is_some() {
            "CPU"
        } else {
            self.metric.map_or(self.stream.label(), Metric::label)
        }
    }

    fn metric_phrase(&self) -> String {
        let (Some(metric), Some(limit)) = (self.metric, self.limit) else {
            return format!("{} {}", self.level.label(), self.stream.label());
        };
        let (direction, unit) = match metric {
            Metric::PacketLoss => ("over", " %"),
            Metric::Latency | Metric::Jitter => ("over", " ms"),
            Metric::FrameRate => ("under", " fps"),
        };
        format!(
            "{} {} {direction} {}{unit}",
            self.stream.label(),
            metric.label(),
            Number(limit)
        )
    }
}

/// A limit as people write it: `30`, `2.5`.
struct Number(f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 {
            write!(f, "{:.0}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Display for Cause {
    /// "4 of 27 on Wi-Fi with audio jitter over 30 ms", "everyone in server region X with audio
    /// latency over 500 ms", "one participant's CPU at 100 %, video frame rate under 7 fps".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let everyone = self.affected == self.of && self.of > 1;
        if let Some(cpu) = self.cpu {
            return if self.affected == 1 {
                write!(
                    f,
                    "one participant's CPU at {cpu} %, {}",
                    self.metric_phrase()
                )
            } else {
                let more = if cpu < 100 { " or more" } else { "" };
                if everyone {
                    write!(
                        f,
                        "everyone's CPU at {cpu} %{more}, {}",
                        self.metric_phrase()
                    )
                } else {
                    write!(
                        f,
                        "{} of {} with CPU at {cpu} %{more}, {}",
                        self.affected,
                        self.of,
                        self.metric_phrase()
                    )
                }
            };
        }
        if everyone {
            f.write_str("everyone")?;
        } else {
            write!(f, "{} of {}", self.affected, self.of)?;
        }
        if let Some((t, value)) = &self.shared {
            write!(f, " {}", t.phrase(value))?;
        }
        write!(f, " with {}", self.metric_phrase())
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

fn cause(participants: &[Participant<'_>], of: u32, thresholds: &Thresholds) -> Option<Cause> {
    let level = participants
        .iter()
        .map(|p| p.verdict)
        .max()
        .filter(|v| *v >= Verdict::Fair)?;
    let affected: Vec<&Participant<'_>> =
        participants.iter().filter(|p| p.verdict == level).collect();
    let count = u32::try_from(affected.len()).unwrap_or(u32::MAX);
    // CPU: at least half of the affected ran busy and lost frame rate (what a busy machine drops
    // first); their frame rate is then the symptom named.
    let frame_rate_at_level = |p: &Participant<'_>| {
        p.streams
            .iter()
            .any(|(_, v, m)| *v == level && *m == Some(Metric::FrameRate))
    };
    let busy_ones: Vec<&Participant<'_>> = affected
        .iter()
        .copied()
        .filter(|p| {
            p.cpu
                .is_some_and(|c| f64::from(c) >= thresholds.meeting.cpu_busy_percent)
                && frame_rate_at_level(p)
        })
        .collect();
    let cpu_bound = !busy_ones.is_empty() && busy_ones.len() * 2 >= affected.len();
    let considered: &[&Participant<'_>] = if cpu_bound { &busy_ones } else { &affected };
    // The stream and metric most of them share (each participant counted once per pair).
    let mut pairs: BTreeMap<(StreamKind, Option<Metric>), u32> = BTreeMap::new();
    for p in considered {
        let mut mine: Vec<(StreamKind, Option<Metric>)> = p
            .streams
            .iter()
            .filter(|(_, v, _)| *v == level)
            .map(|(k, _, m)| (*k, *m))
            .collect();
        if cpu_bound {
            mine.retain(|(_, m)| *m == Some(Metric::FrameRate));
        }
        mine.sort_unstable();
        mine.dedup();
        for pair in mine {
            *pairs.entry(pair).or_default() += 1;
        }
    }
    // Most participants first; on a tie the first in order (audio before video, loss first).
    let (stream, metric) = pairs
        .iter()
        .fold(
            None,
            |best: Option<(&(StreamKind, Option<Metric>), u32)>, (k, n)| match best {
                Some((_, m)) if m >= *n => best,
                _ => Some((k, *n)),
            },
        )
        .map(|(k, _)| *k)?;
    let limit = metric.map(|m| {
        let limits = stream.limits(thresholds);
        let l = match m {
            Metric::PacketLoss => limits.packet_loss,
            Metric::Latency => limits.latency,
            Metric::Jitter => limits.jitter,
            Metric::FrameRate => limits.frame_rate.unwrap_or(limits.packet_loss),
        };
        if level == Verdict::Poor {
            l.poor
        } else {
            l.fair
        }
    });
    let cpu = if cpu_bound {
        busy_ones.iter().filter_map(|p| p.cpu).min()
    } else {
        None
    };
    Some(Cause {
        level,
        affected: count,
        of,
        stream,
        metric,
        limit,
        shared: if cpu_bound {
            None
        } else {
            shared_trait(participants, &affected)
        },
        cpu,
    })
}

/// The trait value that covers at least three quarters of the affected and is more common among
/// them than among everyone (for everyone affected: one that all of them share).
fn shared_trait(
    participants: &[Participant<'_>],
    affected: &[&Participant<'_>],
) -> Option<(Trait, String)> {
    let judged: Vec<&Participant<'_>> = participants
        .iter()
        .filter(|p| p.verdict != Verdict::NoData)
        .collect();
    let everyone = affected.len() == judged.len();
    let mut best: Option<(f64, f64, Trait, &str)> = None;
    for (i, t) in Trait::ALL.iter().enumerate() {
        let mut values: BTreeMap<&str, usize> = BTreeMap::new();
        for p in affected {
            if !p.traits[i].is_empty() {
                *values.entry(p.traits[i]).or_default() += 1;
            }
        }
        let Some((value, n)) = values.into_iter().max_by_key(|(_, n)| *n) else {
            continue;
        };
        #[allow(clippy::cast_precision_loss)]
        let coverage = n as f64 / affected.len() as f64;
        let among_all = judged.iter().filter(|p| p.traits[i] == value).count();
        #[allow(clippy::cast_precision_loss)]
        let lift = coverage / (among_all as f64 / judged.len() as f64);
        let fits = if everyone {
            n == affected.len()
        } else {
            coverage >= 0.75 && lift > 1.0 + 1e-9
        };
        if !fits {
            continue;
        }
        // More coverage first, then more lift; on a tie the first trait in naming order.
        let better = best.is_none_or(|(c, l, _, _)| {
            coverage > c + 1e-9 || ((coverage - c).abs() <= 1e-9 && lift > l + 1e-9)
        });
        if better {
            best = Some((coverage, lift, *t, value));
        }
    }
    best.map(|(_, _, t, v)| (t, v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: [(StreamKind, Verdict, Option<Metric>); 2] = [
        (StreamKind::Audio, Verdict::Good, None),
        (StreamKind::Video, Verdict::Good, None),
    ];

    /// A 30-minute session of `person` on ethernet in region `eu`, all good.
    fn good(person: &str) -> SessionFacts<'_> {
        SessionFacts {
            person,
            streams: GOOD.to_vec(),
            minutes: Minutes {
                with_data: 30,
                fair: 0,
                poor: 0,
            },
            traits: [
                "eu",
                "ethernet",
                "Webex_Desktop_Client (Windows)",
                "windows",
                "UDP",
            ],
            host: false,
            presenter: false,
            cpu: Some(20),
        }
    }

    /// The same, poor by `metric` on `stream` for `poor_minutes` of its 30.
    fn poor(
        person: &str,
        stream: StreamKind,
        metric: Metric,
        poor_minutes: u32,
    ) -> SessionFacts<'_> {
        let mut s = good(person);
        s.streams = GOOD
            .iter()
            .map(|(k, v, m)| {
                if *k == stream {
                    (*k, Verdict::Poor, Some(metric))
                } else {
                    (*k, *v, *m)
                }
            })
            .collect();
        s.minutes.poor = poor_minutes;
        s
    }

    const NAMES: [&str; 27] = [
        "p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10", "p11", "p12",
        "p13", "p14", "p15", "p16", "p17", "p18", "p19", "p20", "p21", "p22", "p23", "p24", "p25",
        "p26",
    ];

    #[test]
    fn one_guest_poor_among_many_leaves_the_meeting_good_and_says_so() {
        let mut sessions: Vec<SessionFacts<'_>> = NAMES[..26].iter().map(|n| good(n)).collect();
        let mut guest = poor("guest", StreamKind::Audio, Metric::Jitter, 12);
        guest.traits[1] = "wifi";
        sessions.push(guest);
        let h = headline(sessions, &Thresholds::default());
        assert_eq!(h.verdict, Verdict::Good);
        assert_eq!(h.label(), "good for 26 of 27");
        assert_eq!(
            h.participants,
            Participants {
                poor: 1,
                fair: 0,
                good: 26,
                no_data: 0
            }
        );
        assert_eq!(h.minutes.with_data, 27 * 30);
        assert_eq!(h.impact(), (12, 0));
        let cause = h.cause.unwrap();
        assert_eq!(
            cause.to_string(),
            "1 of 27 on Wi-Fi with audio jitter over 30 ms"
        );
        assert_eq!(cause.category(), "jitter");
    }

    #[test]
    fn four_of_twenty_seven_on_wifi_with_jitter_is_fair_when_they_lose_a_fifth_of_the_minutes() {
        let mut sessions: Vec<SessionFacts<'_>> = NAMES[..23].iter().map(|n| good(n)).collect();
        for name in &NAMES[23..] {
            let mut s = poor(name, StreamKind::Audio, Metric::Jitter, 30);
            s.traits[1] = "wifi";
            sessions.push(s);
        }
        // One of the good ones is on Wi-Fi too: still more common among the affected.
        sessions[0].traits[1] = "wifi";
        let h = headline(sessions, &Thresholds::default());
        // 120 poor of 810 participant-minutes: under a fifth; 4 of 27 participants: under a quarter.
        assert_eq!(h.verdict, Verdict::Good);
        assert_eq!(
            h.cause.unwrap().to_string(),
            "4 of 27 on Wi-Fi with audio jitter over 30 ms"
        );
    }

    #[test]
    fn the_host_poor_makes_the_meeting_poor_unless_the_rule_says_otherwise() {
        let mut sessions: Vec<SessionFacts<'_>> = NAMES[..9].iter().map(|n| good(n)).collect();
        let mut host = poor("host", StreamKind::Video, Metric::PacketLoss, 4);
        host.host = true;
        sessions.push(host);
        let h = headline(sessions.clone(), &Thresholds::default());
        assert_eq!(h.verdict, Verdict::Poor);
        assert!(h.host_poor && !h.presenter_poor);
        assert_eq!(h.leaders_affected(), "host");
        assert_eq!(h.label(), "poor for 1 of 10");
        let mut lenient = Thresholds::default();
        lenient.meeting.host_or_presenter = false;
        let h = headline(sessions, &lenient);
        assert_eq!(h.verdict, Verdict::Good, "1 of 10 poor, 4 of 300 minutes");
    }

    #[test]
    fn everyone_poor_in_one_region_names_the_region_and_the_latency() {
        let mut sessions: Vec<SessionFacts<'_>> = NAMES[..12]
            .iter()
            .map(|n| {
                let mut s = poor(n, StreamKind::Audio, Metric::Latency, 20);
                s.traits[0] = "us-east";
                s
            })
            .collect();
        // Networks differ: only the region is shared by all.
        sessions[3].traits[1] = "wifi";
        let h = headline(sessions, &Thresholds::default());
        assert_eq!(h.verdict, Verdict::Poor);
        assert_eq!(h.label(), "poor");
        assert_eq!(
            h.cause.unwrap().to_string(),
            "everyone in server region us-east with audio latency over 500 ms"
        );
    }

    #[test]
    fn a_cpu_bound_participant_is_named_by_their_cpu() {
        let mut sessions: Vec<SessionFacts<'_>> = NAMES[..5].iter().map(|n| good(n)).collect();
        let mut busy = poor("busy", StreamKind::Video, Metric::FrameRate, 25);
        busy.cpu = Some(100);
        sessions.push(busy);
        let h = headline(sessions, &Thresholds::default());
        // 25 of 180 minutes, 1 of 6 participants: good for the others.
        assert_eq!(h.verdict, Verdict::Good);
        let cause = h.cause.unwrap();
        assert_eq!(
            cause.to_string(),
            "one participant's CPU at 100 %, video frame rate under 7 fps"
        );
        assert_eq!(cause.category(), "CPU");
    }

    #[test]
    fn a_fifth_of_the_minutes_poor_makes_the_meeting_poor_and_a_quarter_of_people_fair() {
        // 2 of 5 poor for the whole 30 minutes: 60 of 150 minutes.
        let mut sessions: Vec<SessionFacts<'_>> = NAMES[..3].iter().map(|n| good(n)).collect();
        sessions.push(poor("a", StreamKind::Video, Metric::PacketLoss, 30));
        sessions.push(poor("b", StreamKind::Video, Metric::PacketLoss, 30));
        assert_eq!(
            headline(sessions, &Thresholds::default()).verdict,
            Verdict::Poor
        );
        // 1 of 4 poor for 3 minutes: a quarter of the participants, 3 of 120 minutes.
        let mut sessions: Vec<SessionFacts<'_>> = NAMES[..3].iter().map(|n| good(n)).collect();
        sessions.push(poor("a", StreamKind::Video, Metric::PacketLoss, 3));
        let h = headline(sessions, &Thresholds::default());
        assert_eq!(h.verdict, Verdict::Fair);
        assert_eq!(h.label(), "fair for 1 of 4");
    }

    #[test]
    fn a_rejoin_is_one_participant_and_nobody_with_data_is_no_data() {
        let sessions = vec![
            poor("a", StreamKind::Audio, Metric::PacketLoss, 3),
            good("a"),
            good("b"),
        ];
        let h = headline(sessions, &Thresholds::default());
        assert_eq!(h.participants.total(), 2);
        assert_eq!(h.participants.poor, 1);
        let none = SessionFacts {
            person: "x",
            ..SessionFacts::default()
        };
        let h = headline([none], &Thresholds::default());
        assert_eq!(h.verdict, Verdict::NoData);
        assert_eq!(h.label(), "no data");
        assert!(h.cause.is_none());
    }

    #[test]
    fn a_sessions_minutes_take_the_worst_stream_of_each_minute() {
        use crate::quality::{Cell, Sample};
        let cell = |verdict| Cell {
            verdict,
            metric: None,
            sample: Sample::default(),
        };
        let mut q = SessionQuality {
            origin: chrono::DateTime::UNIX_EPOCH,
            timelines: BTreeMap::new(),
            verdicts: Vec::new(),
        };
        q.timelines.insert(
            StreamKind::Audio,
            BTreeMap::from([
                (0, cell(Verdict::Good)),
                (1, cell(Verdict::Poor)),
                (2, cell(Verdict::NoData)),
            ]),
        );
        q.timelines.insert(
            StreamKind::Video,
            BTreeMap::from([
                (0, cell(Verdict::Fair)),
                (1, cell(Verdict::Good)),
                (4, cell(Verdict::Good)),
            ]),
        );
        assert_eq!(
            Minutes::of(&q),
            Minutes {
                with_data: 3,
                fair: 1,
                poor: 1
            }
        );
    }
}
