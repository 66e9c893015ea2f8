//! Inline SVG charts: drawn on the server so they show with JavaScript off. Only numbers and labels
//! this module escapes go into the markup.

use std::fmt::Write;

/// A line chart of one metric over the minutes of a meeting. Gaps ("no data") break the line and are
/// marked with a hatched band, so they never look like a value of zero.
#[must_use]
pub fn line_chart(
    label: &str,
    unit: &str,
    minutes: usize,
    points: &[(usize, Option<f64>)],
) -> String {
    const W: f64 = 600.0;
    const H: f64 = 120.0;
    const PAD: f64 = 28.0;
    let values: Vec<f64> = points.iter().filter_map(|(_, v)| *v).collect();
    let label = escape(label);
    let unit = escape(unit);
    if values.is_empty() {
        return format!(
            r#"<figure class="chart"><figcaption>{label}</figcaption><p class="no-data">No data</p></figure>"#
        );
    }
    let max = values.iter().copied().fold(0.0_f64, f64::max).max(1e-9);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let span = (minutes.max(2) - 1) as f64;
    let x = |m: usize| PAD + (m as f64 / span) * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD / 2.0 - (v / max) * (H - PAD);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure class="chart"><figcaption>{label}</figcaption><svg viewBox="0 0 {W} {H}" role="img" aria-label="{label}: min {min:.1}, mean {mean:.1}, max {max:.1} {unit}"><title>{label}: min {min:.1}, mean {mean:.1}, max {max:.1} {unit}</title>"#
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{PAD}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
        H - PAD / 2.0,
        W - PAD,
        H - PAD / 2.0
    );
    let _ = write!(
        svg,
        r#"<text class="tick" x="2" y="{:.1}">{max:.0}</text><text class="tick" x="2" y="{:.1}">0</text>"#,
        PAD / 2.0 + 4.0,
        H - PAD / 2.0
    );
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, svg: &mut String| {
        if run.len() == 1 {
            let (px, py) = run[0].split_once(',').unwrap_or(("0", "0"));
            let _ = write!(svg, r#"<circle class="pt" cx="{px}" cy="{py}" r="2"/>"#);
        } else if run.len() > 1 {
            let _ = write!(
                svg,
                r#"<polyline class="line" points="{}"/>"#,
                run.join(" ")
            );
        }
        run.clear();
    };
    for (minute, value) in points {
        match value {
            Some(v) => run.push(format!("{:.1},{:.1}", x(*minute), y(*v))),
            None => {
                flush(&mut run, &mut svg);
                let _ = write!(
                    svg,
                    r#"<rect class="gap" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>minute {minute}: no data</title></rect>"#,
                    x(*minute) - 2.0,
                    PAD / 2.0,
                    4.0,
                    H - PAD
                );
            }
        }
    }
    flush(&mut run, &mut svg);
    svg.push_str("</svg></figure>");
    svg
}

/// Escapes text for HTML and SVG content and attributes.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_the_line_and_are_marked() {
        let svg = line_chart(
            "Loss <in>",
            "%",
            5,
            &[
                (0, Some(1.0)),
                (1, Some(2.0)),
                (2, None),
                (3, Some(0.0)),
                (4, Some(4.0)),
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("class=\"gap\""));
        assert!(svg.contains("Loss &lt;in&gt;"));
        assert!(!svg.contains("<in>"));
    }

    #[test]
    fn a_series_without_values_says_no_data() {
        assert!(line_chart("Jitter", "ms", 3, &[(0, None), (1, None)]).contains("No data"));
    }
}
