//! Helpers for the database's unit tests.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{CallRecord, Changes, CheckpointUpdate, MeetingRow, db_time};
use crate::webex::RawPage;

pub(crate) fn page(body: &[u8], at: DateTime<Utc>) -> RawPage {
    RawPage {
        request_url: "https://analytics.webexapis.com/v1/meeting/qualities?meetingId=a_I_1&max=100"
            .into(),
        status: 200,
        tracking_id: "ROUTER_1".into(),
        fetched_at: at,
        body: Bytes::copy_from_slice(body),
        next: None,
    }
}

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub(crate) fn call(
    id: &str,
    at: &str,
    bodies: &[&[u8]],
    completed: bool,
    malformed: bool,
) -> CallRecord {
    CallRecord {
        instance_id: id.into(),
        called_at: t(at),
        pages: bodies.iter().map(|b| page(b, t(at))).collect(),
        completed,
        error: None,
        tracking_id: None,
        last_page_malformed: malformed,
    }
}

pub(crate) fn final_checkpoint(id: &str, at: &str) -> CheckpointUpdate {
    CheckpointUpdate {
        instance_id: id.into(),
        called_at: t(at),
        next_allowed_at: t(at) + chrono::Duration::minutes(5),
        attempts: 1,
        failed: false,
        error: None,
        tracking_id: None,
        final_: true,
    }
}

/// A folder for one test, removed when dropped (also when the test fails).
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("wq-db-").tempdir().unwrap()
}

/// A listed meeting starting at `start` with one complete, final call of one page an hour later.
pub(crate) fn changes_with_call(id: &str, start: DateTime<Utc>, body: &[u8]) -> Changes {
    let at = db_time(start + chrono::Duration::hours(1));
    Changes {
        meetings: vec![MeetingRow {
            instance_id: id.into(),
            series_id: None,
            title: Some("Weekly".into()),
            host_name: None,
            host_email: None,
            start: Some(start),
            end: Some(start + chrono::Duration::minutes(30)),
            state: Some("ended".into()),
            raw_item: format!("{{\"id\":\"{id}\"}}"),
            seen_at: t(&at),
        }],
        calls: vec![call(id, &at, &[body], true, false)],
        checkpoints: vec![final_checkpoint(id, &at)],
        ..Changes::default()
    }
}
