//! Quality thresholds: the numbers behind good, fair and poor. Webex does not publish Control Hub's;
//! the defaults come from the published thresholds of comparable dashboards (see the README and
//! `docs/thresholds.md`), and every one can be changed with a JSON file
//! (`WEBEX_QUALITY_THRESHOLDS_FILE`) that names only what it changes.

use serde::{Deserialize, Serialize};

/// Limits for one metric: above `fair` is fair, above `poor` is poor (for frame rate, where lower is
/// worse, below).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Worse than this is at best fair.
    pub fair: f64,
    /// Worse than this is poor.
    pub poor: f64,
}

/// Limits for one kind of stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamLimits {
    /// Packet loss, percent.
    pub packet_loss: Limits,
    /// Latency, milliseconds.
    pub latency: Limits,
    /// Jitter, milliseconds.
    pub jitter: Limits,
    /// Frame rate, frames per second (lower is worse); `None` for audio.
    pub frame_rate: Option<Limits>,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Thresholds::default().audio
    }
}

/// How many minutes make a session's stream poor (or fair).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sustained {
    /// This many consecutive minutes at the level or worse.
    pub consecutive_minutes: usize,
    /// Or more than this share (0-1) of the minutes with data.
    pub share_of_minutes: f64,
}

impl Default for Sustained {
    fn default() -> Self {
        Self {
            consecutive_minutes: 3,
            share_of_minutes: 0.10,
        }
    }
}

/// The rule that turns a meeting's participants into the meeting's verdict (see
/// [`crate::quality::headline`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MeetingRule {
    /// Poor when at least this share (0-1) of the participant-minutes with data were poor.
    pub poor_minutes_share: f64,
    /// Poor when the host or a presenter had a poor stream (poor by the sustained rule).
    pub host_or_presenter: bool,
    /// Fair when at least this share (0-1) of the participant-minutes with data were fair or poor.
    pub fair_minutes_share: f64,
    /// Fair when at least this share (0-1) of the participants had a poor stream.
    pub fair_participants_share: f64,
    /// A participant whose machine's average CPU was at least this (percent) is named as the cause
    /// when they are at least half of the affected participants.
    pub cpu_busy_percent: f64,
}

impl MeetingRule {
    /// The rule in words, with its numbers.
    #[must_use]
    pub fn describe(&self) -> String {
        let percent = |share: f64| format!("{:.0} %", share * 100.0);
        let leaders = if self.host_or_presenter {
            ", or when the host or a presenter had a poor stream"
        } else {
            ""
        };
        format!(
            "A meeting is poor when at least {} of its participant-minutes with data were poor{leaders}; \
             fair when at least {} were fair or poor, or at least {} of its participants had a poor \
             stream; else good (\"good for 24 of 27\" when some had trouble). A participant's stream \
             is poor or fair by the thresholds, sustained over minutes.",
            percent(self.poor_minutes_share),
            percent(self.fair_minutes_share),
            percent(self.fair_participants_share),
        )
    }
}

impl Default for MeetingRule {
    fn default() -> Self {
        Self {
            poor_minutes_share: 0.20,
            host_or_presenter: true,
            fair_minutes_share: 0.20,
            fair_participants_share: 0.25,
            cpu_busy_percent: 90.0,
        }
    }
}

/// Every threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// Audio streams.
    pub audio: StreamLimits,
    /// Video streams.
    pub video: StreamLimits,
    /// Content-share streams.
    pub share: StreamLimits,
    /// What makes a whole session's stream poor or fair.
    pub sustained: Sustained,
    /// What makes a whole meeting poor or fair.
    pub meeting: MeetingRule,
}

impl Default for Thresholds {
    /// The defaults, with their sources:
    /// - packet loss: fair above 1 % (Microsoft's network target), poor above 10 % for audio (Teams
    ///   CQD), 15 % for video (CQD, loss after FEC) and 5 % for sharing (Teams real-time "good");
    /// - latency: fair above 150 ms (Cisco TelePresence one-way target), poor above 500 ms (CQD round
    ///   trip; Webex's SDK degradation trigger), taking Webex's latency as round trip;
    /// - jitter: fair above 15 ms, poor above 30 ms (CQD audio; Microsoft network target);
    /// - frame rate: video fair below 15 fps, poor below 7 fps (CQD); sharing fair below 5, poor below
    ///   2 fps (CQD video-based sharing).
    fn default() -> Self {
        let latency = Limits {
            fair: 150.0,
            poor: 500.0,
        };
        let jitter = Limits {
            fair: 15.0,
            poor: 30.0,
        };
        Self {
            audio: StreamLimits {
                packet_loss: Limits {
                    fair: 1.0,
                    poor: 10.0,
                },
                latency,
                jitter,
                frame_rate: None,
            },
            video: StreamLimits {
                packet_loss: Limits {
                    fair: 1.0,
                    poor: 15.0,
                },
                latency,
                jitter,
                frame_rate: Some(Limits {
                    fair: 15.0,
                    poor: 7.0,
                }),
            },
            share: StreamLimits {
                packet_loss: Limits {
                    fair: 1.0,
                    poor: 5.0,
                },
                latency,
                jitter,
                frame_rate: Some(Limits {
                    fair: 5.0,
                    poor: 2.0,
                }),
            },
            sustained: Sustained::default(),
            meeting: MeetingRule::default(),
        }
    }
}

