//! What the client reads from a refusal: the message of an error body, the regional host a 451
//! names, and a meeting id from a listing. Any bytes, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use url::Url;
use webex_quality::webex::MeetingInstanceId;
use webex_quality::webex::http::{regional_base, webex_message};

fuzz_target!(|data: &[u8]| {
    let message = webex_message(data);
    assert!(!message.is_empty());
    let current = Url::parse("https://analytics.webexapis.com/v1/").unwrap();
    if let Some(moved) = regional_base(&current, &message) {
        assert_eq!(moved.path(), "/v1/");
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(id) = MeetingInstanceId::parse(text)
    {
        assert!(id.as_str().len() <= MeetingInstanceId::MAX_LEN);
    }
});
