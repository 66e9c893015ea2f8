//! Inline SVG charts: drawn on the server so they show with JavaScript off. Text goes into the markup
//! only through [`MarkupBuf::text`] (askama's escaper); the rest is literal markup and numbers.

use super::markup::{Dec1, Markup, MarkupBuf};

/// One line of a chart: a name ("in", "out") and a value per minute (`None`: no data).
pub type Series<'a> = (&'a str, &'a [(usize, Option<f64>)]);

const W: f64 = 600.0;
const H: f64 = 120.0;
const PAD: f64 = 28.0;

/// A line chart of one metric over the minutes of a meeting, one line per series (the first solid,
/// the next dashed). Gaps ("no data") break a line and are marked with a band, so they never look like
/// a value of zero.
#[must_use]
pub fn line_chart(label: &str, unit: &str, minutes: usize, series: &[Series<'_>]) -> Markup {
    let mut svg =
        MarkupBuf::with_capacity(320 + series.iter().map(|(_, p)| p.len()).sum::<usize>() * 12);
    line_chart_into(&mut svg, label, unit, minutes, series);
    svg.finish()
}

/// [`line_chart`], appended to `svg`.
pub fn line_chart_into(
    svg: &mut MarkupBuf,
    label: &str,
    unit: &str,
    minutes: usize,
    series: &[Series<'_>],
) {
    let values = || {
        series
            .iter()
            .flat_map(|(_, points)| points.iter().filter_map(|(_, v)| *v))
    };
    let count = values().count();
    if count == 0 {
        svg.raw(r#"<figure class="chart"><figcaption>"#);
        svg.text(label);
        svg.raw(r#"</figcaption><p class="no-data">No data</p></figure>"#);
        return;
    }
    let max = values().fold(0.0_f64, f64::max).max(1e-9);
    let min = values().fold(f64::INFINITY, f64::min);
    #[allow(clippy::cast_precision_loss)]
    let mean = values().sum::<f64>() / count as f64;
    svg.raw(r#"<figure class="chart"><figcaption>"#);
    svg.text(label);
    svg.raw(r#" <span class="sub">"#);
    for (i, (name, _)) in series.iter().enumerate() {
        if i > 0 {
            svg.raw(" solid, ");
        }
        svg.text(name);
    }
    if series.len() > 1 {
        svg.raw(" dashed");
    }
    // The frame is the same for every chart (W x H with PAD): written as literals.
    svg.raw(r#"</span></figcaption><svg viewBox="0 0 600 120" role="img" aria-label=""#);
    svg.text(label);
    svg.raw(": min ");
    svg.dec1(Dec1(min));
    svg.raw(", mean ");
    svg.dec1(Dec1(mean));
    svg.raw(", max ");
    svg.dec1(Dec1(max));
    svg.raw(" ");
    svg.text(unit);
    svg.raw(r#""><line class="axis" x1="28" y1="106" x2="572" y2="106"/><text class="tick" x="2" y="18">"#);
    svg.dec1(Dec1(max));
    svg.raw(r#"</text><text class="tick" x="2" y="106">0</text>"#);
    #[allow(clippy::cast_precision_loss)]
    let span = (minutes.max(2) - 1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let x = |m: usize| PAD + (m as f64 / span) * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD / 2.0 - (v / max) * (H - PAD);
    for (index, (_, points)) in series.iter().enumerate() {
        draw(svg, index, points, &x, &y);
    }
    svg.raw("</svg></figure>");
}

/// Appends a pair of path data, a point `x,y` or a step `dx,dy` (a minus sign separates two numbers
/// on its own, so `9-3` needs no comma).
fn push_pair(out: &mut MarkupBuf, a: i32, b: i32) {
    out.int(a);
    if b >= 0 {
        out.ascii(b',');
    }
    out.int(b);
}

/// One series in one pass, with no allocation per point: a line (`<path>`, moved to its first point
/// and then drawn step by step, each step relative to the point before: shorter than absolute
/// coordinates, a typical chart 790 bytes instead of 920) stays open while values follow each other.
fn draw(
    svg: &mut MarkupBuf,
    index: usize,
    points: &[(usize, Option<f64>)],
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
) {
    // Whole units of a 600 x 120 view box are fine enough, and integers format fast. Coordinates are
    // never negative (x from PAD, y from PAD / 2), so adding a half and truncating rounds them. Each
    // step is the difference of two rounded points, so the line passes through exactly the points
    // that absolute coordinates would give.
    #[allow(clippy::cast_possible_truncation)]
    let xi = |m: usize| (x(m) + 0.5) as i32;
    #[allow(clippy::cast_possible_truncation)]
    let yi = |v: f64| (y(v) + 0.5) as i32;
    let class = if index == 0 { "line" } else { "line alt" };
    // The first point of a run not drawn yet, and the last point drawn of an open line.
    let mut first: Option<(i32, i32)> = None;
    let mut last: Option<(i32, i32)> = None;
    let close =
        |svg: &mut MarkupBuf, first: &mut Option<(i32, i32)>, last: &mut Option<(i32, i32)>| {
            if last.take().is_some() {
                svg.raw("\"/>");
            } else if let Some((px, py)) = first.take() {
                svg.raw(r#"<circle class="pt" cx=""#);
                svg.int(px);
                svg.raw(r#"" cy=""#);
                svg.int(py);
                svg.raw(r#"" r="2"/>"#);
            }
        };
    for (minute, value) in points {
        match value {
            Some(v) => {
                let (px, py) = (xi(*minute), yi(*v));
                if let Some((lx, ly)) = last {
                    svg.ascii(b' ');
                    push_pair(svg, px - lx, py - ly);
                } else if let Some((fx, fy)) = first.take() {
                    svg.raw(r#"<path class=""#);
                    svg.raw(class);
                    svg.raw(r#"" d="M"#);
                    push_pair(svg, fx, fy);
                    svg.ascii(b'l');
                    push_pair(svg, px - fx, py - fy);
                } else {
                    first = Some((px, py));
                    continue;
                }
                last = Some((px, py));
            }
            None => {
                close(svg, &mut first, &mut last);
                svg.raw(r#"<rect class="gap" x=""#);
                svg.int(xi(*minute) - 2);
                svg.raw(r#"" y="14" width="4" height="92"/>"#);
            }
        }
    }
    close(svg, &mut first, &mut last);
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
        assert_eq!(svg.as_str().matches("<path").count(), 2);
        assert!(svg.as_str().contains("class=\"gap\""));
        assert!(svg.as_str().contains("Loss &#60;in&#62;"), "{svg}");
        assert!(!svg.as_str().contains("<in>"));
    }

    #[test]
    fn two_series_share_a_chart_and_a_lone_value_is_a_dot() {
        let a = [(0, Some(1.0)), (1, Some(2.0))];
        let b = [(0, None), (1, Some(3.0)), (2, None)];
        let svg = line_chart("Latency", "ms", 3, &[("in", &a), ("out", &b)]);
        assert!(svg.as_str().contains("in solid, out dashed"));
        assert_eq!(svg.as_str().matches("<path class=\"line\"").count(), 1);
        assert_eq!(svg.as_str().matches("<circle").count(), 1);
    }

    /// The absolute points of every `<path>` in `svg`, a list per path (`M x,y l dx,dy dx,dy ...`).
    fn path_points(svg: &str) -> Vec<Vec<(i32, i32)>> {
        svg.split(" d=\"")
            .skip(1)
            .map(|rest| {
                let data = &rest[..rest.find('"').unwrap()];
                let (start, steps) = data.strip_prefix('M').unwrap().split_once('l').unwrap();
                let pair = |text: &str| -> (i32, i32) {
                    // `x,y` or `x-y` (the minus sign separates on its own).
                    let split = text[1..].find([',', '-']).unwrap() + 1;
                    let (a, b) = text.split_at(split);
                    (
                        a.parse().unwrap(),
                        b.trim_start_matches(',').parse().unwrap(),
                    )
                };
                let mut at = pair(start);
                let mut points = vec![at];
                for step in steps.split(' ') {
                    let (dx, dy) = pair(step);
                    at = (at.0 + dx, at.1 + dy);
                    points.push(at);
                }
                points
            })
            .collect()
    }

    #[test]
    fn a_line_passes_through_each_value_rounded_to_the_view_box() {
        // Values up and down, a gap, a lone value, then another run: each line's steps add up to
        // the rounded absolute point of each minute.
        let values = [
            Some(3.0),
            Some(0.0),
            Some(7.25),
            Some(7.25),
            Some(1.5),
            None,
            Some(2.0),
            None,
            Some(0.4),
            Some(6.0),
            Some(5.9),
        ];
        let points: Vec<(usize, Option<f64>)> = values.iter().copied().enumerate().collect();
        let svg = line_chart("Jitter", "ms", values.len(), &[("in", &points)]);
        let max = 7.25;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let at = |m: usize, v: f64| {
            let x = PAD + (m as f64 / (values.len() - 1) as f64) * (W - 2.0 * PAD);
            let y = H - PAD / 2.0 - (v / max) * (H - PAD);
            ((x + 0.5) as i32, (y + 0.5) as i32)
        };
        let expected = vec![
            (0..5)
                .map(|m| at(m, values[m].unwrap()))
                .collect::<Vec<_>>(),
            (8..11).map(|m| at(m, values[m].unwrap())).collect(),
        ];
        assert_eq!(path_points(svg.as_str()), expected, "{svg}");
        // The lone value between the gaps is a dot.
        let (cx, cy) = at(6, 2.0);
        assert!(
            svg.as_str().contains(&format!(
                r#"<circle class="pt" cx="{cx}" cy="{cy}" r="2"/>"#
            )),
            "{svg}"
        );
    }

    #[test]
    fn a_series_without_values_says_no_data() {
        assert!(
            line_chart("Jitter", "ms", 3, &[("in", &[(0, None), (1, None)])])
                .as_str()
                .contains("No data")
        );
    }
}
