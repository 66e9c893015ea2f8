//! Reading Webex's raw arrays into verdicts: good, fair or poor per sampling interval and per stream,
//! with the metric that decided it, and a verdict per participant session and stream. "No data" is
//! its own verdict, never "good": a stream with no classified interval is no data.
//!
//! Everything here is computed from the raw pages on demand, so it can always be rebuilt.

pub mod headline;
mod report;
mod thresholds;
mod timeline;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

pub use report::{MeetingReport, ParticipantSession, meeting_report};
pub use thresholds::{Limits, MeetingRule, StreamLimits, Sustained, Thresholds};
pub use timeline::Timeline;

use crate::webex::{MediaSession, MediaStream};

/// A quality verdict. Ordered from no data to poor, so `max` is the worst.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing to judge by.
    NoData,
    /// Within every "good" limit.
    Good,
    /// Past a "fair" limit.
    Fair,
    /// Past a "poor" limit.
    Poor,
}

impl Verdict {
    /// `no data`, `good`, `fair`, `poor`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::NoData => "no data",
            Self::Good => "good",
            Self::Fair => "fair",
            Self::Poor => "poor",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A metric that can decide a verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Packet loss, percent.
    PacketLoss,
    /// Latency, ms.
    Latency,
    /// Jitter, ms.
    Jitter,
    /// Frame rate, fps.
    FrameRate,
}

impl Metric {
    /// A label for people.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::PacketLoss => "packet loss",
            Self::Latency => "latency",
            Self::Jitter => "jitter",
            Self::FrameRate => "frame rate",
        }
    }
}

/// Audio, video or content sharing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
    /// Content sharing.
    Share,
}

impl StreamKind {
    /// All three, in display order.
    pub const ALL: [Self; 3] = [Self::Audio, Self::Video, Self::Share];

    /// A label for people.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Share => "sharing",
        }
    }

    fn limits(self, thresholds: &Thresholds) -> &StreamLimits {
        match self {
            Self::Audio => &thresholds.audio,
            Self::Video => &thresholds.video,
            Self::Share => &thresholds.share,
        }
    }
}

/// One sampling interval of one stream direction: its values and verdict.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Sample {
    /// Packet loss, percent.
    pub packet_loss: Option<f64>,
    /// Latency, ms.
    pub latency: Option<f64>,
    /// Jitter, ms.
    pub jitter: Option<f64>,
    /// Frame rate, fps.
    pub frame_rate: Option<f64>,
    /// Bit rate (kbit/s, assumed).
    pub bit_rate: Option<f64>,
    /// Resolution height, pixels.
    pub resolution: Option<f64>,
}

/// A classified interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Cell {
    /// The verdict.
    pub verdict: Verdict,
    /// The metric that decided it (`None` for good and no data).
    pub metric: Option<Metric>,
    /// The values.
    pub sample: Sample,
}

/// Classifies one interval against `limits`: the worst metric decides; loss, then latency, jitter and
/// frame rate break ties.
#[must_use]
pub fn classify(sample: &Sample, limits: &StreamLimits) -> Cell {
    let higher_is_worse = |value: Option<f64>, l: Limits| {
        value.map(|v| {
            if v > l.poor {
                Verdict::Poor
            } else if v > l.fair {
                Verdict::Fair
            } else {
                Verdict::Good
            }
        })
    };
    let lower_is_worse = |value: Option<f64>, l: Option<Limits>| {
        let l = l?;
        value.map(|v| {
            if v < l.poor {
                Verdict::Poor
            } else if v < l.fair {
                Verdict::Fair
            } else {
                Verdict::Good
            }
        })
    };
    let judged = [
        (
            Metric::PacketLoss,
            higher_is_worse(sample.packet_loss, limits.packet_loss),
        ),
        (
            Metric::Latency,
            higher_is_worse(sample.latency, limits.latency),
        ),
        (
            Metric::Jitter,
            higher_is_worse(sample.jitter, limits.jitter),
        ),
        (
            Metric::FrameRate,
            lower_is_worse(sample.frame_rate, limits.frame_rate),
        ),
    ];
    let mut cell = Cell {
        verdict: Verdict::NoData,
        metric: None,
        sample: *sample,
    };
    for (metric, verdict) in judged {
        if let Some(verdict) = verdict
            && verdict > cell.verdict
        {
            cell.verdict = verdict;
            cell.metric = (verdict > Verdict::Good).then_some(metric);
        }
    }
    cell
}

