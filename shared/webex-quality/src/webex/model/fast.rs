//! A reader for the usual shape of a Meeting Qualities page, quicker than serde's (193 against
//! 150 MB/s on the typical simulated page, `cargo bench -p webex-quality --bench render`; a full
//! rebuild of the dashboard spent about a quarter of its time in serde reading pages).
//!
//! It reads one pass over the text with no visitor per value, and it only reads what it can read
//! exactly as [`super::parse_qualities_generic`] would: strings without escapes, plain decimal numbers
//! of at most 15 digits (whose value is then exact, whichever way it is computed), a string field
//! given a string, `null`, a list or an object. On anything else (an escape, an exponent, a long
//! number, a number where a string belongs, deep nesting, anything that is not JSON) it gives up and
//! returns `None`, and the page is read by serde, which decides. The tests and the fuzz target hold
//! the two readers to the same answer.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::lenient::{Scalar, time_text};
use super::{MediaSession, MediaStream, QualitiesPage, Resources};

/// Reads `text` as a page, or `None` when the page needs the general reader.
pub(super) fn read(text: &str) -> Option<QualitiesPage> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
        scratch: Vec::new(),
    };
    let mut page = QualitiesPage::default();
    reader.object(|r, key| {
        if key == "items" {
            page.items = r.list(Reader::session)?;
        } else {
            r.skip()?;
        }
        Some(())
    })?;
    reader.space();
    (reader.at == reader.bytes.len()).then_some(page)
}

/// Deeper than this, the general reader decides (serde refuses past 128).
const MAX_DEPTH: u32 = 64;

/// Powers of ten that are exact as `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Where the reader is in the text.
struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: u32,
    /// A metric array is read here, then copied out at its length.
    scratch: Vec<Option<f64>>,
}

impl<'a> Reader<'a> {
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte that is not white space, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// An object, `entry` called with each key and the reader at its value, which it must read.
    fn object(&mut self, mut entry: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.enter()?;
        if self.peek()? == b'}' {
            self.at += 1;
        } else {
            loop {
                let key = self.string()?;
                self.eat(b':')?;
                entry(self, key)?;
                match self.peek()? {
                    b',' => self.at += 1,
                    b'}' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An array, `element` called with the reader at each element, which it must read.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.enter()?;
        if self.peek()? == b']' {
            self.at += 1;
        } else {
            loop {
                element(self)?;
                match self.peek()? {
                    b',' => self.at += 1,
                    b']' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        // Both ends are ASCII quotes, so both are character boundaries of the UTF-8 text.
        let s = self.text.get(start..self.at)?;
        self.at += 1;
        Some(s)
    }

    /// A plain decimal number of at most 15 digits, computed as serde_json computes it (the digits
    /// as an integer, divided by a power of ten: exact operands, so the one rounding is the
    /// correct one). The reader is at its first character. Given as serde_json hands a number to
    /// a visitor: a non-negative integer, a negative one, or a float (a fraction, and `-0`).
    fn number(&mut self) -> Option<Scalar<'a>> {
        let bytes = self.bytes;
        let negative = bytes.get(self.at) == Some(&b'-');
        let start = self.at + usize::from(negative);
        let (significand, end) = digits(bytes, start, 0);
        let whole = end - start;
        // None, more than 15, or a leading zero (not JSON).
        if whole == 0 || whole > 15 || (whole > 1 && bytes[start] == b'0') {
            return None;
        }
        let (significand, end, fraction) = if bytes.get(end) == Some(&b'.') {
            let (significand, after) = digits(bytes, end + 1, significand);
            let fraction = after - end - 1;
            if fraction == 0 || whole + fraction > 15 {
                return None;
            }
            (significand, after, fraction)
        } else {
            (significand, end, 0)
        };
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            return None;
        }
        self.at = end;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)] // at most 15 digits
        Some(match (fraction, negative) {
            (0, false) => Scalar::Uint(significand),
            (0, true) if significand > 0 => Scalar::Int(-(significand as i64)),
            _ => {
                let v = significand as f64 / POW10[fraction];
                Scalar::Float(if negative { -v } else { v })
            }
        })
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self) -> Option<()> {
        self.space();
        let rest = &self.bytes[self.at..];
        let len = [&b"true"[..], b"false", b"null"]
            .into_iter()
            .find(|word| rest.starts_with(word))?
            .len();
        self.at += len;
        Some(())
    }

    /// Any value, read and dropped.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(|r, _| r.skip()),
            b'[' => self.array(Self::skip),
            b'"' => self.string().map(drop),
            b't' | b'f' | b'n' => self.literal(),
            _ => self.number().map(drop),
        }
    }

