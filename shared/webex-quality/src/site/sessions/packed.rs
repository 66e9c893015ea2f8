//! Sessions' summaries packed into bytes: the render cache holds one per session of the whole
//! history for the whole build, and a [`SessionSummary`] of plain fields is 120 bytes where its
//! packed form is about 40 (small integers in as few bytes as they need; the fields that are almost
//! always the same, such as "no CPU reported", in one flag byte). Pages read them back one at a
//! time, by value, as they go through a meeting's sessions. A render moves each meeting's packed
//! bytes to its spill file with the meeting's summary (`render_cache::HeldSummary`), and reads them
//! back with it.
//!
//! Text formats get the readable form (a list of [`SessionSummary`]); binary ones (the render
//! cache's records) the packed bytes themselves, checked session by session when read.

use chrono::{DateTime, Utc};
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{SessionSummary, StreamSummary};
use crate::quality::headline::Minutes;
use crate::quality::{Metric, StreamKind, Verdict};
use crate::site::texts::Text;

/// A meeting's sessions, packed. Read with [`PackedSessions::iter`].
#[derive(Clone, PartialEq, Eq)]
pub struct PackedSessions {
    count: u32,
    /// The worst verdict of any session's stream (lists show it without reading the sessions).
    worst: Verdict,
    bytes: Box<[u8]>,
}

impl Default for PackedSessions {
    fn default() -> Self {
        Self {
            count: 0,
            worst: Verdict::NoData,
            bytes: Box::default(),
        }
    }
}

impl std::fmt::Debug for PackedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PackedSessions {
    /// How many sessions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The worst verdict of any session's stream ([`Verdict::NoData`] without sessions).
    #[must_use]
    pub fn worst(&self) -> Verdict {
        self.worst
    }

    /// The sessions, in order, each read back whole.
    #[must_use]
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            at: 0,
        }
    }

    /// The session at `index` (read past the ones before it: a meeting has tens, and a person's
    /// page asks for one session of each of their meetings).
    #[must_use]
    pub fn get(&self, index: usize) -> Option<SessionSummary> {
        self.iter().nth(index)
    }

    /// The packed bytes (what the render's spill file keeps of them).
    pub(crate) fn packed(&self) -> &[u8] {
        &self.bytes
    }

    /// Sessions from what [`PackedSessions::len`], [`PackedSessions::worst`] and
    /// [`PackedSessions::packed`] gave (kept in the render's spill file, not checked again here:
    /// each session is checked as it is read).
    pub(crate) fn from_parts(count: u32, worst: Verdict, bytes: Box<[u8]>) -> Self {
        Self {
            count,
            worst,
            bytes,
        }
    }

    /// Each text of each session replaced by what `remap` makes of it.
    pub fn remap_texts(&mut self, remap: &mut dyn FnMut(Text) -> Text) {
        *self = self
            .iter()
            .map(|mut s| {
                for text in s.texts_mut() {
                    *text = remap(*text);
                }
                s
            })
            .collect();
    }
}

impl FromIterator<SessionSummary> for PackedSessions {
    fn from_iter<I: IntoIterator<Item = SessionSummary>>(sessions: I) -> Self {
        let mut packer = Packer::default();
        for s in sessions {
            packer.push(&s);
        }
        packer.finish()
    }
}

impl PackedSessions {
    /// Packed `bytes` as [`Packer`] wrote them, if they are: every session reads back whole and
    /// nothing is left over.
    /// Sessions from their packed `bytes` ([`PackedSessions::packed`]), each checked as it is
    /// read; `None` when they are damaged.
    pub(crate) fn from_packed(bytes: Box<[u8]>) -> Option<Self> {
        let mut sessions = Iter {
            bytes: &bytes,
            at: 0,
        };
        let mut count = 0u32;
        let mut worst = Verdict::NoData;
        while sessions.at < sessions.bytes.len() {
            worst = worst.max(sessions.session()?.worst());
            count = count.checked_add(1)?;
        }
        Some(Self {
            count,
            worst,
            bytes,
        })
    }
}

