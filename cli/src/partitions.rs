//! Reading the history for `status` and `export`: a private copy of the hot database, and every
//! archive after it.

use std::path::Path;

use webex_quality::db::Database;
use webex_quality::history::{self, Replica};
use webex_quality::storage::SharedStore;

use crate::error::CliError;
use crate::settings::work_folder;

/// Runs `use_db` on a private copy of the data folder's database, removed afterwards.
pub(crate) async fn with_database<T>(
    store: &SharedStore,
    data: &Path,
    purpose: &str,
    use_db: impl AsyncFnOnce(&Database) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let replica = Replica::new(store.clone(), work_folder(data));
    let copy = replica
        .checkout(purpose)
        .await
        .map_err(|e| CliError::failed("database", e))?;
    let result = match Database::open(&copy.path) {
        Ok(db) => use_db(&db).await,
        Err(e) => Err(CliError::failed("database", e)),
    };
    Replica::discard(&copy);
    result
}

/// Runs `visit` on every partition of the history: the data folder's hot database, then each
/// archive, newest first (each a private copy, removed afterwards). Returns the archives.
pub(crate) async fn for_each_partition(
    store: &SharedStore,
    data: &Path,
    purpose: &str,
    mut visit: impl FnMut(&Database) -> Result<(), CliError>,
) -> Result<Vec<history::ArchiveKey>, CliError> {
    with_database(store, data, purpose, async |db| visit(db)).await?;
    let archives = history::list_archives(store)
        .await
        .map_err(|e| CliError::failed("archives", e))?;
    for archive in &archives {
        let local = history::download(store, *archive, &work_folder(data))
            .await
            .map_err(|e| CliError::failed("archives", e))?;
        let db = Database::open(&local.path).map_err(|e| CliError::failed("archive", e))?;
        visit(&db)?;
    }
    Ok(archives)
}
