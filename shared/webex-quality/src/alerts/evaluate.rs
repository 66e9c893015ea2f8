//! The data rules, over the hot database: meetings with many poor participants, people poor in
//! many meetings, offices poor in the last hour, meetings whose 7-day window is closing unfetched.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use chrono::{DateTime, Utc};

use super::state::Rule;
use super::text::{clock, md};
use crate::config::AlertRules;
use crate::db::{Database, DbError, StoredMeeting};
use crate::quality::headline::{self, Headline};
use crate::quality::{MeetingReport, Thresholds, Verdict, meeting_report};
use crate::site::offices::{Offices, REMOTE, office_path};
use crate::site::{PersonKey, mask_email, meeting_path};

/// An alert the rules raise now (sent at most once: by its id).
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    /// Its id: the rule and what it is about.
    pub id: String,
    /// Its rule.
    pub rule: Rule,
    /// Its message, Markdown.
    pub text: String,
}

/// What the data rules look at.
pub(super) struct Inputs {
    pub now: DateTime<Utc>,
    /// Meetings fetched final after this were not looked at yet.
    pub since: DateTime<Utc>,
    pub rules: AlertRules,
    pub thresholds: Thresholds,
    pub offices: Offices,
    pub person_key: PersonKey,
    pub show_personal: bool,
    pub dashboard: Option<String>,
    /// How long Webex keeps a meeting's qualities (7 days).
    pub retention: chrono::Duration,
}

/// What the data rules found.
pub(super) struct Found {
    pub raised: Vec<Raised>,
    /// Per person, the meetings where they were poor (added to what the state had).
    pub poor_meetings: BTreeMap<String, BTreeMap<String, DateTime<Utc>>>,
    /// The last final fetch looked at.
    pub evaluated_through: DateTime<Utc>,
}

/// A link to the dashboard's `path`, when its address is known.
fn link(dashboard: Option<&str>, path: &str, label: &str) -> String {
    dashboard.map_or_else(String::new, |base| format!(" [{label}]({base}/{path})"))
}