impl Serialize for PackedSessions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_seq(self.iter())
        } else {
            serializer.serialize_bytes(&self.bytes)
        }
    }
}

impl<'de> Deserialize<'de> for PackedSessions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Sessions;
        impl<'de> Visitor<'de> for Sessions {
            type Value = PackedSessions;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of session summaries")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PackedSessions, A::Error> {
                // Packed as they are read: no list of full summaries is ever held.
                let mut packer = Packer::default();
                while let Some(session) = seq.next_element::<SessionSummary>()? {
                    packer.push(&session);
                }
                Ok(packer.finish())
            }
        }
        struct Packed;
        impl Visitor<'_> for Packed {
            type Value = PackedSessions;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("packed session summaries")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<PackedSessions, E> {
                PackedSessions::from_packed(bytes.into())
                    .ok_or_else(|| E::custom("damaged packed session summaries"))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_seq(Sessions)
        } else {
            deserializer.deserialize_bytes(Packed)
        }
    }
}

const JOIN: u8 = 1;
const LEAVE: u8 = 2;
const PRESENTER: u8 = 4;
const CPU: u8 = 8;

#[derive(Default)]
struct Packer {
    count: u32,
    worst: Option<Verdict>,
    bytes: Vec<u8>,
}

impl Packer {
    fn push(&mut self, s: &SessionSummary) {
        let flags = [
            (s.join.is_some(), JOIN),
            (s.leave.is_some(), LEAVE),
            (s.presenter, PRESENTER),
            (s.cpu.is_some(), CPU),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0, |flags, (_, flag)| flags | flag);
        self.bytes.push(flags);
        for text in s.texts() {
            self.number(u64::from(text.index()));
        }
        // The join in seconds since 1970, the leave in seconds after the join (or after 1970
        // without a join): a session's hour takes two bytes, not five.
        let mut base = 0;
        for time in [s.join, s.leave].into_iter().flatten() {
            let seconds = time.timestamp();
            self.signed(seconds.saturating_sub(base));
            base = seconds;
            // Milliseconds, as Webex gives them, in fewer bytes than nanoseconds; the lowest bit
            // says which.
            let nanos = time.timestamp_subsec_nanos();
            if nanos % 1_000_000 == 0 {
                self.number(u64::from(nanos / 1_000_000) << 1);
            } else {
                self.number(u64::from(nanos) << 1 | 1);
            }
        }
        if let Some(cpu) = s.cpu {
            self.bytes.push(cpu);
        }
        for stream in &s.streams {
            self.bytes.push(
                kind_code(stream.kind)
                    | verdict_code(stream.verdict) << 2
                    | stream.metric.map_or(0, metric_code) << 4,
            );
            self.number(u64::from(stream.poor_minutes));
        }
        for minutes in [s.minutes.with_data, s.minutes.fair, s.minutes.poor] {
            self.number(u64::from(minutes));
        }
        self.count = self.count.saturating_add(1);
        self.worst = self.worst.max(Some(s.worst()));
    }

    /// Zigzag: small magnitudes of either sign take few bytes.
    fn signed(&mut self, n: i64) {
        #[allow(clippy::cast_sign_loss)]
        self.number(((n << 1) ^ (n >> 63)) as u64);
    }

    /// LEB128: seven bits a byte, the high bit set on every byte but the last.
    fn number(&mut self, mut n: u64) {
        while n >= 0x80 {
            #[allow(clippy::cast_possible_truncation)]
            self.bytes.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        #[allow(clippy::cast_possible_truncation)]
        self.bytes.push(n as u8);
    }

    fn finish(self) -> PackedSessions {
        PackedSessions {
            count: self.count,
            worst: self.worst.unwrap_or(Verdict::NoData),
            // Exactly the bytes written: no spare room kept for each meeting of the history.
            bytes: self.bytes.into_boxed_slice(),
        }
    }
}

/// [`PackedSessions::iter`]: reads one session after the other.
pub struct Iter<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Iterator for Iter<'_> {
    type Item = SessionSummary;

    fn next(&mut self) -> Option<SessionSummary> {
        self.session()
    }
}

