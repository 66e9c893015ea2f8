//! Typed, lenient views of what Webex sends: the fields the collector and the dashboard need.
//!
//! Webex's payloads drift (fields appear, go missing, change between int, float and numeric string),
//! so every field here is optional and never fails the parse: unknown fields are ignored, a missing or
//! ill-typed field is `None` or empty. Metric arrays are `Vec<Option<f64>>` in which `None` means "no
//! data" for that interval: Webex's `-1` (any negative), `null` and non-numbers all become `None`,
//! never zero. The raw bytes stay the system of record; these views are rebuilt from them at will.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

mod fast;
mod lenient;

use lenient::{list, number, series, string, time};

/// A meeting instance id (`<32 hex>_I_<digits>`): the `id` List Meetings gives with
/// `meetingType=meeting`, the only id Meeting Qualities accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MeetingInstanceId(String);

impl MeetingInstanceId {
    /// The longest id accepted. Webex's are about 55 characters; the id names the meeting's page and
    /// its rows, so an absurd one is refused here rather than failing a file name later.
    pub const MAX_LEN: usize = 128;

    /// Parses an instance id; series ids (no `_I_`), anything with spaces or controls, and ids
    /// longer than [`Self::MAX_LEN`] are refused.
    ///
    /// # Errors
    /// A description of what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > Self::MAX_LEN {
            let start: String = text.chars().take(40).collect();
            return Err(format!(
                "{start:?}... ({} bytes) is longer than a meeting instance id can be ({} bytes at most)",
                text.len(),
                Self::MAX_LEN
            ));
        }
        let valid_chars = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        match text.split_once("_I_") {
            Some((series, instance))
                if valid_chars && !series.is_empty() && !instance.is_empty() =>
            {
                Ok(Self(text.to_owned()))
            }
            _ => Err(format!(
                "{text:?} is not a meeting instance id (<series id>_I_<number>)"
            )),
        }
    }

    /// The id as sent to Webex.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MeetingInstanceId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MeetingInstanceId> for String {
    fn from(value: MeetingInstanceId) -> Self {
        value.0
    }
}

impl fmt::Display for MeetingInstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One List Meetings item: the typed view and the item's raw JSON, byte for byte.
#[derive(Debug, Clone)]
pub struct Meeting {
    /// The instance id.
    pub id: MeetingInstanceId,
    /// The typed fields.
    pub view: MeetingView,
    /// The item exactly as Webex sent it.
    pub raw: Box<RawValue>,
}

/// The List Meetings fields the collector uses.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MeetingView {
    /// `id`.
    #[serde(deserialize_with = "string")]
    pub id: Option<String>,
    /// `meetingSeriesId`.
    #[serde(deserialize_with = "string")]
    pub meeting_series_id: Option<String>,
    /// `title`.
    #[serde(deserialize_with = "string")]
    pub title: Option<String>,
    /// `state`: `inProgress`, `ended`, ...
    #[serde(deserialize_with = "string")]
    pub state: Option<String>,
    /// `start`.
    #[serde(deserialize_with = "time")]
    pub start: Option<DateTime<Utc>>,
    /// `end`.
    #[serde(deserialize_with = "time")]
    pub end: Option<DateTime<Utc>>,
    /// `hostDisplayName`.
    #[serde(deserialize_with = "string")]
    pub host_display_name: Option<String>,
    /// `hostEmail`.
    #[serde(deserialize_with = "string")]
    pub host_email: Option<String>,
    /// `siteUrl`.
    #[serde(deserialize_with = "string")]
    pub site_url: Option<String>,
}

/// One Meeting Qualities page: `{"items": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct QualitiesPage {
    /// One item per participant media session.
    #[serde(deserialize_with = "list")]
    pub items: Vec<MediaSession>,
}