/// Runs the data rules over `db`; `poor_meetings` is what the state remembers.
pub(super) fn evaluate(
    db: &Database,
    inputs: &Inputs,
    mut poor_meetings: BTreeMap<String, BTreeMap<String, DateTime<Utc>>>,
) -> Result<Found, DbError> {
    let now = inputs.now;
    let statuses = db.meeting_statuses(now - inputs.retention - chrono::Duration::days(1))?;
    let meetings: HashMap<String, StoredMeeting> = db
        .meetings()?
        .into_iter()
        .map(|m| (m.instance_id.clone(), m))
        .collect();
    let mut reports: HashMap<String, Option<Rc<(MeetingReport, Headline)>>> = HashMap::new();
    let mut analyse = |id: &str| -> Result<Option<Rc<(MeetingReport, Headline)>>, DbError> {
        if let Some(done) = reports.get(id) {
            return Ok(done.clone());
        }
        let analysed = match meetings.get(id).and_then(|m| Some((m, m.start?))) {
            Some((meeting, start)) => {
                let pages = db.latest_complete_pages(id)?;
                if pages.is_empty() {
                    None
                } else {
                    let report = meeting_report(
                        pages.iter().map(|p| p.body.as_ref()),
                        start,
                        &inputs.thresholds,
                    );
                    let headline =
                        headline::of_report(&report, &meeting.host_email, &inputs.thresholds);
                    Some(Rc::new((report, headline)))
                }
            }
            None => None,
        };
        reports.insert(id.to_owned(), analysed.clone());
        Ok(analysed)
    };
    let mut raised = Vec::new();
    let mut evaluated_through = inputs.since;
    let mut people_changed: BTreeMap<String, String> = BTreeMap::new();
    let rules = &inputs.rules;
    // Meetings whose final fetch is new since the last look.
    for status in &statuses {
        let Some(called) = status.checkpoint.last_call_at else {
            continue;
        };
        if !status.checkpoint.final_ || called <= inputs.since {
            continue;
        }
        evaluated_through = evaluated_through.max(called);
        let Some(analysed) = analyse(&status.instance_id)? else {
            continue;
        };
        let (report, headline) = &*analysed;
        let meeting = &meetings[&status.instance_id];
        let start = meeting.start.unwrap_or(now);
        if let Some(limit) = rules.meeting_poor_participants
            && headline.participants.poor >= limit.max(1)
        {
            let cause = headline
                .cause
                .as_ref()
                .map_or_else(|| "not clear".to_owned(), ToString::to_string);
            raised.push(Raised {
                id: format!("meeting_poor:{}", meeting.instance_id),
                rule: Rule::MeetingPoor,
                text: format!(
                    "**Poor meeting**: {} ({} UTC): {} of {} participants had a poor stream; likely cause: {}.{}",
                    md(&meeting.title),
                    clock(start),
                    headline.participants.poor,
                    headline.participants.total(),
                    md(&cause),
                    link(inputs.dashboard.as_deref(), &meeting_path(&meeting.instance_id), "Open the meeting")
                ),
            });
        }
        for session in &report.sessions {
            if session.quality.worst() != Verdict::Poor {
                continue;
            }
            let page = inputs.person_key.person_path(&session.person_key());
            let id = page
                .trim_start_matches("people/")
                .trim_end_matches(".html")
                .to_owned();
            poor_meetings
                .entry(id.clone())
                .or_default()
                .insert(meeting.instance_id.clone(), start);
            let email = session.session.webex_user_email.clone().unwrap_or_default();
            let who = format!(
                "{} ({})",
                md(session
                    .session
                    .webex_user_name
                    .as_deref()
                    .unwrap_or("A participant")),
                md(&if inputs.show_personal {
                    email
                } else {
                    mask_email(&email)
                })
            );
            people_changed.insert(id, who);
        }
    }
    if let Some(limit) = rules.person_poor_meetings {
        let week = now - chrono::Duration::days(7);
        for (id, who) in &people_changed {
            let count = poor_meetings
                .get(id)
                .map_or(0, |m| m.values().filter(|s| **s >= week).count());
            if count >= usize::try_from(limit.max(1)).unwrap_or(usize::MAX) {
                raised.push(Raised {
                    id: format!("person_poor:{id}:{}", now.format("%Y-%m-%d")),
                    rule: Rule::PersonPoor,
                    text: format!(
                        "**Recurring poor quality**: {who} had a poor stream in {count} meetings in the last 7 days.{}",
                        link(inputs.dashboard.as_deref(), &format!("people/{id}.html"), "Their page")
                    ),
                });
            }
        }
    }
    // Offices: participant-minutes of the last hour, from every meeting fetched in that hour.
    if let Some(limit) = rules.office_poor_percent
        && !inputs.offices.is_empty()
    {
        let hour_ago = now - chrono::Duration::hours(1);
        let mut minutes: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        for status in &statuses {
            if status.checkpoint.last_call_at.is_none_or(|t| t < hour_ago) {
                continue;
            }
            let Some(analysed) = analyse(&status.instance_id)? else {
                continue;
            };
            let report = &analysed.0;
            for session in &report.sessions {
                let office = inputs
                    .offices
                    .office(
                        session.session.local_ip.as_deref(),
                        session.session.public_ip.as_deref(),
                    )
                    .unwrap_or(REMOTE);
                if office == REMOTE {
                    continue;
                }
                let entry = minutes.entry(office.to_owned()).or_default();
                for (minute, cell) in session.quality.overall().iter() {
                    let at = session.quality.origin
                        + chrono::Duration::minutes(i64::try_from(minute).unwrap_or(0));
                    if at < hour_ago || at >= now || cell.verdict == Verdict::NoData {
                        continue;
                    }
                    entry.0 += 1;
                    entry.1 += u32::from(cell.verdict == Verdict::Poor);
                }
            }
        }
        for (office, (with_data, poor)) in minutes {
            if with_data < rules.office_minimum_minutes.max(1) {
                continue;
            }
            let share = f64::from(poor) * 100.0 / f64::from(with_data);
            if share > limit {
                raised.push(Raised {
                    id: format!("office_poor:{office}:{}", now.format("%Y-%m-%dT%H")),
                    rule: Rule::OfficePoor,
                    text: format!(
                        "**Office {}**: {share:.1} % of participant-minutes poor in the last hour ({poor} of {with_data}).{}",
                        md(&office),
                        link(inputs.dashboard.as_deref(), &office_path(&office), "Office page")
                    ),
                });
            }
        }
    }
    // Meetings about to leave Webex's 7-day window with their final data not fetched.
    if let Some(hours) = rules.window_closing_hours {
        for status in statuses.iter().filter(|s| !s.checkpoint.final_) {
            let Some(start) = status.start else { continue };
            let closes = start + inputs.retention;
            if closes <= now || closes - chrono::Duration::hours(i64::from(hours)) > now {
                continue;
            }
            let title = meetings
                .get(&status.instance_id)
                .map_or("A meeting", |m| m.title.as_str());
            raised.push(Raised {
                id: format!("window_closing:{}", status.instance_id),
                rule: Rule::WindowClosing,
                text: format!(
                    "**Data about to be lost**: {} ({} UTC) leaves Webex's 7-day window at {} UTC and its final data is not fetched yet{}.",
                    md(title),
                    clock(start),
                    clock(closes),
                    status
                        .checkpoint
                        .last_error
                        .as_deref()
                        .map_or_else(String::new, |e| format!(" (last error: {})", md(e)))
                ),
            });
        }
    }
    Ok(Found {
        raised,
        poor_meetings,
        evaluated_through,
    })
}
