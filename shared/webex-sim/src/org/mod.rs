//! A deterministic organisation generated from a seed: people with their usual device and network,
//! a week of meetings, and each meeting's participant media sessions with per-minute metrics.
//!
//! What it exercises: 2 to 200 participants (guests fill meetings larger than the staff), Windows/Mac
//! desktop, iOS/Android, browser and room-device clients, ethernet/wifi/cellular, people whose network
//! is always bad (loss bursts, high latency, jitter), TCP fallback segments, content sharing, rejoins
//! (several sessions for one person), `-1` gaps, camera-off `-1` runs and empty arrays, meetings in
//! progress whose data grows with the clock, and names with non-ASCII characters.
//!
//! The media figures behave like measured ones: each session's network has a usual round trip and
//! jitter that drift from minute to minute (not drawn afresh), loss is zero most minutes, and
//! congestion episodes hit every stream of the session at once but not equally: video loses more
//! packets and drops frame rate and resolution first, audio suffers less, sharing exists only while
//! someone shares. So a meeting can be poor on video alone. A few machines are CPU-bound, which
//! shows in their own video's frame rate. Every stream is drawn from its own seed over the whole
//! session, so a snapshot taken while a meeting runs is a prefix of the final data.

mod catalog;
mod media;
mod qualities;