/// One participant media session (a person who rejoins has several).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)] // field names are Webex's, described in docs/webex-api.md
pub struct MediaSession {
    #[serde(deserialize_with = "string")]
    pub meeting_instance_id: Option<String>,
    #[serde(deserialize_with = "string")]
    pub webex_user_name: Option<String>,
    #[serde(deserialize_with = "string")]
    pub webex_user_email: Option<String>,
    #[serde(deserialize_with = "time")]
    pub join_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "time")]
    pub leave_time: Option<DateTime<Utc>>,
    /// Seconds it took to join; Webex sends a numeric string.
    #[serde(deserialize_with = "number")]
    pub join_meeting_time: Option<f64>,
    #[serde(deserialize_with = "string")]
    pub client_type: Option<String>,
    #[serde(deserialize_with = "string")]
    pub client_version: Option<String>,
    #[serde(deserialize_with = "string")]
    pub os_type: Option<String>,
    #[serde(deserialize_with = "string")]
    pub os_version: Option<String>,
    #[serde(deserialize_with = "string")]
    pub hardware_type: Option<String>,
    #[serde(deserialize_with = "string")]
    pub speaker_name: Option<String>,
    #[serde(deserialize_with = "string")]
    pub camera: Option<String>,
    #[serde(deserialize_with = "string")]
    pub microphone: Option<String>,
    #[serde(deserialize_with = "string")]
    pub network_type: Option<String>,
    #[serde(deserialize_with = "string", rename = "localIP")]
    pub local_ip: Option<String>,
    #[serde(deserialize_with = "string", rename = "publicIP")]
    pub public_ip: Option<String>,
    #[serde(deserialize_with = "string", rename = "maskedLocalIP")]
    pub masked_local_ip: Option<String>,
    #[serde(deserialize_with = "string", rename = "maskedPublicIP")]
    pub masked_public_ip: Option<String>,
    #[serde(deserialize_with = "string")]
    pub server_region: Option<String>,
    #[serde(deserialize_with = "string")]
    pub video_mesh_cluster: Option<String>,
    #[serde(deserialize_with = "string")]
    pub video_mesh_server: Option<String>,
    #[serde(deserialize_with = "string")]
    pub participant_id: Option<String>,
    #[serde(deserialize_with = "string")]
    pub participant_session_id: Option<String>,
    #[serde(deserialize_with = "list")]
    pub audio_in: Vec<MediaStream>,
    #[serde(deserialize_with = "list")]
    pub audio_out: Vec<MediaStream>,
    #[serde(deserialize_with = "list")]
    pub video_in: Vec<MediaStream>,
    #[serde(deserialize_with = "list")]
    pub video_out: Vec<MediaStream>,
    #[serde(deserialize_with = "list")]
    pub share_in: Vec<MediaStream>,
    #[serde(deserialize_with = "list")]
    pub share_out: Vec<MediaStream>,
    #[serde(deserialize_with = "list")]
    pub resources: Vec<Resources>,
}

/// One segment of one media stream (a stream that falls back from UDP to TCP has two).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MediaStream {
    /// Seconds per array element (60 in practice).
    #[serde(deserialize_with = "number")]
    pub sampling_interval: Option<f64>,
    /// Start of the segment.
    #[serde(deserialize_with = "time")]
    pub start_time: Option<DateTime<Utc>>,
    /// End of the segment.
    #[serde(deserialize_with = "time")]
    pub end_time: Option<DateTime<Utc>>,
    /// Percent, 0-100, per interval.
    #[serde(deserialize_with = "series")]
    pub packet_loss: Vec<Option<f64>>,
    /// Milliseconds per interval.
    #[serde(deserialize_with = "series")]
    pub latency: Vec<Option<f64>>,
    /// Milliseconds (assumed) per interval.
    #[serde(deserialize_with = "series")]
    pub jitter: Vec<Option<f64>>,
    /// Kbit/s (assumed) per interval.
    #[serde(deserialize_with = "series")]
    pub media_bit_rate: Vec<Option<f64>>,
    /// Pixels per interval (video and share).
    #[serde(deserialize_with = "series")]
    pub resolution_height: Vec<Option<f64>>,
    /// Frames per second per interval (video and share).
    #[serde(deserialize_with = "series")]
    pub frame_rate: Vec<Option<f64>>,
    /// `H.264 BP`, `Opus`, ...
    #[serde(deserialize_with = "string")]
    pub codec: Option<String>,
    /// `UDP` or `TCP`.
    #[serde(deserialize_with = "string")]
    pub transport_type: Option<String>,
}

/// CPU use of the client, percent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Resources {
    #[serde(deserialize_with = "series", rename = "processAverageCPU")]
    pub process_average_cpu: Vec<Option<f64>>,
    #[serde(deserialize_with = "series", rename = "processMaxCPU")]
    pub process_max_cpu: Vec<Option<f64>>,
    #[serde(deserialize_with = "series", rename = "systemAverageCPU")]
    pub system_average_cpu: Vec<Option<f64>>,
    #[serde(deserialize_with = "series", rename = "systemMaxCPU")]
    pub system_max_cpu: Vec<Option<f64>>,
}

/// Parses one Meeting Qualities page leniently. Fails only when the body is not JSON or not an
/// object.
///
/// Pages of the usual shape are read by a quick reader of their own; anything it does not read
/// exactly as [`parse_qualities_generic`] would goes to that one, which decides.
///
/// # Errors
/// The parser's error.
pub fn parse_qualities(body: &[u8]) -> Result<QualitiesPage, serde_json::Error> {
    if let Some(page) = std::str::from_utf8(body).ok().and_then(fast::read) {
        return Ok(page);
    }
    parse_qualities_generic(body)
}

/// [`parse_qualities`] through serde alone: what the quick reader is held to (by the tests and the
/// fuzz target), and what reads the pages it gives up on.
///
/// The lenient fields read straight from the bytes, with no intermediate JSON tree; a body that trips
/// that path (a key given twice, say) is read again through a tree, where the last value wins.
///
/// # Errors
/// The parser's error.
pub fn parse_qualities_generic(body: &[u8]) -> Result<QualitiesPage, serde_json::Error> {
    refuse_arrays(body)?;
    // Checked as UTF-8 once, whole (fast), rather than string by string by the byte reader.
    let typed = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    };
    typed.or_else(|_| {
        let tree: Value = serde_json::from_slice(body)?;
        QualitiesPage::deserialize(tree)
    })
}

