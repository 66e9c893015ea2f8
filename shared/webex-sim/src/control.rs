//! The benchmark's handle on a simulator in another process: with `SimConfig::clock_control`, a
//! `POST /sim/clock?now=RFC3339` route sets the simulated clock and answers with a personal access
//! token valid for 12 hours from then (tokens follow the clock of whoever issued them, so a run that
//! spans weeks of simulated time needs a fresh one now and then). Off by default; never part of the
//! Webex API.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::SimState;

/// The query of `POST /sim/clock`.
#[derive(Debug, Deserialize)]
pub(crate) struct SetClock {
    now: DateTime<Utc>,
}

/// Sets the clock to `now` and hands out a personal token valid from then.
pub(crate) async fn set_clock(
    State(state): State<Arc<SimState>>,
    Query(query): Query<SetClock>,
) -> Response {
    if query.now < state.clock.now() {
        return (
            StatusCode::CONFLICT,
            "the simulated clock only moves forward\n",
        )
            .into_response();
    }
    state.clock.set(query.now);
    state.issue_personal_token().into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use chrono::{TimeZone, Utc};
    use tower::ServiceExt;

    use crate::{SimClock, SimConfig, Simulator};

    async fn call(sim: &Simulator, request: Request<Body>) -> (StatusCode, String) {
        let response = sim.router().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn set_clock(at: &str) -> Request<Body> {
        Request::post(format!("/sim/clock?now={at}"))
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn the_clock_route_moves_time_forward_and_hands_out_a_token_valid_from_then() {
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let config = SimConfig {
            clock_control: true,
            days: 1,
            first_day: Some(start),
            ..SimConfig::default()
        };
        let sim = Simulator::with_clock(config, SimClock::simulated(start));
        let (status, token) = call(&sim, set_clock("2026-01-20T10:00:00Z")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            sim.state.clock.now(),
            Utc.with_ymd_and_hms(2026, 1, 20, 10, 0, 0).unwrap()
        );
        // The token works at the new time (a token issued at the start would have expired).
        let me = Request::get("/v1/people/me")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&sim, me).await.0, StatusCode::OK);
        // Never backwards.
        let (status, _) = call(&sim, set_clock("2026-01-19T10:00:00Z")).await;
        assert_eq!(status, StatusCode::CONFLICT);
    }

    #[tokio::test]
    async fn without_clock_control_there_is_no_such_route() {
        let sim = Simulator::new(SimConfig::default());
        let (status, _) = call(&sim, set_clock("2030-01-01T00:00:00Z")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