use chrono::{DateTime, Datelike, Duration, SecondsFormat, TimeZone, Utc, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use catalog::{DEVICES, FIRST, LAST, REGIONS, TITLES};
pub use catalog::{Device, NetworkQuality, OFFICES, Office, office_of, sites_csv};
pub use media::{CpuSample, MediaSegment};
pub use qualities::QualityItem;

/// A member of the organisation.
#[derive(Debug, Clone)]
pub struct Person {
    /// Webex person id.
    pub id: String,
    /// Display name (often non-ASCII).
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Usual client.
    pub device: Device,
    /// Usual network type.
    pub network: &'static str,
    /// Usual network quality.
    pub quality: NetworkQuality,
}

/// One attendance of a meeting: who, and the sessions they had (a rejoin makes two).
#[derive(Debug, Clone)]
pub struct Attendance {
    /// Index into [`Org::people`], or `None` for a guest.
    pub person: Option<usize>,
    /// A guest's name.
    pub guest_name: Option<String>,
    /// `(join, leave)` of each session.
    pub sessions: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// One meeting instance.
#[derive(Debug, Clone)]
pub struct MeetingPlan {
    /// Instance id: `<series id>_I_<number>`.
    pub instance_id: String,
    /// Series id (32 hex).
    pub series_id: String,
    /// Title.
    pub title: String,
    /// Index of the host in [`Org::people`].
    pub host: usize,
    /// Actual start.
    pub start: DateTime<Utc>,
    /// Actual end.
    pub end: DateTime<Utc>,
    /// Who attended.
    pub attendances: Vec<Attendance>,
    /// Seed of this meeting's metrics.
    pub seed: u64,
}

impl MeetingPlan {
    /// `inProgress` or `ended` at `now` (`None` before it starts).
    #[must_use]
    pub fn state_at(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if now < self.start {
            None
        } else if now < self.end {
            Some("inProgress")
        } else {
            Some("ended")
        }
    }
}

/// The organisation.
#[derive(Debug, Clone)]
pub struct Org {
    /// Org id.
    pub id: String,
    /// Site URL.
    pub site_url: String,
    /// Everyone; the admin who authorizes is `people[0]`.
    pub people: Vec<Person>,
    /// Meeting instances, ordered by start.
    pub meetings: Vec<MeetingPlan>,
    /// Index of each meeting in `meetings` by instance id.
    by_id: std::collections::HashMap<String, usize>,
    /// Trouble in one server region for a while: every session there has high latency.
    pub incidents: Vec<Incident>,
}

/// A server region's bad spell: every session served there meanwhile has a long round trip.
#[derive(Debug, Clone)]
pub struct Incident {
    /// The region, as Webex names it.
    pub region: &'static str,
    /// From.
    pub from: DateTime<Utc>,
    /// To.
    pub to: DateTime<Utc>,
}

fn hex(rng: &mut ChaCha8Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn ascii_slug(text: &str) -> String {
    let slug: String = text
        .chars()
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() {
                Some(c.to_ascii_lowercase())
            } else if c == ' ' || c == '\'' {
                Some('.')
            } else {
                None
            }
        })
        .collect();
    if slug.trim_matches('.').is_empty() {
        "user".into()
    } else {
        slug
    }
}

impl Org {
    /// Person `index` (0 is the admin who authorizes by default) as an [`crate::Identity`].
    ///
    /// # Panics
    /// When there is no such person.
    #[must_use]
    pub fn member(&self, index: usize) -> crate::Identity {
        let person = &self.people[index];
        crate::Identity {
            id: person.id.clone(),
            email: person.email.clone(),
            display_name: person.display_name.clone(),
            org_id: self.id.clone(),
        }
    }

    /// An administrator of another organisation, who can authorize the integration too (Webex
    /// integrations are not tied to one organisation).
    #[must_use]
    pub fn outsider(&self) -> crate::Identity {
        crate::Identity {
            id: "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9vdXRzaWRlcg".into(),
            email: "admin@globex.example".into(),
            display_name: "Hank Scorpio".into(),
            org_id: format!("{}-other", self.id),
        }
    }

    /// Generates the organisation for `seed`, with meetings on each of the `days` days from
    /// `first_day` (midnight UTC is a good choice).
    #[must_use]
    pub fn generate(seed: u64, first_day: DateTime<Utc>, days: u32) -> Self {
        Self::generate_scaled(seed, first_day, days, None)
    }

    /// As [`Org::generate`], with `meetings_per_day` ad-hoc meetings on every day (weekends
    /// included) when it is set, and a staff of one person per two meetings a day (at least 48), so
    /// that the organisation keeps its shape at scale. `None` is the default small organisation.
    #[must_use]
    pub fn generate_scaled(
        seed: u64,
        first_day: DateTime<Utc>,
        days: u32,
        meetings_per_day: Option<u32>,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let staff = meetings_per_day.map_or(48, |n| usize::try_from(n / 2).unwrap_or(48).max(48));
        let people = Self::generate_people(&mut rng, staff);
        let mut meetings = Vec::new();
        let standup_series = hex(&mut rng, 32);
        for day in 0..days {
            let midnight = first_day + Duration::days(i64::from(day));
            let weekend = matches!(midnight.weekday(), Weekday::Sat | Weekday::Sun);
            let count = match meetings_per_day {
                Some(n) => n,
                None if weekend => rng.gen_range(1..=3),
                None => rng.gen_range(12..=20),
            };
            if !weekend {
                // The daily stand-up: one recurring series, so one series id has many instances.
                let start = midnight + Duration::hours(9) + Duration::seconds(rng.gen_range(0..90));
                meetings.push(Self::meeting(
                    &mut rng,
                    &people,
                    &standup_series,
                    "Daily stand-up ☕",
                    start,
                    15,
                    6..=9,
                ));
            }
            if day == 2 || (days < 3 && day == 0) {
                // The week's all-hands: more people than the staff, so guests fill it.
                let start =
                    midnight + Duration::hours(16) + Duration::seconds(rng.gen_range(0..120));
                let series = hex(&mut rng, 32);
                meetings.push(Self::meeting(
                    &mut rng,
                    &people,
                    &series,
                    "All hands — <Q3> & \"numbers\"",
                    start,
                    60,
                    150..=200,
                ));
            }
            for _ in 0..count {
                let minute = if weekend {
                    rng.gen_range(10 * 60..20 * 60)
                } else {
                    rng.gen_range(7 * 60..19 * 60)
                };
                let start =
                    midnight + Duration::minutes(minute) + Duration::seconds(rng.gen_range(0..120));
                let length = *[15, 25, 30, 30, 45, 45, 60, 90]
                    .choose(&mut rng)
                    .unwrap_or(&30);
                let size = match rng.gen_range(0..100) {
                    0..=59 => 2..=6,
                    60..=84 => 7..=15,
                    _ => 16..=50,
                };
                let title = TITLES[rng.gen_range(0..TITLES.len())];
                let series = hex(&mut rng, 32);
                meetings.push(Self::meeting(
                    &mut rng, &people, &series, title, start, length, size,
                ));
            }
        }
        meetings.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then_with(|| a.instance_id.cmp(&b.instance_id))
        });
        let by_id = meetings
            .iter()
            .enumerate()
            .map(|(index, m)| (m.instance_id.clone(), index))
            .collect();
        let incidents = Self::generate_incidents(seed, first_day, days);
        Self {
            id: format!("sim-org-{}", hex(&mut rng, 12)),
            site_url: "sim.webex.com".into(),
            people,
            meetings,
            by_id,
            incidents,
        }
    }

    /// Server-region incidents: on a working day, each region has one with a chance of 1 in 6, at
    /// working hours, for 40 to 120 minutes. Drawn from their own seed, so the rest of the
    /// organisation is the same with or without them.
    fn generate_incidents(seed: u64, first_day: DateTime<Utc>, days: u32) -> Vec<Incident> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x696e_6369_6465_6e74);
        let mut incidents = Vec::new();
        for day in 0..days {
            let midnight = first_day + Duration::days(i64::from(day));
            if matches!(midnight.weekday(), Weekday::Sat | Weekday::Sun) {
                continue;
            }
            for region in REGIONS {
                if !rng.gen_bool(1.0 / 6.0) {
                    continue;
                }
                let from = midnight + Duration::minutes(rng.gen_range(8 * 60..17 * 60));
                incidents.push(Incident {
                    region,
                    from,
                    to: from + Duration::minutes(rng.gen_range(40..=120)),
                });
            }
        }
        incidents
    }

    /// The incident in `region` overlapping `from`..`to`, if any.
    pub(crate) fn incident(
        &self,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<&Incident> {
        self.incidents
            .iter()
            .find(|i| i.region == region && i.from < to && from < i.to)
    }

    fn generate_people(rng: &mut ChaCha8Rng, count: usize) -> Vec<Person> {
        (0..count)
            .map(|i| {
                let first = FIRST[(i * 7 + rng.gen_range(0..3)) % FIRST.len()];
                let last = LAST[(i * 5 + rng.gen_range(0..3)) % LAST.len()];
                let display_name = format!("{first} {last}");
                let email = format!(
                    "{}.{}{}@sim.example",
                    ascii_slug(first),
                    ascii_slug(last),
                    i
                );
                let device = DEVICES[rng.gen_range(0..DEVICES.len())];
                let network = device.networks[rng.gen_range(0..device.networks.len())];
                let quality = match rng.gen_range(0..100) {
                    // Most people's networks are fine; the bad ones stick to a few people on wifi
                    // and cellular (a home network, a train), so problems cluster in people.
                    0..=3 if network != "ethernet" => NetworkQuality::Bad,
                    0..=13 => NetworkQuality::Moderate,
                    _ => NetworkQuality::Good,
                };
                Person {
                    id: format!("sim-person-{i:03}-{}", hex(rng, 8)),
                    display_name,
                    email,
                    device,
                    network,
                    quality: if i == 0 {
                        NetworkQuality::Good
                    } else {
                        quality
                    },
                }
            })
            .collect()
    }

    fn meeting(
        rng: &mut ChaCha8Rng,
        people: &[Person],
        series: &str,
        title: &str,
        start: DateTime<Utc>,
        minutes: i64,
        size: std::ops::RangeInclusive<usize>,
    ) -> MeetingPlan {
        let end = start + Duration::minutes(minutes) - Duration::seconds(rng.gen_range(0..240));
        let size = rng.gen_range(size);
        let staff: Vec<usize> = if people.len() <= 48 {
            let mut staff: Vec<usize> = (1..people.len()).collect();
            staff.shuffle(rng);
            staff
        } else {
            // A large staff: draw only the attendees rather than shuffling everyone.
            let wanted = size.clamp(1, people.len() - 1);
            rand::seq::index::sample(rng, people.len() - 1, wanted)
                .into_iter()
                .map(|i| i + 1)
                .collect()
        };
        let host = staff[0];
        let mut attendances = Vec::with_capacity(size);
        for slot in 0..size {
            let (person, guest_name) = if slot < staff.len() {
                (Some(staff[slot]), None)
            } else {
                (
                    None,
                    Some(format!("Guest {} {}", FIRST[slot % FIRST.len()], slot)),
                )
            };
            let join = start
                + Duration::seconds(if slot == 0 {
                    rng.gen_range(0..20)
                } else {
                    rng.gen_range(0..240)
                })
                + Duration::milliseconds(rng.gen_range(0..1000));
            let leave = if rng.gen_bool(0.15) {
                join + (end - join) / 2
            } else {
                end - Duration::seconds(rng.gen_range(0..90))
            };
            let leave = leave.max(join + Duration::minutes(2));
            let sessions = if rng.gen_bool(0.1) && leave - join > Duration::minutes(8) {
                let drop_at = join + (leave - join) / 3;
                let back = drop_at + Duration::seconds(rng.gen_range(40..180));
                vec![(join, drop_at), (back, leave)]
            } else {
                vec![(join, leave)]
            };
            attendances.push(Attendance {
                person,
                guest_name,
                sessions,
            });
        }
        MeetingPlan {
            instance_id: format!(
                "{series}_I_{}",
                rng.gen_range(100_000_000_000_000_000_u64..999_999_999_999_999_999)
            ),
            series_id: series.to_owned(),
            title: title.to_owned(),
            host,
            start,
            end,
            attendances,
            seed: rng.r#gen(),
        }
    }

    /// The meeting with this instance id.
    #[must_use]
    pub fn meeting_by_id(&self, id: &str) -> Option<&MeetingPlan> {
        self.by_id
            .get(id)
            .and_then(|&index| self.meetings.get(index))
    }

    /// True when `id` is the series id of some meeting.
    #[must_use]
    pub fn is_series_id(&self, id: &str) -> bool {
        self.meetings.iter().any(|m| m.series_id == id)
    }

    /// The List Meetings item of `meeting` as Webex shows it at `now`.
    #[must_use]
    pub fn meeting_item(&self, meeting: &MeetingPlan, now: DateTime<Utc>) -> serde_json::Value {
        let host = &self.people[meeting.host];
        let state = meeting.state_at(now).unwrap_or("scheduled");
        serde_json::json!({
            "id": meeting.instance_id,
            "meetingSeriesId": meeting.series_id,
            "scheduledMeetingId": format!("{}_{}", meeting.series_id, meeting.start.format("%Y%m%dT%H%M00Z")),
            "title": meeting.title,
            "agenda": "",
            "meetingType": "meeting",
            "state": state,
            "timezone": "UTC",
            "start": meeting.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            "end": meeting.end.to_rfc3339_opts(SecondsFormat::Secs, true),
            "hostUserId": host.id,
            "hostDisplayName": host.display_name,
            "hostEmail": host.email,
            "hostKey": format!("{:06}", meeting.seed % 1_000_000),
            "siteUrl": self.site_url,
            "webLink": format!("https://{}/sim/j.php?MTID=m{}", self.site_url, &meeting.series_id[..24]),
            "sessionTypeId": 3,
            "scheduledType": "meeting",
            "excludePassword": false,
            "publicMeeting": false,
            "enableAutomaticLock": false,
            "hasChat": meeting.seed.is_multiple_of(3),
            "hasRecording": meeting.seed.is_multiple_of(7),
            "hasTranscription": false,
            "hasSummary": false,
            "hasClosedCaption": false,
            "hasPolls": false,
            "hasQA": false,
            "hasSlido": false,
            "telephony": {
                "accessCode": format!("25{}", meeting.seed % 1_000_000_000),
                "callInNumbers": [{"label": "US Toll", "callInNumber": "+1-415-555-0100", "tollType": "toll"}],
                "links": [{"rel": "globalCallinNumbers", "href": format!("/v1/meetings/{}/globalCallinNumbers", meeting.instance_id), "method": "GET"}],
            },
            "meetingOptions": {
                "enabledChat": true, "enabledVideo": true, "enabledPolling": false, "enabledNote": true,
                "noteType": "allowAll", "enabledFileTransfer": false, "enabledUCFRichMedia": false,
            },
            "attendeePrivileges": {
                "enabledShareContent": true, "enabledSaveDocument": false, "enabledPrintDocument": false,
                "enabledAnnotate": false, "enabledViewParticipantList": true, "enabledViewThumbnails": false,
                "enabledRemoteControl": true, "enabledViewAnyDocument": false, "enabledViewAnyPage": false,
                "enabledContactOperatorPrivately": false, "enabledChatHost": true, "enabledChatPresenter": true,
                "enabledChatOtherParticipants": true,
            },
            "enabledBreakoutSessions": false,
            "audioConnectionOptions": {
                "audioConnectionType": "webexAudio", "enabledTollFreeCallIn": false, "enabledGlobalCallIn": true,
                "enabledAudienceCallBack": false, "entryAndExitTone": "beep", "allowHostToUnmuteParticipants": false,
                "allowAttendeeToUnmuteSelf": true, "muteAttendeeUponEntry": false,
            },
        })
    }
}

