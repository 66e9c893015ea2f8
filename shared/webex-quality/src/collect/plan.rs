//! Which meetings are due for a Meeting Qualities call now: the 5-minute rule, the 10-minute and 7-day
//! data windows, in-progress meetings every cycle, and a final call a grace period after the end;
//! and the statuses it plans with (the stored ones, updated with the listing).
//! Pure: the same inputs always give the same plan.

use chrono::{DateTime, Utc};

use crate::db::{ArchivedMeeting, Checkpoint, CheckpointUpdate, MeetingRow, MeetingStatus};

/// The timing rules.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Webex allows one call per meeting per this long (5 minutes).
    pub call_interval: chrono::Duration,
    /// Data appears this long after the start (10 minutes).
    pub data_delay: chrono::Duration,
    /// Data is kept this long after the start (7 days).
    pub retention: chrono::Duration,
    /// After the end, calls go on until one made this long after the end, which is final.
    pub final_grace: chrono::Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            call_interval: chrono::Duration::minutes(5),
            data_delay: chrono::Duration::minutes(10),
            retention: chrono::Duration::days(7),
            final_grace: chrono::Duration::minutes(15),
        }
    }
}

/// Why a meeting is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// In progress, or ended less than the grace period ago: data still changing.
    Changing,
    /// Ended at least the grace period ago: this call is final once it completes.
    Final,
}

/// A meeting to call now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Instance id.
    pub instance_id: String,
    /// Why.
    pub reason: Reason,
    /// When its data will be gone.
    pub data_expires_at: DateTime<Utc>,
}

/// The plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Meetings to call, the ones closest to losing their data first.
    pub due: Vec<Due>,
    /// Meetings whose data window closed before any complete call: given up, reported.
    pub expired: Vec<String>,
}

/// Plans the calls for `now`.
#[must_use]
pub fn plan(now: DateTime<Utc>, meetings: &[MeetingStatus], rules: &Rules) -> Plan {
    let mut out = Plan::default();
    for meeting in meetings {
        let checkpoint = &meeting.checkpoint;
        if checkpoint.final_ {
            continue;
        }
        let Some(start) = meeting.start else { continue };
        let data_expires_at = start + rules.retention;
        if now >= data_expires_at {
            out.expired.push(meeting.instance_id.clone());
            continue;
        }
        if now < start + rules.data_delay {
            continue;
        }
        if checkpoint.next_allowed_at.is_some_and(|next| now < next) {
            continue;
        }
        let ended = meeting.state.as_deref() == Some("ended")
            || meeting
                .end
                .is_some_and(|end| end <= now && meeting.state.as_deref() != Some("inProgress"));
        let reason = match meeting.end {
            Some(end) if ended && now >= end + rules.final_grace => Reason::Final,
            _ => Reason::Changing,
        };
        out.due.push(Due {
            instance_id: meeting.instance_id.clone(),
            reason,
            data_expires_at,
        });
    }
    out.due.sort_by(|a, b| {
        a.data_expires_at
            .cmp(&b.data_expires_at)
            .then_with(|| a.instance_id.cmp(&b.instance_id))
    });
    out
}

/// The status of a meeting kept in an archive: final (a day is archived once all its meetings are).
pub(super) fn archived_status(meeting: &ArchivedMeeting) -> MeetingStatus {
    MeetingStatus {
        instance_id: meeting.instance_id.clone(),
        start: meeting.start,
        end: None,
        state: None,
        item_digest: None,
        checkpoint: Checkpoint {
            final_: true,
            ..Checkpoint::default()
        },
    }
}

