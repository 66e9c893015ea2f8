//! Alert texts: Markdown that Webex, Slack and Teams render, with what came from Webex escaped.

use chrono::{DateTime, Utc};

/// `text` with Markdown's special characters escaped, and on one line: a meeting title or a name
/// cannot add links, emphasis or lines to an alert.
#[must_use]
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '<' | '>' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `2026-12-02 14:05`.
#[must_use]
pub fn clock(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The line every alert ends with: its id, which is how a retry finds an alert already posted.
#[must_use]
pub fn id_line(id: &str) -> String {
    format!("alert id: {}", md(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webex_strings_cannot_add_markdown() {
        assert_eq!(
            md("[click](https://evil.example) *now*\n# big"),
            "\\[click\\]\\(https://evil.example\\) \\*now\\* \\# big"
        );
        assert_eq!(md("Zoë's <b>"), "Zoë's \\<b\\>");
    }
}
