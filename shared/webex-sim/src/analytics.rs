//! `GET <analytics>/meeting/qualities`: per-participant media quality of one meeting instance.
//!
//! Instance ids only (a series id is 404); data from 10 minutes after the start (an empty list before)
//! and for 7 days after it (404 after); one call per meeting per 5 minutes: a first-page request
//! (no `offset`) inside 5 minutes of the previous one is 429 with `Retry-After`, while the `Link` pages
//! that follow a call are part of it; `analytics:read_all` required (403).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Duration;

use crate::faults::TrackingId;
use crate::{SimState, json_response, webex_error};

pub(crate) async fn qualities(
    State(state): State<Arc<SimState>>,
    axum::Extension(TrackingId(tracking_id)): axum::Extension<TrackingId>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(regional) = state.region_redirect_to(&headers) {
        let body = serde_json::json!({
            "message": format!("This server cannot serve the data for this organization. Please use {regional}"),
            "errorCode": 451,
            "trackingId": tracking_id,
        });
        let mut response = json_response(&body, None);
        *response.status_mut() = StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS;
        return response;
    }
    if let Some(response) = state.refuse(&headers, &["analytics:read_all"], &tracking_id) {
        return response;
    }
    let bad = |message: &str| webex_error(StatusCode::BAD_REQUEST, message, &tracking_id);
    let Some(meeting_id) = params.get("meetingId") else {
        return bad("meetingId is required.");
    };
    let max = match params.get("max").map(|m| m.parse::<usize>()) {
        None => 100,
        Some(Ok(m)) if (1..=1000).contains(&m) => m,
        Some(_) => return bad("max must be a number from 1 to 1000."),
    };
    let offset = match params.get("offset").map(|o| o.parse::<usize>()) {
        None => None,
        Some(Ok(o)) => Some(o),
        Some(Err(_)) => return bad("offset must be a number."),
    };
    let now = state.clock.now();
    let Some(meeting) = state
        .org
        .meeting_by_id(meeting_id)
        .filter(|m| m.start <= now)
    else {
        let message = if state.org.is_series_id(meeting_id) {
            "Meeting series ids are not supported: use a meeting instance id."
        } else {
            "The requested resource could not be found."
        };
        return webex_error(StatusCode::NOT_FOUND, message, &tracking_id);
    };
    if now > meeting.start + Duration::days(7) {
        return webex_error(
            StatusCode::NOT_FOUND,
            "Meeting quality data is kept for 7 days only.",
            &tracking_id,
        );
    }
    if offset.is_none() {
        let mut calls = state.calls();
        if let Some(last) = calls.get(meeting_id)
            && now < *last + state.config.qualities_interval
        {
            let wait = (*last + state.config.qualities_interval - now).num_milliseconds();
            let seconds = (wait + 999) / 1000;
            drop(calls);
            state.stats.rate_limited();
            let mut response = webex_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                &tracking_id,
            );
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        calls.insert(meeting_id.clone(), now);
    }
    state.stats.qualities_call(offset.is_none());
    let items = if now < meeting.start + Duration::minutes(10) {
        Vec::new()
    } else {
        state.org.quality_items(meeting, now)
    };
    let offset = offset.unwrap_or(0);
    let page: Vec<_> = items.iter().skip(offset).take(max).collect();
    let next = (offset + max < items.len()).then(|| {
        let pairs = vec![
            ("meetingId".to_owned(), meeting_id.clone()),
            ("max".to_owned(), max.to_string()),
            ("offset".to_owned(), (offset + max).to_string()),
        ];
        state.link(&headers, "/analytics/v1/meeting/qualities", &pairs)
    });
    json_response(&serde_json::json!({ "items": page }), next)
}
