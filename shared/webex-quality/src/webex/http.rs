//! The HTTP layer under the API client and the OAuth client: the tracking id every request carries,
//! and what they read from Webex's answers besides the body: the `Link` header's next page,
//! `Retry-After`, the message of an error body, and the regional host a 451 names.
//!
//! Pure functions of their input (no I/O, no clock), so that property tests and the fuzz targets
//! (`fuzz/`) can feed them anything a hostile or broken server might send: none of them panics, and
//! each answers `None` (or a plain description) for what it cannot read.
//!
//! The `Link` parser is hand-written (about 60 lines) rather than a crate: the one crate for it
//! (`parse_link_header`) pulls in `regex`, and only `rel="next"` matters here.

use std::time::Duration;

use backon::ExponentialBuilder;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, LINK, RETRY_AFTER};
use url::Url;

/// The longest `Retry-After` taken as said: a longer one (or a date further away) waits this long,
/// so that no answer can make a time out of range.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The request header Webex support uses to find a call, and the response header that echoes it.
pub const TRACKING_ID_HEADER: &str = "TrackingID";

/// A fresh tracking id for one request, in the `PREFIX_<uuid>` form Webex's own SDKs send.
#[must_use]
pub fn new_tracking_id() -> String {
    format!("WEBEXQUALITY_{}", uuid::Uuid::new_v4())
}

/// The one retry policy of the Webex clients (the API client's loop and the OAuth client's token
/// requests): exponential backoff from `min` to `max` with jitter, at most `times` retries.
pub(crate) fn retry_policy(min: Duration, max: Duration, times: usize) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_max_times(times)
        .with_jitter()
}

/// A header's value as trimmed text, if present, visible ASCII and not empty.
pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `Retry-After` of an answer, as of `now` ([`parse_retry_after`]).
#[must_use]
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    parse_retry_after(&header_text(headers, RETRY_AFTER.as_str())?, now)
}

/// A `Retry-After` value: seconds (Webex's form) or an HTTP date, at most [`MAX_RETRY_AFTER`].
/// `None` for anything else, and for a date already past (the client then waits its default rather
/// than calling again at once).
#[must_use]
pub fn parse_retry_after(text: &str, now: DateTime<Utc>) -> Option<Duration> {
    let text = text.trim();
    let wait = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: seconds, however many (a number past u64 is "very long").
        text.parse::<u64>()
            .map_or(MAX_RETRY_AFTER, Duration::from_secs)
    } else {
        // An HTTP date (IMF-fixdate) is RFC 2822 text: chrono, already here, reads it (the
        // `httpdate` crate would add a dependency for the two obsolete forms no server sends).
        let at = DateTime::parse_from_rfc2822(text).ok()?;
        (at.with_timezone(&Utc) - now).to_std().ok()?
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The target of `Link: <...>; rel="next"`, in any of the answer's `Link` headers, resolved against
/// the request URL if relative.
#[must_use]
pub fn next_link(headers: &HeaderMap, base: &Url) -> Option<Url> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|value| next_link_in(value, base))
}

/// The `rel="next"` target of one `Link` header value (RFC 8288: comma-separated
/// `<target>; param=value` entries; a comma or semicolon inside `<...>` or a quoted value belongs to
/// it; relation names are case-insensitive and a `rel` may list several).
#[must_use]
pub fn next_link_in(value: &str, base: &Url) -> Option<Url> {
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            return None;
        }
        let Some(after_open) = rest.strip_prefix('<') else {
            // Not an entry: skip to the next top-level comma.
            rest = &rest[entry_end(rest)..];
            continue;
        };
        let close = after_open.find('>')?;
        let target = &after_open[..close];
        let params_and_more = &after_open[close + 1..];
        let end = entry_end(params_and_more);
        let params = &params_and_more[..end];
        rest = &params_and_more[end..];
        if params_say_next(params) {
            return base.join(target.trim()).ok();
        }
    }
}

/// Where the entry starting at `text` ends: the first comma outside double quotes, or the end.
fn entry_end(text: &str) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => return i,
            _ => {}
        }
    }
    text.len()
}

/// Whether a `;`-separated parameter list holds a `rel` naming `next`.
fn params_say_next(params: &str) -> bool {
    split_outside_quotes(params, ';').any(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        if !name.trim().eq_ignore_ascii_case("rel") {
            return false;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        value
            .split_ascii_whitespace()
            .any(|relation| relation.eq_ignore_ascii_case("next"))
    })
}

/// `text` split at `separator` where it is not inside double quotes.
fn split_outside_quotes(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut quoted = false;
    let mut pieces = Vec::new();
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            pieces.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    pieces.push(&text[start..]);
    pieces.into_iter()
}

/// Webex's `message` from an error body (or OAuth's `error_description`, `error`), else the start
/// of the body.
#[must_use]
pub fn webex_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        error_description: Option<String>,
        error: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body)
        && let Some(message) = parsed.message.or(parsed.error_description).or(parsed.error)
    {
        return message;
    }
    let text = String::from_utf8_lossy(body);
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    if short.is_empty() {
        "(empty body)".into()
    } else {
        short
    }
}

