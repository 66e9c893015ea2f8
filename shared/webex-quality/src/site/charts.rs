//! Inline SVG charts: drawn on the server so they show with JavaScript off. Only numbers and labels
//! this module escapes go into the markup.

use std::io::Write;

/// One line of a chart: a name ("in", "out") and a value per minute (`None`: no data).
pub type Series<'a> = (&'a str, &'a [(usize, Option<f64>)]);

const W: f64 = 600.0;
const H: f64 = 120.0;
const PAD: f64 = 28.0;

/// A line chart of one metric over the minutes of a meeting, one line per series (the first solid,
/// the next dashed). Gaps ("no data") break a line and are marked with a band, so they never look like
/// a value of zero.
#[must_use]
pub fn line_chart(label: &str, unit: &str, minutes: usize, series: &[Series<'_>]) -> String {
    let mut svg = Vec::with_capacity(320 + series.iter().map(|(_, p)| p.len()).sum::<usize>() * 12);
    line_chart_into(&mut svg, label, unit, minutes, series);
    // Only text and ASCII digits were written.
    String::from_utf8(svg).unwrap_or_default()
}

/// [`line_chart`], appended to `svg` (bytes, so that numbers need no UTF-8 check each).
pub fn line_chart_into(
    svg: &mut Vec<u8>,
    label: &str,
    unit: &str,
    minutes: usize,
    series: &[Series<'_>],
) {
    let label = escape(label);
    let unit = escape(unit);
    let values = || {
        series
            .iter()
            .flat_map(|(_, points)| points.iter().filter_map(|(_, v)| *v))
    };
    let count = values().count();
    if count == 0 {
        let _ = write!(
            svg,
            r#"<figure class="chart"><figcaption>{label}</figcaption><p class="no-data">No data</p></figure>"#
        );
        return;
    }
    let max = values().fold(0.0_f64, f64::max).max(1e-9);
    let min = values().fold(f64::INFINITY, f64::min);
    #[allow(clippy::cast_precision_loss)]
    let mean = values().sum::<f64>() / count as f64;
    svg.extend_from_slice(r#"<figure class="chart"><figcaption>"#.as_bytes());
    svg.extend_from_slice(label.as_bytes());
    svg.extend_from_slice(r#" <span class="sub">"#.as_bytes());
    for (i, (name, _)) in series.iter().enumerate() {
        if i > 0 {
            svg.extend_from_slice(" solid, ".as_bytes());
        }
        svg.extend_from_slice(escape(name).as_bytes());
    }
    if series.len() > 1 {
        svg.extend_from_slice(" dashed".as_bytes());
    }
    // The frame is the same for every chart (W x H with PAD): written as literals.
    svg.extend_from_slice(
        br#"</span></figcaption><svg viewBox="0 0 600 120" role="img" aria-label=""#,
    );
    svg.extend_from_slice(label.as_bytes());
    svg.extend_from_slice(b": min ");
    Dec1(min).push(svg);
    svg.extend_from_slice(b", mean ");
    Dec1(mean).push(svg);
    svg.extend_from_slice(b", max ");
    Dec1(max).push(svg);
    svg.push(b' ');
    svg.extend_from_slice(unit.as_bytes());
    svg.extend_from_slice(br#""><line class="axis" x1="28" y1="106" x2="572" y2="106"/><text class="tick" x="2" y="18">"#);
    Dec1(max).push(svg);
    svg.extend_from_slice(br#"</text><text class="tick" x="2" y="106">0</text>"#);
    #[allow(clippy::cast_precision_loss)]
    let span = (minutes.max(2) - 1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let x = |m: usize| PAD + (m as f64 / span) * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD / 2.0 - (v / max) * (H - PAD);
    for (index, (_, points)) in series.iter().enumerate() {
        draw(svg, index, points, &x, &y);
    }
    svg.extend_from_slice("</svg></figure>".as_bytes());
}

/// Appends an integer in decimal (no formatting machinery: charts are mostly coordinates).
fn push_int(out: &mut Vec<u8>, value: i32) {
    if value < 0 {
        out.push(b'-');
    }
    let mut digits = [0_u8; 10];
    let start = write_digits(&mut digits, u64::from(value.unsigned_abs()));
    out.extend_from_slice(&digits[start..]);
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

/// Appends `x,y`.
fn push_point(out: &mut Vec<u8>, x: i32, y: i32) {
    push_int(out, x);
    out.push(b',');
    push_int(out, y);
}

/// One series in one pass, with no allocation per point: a polyline stays open while values follow
/// each other.
fn draw(
    svg: &mut Vec<u8>,
    index: usize,
    points: &[(usize, Option<f64>)],
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
) {
    // Whole units of a 600 x 120 view box are fine enough, and integers format fast. Coordinates are
    // never negative (x from PAD, y from PAD / 2), so adding a half and truncating rounds them.
    #[allow(clippy::cast_possible_truncation)]
    let xi = |m: usize| (x(m) + 0.5) as i32;
    #[allow(clippy::cast_possible_truncation)]
    let yi = |v: f64| (y(v) + 0.5) as i32;
    let class = if index == 0 { "line" } else { "line alt" };
    let mut first: Option<(i32, i32)> = None;
    let mut in_line = false;
    let close = |svg: &mut Vec<u8>, first: &mut Option<(i32, i32)>, in_line: &mut bool| {
        if *in_line {
            svg.extend_from_slice("\"/>".as_bytes());
        } else if let Some((px, py)) = first.take() {
            svg.extend_from_slice(r#"<circle class="pt" cx=""#.as_bytes());
            push_int(svg, px);
            svg.extend_from_slice(r#"" cy=""#.as_bytes());
            push_int(svg, py);
            svg.extend_from_slice(r#"" r="2"/>"#.as_bytes());
        }
        *first = None;
        *in_line = false;
    };
    for (minute, value) in points {
        match value {
            Some(v) => {
                let (px, py) = (xi(*minute), yi(*v));
                if in_line {
                    svg.push(b' ');
                    push_point(svg, px, py);
                } else if let Some((fx, fy)) = first.take() {
                    svg.extend_from_slice(r#"<polyline class=""#.as_bytes());
                    svg.extend_from_slice(class.as_bytes());
                    svg.extend_from_slice(r#"" points=""#.as_bytes());
                    push_point(svg, fx, fy);
                    svg.push(b' ');
                    push_point(svg, px, py);
                    in_line = true;
                } else {
                    first = Some((px, py));
                }
            }
            None => {
                close(svg, &mut first, &mut in_line);
                svg.extend_from_slice(r#"<rect class="gap" x=""#.as_bytes());
                push_int(svg, xi(*minute) - 2);
                svg.extend_from_slice(r#"" y="14" width="4" height="92"/>"#.as_bytes());
            }
        }
    }
    close(svg, &mut first, &mut in_line);
}

/// A number with one decimal, formatted through integers (float formatting dominated rendering).
pub(crate) struct Dec1(pub(crate) f64);

impl Dec1 {
    /// The digits, in `buffer`; returns where they start.
    fn digits(&self, buffer: &mut [u8; 22]) -> usize {
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

    /// Appends the number to `out`.
    fn push(&self, out: &mut Vec<u8>) {
        let mut buffer = [0_u8; 22];
        let start = self.digits(&mut buffer);
        out.extend_from_slice(&buffer[start..]);
    }
}

impl std::fmt::Display for Dec1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buffer = [0_u8; 22];
        let start = self.digits(&mut buffer);
        f.write_str(std::str::from_utf8(&buffer[start..]).unwrap_or_default())
    }
}

/// Escapes text for HTML and SVG content and attributes (no copy when there is nothing to escape).
#[must_use]
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_the_line_and_are_marked() {
        let points = [
            (0, Some(1.0)),
            (1, Some(2.0)),
            (2, None),
            (3, Some(0.0)),
            (4, Some(4.0)),
        ];
        let svg = line_chart("Loss <in>", "%", 5, &[("in", &points)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("class=\"gap\""));
        assert!(svg.contains("Loss &lt;in&gt;"));
        assert!(!svg.contains("<in>"));
    }

    #[test]
    fn two_series_share_a_chart_and_a_lone_value_is_a_dot() {
        let a = [(0, Some(1.0)), (1, Some(2.0))];
        let b = [(0, None), (1, Some(3.0)), (2, None)];
        let svg = line_chart("Latency", "ms", 3, &[("in", &a), ("out", &b)]);
        assert!(svg.contains("in solid, out dashed"));
        assert_eq!(svg.matches("<polyline class=\"line\"").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
    }

    #[test]
    fn integers_are_written_as_decimal() {
        for n in [0, 7, -7, 10, 572, -2, i32::MAX, i32::MIN] {
            let mut out = Vec::new();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
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
    }

    #[test]
    fn a_series_without_values_says_no_data() {
        assert!(
            line_chart("Jitter", "ms", 3, &[("in", &[(0, None), (1, None)])]).contains("No data")
        );
    }
}
