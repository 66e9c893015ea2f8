//! Property tests of what the client reads from Webex's answers: the `Link` header, `Retry-After`,
//! error bodies, the 451 message, meeting ids and Meeting Qualities pages. Each property runs
//! thousands of generated inputs from a fixed seed (deterministic), and every parser must answer
//! without panicking whatever it is given. The same parsers have fuzz targets under `fuzz/`
//! (docs/supply-chain.md says how to run them); a crash found either way becomes a case here or a
//! unit test beside the parser.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Value, json};
use url::Url;
use webex_quality::webex::MeetingInstanceId;
use webex_quality::webex::http::{
    MAX_RETRY_AFTER, next_link_in, parse_retry_after, regional_base, webex_message,
};
use webex_quality::webex::model::{check_qualities, parse_qualities, parse_qualities_generic};

/// Fixed seed, no regression files written: the same inputs on every run and every machine.
fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_2026),
        failure_persistence: None,
        ..Config::default()
    }
}

fn base() -> Url {
    Url::parse("https://webexapis.com/v1/meetings").unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// Text made mostly of the characters the `Link` grammar gives meaning to.
fn link_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(vec![
                '<', '>', ';', ',', '"', '=', ' ', '\\', '/', '?', '&', ':', '.', '\t',
            ]),
            2 => proptest::sample::select(vec!['r', 'e', 'l', 'n', 'x', 't', 'N', 'E', 'X', 'T']),
            1 => any::<char>(),
        ],
        0..80,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A link target: a path and query that may hold commas, semicolons, equals signs and spaces'
/// escapes (all legal inside `<...>`).
fn target() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec("[a-zA-Z0-9_.~-]{1,8}", 1..4),
        proptest::collection::vec(("[a-z]{1,6}", "[a-zA-Z0-9,;=%:._-]{0,12}"), 0..4),
        any::<bool>(),
    )
        .prop_map(|(segments, query, absolute)| {
            let mut text = if absolute {
                "https://webexapis.com/".to_owned()
            } else {
                "/".to_owned()
            };
            text.push_str(&segments.join("/"));
            for (i, (name, value)) in query.iter().enumerate() {
                text.push(if i == 0 { '?' } else { '&' });
                text.push_str(name);
                text.push('=');
                text.push_str(value);
            }
            text
        })
}

/// A relation list that names `next` (in any case, among others) or does not.
fn rel(next: bool) -> impl Strategy<Value = String> {
    let others = proptest::collection::vec(
        proptest::sample::select(vec!["prev", "first", "last", "self", "nextish", "nex"]),
        0..3,
    );
    (
        others,
        proptest::sample::select(vec!["next", "NEXT", "Next"]),
        any::<usize>(),
        any::<bool>(),
        proptest::sample::select(vec!["rel", "REL", "Rel"]),
        proptest::sample::select(vec!["", " "]),
    )
        .prop_map(move |(mut relations, name, at, quoted, key, space)| {
            if next {
                let at = at % (relations.len() + 1);
                relations.insert(at, name);
            } else if relations.is_empty() {
                relations.push("prev");
            }
            let list = relations.join(" ");
            // Several relations need quotes; one may go bare.
            if quoted || relations.len() > 1 {
                format!("{key}{space}={space}\"{list}\"")
            } else {
                format!("{key}={list}")
            }
        })
}

/// Extra parameters, some quoted with commas and semicolons (and a decoy `rel=next` in a title).
fn extra_params() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof![
            Just("type=\"application/json\"".to_owned()),
            Just("title=\"a, b; rel=next\"".to_owned()),
            "[a-z]{1,5}=[a-z0-9]{0,5}",
        ],
        0..3,
    )
}