impl Iter<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn number(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn small(&mut self) -> Option<u32> {
        u32::try_from(self.number()?).ok()
    }

    fn signed(&mut self) -> Option<i64> {
        let zigzag = self.number()?;
        #[allow(clippy::cast_possible_wrap)]
        Some((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    /// A time packed after `base` (seconds since 1970); it becomes the next one's base.
    fn time(&mut self, base: &mut i64) -> Option<DateTime<Utc>> {
        let seconds = base.checked_add(self.signed()?)?;
        *base = seconds;
        let sub = self.number()?;
        let nanos = if sub & 1 == 0 {
            (sub >> 1).checked_mul(1_000_000)?
        } else {
            sub >> 1
        };
        DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?)
    }

    fn session(&mut self) -> Option<SessionSummary> {
        let flags = self.byte()?;
        let mut s = SessionSummary::default();
        for text in s.texts_mut() {
            *text = Text::at(self.small()?);
        }
        let mut base = 0;
        if flags & JOIN != 0 {
            s.join = Some(self.time(&mut base)?);
        }
        if flags & LEAVE != 0 {
            s.leave = Some(self.time(&mut base)?);
        }
        if flags & CPU != 0 {
            s.cpu = Some(self.byte()?);
        }
        for stream in &mut s.streams {
            let code = self.byte()?;
            *stream = StreamSummary {
                kind: *KINDS.get(usize::from(code & 3))?,
                verdict: *VERDICTS.get(usize::from(code >> 2 & 3))?,
                metric: match code >> 4 {
                    0 => None,
                    m => Some(*METRICS.get(usize::from(m - 1))?),
                },
                poor_minutes: self.small()?,
            };
        }
        s.minutes = Minutes {
            with_data: self.small()?,
            fair: self.small()?,
            poor: self.small()?,
        };
        s.presenter = flags & PRESENTER != 0;
        Some(s)
    }
}

const KINDS: [StreamKind; 3] = StreamKind::ALL;
const VERDICTS: [Verdict; 4] = [Verdict::NoData, Verdict::Good, Verdict::Fair, Verdict::Poor];
const METRICS: [Metric; 4] = [
    Metric::PacketLoss,
    Metric::Latency,
    Metric::Jitter,
    Metric::FrameRate,
];

/// Matches, not positions, so that a new variant cannot be packed as another one.
fn kind_code(kind: StreamKind) -> u8 {
    match kind {
        StreamKind::Audio => 0,
        StreamKind::Video => 1,
        StreamKind::Share => 2,
    }
}

fn verdict_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::NoData => 0,
        Verdict::Good => 1,
        Verdict::Fair => 2,
        Verdict::Poor => 3,
    }
}

