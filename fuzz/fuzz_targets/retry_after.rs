//! `Retry-After`: any text, never a panic, never a wait longer than the cap.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use webex_quality::webex::http::{MAX_RETRY_AFTER, parse_retry_after};

fuzz_target!(|data: &[u8]| {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(wait) = parse_retry_after(text, now)
    {
        assert!(wait <= MAX_RETRY_AFTER);
    }
});
