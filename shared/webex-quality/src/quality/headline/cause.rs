//! The likely cause of a meeting's trouble: the stream and metric the affected participants share,
//! and what sets them apart from the others (a trait, or their CPU), in words.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Participant;
use crate::quality::{Metric, StreamKind, Thresholds, Verdict};

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

pub(super) fn cause(
    participants: &[Participant<'_>],
    of: u32,
    thresholds: &Thresholds,
) -> Option<Cause> {
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
