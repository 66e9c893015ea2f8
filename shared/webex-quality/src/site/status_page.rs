//! The status page: the last cycle, what is collected and pending, 429s, the token, recent errors.

use askama::Template;
use chrono::{DateTime, Utc};

use super::{Chrome, SiteOptions};

/// One error on the status page.
#[derive(Debug, Clone)]
pub struct StatusError {
    /// When.
    pub at: String,
    /// Which meeting.
    pub meeting: String,
    /// Kind.
    pub kind: String,
    /// Message.
    pub message: String,
    /// Tracking id.
    pub tracking_id: String,
}

/// What the status page shows.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// Last run's time.
    pub last_run: String,
    /// Last run's outcome.
    pub last_outcome: String,
    /// Meetings with a final fetch.
    pub collected: i64,
    /// Meetings still to fetch.
    pub pending: i64,
    /// Days moved to archive objects (set by whoever lists them; 0 from the database alone).
    pub archived_days: usize,
    /// 429s in the last day.
    pub rate_limited: i64,
    /// Days until the refresh token expires, as text.
    pub token_days: String,
    /// Recent errors.
    pub errors: Vec<StatusError>,
}

impl StatusView {
    /// The status from where it lives: the database (collected, pending, runs and their errors) and
    /// the status object (the last cycle, the authorization's state).
    ///
    /// # Errors
    /// Database failures.
    pub fn from_sources(
        db: &crate::db::Database,
        status: Option<&crate::status::Status>,
        now: DateTime<Utc>,
    ) -> Result<Self, crate::db::DbError> {
        let rate_limited = db.rate_limited_since(now - chrono::Duration::days(1))?;
        let totals = db.totals()?;
        let errors = db
            .recent_errors(20)?
            .into_iter()
            .map(|e| StatusError {
                at: e.at.format("%Y-%m-%d %H:%M").to_string(),
                meeting: e.instance_id.unwrap_or_default(),
                kind: e.kind,
                message: e.message,
                tracking_id: e.tracking_id.unwrap_or_default(),
            })
            .collect();
        let last_run = status.and_then(|s| s.last_cycle.as_ref());
        let token_days = match status.and_then(|s| s.authorization.days_left(now)) {
            None => "no tokens: log in".to_owned(),
            Some(days) if days < 0 => "expired".to_owned(),
            Some(days) => format!("{days} days"),
        };
        Ok(Self {
            last_run: last_run.map_or_else(
                || "never".to_owned(),
                |r| r.ended_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
            last_outcome: last_run.map_or_else(String::new, |r| match &r.detail {
                Some(detail) => format!("{}: {detail}", r.outcome),
                None => r.outcome.clone(),
            }),
            collected: totals.final_meetings,
            pending: totals.pending_meetings,
            archived_days: 0,
            rate_limited,
            token_days,
            errors,
        })
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    chrome: Chrome,
    last_run: String,
    last_outcome: String,
    collected: i64,
    pending: i64,
    archived_days: usize,
    rate_limited: i64,
    token_days: String,
    errors: Vec<StatusError>,
}

/// Renders the status page.
///
/// # Errors
/// The template engine's error.
pub fn render_status(view: &StatusView, options: &SiteOptions) -> Result<String, askama::Error> {
    StatusPage {
        chrome: Chrome::new("Status", "", options),
        last_run: view.last_run.clone(),
        last_outcome: view.last_outcome.clone(),
        collected: view.collected,
        archived_days: view.archived_days,
        pending: view.pending,
        rate_limited: view.rate_limited,
        token_days: view.token_days.clone(),
        errors: view.errors.clone(),
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_banner_shows_when_needed() {
        let view = StatusView {
            last_run: "2026-01-05 10:00".into(),
            last_outcome: "authorization required".into(),
            collected: 3,
            pending: 1,
            archived_days: 0,
            rate_limited: 0,
            token_days: "expired".into(),
            errors: vec![StatusError {
                at: "10:00".into(),
                meeting: "a_I_1".into(),
                kind: "unavailable".into(),
                message: "<b>bad</b>".into(),
                tracking_id: "ROUTER_1".into(),
            }],
        };
        let options = SiteOptions {
            authorization_needed: Some("The refresh token was revoked.".into()),
            ..SiteOptions::default()
        };
        let html = render_status(&view, &options).unwrap();
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("The refresh token was revoked."));
        assert!(html.contains("&#60;b&#62;bad&#60;/b&#62;"));
        assert!(html.contains("ROUTER_1"));
        let quiet = render_status(&view, &SiteOptions::default()).unwrap();
        assert!(!quiet.contains("role=\"alert\""));
    }
}
