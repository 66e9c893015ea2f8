//! One S3 event: when it names the database or the status object of the data store, the dashboard
//! is rendered and published (once, however many such records the event holds); any other key is
//! ignored with one log line.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use webex_quality::clock::SharedClock;
use webex_quality::config::SiteConfig;
use webex_quality::quality::Thresholds;
use webex_quality::site::{
    RENDER_INPUTS, RefreshError, RenderBudget, SiteOptions, render_from_store_within,
};
use webex_quality::storage::SharedStore;

/// What the function holds between invocations.
pub(crate) struct Builder {
    pub(crate) config: SiteConfig,
    pub(crate) data: SharedStore,
    pub(crate) site: SharedStore,
    pub(crate) thresholds: Thresholds,
    /// The offices' IP ranges (`WEBEX_QUALITY_SITES_FILE`).
    pub(crate) offices: std::sync::Arc<webex_quality::site::offices::Offices>,
    pub(crate) clock: SharedClock,
    /// When this instance last finished a complete render (for the render interval). A new
    /// instance renders on its first event; one whose render ran out of time goes on at once.
    pub(crate) last_render: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl Builder {
    /// Whether the render interval says to wait: a complete render finished less than
    /// `WEBEX_QUALITY_RENDER_INTERVAL_MINUTES` ago in this instance.
    fn too_soon(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let interval = self.config.render_interval_minutes;
        if interval == 0 {
            return None;
        }
        let last = (*self
            .last_render
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))?;
        let interval = chrono::Duration::minutes(i64::try_from(interval).unwrap_or(i64::MAX));
        (self.clock.now() < last + interval).then_some(last)
    }
}

/// What the invocation returns (and logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BuildLog {
    /// Whether a render ran.
    rendered: bool,
    /// The keys that asked for it, or were ignored.
    keys: Vec<String>,
    files: usize,
    meetings_rendered: usize,
    /// Meetings published as an error page (their data could not be rendered).
    meetings_failed: usize,
    uploaded: usize,
    deleted: usize,
    /// False when the invocation's time ran out first: its progress is saved and the next
    /// invocation (the next cycle's status object) goes on from there.
    complete: bool,
}

/// The part of an invocation's remaining time a render may use; the rest is for saving its
/// progress (the manifest and the render cache) when it stops early.
const RENDER_SHARE: f64 = 0.8;