impl Thresholds {
    /// The defaults with the changes in a JSON document such as
    /// `{"audio": {"latency": {"fair": 100, "poor": 300}}}`.
    ///
    /// # Errors
    /// The parser's error, or a description of a limit that makes no sense.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let mut value = serde_json::to_value(Self::default()).map_err(|e| e.to_string())?;
        let changes: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        merge(&mut value, changes);
        let thresholds: Self = serde_json::from_value(value).map_err(|e| e.to_string())?;
        thresholds.check()?;
        Ok(thresholds)
    }

    /// The defaults, or the file named by `WEBEX_QUALITY_THRESHOLDS_FILE` applied over them.
    ///
    /// # Errors
    /// A [`crate::config::ConfigError`] naming the setting when the file cannot be read or is invalid.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, crate::config::ConfigError> {
        let path = crate::config::text_setting(lookup, "WEBEX_QUALITY_THRESHOLDS_FILE");
        Self::load(path.as_deref().map(std::path::Path::new))
    }

    /// The defaults changed by the JSON file at `path` (the `WEBEX_QUALITY_THRESHOLDS_FILE`
    /// setting); the defaults alone without one.
    ///
    /// # Errors
    /// A [`crate::config::ConfigError`] naming the setting when the file cannot be read or is
    /// invalid.
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, crate::config::ConfigError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let fail = |problem: String| {
            crate::config::ConfigError {
            name: "WEBEX_QUALITY_THRESHOLDS_FILE",
            problem,
            fix: "Give a JSON file such as {\"audio\": {\"latency\": {\"fair\": 100, \"poor\": 300}}}, or unset it for the defaults.".into(),
        }
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("{} cannot be read ({e})", path.display())))?;
        Self::from_json(&text).map_err(|e| fail(format!("{} is not valid ({e})", path.display())))
    }

    fn check(&self) -> Result<(), String> {
        for (name, limits) in [
            ("audio", self.audio),
            ("video", self.video),
            ("share", self.share),
        ] {
            for (metric, l) in [
                ("packet_loss", limits.packet_loss),
                ("latency", limits.latency),
                ("jitter", limits.jitter),
            ] {
                if !(l.fair >= 0.0 && l.poor >= l.fair) {
                    return Err(format!(
                        "{name}.{metric}: fair must be >= 0 and poor >= fair"
                    ));
                }
            }
            if let Some(l) = limits.frame_rate
                && !(l.poor >= 0.0 && l.fair >= l.poor)
            {
                return Err(format!(
                    "{name}.frame_rate: poor must be >= 0 and fair >= poor (lower is worse)"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.sustained.share_of_minutes) {
            return Err("sustained.share_of_minutes must be from 0 to 1".into());
        }
        let rule = &self.meeting;
        for (name, share) in [
            ("poor_minutes_share", rule.poor_minutes_share),
            ("fair_minutes_share", rule.fair_minutes_share),
            ("fair_participants_share", rule.fair_participants_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("meeting.{name} must be from 0 to 1"));
            }
        }
        if !(0.0..=100.0).contains(&rule.cpu_busy_percent) {
            return Err("meeting.cpu_busy_percent must be from 0 to 100".into());
        }
        Ok(())
    }
}

fn merge(base: &mut serde_json::Value, changes: serde_json::Value) {
    match (base, changes) {
        (serde_json::Value::Object(base), serde_json::Value::Object(changes)) => {
            for (key, value) in changes {
                merge(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (slot, value) => *slot = value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_file_changes_only_what_it_names() {
        let t = Thresholds::from_json(r#"{"audio": {"latency": {"poor": 300}}}"#).unwrap();
        assert_eq!(
            t.audio.latency,
            Limits {
                fair: 150.0,
                poor: 300.0
            }
        );
        assert_eq!(t.video, Thresholds::default().video);
    }

    #[test]
    fn the_thresholds_file_setting_is_read_and_named_in_errors() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.json");
        std::fs::write(&file, r#"{"sustained": {"consecutive_minutes": 2}}"#).unwrap();
        let path = file.display().to_string();
        let t = Thresholds::from_lookup(&|_| Some(path.clone())).unwrap();
        assert_eq!(t.sustained.consecutive_minutes, 2);
        assert_eq!(
            Thresholds::from_lookup(&|_| None).unwrap(),
            Thresholds::default()
        );
        let err = Thresholds::from_lookup(&|_| Some("/nonexistent/t.json".into())).unwrap_err();
        assert_eq!(err.name, "WEBEX_QUALITY_THRESHOLDS_FILE");
    }

    #[test]
    fn nonsense_limits_are_refused() {
        assert!(
            Thresholds::from_json(r#"{"audio": {"jitter": {"fair": 50, "poor": 10}}}"#).is_err()
        );
        assert!(
            Thresholds::from_json(r#"{"video": {"frame_rate": {"fair": 5, "poor": 10}}}"#).is_err()
        );
        assert!(Thresholds::from_json("{").is_err());
        assert!(Thresholds::from_json(r#"{"meeting": {"poor_minutes_share": 20}}"#).is_err());
    }

    #[test]
    fn the_meeting_rule_is_configurable_like_the_limits() {
        let t = Thresholds::from_json(r#"{"meeting": {"host_or_presenter": false}}"#).unwrap();
        assert!(!t.meeting.host_or_presenter);
        assert_eq!(
            t.meeting.poor_minutes_share,
            MeetingRule::default().poor_minutes_share
        );
    }
}
