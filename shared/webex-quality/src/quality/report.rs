//! One meeting's participant sessions with their verdicts, read from the raw pages of a call: what a
//! meeting page, a person page and the breakdowns are made of.

use chrono::{DateTime, Utc};

use super::{SessionQuality, Thresholds, Verdict, session_quality};
use crate::webex::MediaSession;
use crate::webex::model::Resources;
use crate::webex::model::parse_qualities;

/// One participant session, its context and its verdicts.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantSession {
    /// The session as Webex described it.
    pub session: MediaSession,
    /// When it joined.
    pub join: Option<DateTime<Utc>>,
    /// When it left; `None` while still in the meeting (Webex sends the epoch then).
    pub leave: Option<DateTime<Utc>>,
    /// `UDP`, `TCP`, or `UDP, TCP` when the session fell back.
    pub transport: String,
    /// The verdicts.
    pub quality: SessionQuality,
}

impl ParticipantSession {
    /// The person's key: the lower-cased email, or `name:` and the name for guests without one
    /// (sessions of one person are one participant).
    #[must_use]
    pub fn person_key(&self) -> String {
        match self
            .session
            .webex_user_email
            .as_deref()
            .filter(|e| !e.is_empty())
        {
            Some(email) => email.to_lowercase(),
            None => format!(
                "name:{}",
                self.session.webex_user_name.as_deref().unwrap_or("")
            ),
        }
    }

    /// Whether the session shared content: it sent a sharing stream with data.
    #[must_use]
    pub fn presenter(&self) -> bool {
        self.session.share_out.iter().any(|segment| {
            segment
                .packet_loss
                .iter()
                .chain(&segment.latency)
                .chain(&segment.frame_rate)
                .any(Option::is_some)
        })
    }

    /// The machine's average CPU over the session, percent: the mean of Webex's
    /// `systemAverageCPU` samples (the process's when the system's are missing); `None` when none
    /// was reported.
    #[must_use]
    pub fn average_cpu(&self) -> Option<u8> {
        let mean = |pick: fn(&Resources) -> &Vec<Option<f64>>| {
            let (sum, n) = self
                .session
                .resources
                .iter()
                .flat_map(|r| pick(r).iter().copied().flatten())
                .filter(|v| (0.0..=100.0).contains(v))
                .fold((0.0, 0_u32), |(sum, n), v| (sum + v, n + 1));
            (n > 0).then(|| sum / f64::from(n))
        };
        let cpu = mean(|r| &r.system_average_cpu).or_else(|| mean(|r| &r.process_average_cpu))?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(cpu.round().clamp(0.0, 100.0) as u8)
    }
}

/// A meeting's sessions, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingReport {
    /// The sessions, in the order Webex listed them.
    pub sessions: Vec<ParticipantSession>,
    /// Pages that were not JSON (kept raw in the database, left out here).
    pub unreadable_pages: usize,
}

impl MeetingReport {
    /// The worst verdict of any session.
    #[must_use]
    pub fn worst(&self) -> Verdict {
        self.sessions
            .iter()
            .map(|s| s.quality.worst())
            .max()
            .unwrap_or(Verdict::NoData)
    }
}

/// Reads the pages of one call (bodies as received) into a report, with minute 0 at the meeting's
/// `start`.
#[must_use]
pub fn meeting_report<'a>(
    bodies: impl IntoIterator<Item = &'a [u8]>,
    start: DateTime<Utc>,
    thresholds: &Thresholds,
) -> MeetingReport {
    let mut report = MeetingReport {
        sessions: Vec::new(),
        unreadable_pages: 0,
    };
    for body in bodies {
        let Ok(page) = parse_qualities(body) else {
            report.unreadable_pages += 1;
            continue;
        };
        for session in page.items {
            let quality = session_quality(&session, start, thresholds);
            let mut transports: Vec<&str> = session
                .audio_in
                .iter()
                .chain(&session.audio_out)
                .chain(&session.video_in)
                .chain(&session.video_out)
                .filter_map(|s| s.transport_type.as_deref())
                .collect();
            transports.sort_unstable();
            transports.dedup();
            // Webex sends the epoch as the leave time of a session still in the meeting.
            let leave = session.leave_time.filter(|t| t.timestamp() > 0);
            report.sessions.push(ParticipantSession {
                join: session.join_time,
                leave,
                transport: transports.join(", "),
                quality,
                session,
            });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::StreamKind;

    #[test]
    fn the_fixture_meeting_reads_into_three_sessions_with_their_context() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/webex/meeting-qualities-3-participants.json"
        ))
        .unwrap();
        let start = DateTime::parse_from_rfc3339("2025-06-02T14:01:12Z")
            .unwrap()
            .with_timezone(&Utc);
        let report = meeting_report(
            [body.as_slice(), b"{not json".as_slice()],
            start,
            &Thresholds::default(),
        );
        assert_eq!(report.sessions.len(), 3);
        assert_eq!(report.unreadable_pages, 1);
        assert_eq!(report.worst(), Verdict::Poor);
        let marco = report
            .sessions
            .iter()
            .find(|s| s.session.webex_user_name.as_deref() == Some("Marco Bellini"))
            .unwrap();
        assert_eq!(marco.transport, "TCP, UDP", "the audio fell back to TCP");
        assert_eq!(marco.session.network_type.as_deref(), Some("wifi"));
        assert!(marco.leave.is_some());
        let dana = &report.sessions[0];
        assert_eq!(
            dana.quality.verdict(StreamKind::Audio).unwrap().verdict,
            Verdict::Good
        );
    }

    #[test]
    fn a_session_still_in_the_meeting_has_no_leave_time() {
        let body = r#"{"items":[{"webexUserName":"Zoë","joinTime":"2026-01-05T10:00:00.000Z","leaveTime":"1970-01-01T00:00:00.000Z"}]}"#;
        let start = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let report = meeting_report([body.as_bytes()], start, &Thresholds::default());
        assert_eq!(report.sessions[0].leave, None);
        assert_eq!(
            report.worst(),
            Verdict::NoData,
            "no arrays, no data: not good"
        );
    }
}
