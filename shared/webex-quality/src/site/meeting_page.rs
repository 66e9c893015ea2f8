//! A meeting's page: headline, the participant-by-minute timeline, the participants table, and
//! per participant inline SVG charts.

use askama::Template;
use chrono::{DateTime, Utc};

use super::markup::{Dec1, Markup, MarkupBuf};
use super::{Chrome, HeadlineView, SiteOptions, charts, headline_view, mask_email, verdict_view};
use crate::quality::headline::Headline;
use crate::quality::{Cell, MeetingReport, Metric, StreamKind, Verdict};

/// The meeting a page is about, from the List Meetings row.
#[derive(Debug, Clone)]
pub struct MeetingMeta {
    /// Instance id.
    pub instance_id: String,
    /// Title.
    pub title: String,
    /// Host's name.
    pub host_name: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End, if known.
    pub end: Option<DateTime<Utc>>,
    /// Who was affected, the meeting's verdict and the likely cause
    /// ([`crate::quality::headline::of_report`]).
    pub headline: Headline,
}

struct TimelineRow {
    name: String,
    client: String,
    /// The row's cells as markup, built in one buffer (a cell's text is ours: a time, a verdict and
    /// numbers, escaped all the same).
    cells: Markup,
}

pub(super) struct StreamCell {
    pub(super) class: &'static str,
    pub(super) glyph: &'static str,
    pub(super) label: &'static str,
    pub(super) metric: String,
}

struct ParticipantRow {
    name: String,
    email: String,
    client: String,
    os: String,
    hardware: String,
    network: String,
    region: String,
    transport: String,
    join: String,
    leave: String,
    verdicts: Vec<StreamCell>,
    charts: Markup,
}

#[derive(Template)]
#[template(path = "meeting.html")]
struct MeetingPage {
    chrome: Chrome,
    title: String,
    host: String,
    when: String,
    duration: String,
    /// The day's page and exports, from this page, without extension (`../days/2026-01-05`).
    day_stem: String,
    headline: HeadlineView,
    sessions: usize,
    poor_streams: usize,
    judged_streams: usize,
    minute_labels: Vec<String>,
    rows: Vec<TimelineRow>,
    participants: Vec<ParticipantRow>,
    /// Sessions with charts (of their fair or poor streams).
    charted: usize,
}

/// A timeline cell's class: one letter per verdict (the stylesheet gives each its glyph and colour).
fn timeline_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Good => "g",
        Verdict::Fair => "f",
        Verdict::Poor => "p",
        Verdict::NoData => "n",
    }
}

/// A timeline cell's text, appended to `text`.
fn cell_text(text: &mut String, minute_label: &str, cell: &Cell) {
    use std::fmt::Write;
    let s = &cell.sample;
    if s.packet_loss.is_none()
        && s.latency.is_none()
        && s.jitter.is_none()
        && s.frame_rate.is_none()
    {
        text.push_str(minute_label);
        text.push_str(": no data");
        return;
    }
    text.push_str(minute_label);
    text.push_str(": ");
    text.push_str(cell.verdict.label());
    if let Some(metric) = cell.metric {
        text.push_str(" (");
        text.push_str(metric.label());
        text.push(')');
    }
    text.push(':');
    let mut separator = " ";
    #[allow(clippy::cast_possible_truncation)]
    let parts = [
        s.packet_loss.map(|v| ("loss ", Some(Dec1(v)), 0, " %")),
        s.latency
            .map(|v| ("latency ", None, v.round() as i64, " ms")),
        s.jitter.map(|v| ("jitter ", None, v.round() as i64, " ms")),
        s.frame_rate.map(|v| ("", Some(Dec1(v)), 0, " fps")),
    ];
    for (name, decimal, whole, unit) in parts.into_iter().flatten() {
        text.push_str(separator);
        text.push_str(name);
        let _ = match decimal {
            Some(d) => write!(text, "{d}"),
            None => write!(text, "{whole}"),
        };
        text.push_str(unit);
        separator = ", ";
    }
}

