//! Inline SVG charts: drawn on the server so they show with JavaScript off. Only numbers and labels
//! this module escapes go into the markup.

use std::fmt::Write;

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
    let label = escape(label);
    let unit = escape(unit);
    let values = || {
        series
            .iter()
            .flat_map(|(_, points)| points.iter().filter_map(|(_, v)| *v))
    };
    let count = values().count();
    if count == 0 {
        return format!(
            r#"<figure class="chart"><figcaption>{label}</figcaption><p class="no-data">No data</p></figure>"#
        );
    }
    let max = values().fold(0.0_f64, f64::max).max(1e-9);
    let min = values().fold(f64::INFINITY, f64::min);
    #[allow(clippy::cast_precision_loss)]
    let mean = values().sum::<f64>() / count as f64;
    let mut legend = String::new();
    for (i, (name, _)) in series.iter().enumerate() {
        if i > 0 {
            legend.push_str(" solid, ");
        }
        legend.push_str(&escape(name));
    }
    if series.len() > 1 {
        legend.push_str(" dashed");
    }
    let mut svg =
        String::with_capacity(320 + series.iter().map(|(_, p)| p.len()).sum::<usize>() * 12);
    // The frame is the same for every chart (W x H with PAD): written as literals.
    let _ = write!(
        svg,
        r#"<figure class="chart"><figcaption>{label} <span class="sub">{legend}</span></figcaption><svg viewBox="0 0 600 120" role="img" aria-label="{label}: min {}, mean {}, max {} {unit}"><line class="axis" x1="28" y1="106" x2="572" y2="106"/><text class="tick" x="2" y="18">{}</text><text class="tick" x="2" y="106">0</text>"#,
        Dec1(min),
        Dec1(mean),
        Dec1(max),
        Dec1(max)
    );
    #[allow(clippy::cast_precision_loss)]
    let span = (minutes.max(2) - 1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let x = |m: usize| PAD + (m as f64 / span) * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD / 2.0 - (v / max) * (H - PAD);
    for (index, (_, points)) in series.iter().enumerate() {
        draw(&mut svg, index, points, &x, &y);
    }
    svg.push_str("</svg></figure>");
    svg
}

/// One series in one pass, with no allocation per point: a polyline stays open while values follow
/// each other.
fn draw(
    svg: &mut String,
    index: usize,
    points: &[(usize, Option<f64>)],
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
) {
    // Whole units of a 600 x 120 view box are fine enough, and integers format fast.
    #[allow(clippy::cast_possible_truncation)]
    let xi = |m: usize| x(m).round() as i32;
    #[allow(clippy::cast_possible_truncation)]
    let yi = |v: f64| y(v).round() as i32;
    let class = if index == 0 { "line" } else { "line alt" };
    let mut first: Option<(i32, i32)> = None;
    let mut in_line = false;
    let close = |svg: &mut String, first: &mut Option<(i32, i32)>, in_line: &mut bool| {
        if *in_line {
            svg.push_str("\"/>");
        } else if let Some((px, py)) = first.take() {
            let _ = write!(svg, r#"<circle class="pt" cx="{px}" cy="{py}" r="2"/>"#);
        }
        *first = None;
        *in_line = false;
    };
    for (minute, value) in points {
        match value {
            Some(v) => {
                let (px, py) = (xi(*minute), yi(*v));
                if in_line {
                    let _ = write!(svg, " {px},{py}");
                } else if let Some((fx, fy)) = first.take() {
                    let _ = write!(
                        svg,
                        r#"<polyline class="{class}" points="{fx},{fy} {px},{py}"#
                    );
                    in_line = true;
                } else {
                    first = Some((px, py));
                }
            }
            None => {
                close(svg, &mut first, &mut in_line);
                let _ = write!(
                    svg,
                    r#"<rect class="gap" x="{}" y="14" width="4" height="92"/>"#,
                    xi(*minute) - 2
                );
            }
        }
    }
    close(svg, &mut first, &mut in_line);
}

/// A number with one decimal, formatted through integers (float formatting dominated rendering).
pub(crate) struct Dec1(pub(crate) f64);

impl std::fmt::Display for Dec1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[allow(clippy::cast_possible_truncation)]
        let tenths = (self.0 * 10.0).round() as i64;
        let sign = if tenths < 0 { "-" } else { "" };
        let tenths = tenths.unsigned_abs();
        write!(f, "{sign}{}.{}", tenths / 10, tenths % 10)
    }
}

/// Escapes text for HTML and SVG content and attributes (no copy when there is nothing to escape).
#[must_use]
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
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
    fn one_decimal_through_integers() {
        assert_eq!(Dec1(12.34).to_string(), "12.3");
        assert_eq!(Dec1(0.06).to_string(), "0.1");
        assert_eq!(Dec1(-1.25).to_string(), "-1.3");
        assert_eq!(Dec1(500.0).to_string(), "500.0");
    }

    #[test]
    fn a_series_without_values_says_no_data() {
        assert!(
            line_chart("Jitter", "ms", 3, &[("in", &[(0, None), (1, None)])]).contains("No data")
        );
    }
}
