//! The dashboard's pages, rendered from the database into static HTML (askama templates from
//! `site/templates`, compiled into the binary). Every string from Webex goes through the template
//! engine's HTML escaping; charts are inline SVG, so pages work with JavaScript off; a
//! Content-Security-Policy forbids loading anything from elsewhere; emails and IPs are masked unless the
//! options say otherwise.
//!
//! A build renders again only the meetings and people whose inputs changed ([`render_cache`] keeps what
//! the list-type pages need between builds); [`render_from_store`] is the use case "render and
//! publish".

pub mod analytics;
mod build;
pub mod charts;
mod csv_cells;
mod exports;
mod file_hashes;
mod incremental;
mod list_pages;
pub mod markup;
mod meeting_page;
mod office_pages;
pub mod offices;
mod person_key;
mod publish;
mod render_and_publish;
pub mod render_cache;
mod sessions;
mod status_page;
mod texts;
mod written;

pub use build::{BuildError, Files, meeting_path};
pub use exports::{CsvTables, csv_tables};
pub use incremental::{
    PendingMeetings, Previous, SiteBuild, SiteBuilder, SiteManifest, build_incremental, build_site,
};
pub use meeting_page::{MeetingMeta, render_meeting};
pub use person_key::{PERSON_KEY_KEY, PersonKey};
pub use publish::{
    HELD_UPLOADS, MANIFEST_KEY, Manifest, PublishError, Published, PublishedManifest, publish,
    publish_build, publish_rest, publish_some, read_manifest, read_manifest_via,
};
pub use render_and_publish::{
    RENDER_INPUTS, RefreshError, RenderBudget, Rendered, banner, render_from_store,
    render_from_store_within,
};
pub use status_page::{StatusError, StatusView, render_status};

use chrono::{DateTime, Utc};

pub use crate::privacy::mask_email;
use crate::quality::Verdict;

/// The stylesheet, embedded at build time.
pub const STYLE_CSS: &str = include_str!("../../../../site/assets/style.css");
/// The script, embedded at build time (progressive enhancement only).
pub const APP_JS: &str = include_str!("../../../../site/assets/app.js");

/// The templates' sources, for the render cache's fingerprint (askama compiles the same files).
const TEMPLATE_SOURCES: [&str; 9] = [
    include_str!("../../../../site/templates/base.html"),
    include_str!("../../../../site/templates/breakdowns.html"),
    include_str!("../../../../site/templates/meeting.html"),
    include_str!("../../../../site/templates/meeting_error.html"),
    include_str!("../../../../site/templates/meetings.html"),
    include_str!("../../../../site/templates/office.html"),
    include_str!("../../../../site/templates/overview.html"),
    include_str!("../../../../site/templates/person.html"),
    include_str!("../../../../site/templates/status.html"),
];

/// How pages are rendered.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// Mask emails and IP addresses (the default).
    pub mask_personal: bool,
    /// When set, every page shows an "authorization needed" banner with this text.
    pub authorization_needed: Option<String>,
    /// Path of the stylesheet from the site root (content-hashed when published).
    pub css_path: String,
    /// Path of the script from the site root.
    pub js_path: String,
    /// When the site was generated.
    pub generated: DateTime<Utc>,
    /// The deployment's key for person page URLs (a render loads it from the data store).
    pub person_key: PersonKey,
    /// The offices' IP ranges (`WEBEX_QUALITY_SITES_FILE`); none by default.
    pub offices: std::sync::Arc<offices::Offices>,
}

impl Default for SiteOptions {
    fn default() -> Self {
        Self {
            mask_personal: true,
            authorization_needed: None,
            css_path: hashed_asset("assets/style", "css", STYLE_CSS),
            js_path: hashed_asset("assets/app", "js", APP_JS),
            generated: DateTime::<Utc>::UNIX_EPOCH,
            person_key: PersonKey::default(),
            offices: std::sync::Arc::default(),
        }
    }
}

/// An asset's published name: its content hash in the name, so it can be cached for good.
fn hashed_asset(stem: &str, extension: &str, content: &str) -> String {
    let hash = crate::db::sha256_hex(content.as_bytes());
    format!("{stem}.{}.{extension}", &hash[..12])
}

/// What every page's frame shows.
#[derive(Debug, Clone)]
struct Chrome {
    title: String,
    root: String,
    css: String,
    js: String,
    banner: Option<String>,
    generated: String,
}

impl Chrome {
    fn new(title: &str, root: &str, options: &SiteOptions) -> Self {
        Self {
            title: title.to_owned(),
            root: root.to_owned(),
            css: options.css_path.clone(),
            js: options.js_path.clone(),
            banner: options.authorization_needed.clone(),
            generated: options.generated.format("%Y-%m-%d %H:%M").to_string(),
        }
    }
}

/// A verdict as pages show it: a class for colour, a glyph and a word, so colour is never the only
/// signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct VerdictView {
    class: &'static str,
    glyph: &'static str,
    label: &'static str,
}

fn verdict_view(verdict: Verdict) -> VerdictView {
    match verdict {
        Verdict::Good => VerdictView {
            class: "v-good",
            glyph: "✓",
            label: "good",
        },
        Verdict::Fair => VerdictView {
            class: "v-fair",
            glyph: "~",
            label: "fair",
        },
        Verdict::Poor => VerdictView {
            class: "v-poor",
            glyph: "✕",
            label: "poor",
        },
        Verdict::NoData => VerdictView {
            class: "v-none",
            glyph: "·",
            label: "no data",
        },
    }
}

/// A meeting's headline as pages show it (meeting page, lists, overview).
#[derive(Debug, Clone)]
struct HeadlineView {
    /// The meeting's verdict: class and glyph.
    verdict: VerdictView,
    /// "poor", "good for 24 of 27".
    label: String,
    /// The verdict's order for sorting (no data 0 to poor 3).
    rank: u8,
    participants: u32,
    poor: u32,
    fair: u32,
    good: u32,
    /// Participant-minutes judged poor, as "12.5 %" ("no data" without data).
    poor_share: String,
    /// The same for sorting (-1 without data).
    poor_share_sort: String,
    /// Poor participant-minutes.
    impact: u32,
    /// "host", "presenter", "host and presenter" or "".
    leaders: &'static str,
    /// The likely cause in words ("" when nobody had trouble).
    cause: String,
    /// Its category for the filter ("jitter", "CPU"...; "none").
    cause_category: &'static str,
}

fn headline_view(h: &crate::quality::headline::Headline) -> HeadlineView {
    let share = h.minutes.poor_share();
    HeadlineView {
        verdict: verdict_view(h.verdict),
        label: h.label(),
        rank: match h.verdict {
            Verdict::NoData => 0,
            Verdict::Good => 1,
            Verdict::Fair => 2,
            Verdict::Poor => 3,
        },
        participants: h.participants.total(),
        poor: h.participants.poor,
        fair: h.participants.fair,
        good: h.participants.good,
        poor_share: share.map_or_else(|| "no data".into(), |s| format!("{:.1} %", s * 100.0)),
        poor_share_sort: format!("{:.4}", share.unwrap_or(-1.0)),
        impact: h.minutes.poor,
        leaders: h.leaders_affected(),
        cause: h
            .cause
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        cause_category: cause_category(h),
    }
}

/// The category of `h`'s cause, as the lists' filters offer it ("jitter", "CPU"...; "none").
fn cause_category(h: &crate::quality::headline::Headline) -> &'static str {
    h.cause.as_ref().map_or("none", |c| c.category())
}
