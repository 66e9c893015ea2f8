//! The per-minute media figures of one participant session: a network path with drifting round trip
//! and jitter and congestion episodes, and each stream's values through it.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use serde::Serialize;

use super::NetworkQuality;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    Audio,
    Video,
    Share,
}

pub(super) fn ms(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whole minutes from `from` to `to` (at least 0).
fn minutes(from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
    usize::try_from((to - from).num_seconds().max(0) / 60).unwrap_or(0)
}

/// A stream's value that drifts: each minute it moves a little towards its usual level (an AR(1)
/// walk), so consecutive minutes look alike, as measured figures do.
struct Drift {
    level: f64,
    value: f64,
    spread: f64,
}

impl Drift {
    fn new(level: f64, spread: f64) -> Self {
        Self {
            level,
            value: level,
            spread,
        }
    }

    fn next(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        let noise = (rng.gen_range(-1.0..1.0) + rng.gen_range(-1.0..1.0)) * self.spread;
        self.value = self.level + 0.8 * (self.value - self.level) + noise;
        self.value.max(0.0)
    }
}

/// What the network does during one participant session: its usual round trip and jitter, and
/// congestion episodes that every stream of the session lives through. Video suffers an episode
/// first (more packets, so more loss, and its frame rate drops), audio less, sharing only while
/// someone shares.
pub(super) struct Path {
    seed: u64,
    latency: f64,
    jitter: f64,
    /// Minutes from the session's join and how bad (about 0.2 mild to 1.5 severe).
    episodes: Vec<(usize, usize, f64)>,
    join: DateTime<Utc>,
    /// TCP from this minute of the session on (a bad network falling back from UDP).
    tcp_from: Option<usize>,
    quality: NetworkQuality,
    /// Minutes from the session's join of a server region incident: every stream's round trip
    /// jumps.
    incident: Option<(usize, usize)>,
}

impl Path {
    pub(super) fn new(
        seed: u64,
        quality: NetworkQuality,
        network: &str,
        join: DateTime<Utc>,
        leave: DateTime<Utc>,
        tcp_fallback: bool,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7061_7468);
        let n = minutes(join, leave);
        let (latency, jitter) = match network {
            "cellular" => (rng.gen_range(60.0..130.0), rng.gen_range(6.0..12.0)),
            "wifi" => (rng.gen_range(35.0..90.0), rng.gen_range(3.0..9.0)),
            _ => (rng.gen_range(20.0..60.0), rng.gen_range(1.0..4.0)),
        };
        let (latency, jitter, per_hour, severity) = match quality {
            // A good network has a rare, mild episode; a moderate one a few a meeting, some bad.
            NetworkQuality::Good => (latency, jitter, 0.15, 0.15..0.5),
            NetworkQuality::Moderate => (latency * 1.4, jitter * 1.5, 0.8, 0.3..1.1),
            // Always bad: jitter past the poor limit, long round trips, frequent episodes.
            NetworkQuality::Bad => (latency * 2.0 + 120.0, jitter * 2.0 + 18.0, 4.0, 0.6..1.6),
        };
        let mut episodes = Vec::new();
        let mut minute = 0;
        while n > 0 && minute < n {
            // Minutes until the next episode: geometric, `per_hour` on average.
            let gap = (-(1.0 - rng.gen_range(0.0..1.0_f64)).ln() * 60.0 / per_hour) as usize;
            minute += gap.max(1);
            if minute >= n {
                break;
            }
            let length = rng.gen_range(1..if quality == NetworkQuality::Bad { 9 } else { 5 });
            episodes.push((
                minute,
                (minute + length).min(n),
                rng.gen_range(severity.clone()),
            ));
            minute += length;
        }
        let tcp_from = (tcp_fallback && n >= 4).then(|| rng.gen_range(n / 2..n));
        Self {
            seed,
            latency,
            jitter,
            episodes,
            join,
            tcp_from,
            quality,
            incident: None,
        }
    }

    /// A server region incident from `from` to `to` during the session.
    pub(super) fn add_incident(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) {
        let start = if from > self.join {
            minutes(self.join, from)
        } else {
            0
        };
        self.incident = Some((start, minutes(self.join, to)));
    }

    /// Extra round trip in minute `i` of the session (ms): an incident's.
    fn incident_latency(&self, i: usize) -> f64 {
        match self.incident {
            Some((from, to)) if (from..to).contains(&i) => 560.0,
            _ => 0.0,
        }
    }

    /// How bad the network is in minute `i` of the session (0: no episode).
    fn congestion(&self, i: usize) -> f64 {
        self.episodes
            .iter()
            .find(|(from, to, _)| (*from..*to).contains(&i))
            .map_or(0.0, |(_, _, severity)| *severity)
    }

    /// One stream from `from` to `to` as known at `data_end` (cut there), in segments split where
    /// the transport changes. `tag` tells the session's streams apart.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stream(
        &self,
        media: Media,
        tag: u64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        data_end: DateTime<Utc>,
        camera_off: bool,
        cpu_bound: bool,
    ) -> Vec<MediaSegment> {
        let total = minutes(from, to);
        let known = minutes(from, to.min(data_end));
        if known == 0 {
            return Vec::new();
        }
        let offset = minutes(self.join, from);
        // TCP fallback concerns audio and video, not sharing.
        let split = self
            .tcp_from
            .filter(|_| media != Media::Share)
            .and_then(|at| at.checked_sub(offset))
            .filter(|at| *at > 0 && *at < total);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ (tag << 40));
        let mut values = StreamValues::new(media, self, &mut rng);
        let bounds: Vec<(usize, usize, &str)> = match split {
            Some(at) => vec![(0, at, "UDP"), (at, total, "TCP")],
            None => vec![(0, total, "UDP")],
        };
        bounds
            .into_iter()
            .filter(|(a, _, _)| *a < known)
            .map(|(a, b, transport)| {
                let mut seg = MediaSegment {
                    sampling_interval: 60,
                    start_time: ms(from + Duration::minutes(a as i64)),
                    end_time: ms(from + Duration::minutes(b.min(known) as i64)),
                    codec: match media {
                        Media::Audio => "Opus",
                        _ => "H.264 BP",
                    }
                    .into(),
                    transport_type: transport.into(),
                    ..MediaSegment::default()
                };
                for i in a..b.min(known) {
                    let congestion = self.congestion(offset + i);
                    let extra = self.incident_latency(offset + i);
                    values.push(
                        &mut seg,
                        &mut rng,
                        (congestion, extra),
                        camera_off,
                        cpu_bound,
                    );
                }
                seg
            })
            .collect()
    }

    pub(super) fn cpu(&self, from: DateTime<Utc>, to: DateTime<Utc>, cpu_bound: bool) -> CpuSample {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x0063_7075);
        let n = minutes(from, to).div_ceil(10);
        let mut load = if cpu_bound {
            Drift::new(92.0, 3.0)
        } else {
            Drift::new(rng.gen_range(6.0..22.0), 2.0)
        };
        let mut cpu = CpuSample::default();
        for _ in 0..n {
            let base = (load.next(&mut rng).round() as i64).clamp(1, 100);
            cpu.process_average_cpu.push(base);
            cpu.process_max_cpu.push((base * 2).min(100));
            cpu.system_average_cpu.push((base + 15).min(100));
            cpu.system_max_cpu.push((base + 35).min(100));
        }
        cpu
    }
}

