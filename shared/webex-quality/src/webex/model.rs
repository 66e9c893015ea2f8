//! Typed, lenient views of what Webex sends: the fields the collector and the dashboard need.
//!
//! Webex's payloads drift (fields appear, go missing, change between int, float and numeric string),
//! so every field here is optional and never fails the parse: unknown fields are ignored, a missing or
//! ill-typed field is `None` or empty. Metric arrays are `Vec<Option<f64>>` in which `None` means "no
//! data" for that interval: Webex's `-1` (any negative), `null` and non-numbers all become `None`,
//! never zero. The raw bytes stay the system of record; these views are rebuilt from them at will.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

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
/// The lenient fields read straight from the bytes, with no intermediate JSON tree; a body that trips
/// that path (a key given twice, say) is read again through a tree, where the last value wins.
///
/// # Errors
/// The parser's error.
pub fn parse_qualities(body: &[u8]) -> Result<QualitiesPage, serde_json::Error> {
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

/// Any JSON value, reduced to what a lenient field can use: a number, a string, or something else
/// (skipped without building it).
enum Scalar<'de> {
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(std::borrow::Cow<'de, str>),
    Other,
}

impl Scalar<'_> {
    /// Ints, floats and numeric strings; anything else is `None`.
    fn number(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        match self {
            Self::Int(v) => Some(*v as f64),
            Self::Uint(v) => Some(*v as f64),
            Self::Float(v) => Some(*v).filter(|v| v.is_finite()),
            Self::Str(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            Self::Other => None,
        }
    }
}

/// Visitor methods that answer `$value` for every scalar (bool, number, string, null): for lenient
/// containers, to which a scalar is simply "nothing".
macro_rules! scalars_give {
    ($value:expr) => {
        fn visit_bool<Ex>(self, _: bool) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_i64<Ex>(self, _: i64) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_u64<Ex>(self, _: u64) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_f64<Ex>(self, _: f64) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_str<Ex>(self, _: &str) -> Result<Self::Value, Ex> {
            Ok($value)
        }
        fn visit_unit<Ex>(self) -> Result<Self::Value, Ex> {
            Ok($value)
        }
    };
}

/// Skips every element of a sequence or entry of a map.
fn skip_seq<'de, A: serde::de::SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map
        .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
        .is_some()
    {}
    Ok(())
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Uint(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(std::borrow::Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Scalar::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Scalar::Other)
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Str(s) => Some(s.into_owned()),
        Scalar::Int(v) => Some(v.to_string()),
        Scalar::Uint(v) => Some(v.to_string()),
        Scalar::Float(v) => serde_json::Number::from_f64(v).map(|n| n.to_string()),
        Scalar::Other => None,
    })
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Scalar::deserialize(d)?.number())
}

fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Str(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    })
}

/// A list read element by element: `Some` for each element that `E` keeps.
struct Lenient<E>(Vec<E>);

/// One element of a list of objects: `None` when it is not an object.
struct Object<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| Object(Some(t)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Object(None))
            }
            scalars_give!(Object(None));
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

impl<'de, E: Deserialize<'de>> Deserialize<'de> for Lenient<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<E>(std::marker::PhantomData<E>);
        impl<'de, E: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<E> {
            type Value = Lenient<E>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                // serde_json gives no size hint; lists of sessions and segments are short.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                while let Some(element) = seq.next_element::<E>()? {
                    out.push(element);
                }
                Ok(Lenient(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Lenient(Vec::new()))
            }
            scalars_give!(Lenient(Vec::new()));
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

thread_local! {
    /// Where [`series`] reads an array before copying it out at its length: one allocation per
    /// array instead of a vector grown from a guess (metric arrays were a tenth of a render's
    /// allocations).
    static SERIES_SCRATCH: std::cell::Cell<Vec<Option<f64>>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A metric array: negatives (Webex's `-1`), nulls and non-numbers are "no data".
fn series<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Option<f64>>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<Option<f64>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            // Taken, not borrowed: nothing can observe the scratch half-filled.
            let mut scratch = SERIES_SCRATCH.take();
            scratch.clear();
            let read = (|| {
                while let Some(Measure(value)) = seq.next_element::<Measure>()? {
                    scratch.push(value);
                }
                Ok(scratch.as_slice().to_vec())
            })();
            SERIES_SCRATCH.set(scratch);
            read
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            skip_map(map).map(|()| Vec::new())
        }
        scalars_give!(Vec::new());
    }
    d.deserialize_any(Visitor)
}

/// One interval's value of a metric array.
struct Measure(Option<f64>);

impl<'de> Deserialize<'de> for Measure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Its own visitor: metric arrays are most of a page, and numbers need no `Scalar`.
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Measure;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Measure(None))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Measure(Scalar::Int(v).number().filter(|n| *n >= 0.0)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Measure(Scalar::Uint(v).number()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Measure(Some(v).filter(|n| n.is_finite() && *n >= 0.0)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Measure(
                    Scalar::Str(std::borrow::Cow::Borrowed(v))
                        .number()
                        .filter(|n| *n >= 0.0),
                ))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Measure(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Measure(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Measure(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Measure(None))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A list of objects; elements that are not objects are skipped.
fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Lenient::<Object<T>>::deserialize(d)?
        .0
        .into_iter()
        .filter_map(|o| o.0)
        .collect())
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
