//! Where alerts go: a Webex space through a bot's token (`POST /v1/messages`), and a generic
//! incoming webhook (`{"text": ...}`, which Slack's and Teams' accept, with the alert's id and rule
//! beside it so a receiver can drop a repeat).

use crate::config::Secret;

use super::state::Rule;
use super::text::id_line;

/// A destination.
#[derive(Debug, Clone)]
pub(super) enum Destination {
    /// A Webex space.
    Space {
        /// `WEBEX_API_URL`.
        api: String,
        /// The bot's token.
        token: Secret,
        /// The space.
        room: String,
    },
    /// An incoming webhook (its URL is a secret: it is never logged).
    Webhook {
        /// The URL.
        url: Secret,
    },
}

/// How many of the space's latest messages a retry looks through for the alert.
const LOOK_BACK: usize = 100;

impl Destination {
    /// Its name in the state.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::Space { .. } => "webex",
            Self::Webhook { .. } => "webhook",
        }
    }

    /// Whether an earlier attempt did post the alert after all (its answer was lost): the space's
    /// latest messages are searched for its id. A webhook cannot be asked; its body carries the id.
    pub(super) async fn already_has(
        &self,
        http: &reqwest::Client,
        id: &str,
    ) -> Result<bool, String> {
        let Self::Space { api, token, room } = self else {
            return Ok(false);
        };
        let url = url::Url::parse_with_params(
            &format!("{api}/messages"),
            [("roomId", room.as_str()), ("max", &LOOK_BACK.to_string())],
        )
        .map_err(|e| e.to_string())?;
        let response = http
            .get(url)
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("listing the space's messages: HTTP {status}"));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let marker = id_line(id);
        Ok(body["items"].as_array().is_some_and(|items| {
            items.iter().any(|m| {
                m["markdown"]
                    .as_str()
                    .or(m["text"].as_str())
                    .is_some_and(|t| t.contains(&marker))
            })
        }))
    }

    /// Posts the alert.
    pub(super) async fn send(
        &self,
        http: &reqwest::Client,
        (id, rule, text): (&str, Rule, &str),
    ) -> Result<(), String> {
        let markdown = format!("{text}\n\n{}", id_line(id));
        let (request, body) = match self {
            Self::Space { api, token, room } => (
                http.post(format!("{api}/messages"))
                    .bearer_auth(token.expose()),
                serde_json::json!({ "roomId": room, "markdown": markdown }),
            ),
            Self::Webhook { url } => (
                http.post(url.expose()),
                serde_json::json!({ "text": markdown, "id": id, "rule": rule.name() }),
            ),
        };
        let response = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{}: HTTP {status}", self.name()))
        }
    }
}