/// `HH:MM:SS` (without chrono's format parser, which is slow for a few fields).
fn clock_time(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

fn minutes_between(start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    (end - start).num_minutes().max(0)
}

/// Renders a meeting's page.
///
/// # Errors
/// The template engine's error.
pub fn render_meeting(
    meta: &MeetingMeta,
    report: &MeetingReport,
    options: &SiteOptions,
) -> Result<String, askama::Error> {
    let last_minute = report
        .sessions
        .iter()
        .flat_map(|s| {
            s.quality
                .timelines
                .values()
                .filter_map(crate::quality::Timeline::last_minute)
        })
        .max()
        .unwrap_or(0)
        .min(crate::quality::MAX_TIMELINE_MINUTES);
    let minute_labels: Vec<String> = (0..=last_minute)
        .map(|m| {
            use chrono::Timelike;
            let t = i64::try_from(m)
                .ok()
                .and_then(|m| meta.start.checked_add_signed(chrono::Duration::minutes(m)))
                .unwrap_or(meta.start);
            format!("{:02}:{:02}", t.hour(), t.minute())
        })
        .collect();
    let rows = report
        .sessions
        .iter()
        .map(|s| {
            let overall = s.quality.overall();
            let mut cells = MarkupBuf::with_capacity(minute_labels.len() * 80);
            let mut text = String::with_capacity(96);
            for (m, label) in minute_labels.iter().enumerate() {
                // A cell is its verdict's class (the stylesheet draws the glyph and the colour) and
                // its text (hidden, read by screen readers, shown on hover): about 80 bytes a
                // participant-minute. A minute out of the meeting is an empty cell.
                let Some(cell) = overall.get(m) else {
                    cells.raw("<td class=o></td>");
                    continue;
                };
                text.clear();
                cell_text(&mut text, label, cell);
                cells.raw("<td class=");
                cells.raw(timeline_class(cell.verdict));
                cells.raw("><i>");
                cells.text(&text);
                cells.raw("</i></td>");
            }
            TimelineRow {
                name: s.session.webex_user_name.clone().unwrap_or_default(),
                client: s.session.client_type.clone().unwrap_or_default(),
                cells: cells.finish(),
            }
        })
        .collect();
    let when_ms = |t: Option<DateTime<Utc>>| t.map_or_else(|| "—".to_owned(), clock_time);
    let participants: Vec<ParticipantRow> = report
        .sessions
        .iter()
        .map(|s| {
            let session = &s.session;
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            let email = text(&session.webex_user_email);
            ParticipantRow {
                name: text(&session.webex_user_name),
                email: if options.mask_personal {
                    mask_email(&email)
                } else {
                    email
                },
                client: format!(
                    "{} {}",
                    text(&session.client_type),
                    text(&session.client_version)
                )
                .trim()
                .to_owned(),
                os: format!("{} {}", text(&session.os_type), text(&session.os_version))
                    .trim()
                    .to_owned(),
                hardware: text(&session.hardware_type),
                network: text(&session.network_type),
                region: text(&session.server_region),
                transport: s.transport.clone(),
                join: when_ms(s.join),
                leave: s
                    .leave
                    .map_or_else(|| "still in the meeting".to_owned(), clock_time),
                verdicts: stream_cells(s),
                // Charts for the sessions with a fair or poor stream only: they are what a reader
                // looks into, and charts are most of a page's bytes. The others' minutes are in the
                // timeline's cells.
                charts: if matches!(s.quality.worst(), Verdict::Fair | Verdict::Poor) {
                    participant_charts(s, last_minute + 1)
                } else {
                    Markup::default()
                },
            }
        })
        .collect();
    let judged: Vec<Verdict> = report
        .sessions
        .iter()
        .flat_map(|s| s.quality.verdicts.iter().map(|v| v.verdict))
        .filter(|v| *v != Verdict::NoData)
        .collect();
    let page = MeetingPage {
        chrome: Chrome::new(&meta.title, "../", options),
        title: meta.title.clone(),
        host: meta.host_name.clone(),
        when: meta.start.format("%A %Y-%m-%d %H:%M UTC").to_string(),
        day_stem: format!("../days/{}", meta.start.date_naive()),
        duration: meta.end.map_or_else(
            || "in progress".into(),
            |end| format!("{} min", minutes_between(meta.start, end)),
        ),
        headline: headline_view(&meta.headline),
        sessions: report.sessions.len(),
        poor_streams: judged.iter().filter(|v| **v == Verdict::Poor).count(),
        judged_streams: judged.len(),
        minute_labels,
        rows,
        charted: participants.iter().filter(|p| !p.charts.is_empty()).count(),
        participants,
    };
    // One allocation for the whole page. The charts and cells are most of it; the rest (the
    // participants' table, about a tenth of a large page) is counted by rendering the page once
    // into a counter when the page is large: an estimate short by a byte doubled the buffer, and
    // the largest page's buffer (1.4 MB of page at 12 days of 1,000 meetings a day) was the
    // largest thing a full rebuild held, at 2.5 MB and 3.8 MB while it grew.
    let charts: usize = page.participants.iter().map(|p| p.charts.len()).sum();
    let cells: usize = page.rows.iter().map(|r| r.cells.len()).sum();
    let estimate = 16 * 1024 + charts + cells;
    let capacity = if estimate > COUNT_PAGES_ABOVE {
        let mut counted = ByteCount(0);
        page.render_into(&mut counted)?;
        counted.0
    } else {
        estimate
    };
    let mut out = String::with_capacity(capacity);
    page.render_into(&mut out)?;
    Ok(out)
}

/// A meeting page whose charts and cells are larger than this is measured before it is rendered
/// (see [`render_meeting`]).
const COUNT_PAGES_ABOVE: usize = 64 * 1024;

/// A writer that only counts the bytes written to it.
struct ByteCount(usize);

impl std::fmt::Write for ByteCount {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0 += text.len();
        Ok(())
    }
}