/// The drifting figures of one stream.
struct StreamValues {
    media: Media,
    latency: Drift,
    jitter: Drift,
    bit_rate: Drift,
    frame_rate: f64,
    height: i64,
    /// Minutes with a little loss outside episodes: a share of minutes.
    blips: f64,
    quality: NetworkQuality,
}

impl StreamValues {
    fn new(media: Media, path: &Path, rng: &mut ChaCha8Rng) -> Self {
        let (bit_rate, spread) = match media {
            Media::Audio => (*[32.0, 48.0, 64.0].choose(rng).unwrap_or(&48.0), 1.0),
            Media::Video => (rng.gen_range(900.0..2200.0), 60.0),
            Media::Share => (rng.gen_range(300.0..1200.0), 40.0),
        };
        let (frame_rate, height) = match media {
            Media::Audio => (0.0, 0),
            Media::Video => (30.0, *[720, 720, 540].choose(rng).unwrap_or(&720)),
            Media::Share => (rng.gen_range(5.0..8.0), 1080),
        };
        Self {
            media,
            latency: Drift::new(path.latency, path.latency / 30.0),
            jitter: Drift::new(path.jitter, (path.jitter / 6.0).max(0.4)),
            bit_rate: Drift::new(bit_rate, spread),
            frame_rate,
            height,
            blips: match path.quality {
                NetworkQuality::Good => 0.03,
                NetworkQuality::Moderate => 0.12,
                NetworkQuality::Bad => 0.3,
            },
            quality: path.quality,
        }
    }

