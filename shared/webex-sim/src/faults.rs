//! Fault injection per route, and the tracking id every answer carries.
//!
//! Faults queue per route and are used up one request at a time, so a test says exactly which requests
//! fail: "the next 3 meetings requests answer 503", "the next qualities request drops the connection".

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::SimState;

/// The simulator's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /v1/authorize`.
    Authorize,
    /// `POST /v1/access_token`.
    AccessToken,
    /// `GET /v1/people/me`.
    PeopleMe,
    /// `GET /v1/meetings`.
    Meetings,
    /// `GET <analytics>/meeting/qualities`.
    Qualities,
    /// `POST` and `GET /v1/messages` (a bot's messages to a space).
    Messages,
    /// `POST /sim/webhook` (an incoming webhook).
    Webhook,
}

impl Route {
    fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/v1/authorize" => Self::Authorize,
            "/v1/access_token" => Self::AccessToken,
            "/v1/people/me" => Self::PeopleMe,
            "/v1/meetings" => Self::Meetings,
            "/analytics/v1/meeting/qualities" => Self::Qualities,
            "/v1/messages" => Self::Messages,
            "/sim/webhook" => Self::Webhook,
            _ => return None,
        })
    }
}

/// What to do to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a Webex error body (a 429 carries `Retry-After: 1`).
    Status(u16),
    /// Answer 429 with no `Retry-After` (the client must pick its own wait).
    RateLimitedWithoutRetryAfter,
    /// Answer 200 with an HTML page (`text/html`), as a proxy in the way would.
    WrongContentType,
    /// Wait this long (real time) before answering normally.
    Slow(Duration),
    /// Answer 200 with a body cut in half (not valid JSON).
    Malformed,
    /// Send the headers and part of the body, then drop the connection.
    Drop,
    /// Answer normally, with `Link: <this URL>; rel="next"` instead of the real next page.
    NextLink(String),
}

/// Queued faults, per route.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queue: Arc<Mutex<HashMap<Route, VecDeque<Fault>>>>,
    served: Arc<AtomicU64>,
}

impl Faults {
    /// The next `times` requests to `route` get `fault` (after faults already queued).
    pub fn inject(&self, route: Route, fault: Fault, times: usize) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = queue.entry(route).or_default();
        entry.extend(std::iter::repeat_n(fault, times));
    }

    /// Forgets every queued fault.
    pub fn clear(&self) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Faults queued and not yet used, on every route.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(VecDeque::len)
            .sum()
    }

    /// Faults used so far (requests that got one).
    #[must_use]
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn take(&self, route: Route) -> Option<Fault> {
        let fault = self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&route)
            .and_then(VecDeque::pop_front);
        if fault.is_some() {
            self.served.fetch_add(1, Ordering::Relaxed);
        }
        fault
    }
}

/// The tracking id of the request being answered: the client's `TrackingID`, else a new one.
#[derive(Debug, Clone)]
pub struct TrackingId(pub String);

/// Middleware: tracking id in, faults applied, tracking id out, statistics counted.
pub async fn gate(
    State(state): State<Arc<SimState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let tracking_id = request
        .headers()
        .get("trackingid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() < 200)
        .map_or_else(
            || format!("ROUTER_{}", uuid::Uuid::new_v4().to_string().to_uppercase()),
            str::to_owned,
        );
    request
        .extensions_mut()
        .insert(TrackingId(tracking_id.clone()));
    let route = Route::of(request.uri().path());
    let fault = route.and_then(|r| state.faults.take(r));
    let mut response = match fault {
        None => next.run(request).await,
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = crate::webex_error(status, "Injected fault.", &tracking_id);
            if status == StatusCode::TOO_MANY_REQUESTS {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            response
        }
        Some(Fault::RateLimitedWithoutRetryAfter) => crate::webex_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Injected fault.",
            &tracking_id,
        ),
        Some(Fault::WrongContentType) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><body><h1>Service temporarily unavailable</h1></body></html>",
        )
            .into_response(),
        Some(Fault::Malformed) => {
            let response = next.run(request).await;
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = if bytes.len() < 4 {
                Bytes::from_static(b"{\"items\":[")
            } else {
                bytes.slice(..bytes.len() / 2)
            };
            let mut response = Response::from_parts(parts, Body::from(cut));
            *response.status_mut() = StatusCode::OK;
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response
        }
        Some(Fault::NextLink(target)) => {
            let mut response = next.run(request).await;
            if let Ok(value) = HeaderValue::from_str(&format!("<{target}>; rel=\"next\"")) {
                response.headers_mut().insert(header::LINK, value);
            }
            response
        }
        Some(Fault::Drop) => {
            // The headers and a first chunk go out; then the connection is cut mid-body.
            let chunks = futures_util::stream::unfold(0, |step| async move {
                match step {
                    0 => Some((Ok(Bytes::from_static(b"{\"items\":[")), 1)),
                    1 => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let cut = std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "injected connection drop",
                        );
                        Some((Err(cut), 2))
                    }
                    _ => None,
                }
            });
            let mut response = (StatusCode::OK, Body::from_stream(chunks)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    };
    if let Ok(value) = HeaderValue::from_str(&tracking_id) {
        response.headers_mut().insert("trackingid", value);
    }
    if let Some(route) = route {
        state.stats.count(route, response.status().as_u16());
    }
    response
}
