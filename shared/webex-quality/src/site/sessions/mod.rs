//! A participant session as the list-type pages see it ([`SessionSummary`]: who, on what client and
//! network, each stream's verdict), and the compact form the render cache holds every session of
//! the history in ([`PackedSessions`]).

mod packed;
mod spill;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use self::packed::PackedSessions;
pub(crate) use self::spill::Spilled;
pub use self::spill::{Spill, SpillError};
use super::offices::Offices;
use super::texts::{Text, Texts};
use crate::quality::headline::Minutes;
use crate::quality::{Metric, ParticipantSession, StreamKind, Verdict};

/// One stream's verdict over a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSummary {
    /// Audio, video or sharing.
    pub kind: StreamKind,
    /// The verdict.
    pub verdict: Verdict,
    /// The metric that decided it.
    pub metric: Option<Metric>,
    /// Intervals judged poor (`u32`, not `usize`: the cache holds three per session of the
    /// history, and half the struct's bytes went to this count).
    pub poor_minutes: u32,
}

/// One participant session, as list-type pages show it. Its strings are [`Text`]s of the render
/// cache's table ([`super::render_cache::RenderCache::texts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The person's key: the lower-cased email, or `name:` and the name for guests without one.
    pub person: Text,
    /// Name.
    pub name: Text,
    /// Email, unmasked (masking happens when a page is rendered).
    pub email: Text,
    /// Client type.
    pub client_type: Text,
    /// Client version.
    pub client_version: Text,
    /// Operating system.
    pub os_type: Text,
    /// Its version.
    #[serde(default)]
    pub os_version: Text,
    /// Hardware.
    #[serde(default)]
    pub hardware: Text,
    /// Network type.
    pub network_type: Text,
    /// Server region.
    pub server_region: Text,
    /// Transport(s).
    pub transport: Text,
    /// Joined.
    pub join: Option<DateTime<Utc>>,
    /// Left; `None` while still in the meeting.
    pub leave: Option<DateTime<Utc>>,
    /// Verdict per stream kind, in [`StreamKind::ALL`]'s order (no data for a stream that did not
    /// appear). Inline rather than a vector: one allocation fewer per session held in the cache.
    pub streams: [StreamSummary; 3],
    /// Minutes with data, fair and poor (the worst stream of each minute).
    #[serde(default)]
    pub minutes: Minutes,
    /// Sent a sharing stream.
    #[serde(default)]
    pub presenter: bool,
    /// The machine's average CPU over the session, percent, when reported.
    #[serde(default)]
    pub cpu: Option<u8>,
    /// The office it joined from ([`super::offices`]); empty when no office is configured.
    #[serde(default)]
    pub office: Text,
}

/// No texts, no times, no stream with data.
impl Default for SessionSummary {
    fn default() -> Self {
        Self {
            person: Text::NONE,
            name: Text::NONE,
            email: Text::NONE,
            client_type: Text::NONE,
            client_version: Text::NONE,
            os_type: Text::NONE,
            os_version: Text::NONE,
            hardware: Text::NONE,
            network_type: Text::NONE,
            server_region: Text::NONE,
            transport: Text::NONE,
            join: None,
            leave: None,
            streams: StreamKind::ALL.map(|kind| StreamSummary {
                kind,
                verdict: Verdict::NoData,
                metric: None,
                poor_minutes: 0,
            }),
            minutes: Minutes::default(),
            presenter: false,
            cpu: None,
            office: Text::NONE,
        }
    }
}

impl SessionSummary {
    /// The worst stream verdict.
    #[must_use]
    pub fn worst(&self) -> Verdict {
        self.streams
            .iter()
            .map(|s| s.verdict)
            .max()
            .unwrap_or(Verdict::NoData)
    }

    /// The verdict of one stream kind.
    #[must_use]
    pub fn stream(&self, kind: StreamKind) -> Option<&StreamSummary> {
        self.streams.iter().find(|s| s.kind == kind)
    }

    /// Its texts, in a fixed order ([`SessionSummary::texts_mut`]'s).
    #[must_use]
    pub fn texts(&self) -> [Text; 12] {
        [
            self.person,
            self.name,
            self.email,
            self.client_type,
            self.client_version,
            self.os_type,
            self.os_version,
            self.hardware,
            self.network_type,
            self.server_region,
            self.transport,
            self.office,
        ]
    }

    /// Its texts, to change, in [`SessionSummary::texts`]'s order.
    pub fn texts_mut(&mut self) -> [&mut Text; 12] {
        [
            &mut self.person,
            &mut self.name,
            &mut self.email,
            &mut self.client_type,
            &mut self.client_version,
            &mut self.os_type,
            &mut self.os_version,
            &mut self.hardware,
            &mut self.network_type,
            &mut self.server_region,
            &mut self.transport,
            &mut self.office,
        ]
    }
}

/// The summary of an analysed session, its strings added to `texts`.
pub(super) fn summary(
    s: &ParticipantSession,
    texts: &mut Texts,
    offices: &Offices,
) -> SessionSummary {
    let m = &s.session;
    SessionSummary {
        office: texts.intern_opt(offices.office(m.local_ip.as_deref(), m.public_ip.as_deref())),
        person: texts.intern(&s.person_key()),
        name: texts.intern_opt(m.webex_user_name.as_deref()),
        email: texts.intern_opt(m.webex_user_email.as_deref()),
        client_type: texts.intern_opt(m.client_type.as_deref()),
        client_version: texts.intern_opt(m.client_version.as_deref()),
        os_type: texts.intern_opt(m.os_type.as_deref()),
        os_version: texts.intern_opt(m.os_version.as_deref()),
        hardware: texts.intern_opt(m.hardware_type.as_deref()),
        network_type: texts.intern_opt(m.network_type.as_deref()),
        server_region: texts.intern_opt(m.server_region.as_deref()),
        transport: texts.intern(&s.transport),
        join: s.join,
        leave: s.leave,
        streams: StreamKind::ALL.map(|kind| {
            let v = s.quality.verdict(kind);
            StreamSummary {
                kind,
                verdict: v.map_or(Verdict::NoData, |v| v.verdict),
                metric: v.and_then(|v| v.metric),
                poor_minutes: v.map_or(0, |v| u32::try_from(v.poor_minutes).unwrap_or(u32::MAX)),
            }
        }),
        minutes: Minutes::of(&s.quality),
        presenter: s.presenter(),
        cpu: s.average_cpu(),
    }
}