/// One `Link` entry.
fn entry(next: bool) -> impl Strategy<Value = (String, String)> {
    (target(), rel(next), extra_params(), any::<bool>()).prop_map(
        |(target, rel, mut params, rel_first)| {
            if rel_first {
                params.insert(0, rel);
            } else {
                params.push(rel);
            }
            let text = format!("<{target}>; {}", params.join("; "));
            (target, text)
        },
    )
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn link_parsing_never_panics(value in link_soup(), other in any::<String>()) {
        let _ = next_link_in(&value, &base());
        let _ = next_link_in(&other, &base());
    }

    #[test]
    fn the_next_entry_is_found_wherever_it_stands(
        before in proptest::collection::vec(entry(false), 0..4),
        next in entry(true),
        after in proptest::collection::vec(entry(false), 0..4),
        separator in proptest::sample::select(vec![",", ", ", " ,  "]),
    ) {
        let mut entries: Vec<String> = before.into_iter().map(|(_, e)| e).collect();
        entries.push(next.1.clone());
        entries.extend(after.into_iter().map(|(_, e)| e));
        let value = entries.join(separator);
        let found = next_link_in(&value, &base());
        prop_assert_eq!(found, Some(base().join(&next.0).unwrap()), "{}", value);
    }

    #[test]
    fn entries_without_next_give_no_next_page(
        entries in proptest::collection::vec(entry(false), 0..5),
    ) {
        let value = entries.into_iter().map(|(_, e)| e).collect::<Vec<_>>().join(", ");
        prop_assert_eq!(next_link_in(&value, &base()), None, "{}", value);
    }

    #[test]
    fn retry_after_in_seconds_is_taken_up_to_a_day(seconds in any::<u64>(), pad in " {0,2}") {
        let text = format!("{pad}{seconds}{pad}");
        prop_assert_eq!(
            parse_retry_after(&text, now()),
            Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
        );
    }

    #[test]
    fn retry_after_as_a_date_is_the_time_until_it(seconds in 1_i64..400_000) {
        let at = now() + chrono::Duration::seconds(seconds);
        let text = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let expected = Duration::from_secs(seconds.unsigned_abs()).min(MAX_RETRY_AFTER);
        prop_assert_eq!(parse_retry_after(&text, now()), Some(expected));
    }

    #[test]
    fn retry_after_never_panics_and_never_waits_past_a_day(text in any::<String>()) {
        if let Some(wait) = parse_retry_after(&text, now()) {
            prop_assert!(wait <= MAX_RETRY_AFTER);
        }
    }

    #[test]
    fn error_bodies_give_a_short_message(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let message = webex_message(&body);
        prop_assert!(!message.is_empty());
        // Not JSON with a message: at most 200 characters of the body and an ellipsis.
        if serde_json::from_slice::<Value>(&body).is_err() {
            prop_assert!(message.chars().count() <= 201, "{}", message);
        }
    }

    #[test]
    fn a_451_message_moves_only_the_host(message in any::<String>(), words in "[a-z0-9.: -]{0,40}") {
        let current = Url::parse("https://analytics.webexapis.com/v1/").unwrap();
        for text in [message.as_str(), words.as_str()] {
            if let Some(moved) = regional_base(&current, text) {
                prop_assert_eq!(moved.scheme(), "https");
                prop_assert_eq!(moved.path(), "/v1/");
                prop_assert!(moved.host_str().is_some());
            }
        }
    }

    #[test]
    fn meeting_ids_are_checked_without_panicking(text in any::<String>(), id in "[A-Za-z0-9]{1,40}_I_[0-9]{1,30}") {
        if let Ok(parsed) = MeetingInstanceId::parse(&text) {
            prop_assert!(parsed.as_str().len() <= MeetingInstanceId::MAX_LEN);
            prop_assert!(parsed.as_str().contains("_I_"));
            prop_assert_eq!(parsed.as_str(), text.as_str());
        }
        prop_assert_eq!(MeetingInstanceId::parse(&id).map(|p| p.as_str().to_owned()), Ok(id));
    }
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        usual_leaf(),
    ];
    nested(leaf.boxed())
}

/// The values Webex sends: nulls, booleans, numbers of a few digits with a decimal or two (-1 for
/// nothing), plain strings, times, numbers as text. The parser's quick reader reads pages made only
/// of these itself rather than handing them to serde.
fn usual_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::from(-1)),
        (0_i64..300).prop_map(Value::from),
        (-100_000_i64..100_000, 1_i32..4).prop_map(|(n, places)| {
            #[allow(clippy::cast_precision_loss)]
            let value = n as f64 / 10_f64.powi(places);
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
        }),
        "[a-zA-Z0-9 ._@-]{0,12}".prop_map(Value::String),
        // Strings Webex's fields hold: times, numbers as text, nothing.
        proptest::sample::select(vec![
            "2026-06-01T12:00:00Z",
            "2026-06-01T12:00:00.123+02:00",
            "12.5",
            "NaN",
            "",
            "-1",
            "1e400",
            "9999-12-31T23:59:59Z",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ]
    .boxed()
}

