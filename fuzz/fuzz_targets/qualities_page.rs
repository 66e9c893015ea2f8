//! A Meeting Qualities page: any bytes, never a panic, the collector's check (which decides what is
//! stored) agrees with the parser (which the dashboard reads with), and the parser's quick reader
//! reads every page as serde does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use webex_quality::webex::model::{check_qualities, parse_qualities, parse_qualities_generic};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_qualities(data);
    let checked = check_qualities(data);
    assert_eq!(parsed.is_ok(), checked.is_ok(), "{:?}", String::from_utf8_lossy(data));
    assert_eq!(
        parsed.ok(),
        parse_qualities_generic(data).ok(),
        "{:?}",
        String::from_utf8_lossy(data)
    );
});
