//! `export`: the data, for you: raw response bodies byte for byte, or spreadsheet tables.

use crate::args::{ExportArgs, Global};
use crate::error::CliError;
use crate::output::say;
use crate::partitions::for_each_partition;
use crate::settings::{site_options, thresholds, work_folder};
use webex_quality::site::analytics::{TABLES, write_analytics};
use webex_quality::storage::FolderStore;

/// `export`: raw bodies or CSV tables from every partition.
pub(crate) async fn export(global: &Global, args: &ExportArgs) -> Result<(), CliError> {
    let (data, store) = global.data_store(false)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::failed(&format!("export folder {}", args.out.display()), e))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = args.out.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| CliError::failed(&format!("writing {}", path.display()), e))
    };
    let options = site_options(global)?;
    let thresholds = thresholds(global)?;
    let mut files = 0;
    let mut seen = std::collections::HashSet::new();
    let mut tables = webex_quality::site::CsvTables::default();
    // Every partition: a meeting is exported from the first one that holds it.
    let partitions = args.raw || args.csv;
    for_each_partition(&store, &data, "export", |db| {
        if !partitions {
            return Ok(());
        }
        if args.raw {
            for meeting in db.meetings().map_err(|e| CliError::failed("database", e))? {
                if !seen.insert(meeting.instance_id.clone()) {
                    continue;
                }
                let pages = db
                    .latest_complete_pages(&meeting.instance_id)
                    .map_err(|e| CliError::failed("database", e))?;
                for page in pages {
                    write(
                        &format!("{}.{}.json", meeting.instance_id, page.page),
                        &page.body,
                    )?;
                    files += 1;
                }
            }
        }
        if args.csv {
            tables
                .add(db, &options, &thresholds)
                .map_err(|e| CliError::failed("export", e))?;
        }
        Ok(())
    })
    .await?;
    if args.analytics {
        let out = FolderStore::new(args.out.clone())
            .map_err(|e| CliError::failed(&format!("export folder {}", args.out.display()), e))?;
        let written = write_analytics(
            &store,
            &out,
            &work_folder(&data),
            (&options, &thresholds),
            None,
        )
        .await
        .map_err(|e| CliError::failed("analytics export", e))?;
        files += written.parts * TABLES.len();
        say(
            global,
            &format!(
                "analytics: {} archived days' parts written ({} interval rows, {} sessions, {} meetings); parts written before are kept",
                written.parts, written.rows[0], written.rows[1], written.rows[2]
            ),
        );
    }
    if args.csv {
        let tables = tables.finish().map_err(|e| CliError::failed("export", e))?;
        for (name, bytes) in tables {
            write(&name, &bytes)?;
            files += 1;
        }
    }
    say(
        global,
        &format!("exported {files} files to {}", args.out.display()),
    );
    Ok(())
}