/// A stream's verdict over a whole session.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamVerdict {
    /// Audio, video or sharing.
    pub kind: StreamKind,
    /// The verdict.
    pub verdict: Verdict,
    /// The metric that decided most of the intervals at that level.
    pub metric: Option<Metric>,
    /// Intervals with data.
    pub minutes_with_data: usize,
    /// Intervals judged poor.
    pub poor_minutes: usize,
    /// Intervals judged fair.
    pub fair_minutes: usize,
    /// Minute offsets (from the session's origin) of the intervals at the verdict's level.
    pub worst_minutes: Vec<usize>,
}

/// One participant session, classified.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionQuality {
    /// Minute 0 of the timelines.
    pub origin: DateTime<Utc>,
    /// Per stream kind, the worst of in and out per minute (index: minutes from `origin`).
    pub timelines: BTreeMap<StreamKind, Timeline>,
    /// Per stream kind, the verdict.
    pub verdicts: Vec<StreamVerdict>,
}

impl SessionQuality {
    /// The worst stream verdict.
    #[must_use]
    pub fn worst(&self) -> Verdict {
        self.verdicts
            .iter()
            .map(|v| v.verdict)
            .max()
            .unwrap_or(Verdict::NoData)
    }

    /// The verdict of one stream kind.
    #[must_use]
    pub fn verdict(&self, kind: StreamKind) -> Option<&StreamVerdict> {
        self.verdicts.iter().find(|v| v.kind == kind)
    }

    /// Per minute, the worst cell of any stream (for the participant-by-minute timeline).
    #[must_use]
    pub fn overall(&self) -> Timeline {
        let mut out = Timeline::new();
        for cells in self.timelines.values() {
            out.merge_worst(cells);
        }
        out
    }
}

/// The last minute a timeline holds: a Webex meeting lasts at most 24 hours; an hour's margin.
pub const MAX_TIMELINE_MINUTES: usize = 25 * 60;

/// How long before the meeting's start a sample may be (a participant's segment can begin a little
/// before the meeting's recorded start); it counts as minute 0. Earlier samples are dropped.
const EARLY_MARGIN_MS: i64 = 60 * 60_000;

/// The sampling intervals accepted, in seconds (Webex sends 60); others are taken as 60.
const SAMPLING_INTERVALS: std::ops::RangeInclusive<f64> = 1.0..=3_600.0;

