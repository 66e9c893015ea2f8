//! `render`: the dashboard, only what changed (also what `serve` and `demo` do after collecting).

use std::path::Path;
use std::sync::Arc;

use webex_quality::clock::{SharedClock, SystemClock};
use webex_quality::site::{Rendered, render_from_store};
use webex_quality::storage::{FolderStore, SharedStore};

use crate::args::{Global, OutArgs};
use crate::error::CliError;
use crate::output::{say, spinner};
use crate::settings::{site_folder, site_options, thresholds, work_folder};

/// Renders the dashboard from the data folder into the site folder.
pub(crate) async fn render_with(
    global: &Global,
    data_store: &SharedStore,
    data: &Path,
    site: &Path,
    clock: SharedClock,
) -> Result<Rendered, CliError> {
    let site_store = FolderStore::for_site(site.to_path_buf())
        .map_err(|e| CliError::failed(&format!("site folder {}", site.display()), e))?;
    let bar = spinner(global, "rendering");
    let rendered = render_from_store(
        data_store,
        &site_store,
        work_folder(data),
        site_options(global)?,
        &thresholds(global)?,
        clock,
    )
    .await;
    bar.finish_and_clear();
    let rendered = rendered.map_err(|e| CliError::failed("rendering", e))?;
    say(
        global,
        &format!(
            "dashboard: {} files in {} ({} meetings rendered, {} unchanged; {} uploaded, {} removed)",
            rendered.files,
            site.display(),
            rendered.meetings_rendered,
            rendered.meetings_reused,
            rendered.published.uploaded_count(),
            rendered.published.deleted.len()
        ),
    );
    if rendered.meetings_failed > 0 {
        eprintln!(
            "warning: {} meeting pages could not be made and show an error page instead (the log says why; their data is kept)",
            rendered.meetings_failed
        );
    }
    Ok(rendered)
}

/// `render`: the dashboard from the data folder into its site folder.
pub(crate) async fn render(global: &Global, out: &OutArgs) -> Result<Rendered, CliError> {
    let (data, store) = global.data_store(false)?;
    let site = site_folder(&data, out)?;
    render_with(global, &store, &data, &site, Arc::new(SystemClock)).await
}
