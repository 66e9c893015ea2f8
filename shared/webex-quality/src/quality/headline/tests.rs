//! The headline on hand-built meetings: the rule's verdicts and the causes it names.
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
fn poor(person: &str, stream: StreamKind, metric: Metric, poor_minutes: u32) -> SessionFacts<'_> {
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
        [
            (0, cell(Verdict::Good)),
            (1, cell(Verdict::Poor)),
            (2, cell(Verdict::NoData)),
        ]
        .into_iter()
        .collect(),
    );
    q.timelines.insert(
        StreamKind::Video,
        [
            (0, cell(Verdict::Fair)),
            (1, cell(Verdict::Good)),
            (4, cell(Verdict::Good)),
        ]
        .into_iter()
        .collect(),
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