/// When the render must stop to save its progress before the invocation's deadline. No deadline
/// (0, as in a `Context` built by hand) means no limit, and so does a deadline already passed when
/// the invocation starts: Lambda always gives one ahead, while `cargo lambda watch` sends the
/// constant 600000 (ten minutes after 1970).
fn budget(context: &lambda_runtime::Context) -> RenderBudget {
    if context.deadline == 0 {
        return RenderBudget::default();
    }
    let Ok(remaining) = context
        .deadline()
        .duration_since(std::time::SystemTime::now())
    else {
        lambda_runtime::tracing::warn!(
            deadline_ms = context.deadline,
            "the invocation's deadline has passed already: rendering without a time limit"
        );
        return RenderBudget::default();
    };
    RenderBudget {
        stop_at: Some(std::time::Instant::now() + remaining.mul_f64(RENDER_SHARE)),
        ..RenderBudget::default()
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
#[error("the dashboard was not published: {0}")]
pub(crate) struct BuildFailed(#[from] RefreshError);

impl From<BuildFailed> for Diagnostic {
    fn from(error: BuildFailed) -> Self {
        Self {
            error_type: match &error.0 {
                RefreshError::NoDatabase { .. } | RefreshError::WouldWipe { .. } => "SiteProtected",
                RefreshError::Db(_) => "DatabaseRefused",
                _ => "BuildFailed",
            }
            .into(),
            error_message: error.to_string(),
        }
    }
}

/// The data store's key of a record's object, if it is in the data store. S3 events give keys
/// URL-encoded (`+` for a space).
fn data_key(config: &SiteConfig, record: &S3EventRecord) -> Option<String> {
    let bucket = record.s3.bucket.name.as_deref()?;
    let encoded = record.s3.object.key.as_deref()?;
    let key = url::form_urlencoded::parse(encoded.as_bytes())
        .next()
        .map(|(key, _)| key.into_owned())?;
    config.store.key_of(bucket, &key)
}

/// Renders and publishes when the event names a render input.
pub(crate) async fn function_handler(
    builder: &Builder,
    event: LambdaEvent<S3Event>,
) -> Result<BuildLog, BuildFailed> {
    let keys: Vec<String> = event
        .payload
        .records
        .iter()
        .map(|record| data_key(&builder.config, record).unwrap_or_default())
        .collect();
    let asked = keys.iter().any(|key| RENDER_INPUTS.contains(&key.as_str()));
    let too_soon = asked.then(|| builder.too_soon()).flatten();
    if let Some(last) = too_soon {
        lambda_runtime::tracing::info!(
            ?keys,
            %last,
            interval_minutes = builder.config.render_interval_minutes,
            "rendered within the render interval; a later event renders"
        );
    }
    if !asked || too_soon.is_some() {
        if !asked {
            lambda_runtime::tracing::info!(?keys, "no render input changed; nothing to do");
        }
        return Ok(BuildLog {
            rendered: false,
            keys,
            files: 0,
            meetings_rendered: 0,
            meetings_failed: 0,
            uploaded: 0,
            deleted: 0,
            complete: true,
        });
    }
    let options = SiteOptions {
        mask_personal: !builder.config.show_personal,
        offices: builder.offices.clone(),
        ..SiteOptions::default()
    };
    let started = builder.clock.now();
    let rendered = render_from_store_within(
        &builder.data,
        builder.site.as_ref(),
        (builder.config.work_dir.clone(), budget(&event.context)),
        options,
        &builder.thresholds,
        builder.clock.clone(),
    )
    .await
    .inspect_err(|error| lambda_runtime::tracing::error!(%error, "render refused or failed"))?;
    *builder
        .last_render
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = rendered.complete.then_some(started);
    let log = BuildLog {
        rendered: true,
        keys,
        files: rendered.files,
        meetings_rendered: rendered.meetings_rendered,
        meetings_failed: rendered.meetings_failed,
        uploaded: rendered.published.uploaded_count(),
        deleted: rendered.published.deleted.len(),
        complete: rendered.complete,
    };
    lambda_runtime::tracing::info!(
        files = log.files,
        meetings_rendered = log.meetings_rendered,
        meetings_failed = log.meetings_failed,
        uploaded = log.uploaded,
        deleted = log.deleted,
        authorization_needed = rendered.authorization_needed,
        complete = log.complete,
        cache_written = rendered.cache_written,
        cache_parts_written = rendered.cache_parts_written,
        "{}",
        if log.complete {
            "dashboard published"
        } else {
            "dashboard partly published: the time ran out, the next invocation goes on"
        }
    );
    Ok(log)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use webex_quality::storage::{FolderStore, StoreLocation};

    fn event(fixture: &str) -> LambdaEvent<S3Event> {
        let payload: S3Event = serde_json::from_str(fixture).expect("the S3 event parses");
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    fn config(bucket_prefix: &str, dir: &std::path::Path) -> SiteConfig {
        SiteConfig {
            store: StoreLocation::parse(bucket_prefix).unwrap(),
            s3: webex_quality::storage::S3Settings::default(),
            site_store: StoreLocation::Folder(dir.join("site")),
            work_dir: dir.join("work"),
            show_personal: false,
            thresholds_file: None,
            sites_file: None,
            render_interval_minutes: 0,
        }
    }

    /// A builder over folders standing in for the buckets, so that a render can run.
    fn builder(location: &str) -> (Builder, tempfile::TempDir) {
        // One folder per test (tests run in parallel), removed when the test ends.
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let data: SharedStore = Arc::new(FolderStore::new(dir.join("data")).unwrap());
        let site: SharedStore = Arc::new(FolderStore::for_site(dir.join("site")).unwrap());
        (
            Builder {
                config: config(location, dir),
                data,
                site,
                thresholds: Thresholds::default(),
                offices: std::sync::Arc::default(),
                clock: Arc::new(webex_quality::clock::SystemClock),
                last_render: std::sync::Mutex::new(None),
            },
            scratch,
        )
    }

    fn record_keys(fixture: &str, location: &str) -> Vec<Option<String>> {
        let dir = std::env::temp_dir();
        let config = config(location, &dir);
        event(fixture)
            .payload
            .records
            .iter()
            .map(|record| data_key(&config, record))
            .collect()
    }

    #[test]
    fn event_keys_are_decoded_and_taken_relative_to_the_data_store() {
        let keys = record_keys(
            include_str!("../../../tests/fixtures/events/s3-put-database.json"),
            "s3://webex-quality-data-123456789012/data",
        );
        assert_eq!(keys, [Some("webex-quality.sqlite".to_owned())]);
        let keys = record_keys(
            include_str!("../../../tests/fixtures/events/s3-put-other.json"),
            "s3://webex-quality-data-123456789012/data",
        );
        assert_eq!(keys, [Some("collector lease+notes.json".to_owned())]);
        // Another prefix of the same bucket is not the data store.
        let keys = record_keys(
            include_str!("../../../tests/fixtures/events/s3-put-status.json"),
            "s3://webex-quality-data-123456789012/elsewhere",
        );
        assert_eq!(keys, [None]);
    }

    #[test]
    fn a_render_stops_with_a_fifth_of_the_invocation_left() {
        let mut context = lambda_runtime::Context::default();
        assert_eq!(budget(&context).stop_at, None, "no deadline, no limit");
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(100);
        context.deadline = u64::try_from(
            deadline
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        let left = budget(&context).stop_at.unwrap() - std::time::Instant::now();
        assert!(
            left > std::time::Duration::from_secs(78) && left <= std::time::Duration::from_secs(80),
            "{left:?}"
        );
        // A deadline already passed at the start, as `cargo lambda watch` sends: no limit.
        context.deadline = 600_000;
        assert_eq!(budget(&context).stop_at, None);
    }

    #[tokio::test]
    async fn another_key_is_ignored_without_touching_the_site() {
        let (builder, dir) = builder("s3://webex-quality-data-123456789012/data");
        let log = function_handler(
            &builder,
            event(include_str!(
                "../../../tests/fixtures/events/s3-put-other.json"
            )),
        )
        .await
        .unwrap();
        assert!(!log.rendered, "{log:?}");
        assert!(!dir.path().join("site").join("manifest.json").exists());
    }

    #[tokio::test]
    async fn the_status_object_renders_the_dashboard() {
        let (builder, dir) = builder("s3://webex-quality-data-123456789012/data");
        let log = function_handler(
            &builder,
            event(include_str!(
                "../../../tests/fixtures/events/s3-put-status.json"
            )),
        )
        .await
        .unwrap();
        assert!(log.rendered, "{log:?}");
        assert!(log.files > 0 && log.uploaded == log.files, "{log:?}");
        assert!(dir.path().join("site").join("status.html").exists());
    }

    #[tokio::test]
    async fn with_a_render_interval_a_second_event_soon_after_renders_nothing() {
        let (mut builder, dir) = builder("s3://webex-quality-data-123456789012/data/");
        builder.config.render_interval_minutes = 60;
        let status = || {
            event(include_str!(
                "../../../tests/fixtures/events/s3-put-status.json"
            ))
        };
        let first = function_handler(&builder, status()).await.unwrap();
        assert!(first.rendered && first.complete, "{first:?}");
        let second = function_handler(&builder, status()).await.unwrap();
        assert!(!second.rendered, "{second:?}");
        // An hour later (the last render moved back), the next event renders.
        *builder.last_render.lock().unwrap() =
            Some(chrono::Utc::now() - chrono::Duration::minutes(61));
        assert!(builder.too_soon().is_none());
        // It renders (and, with no database under a published site, refuses to publish).
        let third = function_handler(&builder, status()).await;
        assert!(third.is_err(), "{third:?}");
        assert!(dir.path().join("site").join("status.html").exists());
    }
}
