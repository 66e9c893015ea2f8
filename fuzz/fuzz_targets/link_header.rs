//! The `Link` header: any bytes as one or two header values, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderValue, LINK};
use url::Url;
use webex_quality::webex::http::{next_link, next_link_in};

fuzz_target!(|data: &[u8]| {
    let base = Url::parse("https://webexapis.com/v1/meetings").unwrap();
    let text = String::from_utf8_lossy(data);
    let _ = next_link_in(&text, &base);
    // As the client sees it: header values (split in two at a zero byte), any that HTTP allows.
    let mut headers = HeaderMap::new();
    for part in data.splitn(2, |b| *b == 0) {
        if let Ok(value) = HeaderValue::from_bytes(part) {
            headers.append(LINK, value);
        }
    }
    let _ = next_link(&headers, &base);
});