/// The analytics base on the host a 451 message names ("... Please use analytics-eu.webexapis.com"),
/// keeping the scheme and path of `current`. Whether the token may go there is the caller's
/// question ([`super::token_may_go_to`]).
#[must_use]
pub fn regional_base(current: &Url, message: &str) -> Option<Url> {
    let host = message
        .split_whitespace()
        .rev()
        .map(|word| {
            word.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | '"' | '\'' | '(' | ')' | '!'))
        })
        .find_map(|word| {
            if let Ok(url) = Url::parse(word)
                && url.host_str().is_some()
                && matches!(url.scheme(), "http" | "https")
            {
                return Some((url.host_str()?.to_owned(), url.port()));
            }
            let (host, port) = match word.rsplit_once(':') {
                Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
                None => (word, None),
            };
            let plausible = (host.contains('.') || host == "localhost")
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                && host.chars().any(|c| c.is_ascii_alphabetic() || c == '.');
            plausible.then(|| (host.to_ascii_lowercase(), port))
        })?;
    let mut url = current.clone();
    url.set_host(Some(&host.0)).ok()?;
    url.set_port(host.1).ok()?;
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn next_link_is_followed_verbatim() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<https://webexapis.com/v1/meetings?meetingType=meeting&from=2025-06-01T00%3A00%3A00Z&max=2&offset=2>; rel=\"next\"",
            ),
        );
        let base = Url::parse("https://webexapis.com/v1/meetings").unwrap();
        assert_eq!(
            next_link(&headers, &base).unwrap().as_str(),
            "https://webexapis.com/v1/meetings?meetingType=meeting&from=2025-06-01T00%3A00%3A00Z&max=2&offset=2"
        );
    }

    #[test]
    fn only_rel_next_counts() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static("</v1/a?p=1>; rel=\"first\", </v1/a?p=3>; rel=next"),
        );
        let base = Url::parse("https://h/v1/a").unwrap();
        assert_eq!(
            next_link(&headers, &base).unwrap().as_str(),
            "https://h/v1/a?p=3"
        );
        headers.insert(LINK, HeaderValue::from_static("</v1/a?p=1>; rel=\"prev\""));
        assert!(next_link(&headers, &base).is_none());
    }

    #[test]
    fn commas_and_semicolons_inside_a_target_or_a_quoted_value_belong_to_it() {
        let base = Url::parse("https://h/v1/a").unwrap();
        let value = r#"</v1/a?ids=1,2;x=y>; title="a, b; rel=next"; rel="prev", </v1/a?ids=3,4>; REL="last Next""#;
        assert_eq!(
            next_link_in(value, &base).unwrap().as_str(),
            "https://h/v1/a?ids=3,4"
        );
        assert!(next_link_in(r#"</x>; title="rel=next""#, &base).is_none());
        assert!(next_link_in("garbage, <", &base).is_none());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("287"));
        assert_eq!(retry_after(&headers, now()), Some(Duration::from_secs(287)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now()), None);
        assert_eq!(
            parse_retry_after("Mon, 01 Jun 2026 12:01:30 GMT", now()),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Mon, 01 Jun 2026 11:00:00 GMT", now()),
            None,
            "a date past: the client's default wait"
        );
        // Hostile: far beyond any date chrono can hold, as seconds or as a date.
        for hostile in [
            "18446744073709551615",
            "99999999999999999999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(hostile));
            assert_eq!(
                retry_after(&headers, now()),
                Some(MAX_RETRY_AFTER),
                "{hostile}"
            );
        }
    }

    #[test]
    fn webex_message_prefers_the_message_field() {
        assert_eq!(
            webex_message(br#"{"message":"Nope","trackingId":"x"}"#),
            "Nope"
        );
        assert_eq!(
            webex_message(br#"{"error":"invalid_grant","error_description":"dead"}"#),
            "dead"
        );
        assert_eq!(webex_message(b"<html>"), "<html>");
        assert_eq!(webex_message(b""), "(empty body)");
    }

    #[test]
    fn the_host_named_by_a_451_replaces_the_default() {
        let current = Url::parse("https://analytics.webexapis.com/v1/").unwrap();
        let moved = regional_base(
            &current,
            "This server cannot serve the data for this organization. Please use analytics-eu.webexapis.com",
        )
        .unwrap();
        assert_eq!(moved.as_str(), "https://analytics-eu.webexapis.com/v1/");
        let local = Url::parse("http://127.0.0.1:4000/analytics/v1/").unwrap();
        let moved = regional_base(&local, "Please use localhost:4000.").unwrap();
        assert_eq!(moved.as_str(), "http://localhost:4000/analytics/v1/");
        assert!(regional_base(&current, "Go away.").is_none());
    }
}