/// A session's verdict per stream kind, as table cells.
fn stream_cells(s: &crate::quality::ParticipantSession) -> Vec<StreamCell> {
    verdict_cells(|kind| s.quality.verdict(kind).map(|v| (v.verdict, v.metric)))
}

/// Table cells of a verdict (and deciding metric) per stream kind.
pub(super) fn verdict_cells(
    lookup: impl Fn(StreamKind) -> Option<(Verdict, Option<Metric>)>,
) -> Vec<StreamCell> {
    StreamKind::ALL
        .iter()
        .map(|kind| {
            let verdict = lookup(*kind);
            let v = verdict_view(verdict.map_or(Verdict::NoData, |v| v.0));
            StreamCell {
                class: v.class,
                glyph: v.glyph,
                label: v.label,
                metric: verdict
                    .and_then(|v| v.1)
                    .map(Metric::label)
                    .unwrap_or_default()
                    .to_owned(),
            }
        })
        .collect()
}

/// Charts of one participant, as one block of markup: loss, latency, jitter, bit rate, frame rate and
/// resolution per stream and direction, and CPU.
fn participant_charts(session: &crate::quality::ParticipantSession, minutes: usize) -> Markup {
    use crate::webex::MediaStream;
    let s = &session.session;
    let origin = session.quality.origin;
    let series = |points: &mut Vec<(usize, Option<f64>)>,
                  segments: &[MediaStream],
                  pick: fn(&MediaStream) -> &[Option<f64>]| {
        points.clear();
        for segment in segments {
            let Some(start) = segment.start_time else {
                continue;
            };
            // Segments dated far from the meeting are left out, as the timeline leaves them out.
            let Ok(base) = usize::try_from((start - origin).num_minutes().max(0)) else {
                continue;
            };
            points.extend(
                pick(segment)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (base.saturating_add(i), *v))
                    .take_while(|(minute, _)| *minute < minutes),
            );
        }
    };
    let mut charts = MarkupBuf::with_capacity(16 * 1024);
    let (mut received, mut sent) = (Vec::new(), Vec::new());
    let mut label = String::new();
    type Pick = fn(&MediaStream) -> &[Option<f64>];
    let metrics: [(&str, &str, Pick, bool); 6] = [
        ("packet loss", "%", |m| &m.packet_loss, true),
        ("latency", "ms", |m| &m.latency, true),
        ("jitter", "ms", |m| &m.jitter, true),
        ("bit rate", "kbit/s", |m| &m.media_bit_rate, true),
        ("frame rate", "fps", |m| &m.frame_rate, false),
        ("resolution", "px", |m| &m.resolution_height, false),
    ];
    let media: [(StreamKind, &str, &[MediaStream], &[MediaStream]); 3] = [
        (StreamKind::Audio, "Audio", &s.audio_in, &s.audio_out),
        (StreamKind::Video, "Video", &s.video_in, &s.video_out),
        (StreamKind::Share, "Sharing", &s.share_in, &s.share_out),
    ];
    for (kind, name, incoming, outgoing) in media {
        // The streams judged fair or poor: the ones a reader looks into.
        let troubled = session
            .quality
            .verdict(kind)
            .is_some_and(|v| matches!(v.verdict, Verdict::Fair | Verdict::Poor));
        if !troubled || (incoming.is_empty() && outgoing.is_empty()) {
            continue;
        }
        for (metric, unit, pick, for_audio) in metrics {
            if name == "Audio" && !for_audio {
                continue;
            }
            series(&mut received, incoming, pick);
            series(&mut sent, outgoing, pick);
            label.clear();
            label.push_str(name);
            label.push(' ');
            label.push_str(metric);
            charts::line_chart_into(
                &mut charts,
                &label,
                unit,
                minutes,
                &[("received", &received), ("sent", &sent)],
            );
        }
    }
    for resources in &s.resources {
        received.clear();
        received.extend(
            resources
                .process_average_cpu
                .iter()
                .enumerate()
                .map(|(i, v)| (i * minutes / resources.process_average_cpu.len().max(1), *v)),
        );
        charts::line_chart_into(
            &mut charts,
            "CPU",
            "%",
            minutes,
            &[("process average", &received)],
        );
    }
    charts.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::{Thresholds, meeting_report};

    const HOSTILE: [&str; 4] = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "\u{202e}ananab\u{202c} مرحبا",
        "Zoë 🎉👩🏽‍💻",
    ];

    fn hostile_report() -> (MeetingMeta, MeetingReport) {
        let items: Vec<serde_json::Value> = HOSTILE
            .iter()
            .map(|name| {
                serde_json::json!({
                    "webexUserName": name,
                    "webexUserEmail": format!("{name}@example.com"),
                    "clientType": name,
                    "networkType": name,
                    "serverRegion": name,
                    "audioIn": [{"samplingInterval": 60, "startTime": "2026-01-05T10:00:00.000Z",
                                  "packetLoss": [0.0, 12.0, 13.0, 14.0, -1], "latency": [20, 30, 40, 50, -1], "jitter": [1, 2, 3, 4, -1]}]
                })
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({"items": items})).unwrap();
        let start = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let report = meeting_report([body.as_slice()], start, &Thresholds::default());
        let meta = MeetingMeta {
            instance_id: "a_I_1".into(),
            title: HOSTILE[0].into(),
            host_name: HOSTILE[1].into(),
            start,
            end: Some(start + chrono::Duration::minutes(5)),
            headline: crate::quality::headline::of_report(&report, "", &Thresholds::default()),
        };
        (meta, report)
    }

    #[test]
    fn hostile_strings_are_inert_and_intact() {
        let (meta, report) = hostile_report();
        let html = render_meeting(&meta, &report, &SiteOptions::default()).unwrap();
        assert!(!html.contains("<script>alert"), "no live script tag");
        assert!(!html.contains("<img src=x"), "no live img tag");
        // askama escapes with numeric references.
        assert!(html.contains("<h1>&#60;script&#62;alert(1)&#60;/script&#62;</h1>"));
        assert!(html.contains("Hosted by &#34;&#62;&#60;img src=x onerror=alert(1)&#62;"));
        assert!(
            html.contains("\u{202e}ananab\u{202c} مرحبا"),
            "right-to-left text kept"
        );
        assert!(html.contains("Zoë 🎉👩🏽‍💻"), "emoji kept");
        // Only our own script, from our own origin.
        assert_eq!(html.matches("<script").count(), 1);
        let script = format!(
            "<script src=\"../{}\" defer></script>",
            SiteOptions::default().js_path
        );
        assert!(html.contains(&script), "{script}");
        assert!(SiteOptions::default().js_path.starts_with("assets/app."));
        assert!(html.contains("Content-Security-Policy"));
    }

    #[test]
    fn a_large_page_is_made_in_one_buffer_of_its_own_size() {
        // Sixty participants with an hour of poor audio each: charts for every one of them.
        let loss: Vec<f64> = (0..60).map(|m| f64::from(m % 20)).collect();
        let items: Vec<serde_json::Value> = (0..60)
            .map(|n| {
                serde_json::json!({
                    "webexUserName": format!("Participant <{n}>"),
                    "webexUserEmail": format!("p{n}@example.com"),
                    "clientType": "Webex Desktop",
                    "networkType": "wifi",
                    "audioIn": [{"samplingInterval": 60, "startTime": "2026-01-05T10:00:00.000Z",
                                  "packetLoss": loss, "latency": vec![120; 60], "jitter": vec![40; 60]}]
                })
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({"items": items})).unwrap();
        let (meta, _) = hostile_report();
        let report = meeting_report([body.as_slice()], meta.start, &Thresholds::default());
        let html = render_meeting(&meta, &report, &SiteOptions::default()).unwrap();
        assert!(html.len() > 2 * COUNT_PAGES_ABOVE, "{}", html.len());
        assert_eq!(html.matches("class=\"person-charts\"").count(), 60);
        assert_eq!(html.capacity(), html.len());
    }

    #[test]
    fn emails_are_masked_by_default() {
        let (meta, report) = hostile_report();
        let masked = render_meeting(&meta, &report, &SiteOptions::default()).unwrap();
        assert!(!masked.contains("@example.com\"") && masked.contains("***@example.com"));
        let open = render_meeting(
            &meta,
            &report,
            &SiteOptions {
                mask_personal: false,
                ..SiteOptions::default()
            },
        )
        .unwrap();
        assert!(open.contains("Zoë 🎉👩🏽‍💻@example.com"));
    }

    #[test]
    fn the_timeline_shows_poor_minutes_with_a_glyph_a_word_and_the_values() {
        let (meta, report) = hostile_report();
        let html = render_meeting(&meta, &report, &SiteOptions::default()).unwrap();
        assert!(
            html.contains("10:01: poor (packet loss): loss 12.0 %, latency 30 ms, jitter 2 ms")
        );
        assert!(
            html.contains("10:04: no data"),
            "a -1 minute is no data, not good"
        );
        assert!(html.contains(
            "<td class=p><i>10:01: poor (packet loss): loss 12.0 %, latency 30 ms, jitter 2 ms</i>"
        ));
        assert!(html.contains("<span aria-hidden=\"true\">✕</span> poor"));
    }
}
