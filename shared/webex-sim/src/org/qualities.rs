//! The Meeting Qualities items of a meeting: one per participant session, in Webex's field order.

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::catalog::{CLIENT_VERSIONS, DEVICES, REGIONS};
use super::media::{CpuSample, Media, MediaSegment, Path, ms};
use super::{MeetingPlan, NetworkQuality, Org};

impl Org {
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
                let quality = match rng.gen_range(0..100) {
                    0..=4 => NetworkQuality::Bad,
                    5..=12 => NetworkQuality::Moderate,
                    _ => NetworkQuality::Good,
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
        // Most of a meeting is served from its home region; a few join through another.
        let region = if rng.gen_bool(0.85) {
            REGIONS[meeting.seed as usize % REGIONS.len()]
        } else {
            REGIONS[rng.gen_range(0..REGIONS.len())]
        };
        // What the network does over the whole session, drawn from its own seed so that a snapshot
        // taken while the meeting runs is a prefix of the final data.
        let mut path = Path::new(
            meeting.seed ^ ((attendance as u64) << 8) ^ session as u64,
            quality,
            network,
            join,
            leave,
            tcp_fallback,
        );
        if let Some(incident) = self.incident(region, join, leave) {
            path.add_incident(incident.from, incident.to);
        }
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
        let (_, subnet) = (rng.gen_range(0..255), rng.gen_range(0..255));
        let host = rng.gen_range(1..250);
        // In an office: its LAN and public address; else a home network or a phone's.
        let office = att
            .person
            .filter(|_| network != "cellular")
            .and_then(|p| super::catalog::office_of(p, network, quality));
        let (local, public) = match office {
            Some(office) => (
                format!("10.{}.{subnet}.{octet}", office.lan),
                office.public_ip.to_owned(),
            ),
            None => (
                format!("192.168.{subnet}.{octet}"),
                format!("203.0.113.{host}"),
            ),
        };
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
            masked_public_ip: match (public.rsplit_once('.'), public.rsplit_once(':')) {
                (Some((net, _)), _) => format!("{net}.0"),
                (None, Some((net, _))) => format!("{net}:"),
                (None, None) => public.clone(),
            },
            local_ip: local,
            public_ip: public,
            camera: if camera_off {
                String::new()
            } else {
                "Integrated Camera".into()
            },
            microphone: "Headset Microphone".into(),
            server_region: region.into(),
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