/// Arrays and objects of `leaf`, a few levels deep.
fn nested(leaf: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("[a-zA-Z]{0,8}", inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// The field names of a Meeting Qualities page (and one it does not have).
fn fields() -> Vec<&'static str> {
    [
        SESSION_TEXTS,
        &["joinTime", "leaveTime", "joinMeetingTime", "resources"],
        SESSION_STREAMS,
        &[
            "samplingInterval",
            "startTime",
            "endTime",
            "codec",
            "transportType",
        ],
        STREAM_SERIES,
        CPU_SERIES,
        &["unknownField"],
    ]
    .concat()
}

/// An object whose keys are the page's field names and whose values are anything.
fn page_like_object(depth: u32) -> BoxedStrategy<Value> {
    page_object(depth, false)
}

/// An object whose keys are the page's field names and whose values are what Webex sends.
fn usual_page_object(depth: u32) -> BoxedStrategy<Value> {
    page_object(depth, true)
}

/// A value of the type a field wants most of the time, and now and then anything usual.
fn mostly(wanted: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![6 => wanted, 1 => nested(usual_leaf())].boxed()
}

/// A participant session as Webex sends it: every field of its type, now and then another.
fn usual_session() -> BoxedStrategy<Value> {
    let text = || mostly("[a-zA-Z0-9 ._@-]{0,12}".prop_map(Value::String).boxed());
    let time = || {
        mostly(
            proptest::sample::select(vec![
                "2026-06-01T12:00:00Z",
                "2026-06-01T12:03:00.655Z",
                "2026-06-01T14:00:00.123+02:00",
            ])
            .prop_map(|s| Value::String(s.to_owned()))
            .boxed(),
        )
    };
    let series = || {
        mostly(
            proptest::collection::vec(usual_leaf(), 0..10)
                .prop_map(Value::Array)
                .boxed(),
        )
    };
    let stream = prop_oneof![
        4 => (
            (usual_leaf(), time(), time()),
            proptest::collection::vec(series(), STREAM_SERIES.len()),
            proptest::collection::vec(text(), 2),
        )
            .prop_map(|((interval, start, end), series, texts)| {
                let mut stream = Map::new();
                stream.insert("samplingInterval".into(), interval);
                stream.insert("startTime".into(), start);
                stream.insert("endTime".into(), end);
                for (name, value) in STREAM_SERIES.iter().zip(series) {
                    stream.insert((*name).into(), value);
                }
                for (name, value) in ["codec", "transportType"].iter().zip(texts) {
                    stream.insert((*name).into(), value);
                }
                Value::Object(stream)
            }),
        1 => usual_leaf(),
    ];
    let streams = prop_oneof![
        4 => proptest::collection::vec(stream, 0..2).prop_map(Value::Array),
        1 => usual_leaf(),
    ];
    let resources = proptest::collection::vec(series(), CPU_SERIES.len()).prop_map(|series| {
        let fields = CPU_SERIES.iter().map(|name| (*name).to_owned()).zip(series);
        Value::Array(vec![Value::Object(fields.collect())])
    });
    (
        proptest::collection::vec(text(), SESSION_TEXTS.len()),
        (time(), time(), usual_leaf()),
        proptest::collection::vec(streams, SESSION_STREAMS.len()),
        resources,
    )
        .prop_map(|(texts, (join, leave, join_time), streams, resources)| {
            let mut session = Map::new();
            for (name, value) in SESSION_TEXTS.iter().zip(texts) {
                session.insert((*name).into(), value);
            }
            session.insert("joinTime".into(), join);
            session.insert("leaveTime".into(), leave);
            session.insert("joinMeetingTime".into(), join_time);
            for (name, value) in SESSION_STREAMS.iter().zip(streams) {
                session.insert((*name).into(), value);
            }
            session.insert("resources".into(), resources);
            Value::Object(session)
        })
        .boxed()
}

/// A session's text fields.
const SESSION_TEXTS: &[&str] = &[
    "meetingInstanceId",
    "webexUserName",
    "webexUserEmail",
    "clientType",
    "clientVersion",
    "osType",
    "osVersion",
    "hardwareType",
    "speakerName",
    "camera",
    "microphone",
    "networkType",
    "localIP",
    "publicIP",
    "maskedLocalIP",
    "maskedPublicIP",
    "serverRegion",
    "videoMeshCluster",
    "videoMeshServer",
    "participantId",
    "participantSessionId",
];

/// A session's lists of stream segments.
const SESSION_STREAMS: &[&str] = &[
    "audioIn", "audioOut", "videoIn", "videoOut", "shareIn", "shareOut",
];

/// A stream segment's metric arrays.
const STREAM_SERIES: &[&str] = &[
    "packetLoss",
    "latency",
    "jitter",
    "mediaBitRate",
    "resolutionHeight",
    "frameRate",
];

/// The CPU arrays of a session's `resources`.
const CPU_SERIES: &[&str] = &[
    "processAverageCPU",
    "processMaxCPU",
    "systemAverageCPU",
    "systemMaxCPU",
];

fn page_object(depth: u32, usual: bool) -> BoxedStrategy<Value> {
    let leaf = move || {
        if usual {
            nested(usual_leaf())
        } else {
            json_value().boxed()
        }
    };
    let measure = move || {
        if usual {
            usual_leaf()
        } else {
            prop_oneof![
                Just(Value::Null),
                any::<f64>().prop_map(|f| json!(f)),
                any::<i32>().prop_map(|i| json!(i)),
                Just(json!("3.5")),
                usual_leaf(),
            ]
            .boxed()
        }
    };
    let value = if depth == 0 {
        leaf()
    } else {
        prop_oneof![
            3 => leaf(),
            1 => page_object(depth - 1, usual),
            1 => proptest::collection::vec(page_object(depth - 1, usual), 0..4).prop_map(Value::Array),
            1 => proptest::collection::vec(measure(), 0..20).prop_map(Value::Array),
        ]
        .boxed()
    };
    proptest::collection::vec((proptest::sample::select(fields()), value), 0..8)
        .prop_map(|pairs| {
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| ((*k).to_owned(), v))
                    .collect(),
            )
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn any_json_object_is_a_page_and_the_check_agrees_with_the_parser(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        let parsed = parse_qualities(&body);
        let checked = check_qualities(&body);
        prop_assert_eq!(parsed.is_ok(), checked.is_ok(), "{}", value);
        // Lenient: every object is a page (fields of the wrong type are read as absent), and
        // nothing else is.
        prop_assert_eq!(parsed.is_ok(), value.is_object(), "{}", value);
    }

    #[test]
    fn pages_with_webex_fields_of_any_type_are_read_leniently(
        items in proptest::collection::vec(page_like_object(2), 0..4),
        items_as_object in any::<bool>(),
    ) {
        let page = if items_as_object && !items.is_empty() {
            json!({"items": items[0].clone()})
        } else {
            json!({"items": items})
        };
        let body = serde_json::to_vec(&page).unwrap();
        prop_assert!(parse_qualities(&body).is_ok(), "{}", page);
        prop_assert!(check_qualities(&body).is_ok());
    }

    #[test]
    fn the_quick_reader_reads_every_page_as_serde_does(
        items in proptest::collection::vec(page_like_object(2), 0..4),
        usual in proptest::collection::vec(prop_oneof![usual_session(), usual_page_object(1)], 0..3),
        extra in nested(usual_leaf()),
        pretty in any::<bool>(),
    ) {
        for page in [json!({"items": items}), json!({"extra": extra, "items": usual})] {
            let body = if pretty {
                serde_json::to_vec_pretty(&page).unwrap()
            } else {
                serde_json::to_vec(&page).unwrap()
            };
            prop_assert_eq!(parse_qualities(&body).ok(), parse_qualities_generic(&body).ok(), "{}", page);
        }
    }

    #[test]
    fn the_quick_reader_agrees_with_serde_on_any_bytes(body in proptest::collection::vec(
        proptest::sample::select(b"{}[]\",:0123456789.-eE tfnrulase\\\n\x01ab".to_vec()), 0..200,
    )) {
        let mut body = body;
        body.insert(0, b'{');
        prop_assert_eq!(parse_qualities(&body).ok(), parse_qualities_generic(&body).ok());
    }

    #[test]
    fn bytes_that_are_not_json_are_refused_by_both(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(parse_qualities(&body).is_ok(), check_qualities(&body).is_ok());
    }

    #[test]
    fn a_page_cut_short_is_refused_by_both(value in page_like_object(2), cut in any::<prop::sample::Index>()) {
        let body = serde_json::to_vec(&json!({"items": [value]})).unwrap();
        let cut = &body[..cut.index(body.len())];
        prop_assert!(parse_qualities(cut).is_err());
        prop_assert!(check_qualities(cut).is_err());
    }
}