/// Places each value of `segments` on the minute grid from `origin` and classifies it. Samples
/// dated more than [`EARLY_MARGIN_MS`] before `origin`, or past [`MAX_TIMELINE_MINUTES`] after it,
/// are dropped: a hostile or broken timestamp cannot stretch a meeting's timeline.
fn cells(segments: &[MediaStream], limits: &StreamLimits, origin: DateTime<Utc>) -> Timeline {
    let mut out = Timeline::new();
    for segment in segments {
        let Some(start) = segment.start_time else {
            continue;
        };
        let interval = segment
            .sampling_interval
            .filter(|s| SAMPLING_INTERVALS.contains(s))
            .unwrap_or(60.0);
        let n = [
            segment.packet_loss.len(),
            segment.latency.len(),
            segment.jitter.len(),
            segment.frame_rate.len(),
            segment.media_bit_rate.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        // Offsets in milliseconds from the origin: one date subtraction per segment.
        let offset = (start - origin).num_milliseconds();
        let last_ms = i64::try_from(MAX_TIMELINE_MINUTES + 1).unwrap_or(i64::MAX) * 60_000;
        for i in 0..n {
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let at = offset.saturating_add((i as f64 * interval * 1000.0) as i64);
            if at >= last_ms {
                break;
            }
            if at < -EARLY_MARGIN_MS {
                continue;
            }
            let Ok(minute) = usize::try_from(at.max(0) / 60_000) else {
                continue;
            };
            let value = |series: &[Option<f64>]| series.get(i).copied().flatten();
            let sample = Sample {
                packet_loss: value(&segment.packet_loss),
                latency: value(&segment.latency),
                jitter: value(&segment.jitter),
                frame_rate: value(&segment.frame_rate),
                bit_rate: value(&segment.media_bit_rate),
                resolution: value(&segment.resolution_height),
            };
            out.keep_worst(minute, classify(&sample, limits));
        }
    }
    out
}

/// The verdict of a stream over a session: poor when enough of its minutes are poor (a run of
/// consecutive minutes, or a share of the minutes with data), else fair by the same rule, else good;
/// no data when no minute has data.
#[must_use]
pub fn stream_verdict(kind: StreamKind, cells: &Timeline, sustained: &Sustained) -> StreamVerdict {
    let with_data: Vec<(usize, &Cell)> = cells
        .iter()
        .filter(|(_, c)| c.verdict != Verdict::NoData)
        .collect();
    let at_least = |level: Verdict| -> bool {
        let hits = with_data.iter().filter(|(_, c)| c.verdict >= level).count();
        #[allow(clippy::cast_precision_loss)]
        let share = hits as f64 / with_data.len().max(1) as f64;
        let mut run = 0;
        let mut best = 0;
        let mut previous: Option<usize> = None;
        for (minute, cell) in &with_data {
            if cell.verdict >= level {
                run = if previous.is_some_and(|p| p + 1 == *minute) {
                    run + 1
                } else {
                    1
                };
                best = best.max(run);
                previous = Some(*minute);
            } else {
                run = 0;
                previous = None;
            }
        }
        hits > 0 && (best >= sustained.consecutive_minutes || share > sustained.share_of_minutes)
    };
    let verdict = if with_data.is_empty() {
        Verdict::NoData
    } else if at_least(Verdict::Poor) {
        Verdict::Poor
    } else if at_least(Verdict::Fair) {
        Verdict::Fair
    } else {
        Verdict::Good
    };
    let worst: Vec<(usize, &Cell)> = with_data
        .iter()
        .filter(|(_, c)| verdict > Verdict::Good && c.verdict >= verdict)
        .copied()
        .collect();
    let mut counts: BTreeMap<Metric, usize> = BTreeMap::new();
    for (_, cell) in &worst {
        if let Some(metric) = cell.metric {
            *counts.entry(metric).or_default() += 1;
        }
    }
    let metric = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(m, _)| *m);
    StreamVerdict {
        kind,
        verdict,
        metric,
        minutes_with_data: with_data.len(),
        poor_minutes: with_data
            .iter()
            .filter(|(_, c)| c.verdict == Verdict::Poor)
            .count(),
        fair_minutes: with_data
            .iter()
            .filter(|(_, c)| c.verdict == Verdict::Fair)
            .count(),
        worst_minutes: worst.iter().map(|(m, _)| *m).collect(),
    }
}

