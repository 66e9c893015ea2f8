//! Spills: what a cycle fetched but could not record is kept, and the next cycle records it.
//!
//! A cycle's calls go to its delta file as they end ([`crate::db::Delta`]). When the upload fails
//! (conflicts past the attempts, the store down), that file, with the cycle's checkpoint updates
//! added, is written to the data store as `spill/<run id>.sqlite` (never over another); when the
//! store cannot take it either, it stays in the working folder, under `spill/`, for the next cycle
//! on this machine. The next cycle reads every spill before it plans (so a meeting whose final fetch
//! was spilled is not called again), copies the spills' calls into its own delta, and deletes them
//! once its upload succeeded. A spill merged twice (its deletion failed) changes nothing: calls are
//! keyed by meeting and call time, bodies by their hash.

use std::path::{Path, PathBuf};

use super::{CollectError, Collector};
use crate::db::{CheckpointUpdate, Delta, DeltaCounts};
use crate::storage::work_files::WorkFile;
use crate::storage::{FetchedFile, PutCondition, StoreError};

/// Where spills go in the data store and in the working folder.
pub const SPILL_PREFIX: &str = "spill/";

/// The spills a cycle found, downloaded into its working folder.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Each spill's file here, with its key in the store (`None`: kept locally).
    files: Vec<(PathBuf, Option<String>)>,
    /// Their checkpoint updates, in the order the spills were written.
    pub(super) checkpoints: Vec<CheckpointUpdate>,
}

impl Found {
    pub(super) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.files.len()
    }
}

impl Collector {
    fn local_spills(&self) -> PathBuf {
        self.work_dir.join(SPILL_PREFIX)
    }

    /// The spills in the store and in the working folder. One that cannot be read now is left for
    /// a later cycle (logged); nothing here fails the cycle.
    pub(super) async fn find_spills(&self, run_id: &str) -> Found {
        let mut found = Found::default();
        match self.store.list(SPILL_PREFIX).await {
            Ok(keys) => {
                for key in keys.into_iter().filter(|k| k.ends_with(".sqlite")) {
                    let name = key.trim_start_matches(SPILL_PREFIX).replace('/', "_");
                    let path =
                        WorkFile::Run.path(&self.work_dir, &format!("{run_id}.merging-{name}"));
                    match self.store.get_to_file(&key, None, &path).await {
                        Ok(FetchedFile::Found(_)) => found.files.push((path, Some(key))),
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, %key, "a spill could not be read; a later cycle merges it");
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "spills could not be listed; a later cycle merges them");
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.local_spills()) {
            let mut local: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
                .collect();
            local.sort();
            found.files.extend(local.into_iter().map(|p| (p, None)));
        }
        let mut readable = Vec::new();
        for (path, key) in found.files {
            let file = path.clone();
            let read = tokio::task::spawn_blocking(move || Delta::open(&file)?.checkpoints()).await;
            match read {
                Ok(Ok(checkpoints)) => {
                    found.checkpoints.extend(checkpoints);
                    readable.push((path, key));
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, path = %path.display(), "a spill could not be opened; it is left where it is");
                    if key.is_some() {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                Err(error) => tracing::warn!(%error, "reading a spill"),
            }
        }
        found.files = readable;
        if !found.is_empty() {
            tracing::info!(
                spills = found.len(),
                "merging what earlier cycles fetched but could not record"
            );
        }
        found
    }

    /// Copies the spills' calls into the cycle's delta at `delta`.
    pub(super) async fn absorb_spills(
        &self,
        delta: &Path,
        found: &Found,
    ) -> Result<DeltaCounts, CollectError> {
        let delta = delta.to_owned();
        let files: Vec<PathBuf> = found.files.iter().map(|(p, _)| p.clone()).collect();
        let absorbed = tokio::task::spawn_blocking(move || {
            let mut into = Delta::open(&delta)?;
            for file in &files {
                into.absorb(file)?;
            }
            let counts = into.counts();
            into.finish().map(|_| counts)
        })
        .await
        .map_err(|e| CollectError::Store(StoreError::backend("task", "spill", e)))??;
        Ok(absorbed)
    }

    /// After the cycle recorded them: the spills it merged go.
    pub(super) async fn clear_spills(&self, found: Found) {
        for (path, key) in found.files {
            let _ = std::fs::remove_file(&path);
            if let Some(key) = key
                && let Err(error) = self.store.delete(&key).await
            {
                // Merging it again changes nothing.
                tracing::warn!(%error, %key, "a merged spill could not be deleted");
            }
        }
    }

    /// The cycle could not record: its delta (its own calls and the spills it merged), with
    /// `checkpoints`, becomes a spill. Once that is stored, the spills it merged are superseded.
    pub(super) async fn spill(
        &self,
        run_id: &str,
        delta: &Path,
        checkpoints: Vec<CheckpointUpdate>,
        merged: Found,
    ) {
        let file = delta.to_owned();
        let added = tokio::task::spawn_blocking(move || {
            let mut spill = Delta::open(&file)?;
            spill.add_checkpoints(&checkpoints)?;
            spill.finish()
        })
        .await;
        match added {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "the cycle's checkpoints could not be added to its spill");
            }
            Err(error) => tracing::warn!(%error, "spilling"),
        }
        let key = format!("{SPILL_PREFIX}{run_id}.sqlite");
        let stored = self
            .store
            .put_file(
                &key,
                delta,
                PutCondition::IfAbsent,
                "application/vnd.sqlite3",
            )
            .await;
        match stored {
            Ok(_) => {
                tracing::warn!(%key, "the cycle's fetched pages are kept as a spill; the next cycle records them");
                let _ = std::fs::remove_file(delta);
                self.clear_spills(merged).await;
            }
            Err(error) => {
                let local = self.local_spills().join(format!("{run_id}.sqlite"));
                let kept = crate::storage::private::create_dir_all(&self.local_spills())
                    .and_then(|()| std::fs::rename(delta, &local));
                match kept {
                    Ok(()) => {
                        tracing::warn!(%error, path = %local.display(), "the store could not take the spill; it is kept in the working folder");
                        // The merged spills are in this one now: those kept here go; the store's
                        // stay there (this machine's next cycle merges them again, to no effect)
                        // and only their downloaded copies go.
                        for (path, _) in merged.files {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                    Err(io) => {
                        tracing::error!(%error, %io, "the cycle's fetched pages could not be kept; the meetings are fetched again");
                    }
                }
            }
        }
    }
}
