//! `/v1/meetings` and `/v1/people/me`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};

use crate::faults::TrackingId;
use crate::{SimState, json_response, webex_error};

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `GET /v1/meetings` with `meetingType=meeting`: instances that have started, by start time in
/// `[from, to)` (default: the last 7 days), optionally by `state` and `hostEmail`, `max` at most 100,
/// paged by `Link` with an `offset`, never more than the cap (10,000) in all.
pub(crate) async fn meetings(
    State(state): State<Arc<SimState>>,
    axum::Extension(TrackingId(tracking_id)): axum::Extension<TrackingId>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(response) = state.refuse(
        &headers,
        &["meeting:admin_schedule_read", "meeting:schedules_read"],
        &tracking_id,
    ) {
        return response;
    }
    let bad = |message: &str| webex_error(StatusCode::BAD_REQUEST, message, &tracking_id);
    match params.get("meetingType").map(String::as_str) {
        Some("meeting") => {}
        None | Some("meetingSeries" | "scheduledMeeting") => {
            return bad("The simulator lists meeting instances only: send meetingType=meeting.");
        }
        Some(_) => return bad("meetingType must be meetingSeries, scheduledMeeting or meeting."),
    }
    let max = match params.get("max").map(|m| m.parse::<usize>()) {
        None => 10,
        Some(Ok(m)) if (1..=100).contains(&m) => m,
        Some(_) => return bad("max must be a number from 1 to 100."),
    };
    let offset = match params.get("offset").map(|o| o.parse::<usize>()) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => return bad("offset must be a number."),
    };
    let now = state.clock.now();
    let from = params.get("from").map(|t| parse_time(t));
    let to = params.get("to").map(|t| parse_time(t));
    let (from, to) = match (from, to) {
        (Some(None), _) | (_, Some(None)) => {
            return bad("from and to must be ISO 8601 date-times.");
        }
        (None, None) => (now - Duration::days(7), now),
        (Some(Some(f)), None) => (f, f + Duration::days(7)),
        (None, Some(Some(t))) => (t - Duration::days(7), t),
        (Some(Some(f)), Some(Some(t))) => (f, t),
    };
    if from > to {
        return bad("from must not be after to.");
    }
    let wanted_state = params.get("state").map(String::as_str);
    let host = params.get("hostEmail").map(|h| h.to_lowercase());
    let listed: Vec<_> = state
        .org
        .meetings
        .iter()
        .filter(|m| m.start >= from && m.start < to)
        .filter(|m| {
            m.state_at(now)
                .is_some_and(|s| wanted_state.is_none_or(|w| w == s))
        })
        .filter(|m| {
            host.as_ref()
                .is_none_or(|h| state.org.people[m.host].email.to_lowercase() == *h)
        })
        .take(state.config.meetings_cap)
        .collect();
    let page: Vec<_> = listed
        .iter()
        .skip(offset)
        .take(max)
        .map(|m| state.meeting_item(m, now))
        .collect();
    let next = (offset + max < listed.len()).then(|| {
        let mut pairs: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "offset")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("offset".into(), (offset + max).to_string()));
        state.link(&headers, "/v1/meetings", &pairs)
    });
    json_response(&serde_json::json!({ "items": page }), next)
}

/// `GET /v1/people/me`: the person the access token belongs to.
pub(crate) async fn people_me(
    State(state): State<Arc<SimState>>,
    axum::Extension(TrackingId(tracking_id)): axum::Extension<TrackingId>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = state.refuse(&headers, &["spark:people_read"], &tracking_id) {
        return response;
    }
    let Some(identity) = state.token_identity(&headers) else {
        return webex_error(
            StatusCode::UNAUTHORIZED,
            "The request requires a valid access token set in the Authorization request header.",
            &tracking_id,
        );
    };
    json_response(
        &serde_json::json!({
            "id": identity.id,
            "emails": [identity.email],
            "displayName": identity.display_name,
            "orgId": identity.org_id,
            "type": "person",
        }),
        None,
    )
}