/// Stored statuses updated with this cycle's listing, any crashed run's calls and spilled calls.
pub(super) fn merge_statuses(
    stored: &[MeetingStatus],
    listed: &[MeetingRow],
    crashed: &[CheckpointUpdate],
) -> Vec<MeetingStatus> {
    let mut by_id: std::collections::BTreeMap<&str, MeetingStatus> = stored
        .iter()
        .map(|s| (s.instance_id.as_str(), s.clone()))
        .collect();
    for row in listed {
        let entry = by_id
            .entry(row.instance_id.as_str())
            .or_insert_with(|| MeetingStatus {
                instance_id: row.instance_id.clone(),
                start: None,
                end: None,
                state: None,
                item_digest: None,
                checkpoint: Checkpoint::default(),
            });
        entry.start = row.start;
        entry.end = row.end;
        entry.state.clone_from(&row.state);
    }
    for update in crashed {
        if let Some(entry) = by_id.get_mut(update.instance_id.as_str()) {
            let next = entry
                .checkpoint
                .next_allowed_at
                .map_or(update.next_allowed_at, |n| n.max(update.next_allowed_at));
            entry.checkpoint.next_allowed_at = Some(next);
            // A spilled call may have been the meeting's final fetch (or the window's end).
            entry.checkpoint.final_ |= update.final_;
        }
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Checkpoint;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(minutes)
    }

    fn meeting(
        id: &str,
        start: i64,
        end: i64,
        state: &str,
        checkpoint: Checkpoint,
    ) -> MeetingStatus {
        MeetingStatus {
            instance_id: id.into(),
            start: Some(t(start)),
            end: Some(t(end)),
            state: Some(state.into()),
            item_digest: None,
            checkpoint,
        }
    }

    fn ids(plan: &Plan) -> Vec<(&str, Reason)> {
        plan.due
            .iter()
            .map(|d| (d.instance_id.as_str(), d.reason))
            .collect()
    }

    #[test]
    fn no_call_in_the_first_ten_minutes() {
        let m = [meeting("a", 0, 60, "inProgress", Checkpoint::default())];
        assert!(plan(t(9), &m, &Rules::default()).due.is_empty());
        assert_eq!(
            ids(&plan(t(10), &m, &Rules::default())),
            [("a", Reason::Changing)]
        );
    }

    #[test]
    fn never_twice_inside_five_minutes() {
        let checkpoint = Checkpoint {
            next_allowed_at: Some(t(25)),
            ..Checkpoint::default()
        };
        let m = [meeting("a", 0, 60, "inProgress", checkpoint)];
        assert!(plan(t(24), &m, &Rules::default()).due.is_empty());
        assert_eq!(plan(t(25), &m, &Rules::default()).due.len(), 1);
    }

    #[test]
    fn after_the_end_calls_go_on_until_a_final_one_after_the_grace_period() {
        let m = [meeting("a", 0, 30, "ended", Checkpoint::default())];
        assert_eq!(
            ids(&plan(t(40), &m, &Rules::default())),
            [("a", Reason::Changing)]
        );
        assert_eq!(
            ids(&plan(t(45), &m, &Rules::default())),
            [("a", Reason::Final)]
        );
        let done = [meeting(
            "a",
            0,
            30,
            "ended",
            Checkpoint {
                final_: true,
                ..Checkpoint::default()
            },
        )];
        assert!(plan(t(50), &done, &Rules::default()).due.is_empty());
    }

    #[test]
    fn the_meetings_closest_to_losing_their_data_go_first_and_expired_ones_are_reported() {
        let m = [
            meeting("new", 60, 90, "ended", Checkpoint::default()),
            meeting("old", 0, 30, "ended", Checkpoint::default()),
            meeting(
                "gone",
                -7 * 24 * 60 - 1,
                -7 * 24 * 60 + 30,
                "ended",
                Checkpoint::default(),
            ),
        ];
        let p = plan(t(200), &m, &Rules::default());
        assert_eq!(ids(&p), [("old", Reason::Final), ("new", Reason::Final)]);
        assert_eq!(p.expired, ["gone"]);
    }

    #[test]
    fn a_meeting_still_listed_in_progress_after_its_scheduled_end_keeps_changing() {
        let m = [meeting("a", 0, 30, "inProgress", Checkpoint::default())];
        assert_eq!(
            ids(&plan(t(60), &m, &Rules::default())),
            [("a", Reason::Changing)]
        );
    }
}