/// Checks that `body` is a page [`parse_qualities`] accepts (JSON, an object at the top), without
/// building anything: what the collector needs before it stores a page as received.
///
/// # Errors
/// When it is not.
pub fn check_qualities(body: &[u8]) -> Result<(), serde_json::Error> {
    /// A struct with no fields: any object goes, every value is skipped unbuilt.
    #[derive(Deserialize)]
    struct Shape {}
    refuse_arrays(body)?;
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str::<Shape>(text).map(|_| ()),
        Err(_) => serde_json::from_slice::<Shape>(body).map(|_| ()),
    }
}

/// A page is an object. serde would read an array as a struct's fields in order (`[[...]]` as
/// `{"items": [...]}`), and the parser and the check would then disagree on `[null]` (found by the
/// property tests): an array at the top is refused by both.
fn refuse_arrays(body: &[u8]) -> Result<(), serde_json::Error> {
    match body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        Some(b'[') => Err(serde::de::Error::custom(
            "a Meeting Qualities page is a JSON object, not an array",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_told_from_series_ids() {
        assert!(
            MeetingInstanceId::parse("a3f1c9e07b2d4e68915c0d7f4b6a2e19_I_263501842957318402")
                .is_ok()
        );
        assert!(MeetingInstanceId::parse("a3f1c9e07b2d4e68915c0d7f4b6a2e19").is_err());
        assert!(MeetingInstanceId::parse("abc_I_1 OR 1=1").is_err());
        assert!(MeetingInstanceId::parse("_I_").is_err());
    }

    #[test]
    fn an_absurdly_long_instance_id_is_refused_with_a_short_message() {
        let longest = format!("{}_I_1", "a".repeat(MeetingInstanceId::MAX_LEN - 4));
        assert!(MeetingInstanceId::parse(&longest).is_ok());
        let long = format!("{}_I_12", "a".repeat(MeetingInstanceId::MAX_LEN - 4));
        let error = MeetingInstanceId::parse(&long).unwrap_err();
        assert!(
            error.contains("longer than a meeting instance id"),
            "{error}"
        );
        let huge = format!("{}_I_1", "a".repeat(1_000_000));
        assert!(MeetingInstanceId::parse(&huge).unwrap_err().len() < 200);
    }

    #[test]
    fn metric_arrays_turn_sentinels_into_no_data_and_accept_any_number_form() {
        let page = parse_qualities(
            br#"{"items":[{"audioIn":[{"packetLoss":[0, 1.5, -1, null, "2.5", "x", 3]}],
                "joinMeetingTime":"5.793","surprise":{"a":1},"videoIn":"not a list"}]}"#,
        )
        .unwrap();
        let session = &page.items[0];
        assert_eq!(
            session.audio_in[0].packet_loss,
            vec![Some(0.0), Some(1.5), None, None, Some(2.5), None, Some(3.0)]
        );
        assert_eq!(session.join_meeting_time, Some(5.793));
        assert!(session.video_in.is_empty());
    }

    #[test]
    fn missing_fields_and_wrong_types_are_tolerated() {
        let page =
            parse_qualities(br#"{"items":[{"webexUserName":42,"joinTime":"not a time"},7]}"#)
                .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].webex_user_name.as_deref(), Some("42"));
        assert_eq!(page.items[0].join_time, None);
        assert_eq!(parse_qualities(b"{}").unwrap().items.len(), 0);
        // The collector's check agrees with the parser on what is a page.
        for body in [
            &br#"{"items":[{"webexUserName":42,"joinTime":"not a time"},7]}"#[..],
            b"{}",
            b"[]",
            b"{\"items\":[",
            b"7",
            b"\"text\"",
            b"{\"items\":[]} trailing",
            b"\xff\xfe{}",
            b"[null]",
            b" [[]]",
        ] {
            assert_eq!(
                check_qualities(body).is_ok(),
                parse_qualities(body).is_ok(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse_qualities(b"{\"items\":[").is_err());
        // An array is not a page (serde would read it as the fields in order).
        for body in [&b"[]"[..], b"[null]", b"\n[[{}]]"] {
            assert!(parse_qualities(body).is_err());
            assert!(check_qualities(body).is_err());
        }
    }

    #[test]
    fn a_key_given_twice_keeps_the_last_value() {
        let page = parse_qualities(
            br#"{"items":[{"webexUserName":"first","webexUserName":"second",
                "audioIn":[{"latency":[1,2]}, 5, [1]]}], "items2": {"x": [1, {"y": 2}]}}"#,
        )
        .unwrap();
        assert_eq!(page.items[0].webex_user_name.as_deref(), Some("second"));
        assert_eq!(page.items[0].audio_in.len(), 1);
        assert_eq!(
            parse_qualities(br#"{"items":{"not":"a list"}}"#)
                .unwrap()
                .items
                .len(),
            0
        );
    }
}
