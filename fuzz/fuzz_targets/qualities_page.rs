//! A Meeting Qualities page: any bytes, never a panic, and the collector's check (which decides
//! what is stored) agrees with the parser (which the dashboard reads with).
#![no_main]

use libfuzzer_sys::fuzz_target;
use webex_quality::webex::model::{check_qualities, parse_qualities};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_qualities(data);
    let checked = check_qualities(data);
    assert_eq!(parsed.is_ok(), checked.is_ok(), "{:?}", String::from_utf8_lossy(data));
});