/// Classifies a participant session, with minute 0 at `origin` (the meeting's start, so sessions of
/// one meeting line up).
#[must_use]
pub fn session_quality(
    session: &MediaSession,
    origin: DateTime<Utc>,
    thresholds: &Thresholds,
) -> SessionQuality {
    let mut timelines = BTreeMap::new();
    let mut verdicts = Vec::new();
    for kind in StreamKind::ALL {
        let limits = kind.limits(thresholds);
        let (incoming, outgoing) = match kind {
            StreamKind::Audio => (&session.audio_in, &session.audio_out),
            StreamKind::Video => (&session.video_in, &session.video_out),
            StreamKind::Share => (&session.share_in, &session.share_out),
        };
        let mut combined = cells(incoming, limits, origin);
        combined.merge_worst(&cells(outgoing, limits, origin));
        verdicts.push(stream_verdict(kind, &combined, &thresholds.sustained));
        timelines.insert(kind, combined);
    }
    SessionQuality {
        origin,
        timelines,
        verdicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webex::model::parse_qualities;

    fn fixture() -> Vec<MediaSession> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/webex/meeting-qualities-3-participants.json"
        );
        parse_qualities(&std::fs::read(path).unwrap())
            .unwrap()
            .items
    }

    fn origin() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-02T14:01:12Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_worst_metric_decides_an_interval() {
        let limits = Thresholds::default().audio;
        let sample = Sample {
            packet_loss: Some(0.5),
            latency: Some(620.0),
            jitter: Some(20.0),
            ..Sample::default()
        };
        let cell = classify(&sample, &limits);
        assert_eq!(
            (cell.verdict, cell.metric),
            (Verdict::Poor, Some(Metric::Latency))
        );
        let clean = classify(
            &Sample {
                packet_loss: Some(0.0),
                latency: Some(40.0),
                ..Sample::default()
            },
            &limits,
        );
        assert_eq!((clean.verdict, clean.metric), (Verdict::Good, None));
        let empty = classify(&Sample::default(), &limits);
        assert_eq!(empty.verdict, Verdict::NoData, "no data is not good");
        let video = Thresholds::default().video;
        let slow = classify(
            &Sample {
                frame_rate: Some(5.0),
                packet_loss: Some(0.0),
                ..Sample::default()
            },
            &video,
        );
        assert_eq!(
            (slow.verdict, slow.metric),
            (Verdict::Poor, Some(Metric::FrameRate))
        );
    }

    #[test]
    fn the_fixture_participants_get_the_verdicts_their_networks_deserve() {
        let sessions = fixture();
        let t = Thresholds::default();
        let by_name = |name: &str| {
            let s = sessions
                .iter()
                .find(|s| s.webex_user_name.as_deref() == Some(name))
                .unwrap();
            session_quality(s, origin(), &t)
        };
        let dana = by_name("Dana Whitfield");
        assert_eq!(
            dana.verdict(StreamKind::Audio).unwrap().verdict,
            Verdict::Good
        );
        let marco = by_name("Marco Bellini");
        let audio = marco.verdict(StreamKind::Audio).unwrap();
        assert_eq!(audio.verdict, Verdict::Poor);
        assert!(audio.metric.is_some());
        assert!(audio.poor_minutes >= 3);
        assert_eq!(marco.worst(), Verdict::Poor);
        // Dana shares, she does not receive a share: her sharing verdict comes from shareOut only.
        assert_ne!(
            dana.verdict(StreamKind::Share).unwrap().verdict,
            Verdict::NoData
        );
    }

    #[test]
    fn a_stream_of_sentinels_is_no_data_and_a_minus_one_interval_is_a_gap() {
        let sessions = fixture();
        let marco = sessions
            .iter()
            .find(|s| s.webex_user_name.as_deref() == Some("Marco Bellini"))
            .unwrap();
        let video_in = cells(&marco.video_in, &Thresholds::default().video, origin());
        // Interval 6 has -1 for loss, latency and jitter: missing, judged by its frame rate alone.
        let gaps: Vec<_> = video_in
            .iter()
            .map(|(_, c)| c)
            .filter(|c| c.sample.packet_loss.is_none())
            .collect();
        assert_eq!(gaps.len(), 1);
        assert_eq!(
            (gaps[0].sample.latency, gaps[0].sample.jitter),
            (None, None)
        );
        assert_eq!(
            (gaps[0].verdict, gaps[0].metric),
            (Verdict::Fair, Some(Metric::FrameRate))
        );
        let mut silent = marco.clone();
        for s in silent
            .audio_in
            .iter_mut()
            .chain(silent.audio_out.iter_mut())
        {
            for v in s
                .packet_loss
                .iter_mut()
                .chain(s.latency.iter_mut())
                .chain(s.jitter.iter_mut())
            {
                *v = None;
            }
        }
        let q = session_quality(&silent, origin(), &Thresholds::default());
        assert_eq!(
            q.verdict(StreamKind::Audio).unwrap().verdict,
            Verdict::NoData
        );
    }

    #[test]
    fn one_bad_minute_is_not_a_poor_session_but_three_in_a_row_are() {
        let s = Sustained {
            consecutive_minutes: 3,
            share_of_minutes: 0.10,
        };
        let cell = |v: Verdict| Cell {
            verdict: v,
            metric: (v > Verdict::Good).then_some(Metric::PacketLoss),
            sample: Sample::default(),
        };
        let mut minutes: Timeline = (0..40).map(|m| (m, cell(Verdict::Good))).collect();
        minutes.keep_worst(7, cell(Verdict::Poor));
        assert_eq!(
            stream_verdict(StreamKind::Audio, &minutes, &s).verdict,
            Verdict::Good
        );
        minutes.keep_worst(8, cell(Verdict::Poor));
        minutes.keep_worst(9, cell(Verdict::Poor));
        let v = stream_verdict(StreamKind::Audio, &minutes, &s);
        assert_eq!(
            (v.verdict, v.metric, v.worst_minutes),
            (Verdict::Poor, Some(Metric::PacketLoss), vec![7, 8, 9])
        );
    }
}
