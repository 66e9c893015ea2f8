//! Markup the pages build in code (charts, the timeline's cells), where a template per element
//! would cost too much at a thousand meetings a build.
//!
//! Text reaches the markup only through [`MarkupBuf::text`], which escapes with askama's own HTML
//! escaper: the one code path that escapes every string, in templates and here alike. Literal markup
//! is `&'static str` only, so nothing read at run time can be written unescaped.

use std::fmt;

use askama::filters::Escaper;

/// Markup built by a [`MarkupBuf`]: the only type the templates insert without escaping (`|safe`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    /// The markup's length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no markup.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The markup as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Markup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A buffer of markup under construction (bytes, so that numbers need no UTF-8 check each).
#[derive(Debug, Default)]
pub struct MarkupBuf(Vec<u8>);

impl MarkupBuf {
    /// An empty buffer with room for `capacity` bytes.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Appends literal markup: tags and attributes written in the code.
    pub fn raw(&mut self, markup: &'static str) {
        self.0.extend_from_slice(markup.as_bytes());
    }

    /// Appends text, escaped for HTML content and attribute values by askama's escaper.
    pub fn text(&mut self, text: &str) {
        // Writing to a vector cannot fail.
        let _ = askama::filters::Html.write_escaped_str(Bytes(&mut self.0), text);
    }

    /// Appends an integer in decimal (no formatting machinery: charts are mostly coordinates).
    pub fn int(&mut self, value: i32) {
        if value < 0 {
            self.0.push(b'-');
        }
        let mut digits = [0_u8; 10];
        let start = write_digits(&mut digits, u64::from(value.unsigned_abs()));
        self.0.extend_from_slice(&digits[start..]);
    }

    /// Appends a number with one decimal.
    pub fn dec1(&mut self, value: Dec1) {
        let mut buffer = [0_u8; 22];
        let start = value.digits(&mut buffer);
        self.0.extend_from_slice(&buffer[start..]);
    }

    /// Appends one ASCII character of markup (a space, a comma).
    pub fn ascii(&mut self, byte: u8) {
        debug_assert!(byte.is_ascii());
        if byte.is_ascii() {
            self.0.push(byte);
        }
    }

    /// The markup written so far.
    #[must_use]
    pub fn finish(self) -> Markup {
        // Only `&str` and ASCII were written: always UTF-8.
        Markup(String::from_utf8(self.0).unwrap_or_default())
    }
}

/// `fmt::Write` over the buffer's bytes, for the escaper.
struct Bytes<'a>(&'a mut Vec<u8>);

impl fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes `n` in decimal at the end of `buffer`; returns where it starts.
fn write_digits(buffer: &mut [u8], mut n: u64) -> usize {
    let mut i = buffer.len();
    loop {
        i -= 1;
        // A digit: always below 10.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        buffer[i] = b'0' + digit;
        n /= 10;
        if n == 0 || i == 0 {
            return i;
        }
    }
}

/// A number with one decimal, formatted through integers (float formatting dominated rendering).
#[derive(Debug, Clone, Copy)]
pub struct Dec1(pub f64);

impl Dec1 {
    /// The digits, in `buffer`; returns where they start.
    fn digits(self, buffer: &mut [u8; 22]) -> usize {
        #[allow(clippy::cast_possible_truncation)]
        let tenths = (self.0 * 10.0).round() as i64;
        // Sign, up to 19 digits, the point and the tenth.
        let last = buffer.len() - 1;
        let tenths_abs = tenths.unsigned_abs();
        buffer[last] = b'0' + u8::try_from(tenths_abs % 10).unwrap_or(0);
        buffer[last - 1] = b'.';
        let mut start = write_digits(&mut buffer[..last - 1], tenths_abs / 10);
        if tenths < 0 {
            start -= 1;
            buffer[start] = b'-';
        }
        start
    }
}

impl fmt::Display for Dec1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buffer = [0_u8; 22];
        let start = self.digits(&mut buffer);
        f.write_str(std::str::from_utf8(&buffer[start..]).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_by_askama_like_a_template_variable() {
        #[derive(askama::Template)]
        #[template(source = "<i title=\"{{ t }}\">{{ t }}</i>", ext = "html")]
        struct Page<'a> {
            t: &'a str,
        }
        for hostile in [
            "<script>alert('x')</script>",
            "\" onmouseover=\"x",
            "a & b > c",
            "日本語 ＜＞",
        ] {
            let mut buf = MarkupBuf::default();
            buf.raw("<i title=\"");
            buf.text(hostile);
            buf.raw("\">");
            buf.text(hostile);
            buf.raw("</i>");
            let markup = buf.finish();
            assert_eq!(
                markup.as_str(),
                askama::Template::render(&Page { t: hostile }).unwrap()
            );
            assert!(!markup.as_str().contains("<script"));
        }
    }

    #[test]
    fn integers_are_written_as_decimal() {
        for n in [0, 7, -7, 10, 572, -2, i32::MAX, i32::MIN] {
            let mut buf = MarkupBuf::default();
            buf.int(n);
            assert_eq!(buf.finish().as_str(), n.to_string());
        }
    }

    #[test]
    fn one_decimal_through_integers() {
        assert_eq!(Dec1(12.34).to_string(), "12.3");
        assert_eq!(Dec1(0.06).to_string(), "0.1");
        assert_eq!(Dec1(-1.25).to_string(), "-1.3");
        assert_eq!(Dec1(500.0).to_string(), "500.0");
        assert_eq!(Dec1(0.0).to_string(), "0.0");
        assert_eq!(Dec1(-0.04).to_string(), "0.0");
        assert_eq!(Dec1(1e15).to_string(), "1000000000000000.0");
        let mut buf = MarkupBuf::default();
        buf.dec1(Dec1(-1.25));
        assert_eq!(buf.finish().as_str(), "-1.3");
    }
}