    /// A list of objects; other elements are dropped, and anything but a list is an empty list.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut out = Vec::new();
        if self.peek()? != b'[' {
            self.skip()?;
            return Some(out);
        }
        self.array(|r| {
            if r.peek()? == b'{' {
                out.push(item(r)?);
                Some(())
            } else {
                r.skip()
            }
        })?;
        Some(out)
    }

    /// A string field: a string, or `None` for `null`, `true`, `false`, a list or an object. A
    /// number (which serde's reader writes out as text) is left to serde.
    fn text_field(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'"' => Some(Some(self.string()?.to_owned())),
            b'{' | b'[' | b't' | b'f' | b'n' => self.skip().map(|()| None),
            _ => None,
        }
    }

    /// A time field: an RFC 3339 string, else `None`.
    fn time_field(&mut self) -> Option<Option<DateTime<Utc>>> {
        if self.peek()? == b'"' {
            Some(time_text(self.string()?))
        } else {
            self.skip().map(|()| None)
        }
    }

    /// A number field: a finite number or numeric string, else `None`.
    fn number_field(&mut self) -> Option<Option<f64>> {
        match self.peek()? {
            b'"' => Some(Scalar::Str(Cow::Borrowed(self.string()?)).number()),
            b'-' | b'0'..=b'9' => Some(self.number()?.number()),
            _ => self.skip().map(|()| None),
        }
    }

    /// A metric array: negatives, nulls and non-numbers are "no data"; anything but a list is an
    /// empty one.
    fn series(&mut self) -> Option<Vec<Option<f64>>> {
        if self.peek()? != b'[' {
            self.skip()?;
            return Some(Vec::new());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let read = self.array(|r| {
            let value = match r.peek()? {
                b'-' | b'0'..=b'9' => r.number()?.measure(),
                b'"' => Scalar::Str(Cow::Borrowed(r.string()?)).measure(),
                _ => r.skip().map(|()| None)?,
            };
            scratch.push(value);
            Some(())
        });
        let out = read.map(|()| scratch.as_slice().to_vec());
        self.scratch = scratch;
        out
    }

    fn session(&mut self) -> Option<MediaSession> {
        let mut s = MediaSession::default();
        self.object(|r, key| {
            match key {
                "meetingInstanceId" => s.meeting_instance_id = r.text_field()?,
                "webexUserName" => s.webex_user_name = r.text_field()?,
                "webexUserEmail" => s.webex_user_email = r.text_field()?,
                "joinTime" => s.join_time = r.time_field()?,
                "leaveTime" => s.leave_time = r.time_field()?,
                "joinMeetingTime" => s.join_meeting_time = r.number_field()?,
                "clientType" => s.client_type = r.text_field()?,
                "clientVersion" => s.client_version = r.text_field()?,
                "osType" => s.os_type = r.text_field()?,
                "osVersion" => s.os_version = r.text_field()?,
                "hardwareType" => s.hardware_type = r.text_field()?,
                "speakerName" => s.speaker_name = r.text_field()?,
                "camera" => s.camera = r.text_field()?,
                "microphone" => s.microphone = r.text_field()?,
                "networkType" => s.network_type = r.text_field()?,
                "localIP" => s.local_ip = r.text_field()?,
                "publicIP" => s.public_ip = r.text_field()?,
                "maskedLocalIP" => s.masked_local_ip = r.text_field()?,
                "maskedPublicIP" => s.masked_public_ip = r.text_field()?,
                "serverRegion" => s.server_region = r.text_field()?,
                "videoMeshCluster" => s.video_mesh_cluster = r.text_field()?,
                "videoMeshServer" => s.video_mesh_server = r.text_field()?,
                "participantId" => s.participant_id = r.text_field()?,
                "participantSessionId" => s.participant_session_id = r.text_field()?,
                "audioIn" => s.audio_in = r.list(Self::stream)?,
                "audioOut" => s.audio_out = r.list(Self::stream)?,
                "videoIn" => s.video_in = r.list(Self::stream)?,
                "videoOut" => s.video_out = r.list(Self::stream)?,
                "shareIn" => s.share_in = r.list(Self::stream)?,
                "shareOut" => s.share_out = r.list(Self::stream)?,
                "resources" => s.resources = r.list(Self::resources)?,
                _ => r.skip()?,
            }
            Some(())
        })?;
        Some(s)
    }

    fn stream(&mut self) -> Option<MediaStream> {
        let mut s = MediaStream::default();
        self.object(|r, key| {
            match key {
                "samplingInterval" => s.sampling_interval = r.number_field()?,
                "startTime" => s.start_time = r.time_field()?,
                "endTime" => s.end_time = r.time_field()?,
                "packetLoss" => s.packet_loss = r.series()?,
                "latency" => s.latency = r.series()?,
                "jitter" => s.jitter = r.series()?,
                "mediaBitRate" => s.media_bit_rate = r.series()?,
                "resolutionHeight" => s.resolution_height = r.series()?,
                "frameRate" => s.frame_rate = r.series()?,
                "codec" => s.codec = r.text_field()?,
                "transportType" => s.transport_type = r.text_field()?,
                _ => r.skip()?,
            }
            Some(())
        })?;
        Some(s)
    }

    fn resources(&mut self) -> Option<Resources> {
        let mut s = Resources::default();
        self.object(|r, key| {
            match key {
                "processAverageCPU" => s.process_average_cpu = r.series()?,
                "processMaxCPU" => s.process_max_cpu = r.series()?,
                "systemAverageCPU" => s.system_average_cpu = r.series()?,
                "systemMaxCPU" => s.system_max_cpu = r.series()?,
                _ => r.skip()?,
            }
            Some(())
        })?;
        Some(s)
    }
}

