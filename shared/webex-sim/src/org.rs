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

use chrono::{DateTime, Datelike, Duration, SecondsFormat, TimeZone, Utc, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// How a person's network usually behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkQuality {
    /// Clean: loss near 0, low latency and jitter.
    Good,
    /// Some loss and latency.
    Moderate,
    /// Loss bursts, high latency, jitter.
    Bad,
}

/// A client kind with what it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    /// `clientType`.
    pub client_type: &'static str,
    /// `osType`.
    pub os_type: &'static str,
    /// `osVersion`.
    pub os_version: &'static str,
    /// `hardwareType`.
    pub hardware: &'static str,
    /// Reports CPU `resources`.
    pub reports_cpu: bool,
    /// Usual network types.
    pub networks: &'static [&'static str],
}

const DEVICES: &[Device] = &[
    Device {
        client_type: "Webex_Desktop_Client (Windows)",
        os_type: "windows",
        os_version: "Windows 11 Enterprise 23H2",
        hardware: "Dell Latitude 7440",
        reports_cpu: true,
        networks: &["ethernet", "wifi"],
    },
    Device {
        client_type: "Webex_Desktop_Client (Windows)",
        os_type: "windows",
        os_version: "Windows 10 Pro 22H2",
        hardware: "Lenovo ThinkPad T14",
        reports_cpu: true,
        networks: &["wifi", "ethernet"],
    },
    Device {
        client_type: "Webex_Desktop_Client (Mac)",
        os_type: "mac",
        os_version: "macOS 15.5",
        hardware: "MacBook Pro",
        reports_cpu: true,
        networks: &["wifi"],
    },
    Device {
        client_type: "Webex_Desktop_Client (Mac)",
        os_type: "mac",
        os_version: "macOS 14.7",
        hardware: "MacBook Air",
        reports_cpu: true,
        networks: &["wifi"],
    },
    Device {
        client_type: "Teams_Mobile_Client (iOS)",
        os_type: "ios",
        os_version: "iOS 18.4.1",
        hardware: "iPhone 15",
        reports_cpu: false,
        networks: &["cellular", "wifi"],
    },
    Device {
        client_type: "Webex_Mobile_Client (Android)",
        os_type: "android",
        os_version: "Android 15",
        hardware: "Pixel 8",
        reports_cpu: false,
        networks: &["cellular", "wifi"],
    },
    Device {
        client_type: "Webex_Web_Client (Chrome)",
        os_type: "windows",
        os_version: "Windows 11 Pro",
        hardware: "Chrome 138",
        reports_cpu: false,
        networks: &["wifi", "ethernet"],
    },
    Device {
        client_type: "TEAMS_DEVICE",
        os_type: "roomos",
        os_version: "RoomOS 11.28",
        hardware: "Cisco Room Kit Pro",
        reports_cpu: false,
        networks: &["ethernet"],
    },
];

