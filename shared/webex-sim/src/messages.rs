//! What alerts reach: `POST /v1/messages` and `GET /v1/messages` (a Webex space, through a bot's
//! token, [`BOT_TOKEN`]) and `POST /sim/webhook` (a generic incoming webhook, as Slack's and
//! Teams' accept). Tests read what was posted through [`crate::SimHandle::messages`] and
//! [`crate::SimHandle::webhooks`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::faults::TrackingId;
use crate::{SimState, json_response, webex_error};

/// The bot token the simulator's `/v1/messages` accepts.
pub const BOT_TOKEN: &str = "sim-bot-token";

/// A message posted to a space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Its id.
    pub id: String,
    /// The space.
    pub room_id: String,
    /// Its Markdown.
    pub markdown: String,
    /// When it was posted (the simulator's clock).
    pub created: DateTime<Utc>,
}

/// Everything posted.
#[derive(Debug, Default)]
pub(crate) struct Posted {
    messages: Mutex<Vec<Message>>,
    webhooks: Mutex<Vec<serde_json::Value>>,
}

impl Posted {
    pub(crate) fn messages(&self) -> Vec<Message> {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn webhooks(&self) -> Vec<serde_json::Value> {
        self.webhooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn refuse_bot(headers: &HeaderMap, tracking_id: &str) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (token != Some(BOT_TOKEN)).then(|| {
        webex_error(
            StatusCode::UNAUTHORIZED,
            "The request requires a valid access token set in the Authorization request header.",
            tracking_id,
        )
    })
}

/// `POST /v1/messages` with `roomId` and `markdown` (or `text`).
pub(crate) async fn post_message(
    State(state): State<Arc<SimState>>,
    axum::Extension(TrackingId(tracking_id)): axum::Extension<TrackingId>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Response {
    if let Some(refused) = refuse_bot(&headers, &tracking_id) {
        return refused;
    }
    let Some(room_id) = body["roomId"].as_str().filter(|r| !r.is_empty()) else {
        return webex_error(StatusCode::BAD_REQUEST, "roomId is required.", &tracking_id);
    };
    let Some(markdown) = body["markdown"].as_str().or(body["text"].as_str()) else {
        return webex_error(
            StatusCode::BAD_REQUEST,
            "markdown or text is required.",
            &tracking_id,
        );
    };
    let mut messages = state
        .posted
        .messages
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let message = Message {
        id: format!("sim-message-{}", messages.len() + 1),
        room_id: room_id.to_owned(),
        markdown: markdown.to_owned(),
        created: state.clock.now(),
    };
    messages.push(message.clone());
    json_response(&message, None)
}

/// `GET /v1/messages?roomId=...&max=N`: the space's messages, newest first.
pub(crate) async fn list_messages(
    State(state): State<Arc<SimState>>,
    axum::Extension(TrackingId(tracking_id)): axum::Extension<TrackingId>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_bot(&headers, &tracking_id) {
        return refused;
    }
    let Some(room_id) = params.get("roomId") else {
        return webex_error(StatusCode::BAD_REQUEST, "roomId is required.", &tracking_id);
    };
    let max = params
        .get("max")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(50)
        .min(1000);
    let items: Vec<Message> = state
        .posted
        .messages()
        .into_iter()
        .rev()
        .filter(|m| &m.room_id == room_id)
        .take(max)
        .collect();
    json_response(&serde_json::json!({ "items": items }), None)
}

/// `POST /sim/webhook`: any JSON body, kept.
pub(crate) async fn webhook(
    State(state): State<Arc<SimState>>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    state
        .posted
        .webhooks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(body);
    (StatusCode::OK, "ok").into_response()
}