    /// One minute's values, in a network `congestion` (0 none, about 1 severe).
    fn push(
        &mut self,
        seg: &mut MediaSegment,
        rng: &mut ChaCha8Rng,
        (congestion, incident_latency): (f64, f64),
        camera_off: bool,
        cpu_bound: bool,
    ) {
        let video = self.media != Media::Audio;
        if camera_off || rng.gen_bool(0.01) {
            seg.packet_loss.push(-1.0);
            seg.latency.push(-1);
            seg.jitter.push(-1);
            seg.media_bit_rate.push(-1);
            if video {
                seg.resolution_height.push(-1);
                seg.frame_rate.push(-1.0);
            }
            return;
        }
        // Video sends many more packets than audio: an episode costs it more loss.
        let loss_scale = match self.media {
            Media::Audio => 6.0,
            Media::Video => 14.0,
            Media::Share => 8.0,
        };
        let loss = if congestion > 0.0 {
            congestion * loss_scale * rng.gen_range(0.5..1.3)
        } else if rng.gen_bool(self.blips) {
            rng.gen_range(
                0.1..if self.quality == NetworkQuality::Good {
                    0.6
                } else {
                    2.5
                },
            )
        } else {
            0.0
        };
        seg.packet_loss.push((loss * 10.0).round() / 10.0);
        let latency = self.latency.next(rng) + congestion * 220.0 + incident_latency;
        seg.latency.push(latency.round() as i64);
        let jitter = self.jitter.next(rng) + congestion * 28.0;
        seg.jitter.push(jitter.round() as i64);
        let bit_rate = self.bit_rate.next(rng) * (1.0 - 0.5 * congestion.min(1.0));
        seg.media_bit_rate.push(bit_rate.round().max(1.0) as i64);
        if video {
            let mut fps = self.frame_rate * (1.0 - 0.75 * congestion.min(1.2));
            if cpu_bound {
                fps = fps.min(rng.gen_range(4.0..9.0));
            }
            let fps = if self.media == Media::Video && congestion == 0.0 && !cpu_bound {
                // Steady video: 30 fps, now and then a dropped frame.
                if rng.gen_bool(0.1) { 29.0 } else { 30.0 }
            } else {
                (fps.max(0.5) * 100.0).round() / 100.0
            };
            seg.frame_rate.push(fps);
            let height = if self.media == Media::Video && congestion > 0.6 {
                360.min(self.height)
            } else {
                self.height
            };
            seg.resolution_height.push(height);
        }
    }
}

/// One media stream segment.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct MediaSegment {
    pub sampling_interval: u32,
    pub start_time: String,
    pub end_time: String,
    pub packet_loss: Vec<f64>,
    pub latency: Vec<i64>,
    pub resolution_height: Vec<i64>,
    pub frame_rate: Vec<f64>,
    pub media_bit_rate: Vec<i64>,
    pub codec: String,
    pub jitter: Vec<i64>,
    pub transport_type: String,
}

/// CPU samples.
#[derive(Debug, Clone, Default, Serialize)]
#[allow(missing_docs)]
pub struct CpuSample {
    #[serde(rename = "processAverageCPU")]
    pub process_average_cpu: Vec<i64>,
    #[serde(rename = "processMaxCPU")]
    pub process_max_cpu: Vec<i64>,
    #[serde(rename = "systemAverageCPU")]
    pub system_average_cpu: Vec<i64>,
    #[serde(rename = "systemMaxCPU")]
    pub system_max_cpu: Vec<i64>,
}