const CLIENT_VERSIONS: &[&str] = &[
    "45.6.1.32593",
    "45.5.0.32411",
    "45.4.2.31887",
    "44.12.0.31236",
];
const REGIONS: &[&str] = &[
    "Frankfurt, Germany",
    "San Jose, USA",
    "London, UK",
    "Amsterdam, Netherlands",
    "Singapore",
];
const FIRST: &[&str] = &[
    "Dana",
    "Priya",
    "Marco",
    "Zoë",
    "José",
    "Łukasz",
    "Søren",
    "Françoise",
    "Nguyễn",
    "Aleksandra",
    "Björn",
    "Chloé",
    "Renée",
    "Yūki",
    "Ciarán",
    "Åsa",
    "Mateus",
    "Ingrid",
    "Olúwasẹ́un",
    "Hana",
    "王芳",
    "سارة",
    "Leilani",
    "Tomás",
];
const LAST: &[&str] = &[
    "Whitfield",
    "Raman",
    "Bellini",
    "Müller",
    "García",
    "Kowalski",
    "Østergaard",
    "Lefèvre",
    "Văn An",
    "Nowak",
    "Sjöberg",
    "Dubois",
    "O'Connor",
    "Tanaka",
    "Ó Briain",
    "Lindqvist",
    "Ferreira",
    "Haugen",
    "Adébáyọ̀",
    "Novák",
];
const TITLES: &[&str] = &[
    "Weekly Platform Sync",
    "1:1",
    "Design review",
    "Customer call — Acme GmbH",
    "Sprint planning",
    "Incident retro",
    "Roadmap Q3",
    "Hiring debrief",
    "Support escalation",
    "Budget review",
    "Café & code",
    "Kundentermin Zürich",
    "Revisión de arquitectura",
    "Board prep",
];

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
        Self {
            id: format!("sim-org-{}", hex(&mut rng, 12)),
            site_url: "sim.webex.com".into(),
            people,
            meetings,
            by_id,
        }
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
                    // Bad networks stick to the people on wifi and cellular.
                    0..=24 if network != "ethernet" => NetworkQuality::Bad,
                    0..=44 => NetworkQuality::Moderate,
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

    /// The Meeting Qualities items of `meeting` as Webex has them at `now`: sessions that have begun,
    /// their arrays cut at `now`.
    #[must_use]
    pub fn quality_items(&self, meeting: &MeetingPlan, now: DateTime<Utc>) -> Vec<QualityItem> {
        let mut sessions: Vec<(usize, usize, DateTime<Utc>, DateTime<Utc>)> = meeting
            .attendances
            .iter()
            .enumerate()
            .flat_map(|(a, att)| {
                att.sessions
                    .iter()
                    .enumerate()
                    .map(move |(s, (j, l))| (a, s, *j, *l))
            })
            .filter(|(_, _, join, _)| *join < now)
            .collect();
        sessions.sort_by_key(|(a, s, join, _)| (*join, *a, *s));
        let presenter = meeting.seed as usize % meeting.attendances.len().max(1);
        let share_from = meeting.start + (meeting.end - meeting.start) / 4;
        let share_to = share_from + (meeting.end - meeting.start) / 5;
        sessions
            .into_iter()
            .map(|(a, s, join, leave)| {
                let share = if a == presenter {
                    Share::Out
                } else {
                    Share::In
                };
                self.session(
                    meeting,
                    a,
                    s,
                    join,
                    leave,
                    now,
                    share,
                    (share_from, share_to),
                )
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn session(
        &self,
        meeting: &MeetingPlan,
        attendance: usize,
        session: usize,
        join: DateTime<Utc>,
        leave: DateTime<Utc>,
        now: DateTime<Utc>,
        share: Share,
        share_window: (DateTime<Utc>, DateTime<Utc>),
    ) -> QualityItem {
        let mut rng =
            ChaCha8Rng::seed_from_u64(meeting.seed ^ ((attendance as u64) << 8) ^ session as u64);
        let att = &meeting.attendances[attendance];
        let (name, email, mut device, mut network, quality) = match att.person {
            Some(p) => {
                let person = &self.people[p];
                (
                    person.display_name.clone(),
                    person.email.clone(),
                    person.device,
                    person.network,
                    person.quality,
                )
            }
            None => {
                let device = DEVICES[rng.gen_range(0..DEVICES.len() - 1)];
                let quality = if rng.gen_bool(0.2) {
                    NetworkQuality::Bad
                } else {
                    NetworkQuality::Good
                };
                (
                    att.guest_name.clone().unwrap_or_default(),
                    String::new(),
                    device,
                    device.networks[0],
                    quality,
                )
            }
        };
        if session > 0 && rng.gen_bool(0.5) {
            // A rejoin from the phone.
            device = DEVICES[4];
            network = "cellular";
        }
        let ongoing = now < leave;
        let data_end = leave.min(now);
        let camera_off = rng.gen_bool(0.12);
        let tcp_fallback = quality == NetworkQuality::Bad && rng.gen_bool(0.4);
        // What the network does over the whole session, drawn from its own seed so that a snapshot
        // taken while the meeting runs is a prefix of the final data.
        let path = Path::new(
            meeting.seed ^ ((attendance as u64) << 8) ^ session as u64,
            quality,
            network,
            join,
            leave,
            tcp_fallback,
        );
        // A few machines are CPU-bound: their own video suffers whatever the network does.
        let cpu_bound = device.reports_cpu && rng.gen_bool(0.03);
        let stream = |kind: Media, tag: u64, from, to, camera_off| {
            path.stream(
                kind,
                tag,
                from,
                to,
                data_end,
                camera_off,
                cpu_bound && tag == 4,
            )
        };
        let audio_in = stream(Media::Audio, 1, join, leave, false);
        let audio_out = stream(Media::Audio, 2, join, leave, false);
        let video_in = stream(Media::Video, 3, join, leave, false);
        let video_out = if device.client_type == "Webex_Web_Client (Chrome)" && camera_off {
            Vec::new()
        } else {
            stream(Media::Video, 4, join, leave, camera_off)
        };
        let (share_start, share_end) = (share_window.0.max(join), share_window.1.min(leave));
        let shared = if share_start < share_end && share_start < data_end {
            stream(Media::Share, 5, share_start, share_end, false)
        } else {
            Vec::new()
        };
        let (share_in, share_out) = match share {
            Share::Out => (Vec::new(), shared),
            Share::In => (shared, Vec::new()),
        };
        let resources = if device.reports_cpu && data_end > join {
            vec![path.cpu(join, data_end, cpu_bound)]
        } else {
            Vec::new()
        };
        let octet = rng.gen_range(2..250);
        let local = format!(
            "10.{}.{}.{octet}",
            rng.gen_range(0..255),
            rng.gen_range(0..255)
        );
        let public = format!("198.51.100.{}", rng.gen_range(1..250));
        QualityItem {
            meeting_instance_id: meeting.instance_id.clone(),
            webex_user_name: name,
            webex_user_email: email,
            join_time: ms(join),
            leave_time: if ongoing {
                "1970-01-01T00:00:00.000Z".into()
            } else {
                ms(leave)
            },
            join_meeting_time: format!("{:.3}", rng.gen_range(1.5..9.0)),
            client_type: device.client_type.into(),
            client_version: CLIENT_VERSIONS[rng.gen_range(0..CLIENT_VERSIONS.len())].into(),
            os_type: device.os_type.into(),
            os_version: device.os_version.into(),
            hardware_type: device.hardware.into(),
            speaker_name: "Speakers".into(),
            network_type: network.into(),
            masked_local_ip: format!("{}.0", local.rsplit_once('.').map_or("10.0.0", |(a, _)| a)),
            masked_public_ip: "198.51.100.0".into(),
            local_ip: local,
            public_ip: public,
            camera: if camera_off {
                String::new()
            } else {
                "Integrated Camera".into()
            },
            microphone: "Headset Microphone".into(),
            server_region: REGIONS[(meeting.seed as usize + attendance) % REGIONS.len()].into(),
            video_mesh_cluster: String::new(),
            video_mesh_server: String::new(),
            participant_id: format!("{}_{}", meeting.instance_id, attendance + 1),
            participant_session_id: uuid::Uuid::from_u64_pair(
                meeting.seed,
                (attendance as u64) << 8 | session as u64,
            )
            .to_string()
            .to_uppercase(),
            audio_in,
            audio_out,
            video_in,
            video_out,
            share_in,
            share_out,
            resources,
        }
    }
}

#[derive(Clone, Copy)]
enum Share {
    In,
    Out,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Media {
    Audio,
    Video,
    Share,
}

fn ms(t: DateTime<Utc>) -> String {
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
struct Path {
    seed: u64,
    latency: f64,
    jitter: f64,
    /// Minutes from the session's join and how bad (about 0.2 mild to 1.5 severe).
    episodes: Vec<(usize, usize, f64)>,
    join: DateTime<Utc>,
    /// TCP from this minute of the session on (a bad network falling back from UDP).
    tcp_from: Option<usize>,
    quality: NetworkQuality,
}

impl Path {
    fn new(
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
            "cellular" => (rng.gen_range(90.0..180.0), rng.gen_range(8.0..16.0)),
            "wifi" => (rng.gen_range(35.0..90.0), rng.gen_range(3.0..9.0)),
            _ => (rng.gen_range(20.0..60.0), rng.gen_range(1.0..4.0)),
        };
        let (latency, jitter, per_hour, severity) = match quality {
            NetworkQuality::Good => (latency, jitter, 0.3, 0.2..0.7),
            NetworkQuality::Moderate => (latency * 1.6, jitter * 2.0, 1.2, 0.3..1.1),
            // Always bad: jitter past the poor limit, long round trips, frequent episodes.
            NetworkQuality::Bad => (latency * 2.5 + 150.0, jitter * 3.0 + 25.0, 4.0, 0.6..1.6),
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
    fn stream(
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
                    values.push(&mut seg, &mut rng, congestion, camera_off, cpu_bound);
                }
                seg
            })
            .collect()
    }

    fn cpu(&self, from: DateTime<Utc>, to: DateTime<Utc>, cpu_bound: bool) -> CpuSample {
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
        congestion: f64,
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
        let latency = self.latency.next(rng) + congestion * 220.0;
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

/// One Meeting Qualities item, in Webex's field order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct QualityItem {
    pub meeting_instance_id: String,
    pub webex_user_name: String,
    pub webex_user_email: String,
    pub join_time: String,
    pub leave_time: String,
    pub join_meeting_time: String,
    pub client_type: String,
    pub client_version: String,
    pub os_type: String,
    pub os_version: String,
    pub hardware_type: String,
    pub speaker_name: String,
    pub network_type: String,
    #[serde(rename = "localIP")]
    pub local_ip: String,
    #[serde(rename = "publicIP")]
    pub public_ip: String,
    #[serde(rename = "maskedLocalIP")]
    pub masked_local_ip: String,
    #[serde(rename = "maskedPublicIP")]
    pub masked_public_ip: String,
    pub camera: String,
    pub microphone: String,
    pub server_region: String,
    pub video_mesh_cluster: String,
    pub video_mesh_server: String,
    pub participant_id: String,
    pub participant_session_id: String,
    pub audio_in: Vec<MediaSegment>,
    pub audio_out: Vec<MediaSegment>,
    pub video_in: Vec<MediaSegment>,
    pub video_out: Vec<MediaSegment>,
    pub share_in: Vec<MediaSegment>,
    pub share_out: Vec<MediaSegment>,
    pub resources: Vec<CpuSample>,
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
