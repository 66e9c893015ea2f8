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