fn metric_code(metric: Metric) -> u8 {
    match metric {
        Metric::PacketLoss => 1,
        Metric::Latency => 2,
        Metric::Jitter => 3,
        Metric::FrameRate => 4,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn time() -> impl Strategy<Value = Option<DateTime<Utc>>> {
        // Any second chrono can hold, either side of 1970, with any nanosecond or to the
        // millisecond (packed another way).
        let nanos = prop_oneof![
            0u32..1_000_000_000,
            (0u32..1_000).prop_map(|ms| ms * 1_000_000)
        ];
        proptest::option::of(
            (-8_000_000_000_000i64..8_000_000_000_000, nanos)
                .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap()),
        )
    }

    fn stream() -> impl Strategy<Value = StreamSummary> {
        (
            0..3usize,
            0..4usize,
            proptest::option::of(0..4usize),
            any::<u32>(),
        )
            .prop_map(|(k, v, m, poor_minutes)| StreamSummary {
                kind: KINDS[k],
                verdict: VERDICTS[v],
                metric: m.map(|m| METRICS[m]),
                poor_minutes,
            })
    }

    fn session() -> impl Strategy<Value = SessionSummary> {
        (
            proptest::array::uniform12(any::<u32>()),
            (time(), time()),
            proptest::array::uniform3(stream()),
            any::<[u32; 3]>(),
            (any::<bool>(), any::<Option<u8>>()),
        )
            .prop_map(
                |(texts, (join, leave), streams, [with_data, fair, poor], (presenter, cpu))| {
                    let mut s = SessionSummary {
                        join,
                        leave,
                        streams,
                        minutes: Minutes {
                            with_data,
                            fair,
                            poor,
                        },
                        presenter,
                        cpu,
                        ..SessionSummary::default()
                    };
                    for (text, index) in s.texts_mut().into_iter().zip(texts) {
                        *text = Text::at(index);
                    }
                    s
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        #[test]
        fn any_sessions_come_back_from_their_packed_form_exactly(
            sessions in proptest::collection::vec(session(), 0..6)
        ) {
            let packed: PackedSessions = sessions.iter().cloned().collect();
            prop_assert_eq!(packed.len(), sessions.len());
            prop_assert_eq!(&packed.iter().collect::<Vec<_>>(), &sessions);
            for (index, original) in sessions.iter().enumerate() {
                prop_assert_eq!(packed.get(index), Some(original.clone()));
            }
            prop_assert_eq!(packed.get(sessions.len()), None);
            let worst = sessions.iter().map(SessionSummary::worst).max();
            prop_assert_eq!(packed.worst(), worst.unwrap_or(Verdict::NoData));
            // Text formats get the readable form, and it reads back into the same bytes.
            let json = serde_json::to_string(&packed).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&sessions).unwrap());
            prop_assert_eq!(&serde_json::from_str::<PackedSessions>(&json).unwrap(), &packed);
            // Binary ones the packed bytes, as they are.
            let binary = postcard::to_allocvec(&packed).unwrap();
            prop_assert!(binary.ends_with(packed.packed()));
            prop_assert_eq!(&postcard::from_bytes::<PackedSessions>(&binary).unwrap(), &packed);
            // Cut short anywhere but between two sessions, they are refused.
            let ends: Vec<usize> = (0..=sessions.len())
                .map(|n| sessions[..n].iter().cloned().collect::<PackedSessions>().packed().len())
                .collect();
            for end in 0..packed.packed().len() {
                let cut = PackedSessions::from_packed(packed.packed()[..end].into());
                prop_assert_eq!(cut.is_some(), ends.contains(&end), "cut at {}", end);
            }
        }
    }

    #[test]
    fn every_variant_has_its_own_code_and_a_usual_session_packs_into_a_third() {
        for (i, kind) in KINDS.iter().enumerate() {
            assert_eq!(usize::from(kind_code(*kind)), i);
        }
        for (i, verdict) in VERDICTS.iter().enumerate() {
            assert_eq!(usize::from(verdict_code(*verdict)), i);
        }
        for (i, metric) in METRICS.iter().enumerate() {
            assert_eq!(usize::from(metric_code(*metric)), i + 1);
        }
        // A session as the simulator's day has them: texts among the first few thousand of the
        // table, an hour's join and leave to the millisecond, two streams judged.
        let join = DateTime::from_timestamp(1_795_000_000, 123_000_000);
        let mut s = SessionSummary {
            person: Text::at(4_000),
            name: Text::at(4_001),
            email: Text::at(4_002),
            client_type: Text::at(3),
            client_version: Text::at(4),
            os_type: Text::at(5),
            os_version: Text::at(6),
            hardware: Text::at(7),
            network_type: Text::at(8),
            server_region: Text::at(9),
            transport: Text::at(10),
            join,
            leave: join.map(|t| t + chrono::Duration::minutes(58)),
            streams: KINDS.map(|kind| StreamSummary {
                kind,
                verdict: Verdict::Fair,
                metric: Some(Metric::Jitter),
                poor_minutes: 3,
            }),
            minutes: Minutes {
                with_data: 58,
                fair: 10,
                poor: 3,
            },
            presenter: true,
            cpu: Some(40),
            office: Text::NONE,
        };
        s.streams[2].verdict = Verdict::NoData;
        let packed: PackedSessions = std::iter::once(s.clone()).collect();
        assert_eq!(packed.iter().next(), Some(s));
        assert!(
            packed.packed().len() * 3 <= std::mem::size_of::<SessionSummary>(),
            "{} bytes packed",
            packed.packed().len()
        );
    }
}