/// The decimal digits from `at`, appended to `significand` (wrapping: the caller refuses more than
/// 15 digits), and where they end.
fn digits(bytes: &[u8], mut at: usize, mut significand: u64) -> (u64, usize) {
    while let Some(&c) = bytes.get(at) {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        significand = significand.wrapping_mul(10).wrapping_add(u64::from(digit));
        at += 1;
    }
    (significand, at)
}

#[cfg(test)]
mod tests {
    use super::super::parse_qualities_generic;
    use super::read;

    fn fixture() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/webex/meeting-qualities-3-participants.json"
        );
        std::fs::read_to_string(path).unwrap()
    }

    /// The usual page is read here, not handed to serde: what the speed depends on.
    #[test]
    fn the_usual_page_is_read_quickly_and_as_serde_reads_it() {
        let text = fixture();
        let page = read(&text).expect("the fixture is a usual page");
        assert_eq!(page.items.len(), 3);
        assert_eq!(page, parse_qualities_generic(text.as_bytes()).unwrap());
    }

    #[test]
    fn numbers_are_the_values_serde_gives() {
        let text = r#"{"items":[{"joinMeetingTime":-2.50,"audioIn":[{"samplingInterval":60,
            "packetLoss":[0,0.0,-0,-0.0,1.5,-1,-2.5,123456789012345,0.00000000000001,
            99.99,"3.5"," 4 ","-1","x",null,true,[1],{"a":1}]}]}]}"#;
        let quick = read(text).unwrap();
        assert_eq!(quick, parse_qualities_generic(text.as_bytes()).unwrap());
        let series = &quick.items[0].audio_in[0].packet_loss;
        // -0 and -0.0 are kept as serde keeps them (its float, with the sign).
        assert!(series[2].is_some_and(|v| v == 0.0 && v.is_sign_negative()));
        assert_eq!(series[6], None);
        assert_eq!(series[7], Some(123_456_789_012_345.0));
        assert_eq!(quick.items[0].join_meeting_time, Some(-2.5));
    }

    #[test]
    fn anything_unusual_goes_to_serde() {
        for text in [
            r#"{"items":[{"webexUserName":"a\"b"}]}"#, // an escape
            r#"{"items":[{"webexUserName":42}]}"#,     // a number as a name
            r#"{"items":[{"audioIn":[{"latency":[1e3]}]}]}"#, // an exponent
            r#"{"items":[{"audioIn":[{"latency":[1234567890123456]}]}]}"#, // 16 digits
            r#"{"items":[{"audioIn":[{"latency":[0.1234567890123456]}]}]}"#,
            r#"{"items":[{"audioIn":[{"latency":[01]}]}]}"#, // not JSON
            r#"{"items":[{"audioIn":[{"latency":[1.]}]}]}"#,
            r#"{"items":[{"audioIn":[{"latency":[-]}]}]}"#,
            r#"{"items":[{"audioIn":[{"latency":[1,]}]}]}"#,
            r#"{"items":[{"audioIn":[{"latency":[1 2]}]}]}"#,
            r#"{"items":[{"audioIn":[{"latency":[nul]}]}]}"#,
            "{\"items\":[{\"webexUserName\":\"a\u{1}b\"}]}", // a control character
            r#"{"items":[]} x"#,
            r#"{"items":[]"#,
            "[]",
            "7",
            "",
        ] {
            assert_eq!(read(text), None, "{text}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(read(&deep), None);
        let shallow = format!("{{\"x\":{}{}}}", "[".repeat(50), "]".repeat(50));
        assert_eq!(read(&shallow).map(|p| p.items.len()), Some(0));
    }

    #[test]
    fn a_key_given_twice_keeps_the_last_value_as_serde_does() {
        let text = r#"{"items":[{"webexUserName":"first","webexUserName":"second"}],
            "items":[{"webexUserName":"third"},{"webexUserName":null}]}"#;
        let quick = read(text).unwrap();
        assert_eq!(quick, parse_qualities_generic(text.as_bytes()).unwrap());
        assert_eq!(quick.items[0].webex_user_name.as_deref(), Some("third"));
        assert_eq!(quick.items[1].webex_user_name, None);
    }
}