/// Midnight UTC of the day `days` before `now`'s day.
#[must_use]
pub fn days_before(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let day = (now - Duration::days(days)).date_naive();
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> Org {
        let monday = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        Org::generate(7, monday, 7)
    }

    #[test]
    fn the_same_seed_gives_the_same_organisation() {
        let (a, b) = (week(), week());
        assert_eq!(a.meetings.len(), b.meetings.len());
        let end = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let m = &a.meetings[10];
        let ja = serde_json::to_string(&a.quality_items(m, end)).unwrap();
        let jb = serde_json::to_string(&b.quality_items(&b.meetings[10], end)).unwrap();
        assert_eq!(ja, jb);
    }

    #[test]
    fn a_week_has_meetings_every_day_and_the_promised_variety() {
        let org = week();
        let first = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        for day in 0..7 {
            let (from, to) = (first + Duration::days(day), first + Duration::days(day + 1));
            assert!(
                org.meetings.iter().any(|m| m.start >= from && m.start < to),
                "day {day}"
            );
        }
        let sizes: Vec<usize> = org.meetings.iter().map(|m| m.attendances.len()).collect();
        assert!(sizes.iter().all(|&n| (2..=200).contains(&n)));
        assert!(sizes.iter().any(|&n| n >= 150));
        assert!(
            org.meetings
                .iter()
                .any(|m| m.attendances.iter().any(|a| a.sessions.len() > 1))
        );
        assert!(org.people.iter().any(|p| !p.display_name.is_ascii()));
        assert!(org.people.iter().any(|p| p.quality == NetworkQuality::Bad));
        let end = first + Duration::days(30);
        let json: String = org
            .meetings
            .iter()
            .take(40)
            .map(|m| serde_json::to_string(&org.quality_items(m, end)).unwrap())
            .collect();
        assert!(json.contains("\"TCP\""));
        assert!(json.contains("-1"));
        assert!(json.contains("\"shareOut\":[{"));
        for kind in ["Windows", "Mac", "iOS", "Android", "Chrome", "TEAMS_DEVICE"] {
            assert!(json.contains(kind), "{kind}");
        }
    }

    #[test]
    fn a_meeting_in_progress_has_data_up_to_now_only() {
        let org = week();
        let m = org
            .meetings
            .iter()
            .find(|m| m.end - m.start >= Duration::minutes(40))
            .unwrap();
        let early = org.quality_items(m, m.start + Duration::minutes(12));
        let later = org.quality_items(m, m.start + Duration::minutes(30));
        let len = |items: &[QualityItem]| {
            items
                .iter()
                .map(|i| i.audio_in.iter().map(|s| s.latency.len()).sum::<usize>())
                .sum::<usize>()
        };
        assert!(len(&later) > len(&early));
        assert!(early.iter().all(|i| i.leave_time.starts_with("1970")));
    }
}
