//! The cycle's writer: each finished call goes to the run's delta file on a blocking thread while the
//! next calls are in flight, so a cycle's memory does not grow with the meetings it fetches. The
//! channel is short: when the disk is slower than the network, the calls wait for it.

use std::path::PathBuf;

use tokio::sync::mpsc;

use super::CollectError;
use crate::db::{CallRecord, DbError, Delta, DeltaCounts};

/// Calls waiting for the writer at most.
const QUEUE: usize = 4;

/// Writes calls into a [`Delta`] in the background.
#[derive(Debug)]
pub(super) struct DeltaWriter {
    queue: mpsc::Sender<CallRecord>,
    task: tokio::task::JoinHandle<Result<DeltaCounts, DbError>>,
}

impl DeltaWriter {
    /// A writer into a new delta at `path`.
    pub(super) async fn start(path: PathBuf) -> Result<Self, CollectError> {
        let delta = tokio::task::spawn_blocking(move || Delta::create(&path))
            .await
            .map_err(|e| {
                CollectError::Store(crate::storage::StoreError::backend("task", "delta", e))
            })??;
        let (queue, mut calls) = mpsc::channel::<CallRecord>(QUEUE);
        let task = tokio::task::spawn_blocking(move || {
            let mut delta = delta;
            let mut failed = None;
            while let Some(call) = calls.blocking_recv() {
                // After a failure the rest is drained (and dropped) so the calls do not wait forever.
                if failed.is_none()
                    && let Err(error) = delta.add(&call)
                {
                    failed = Some(error);
                }
            }
            let counts = delta.counts();
            if let Some(error) = failed {
                return Err(error);
            }
            delta.finish().map(|_| counts)
        });
        Ok(Self { queue, task })
    }

    /// Hands a call to the writer (waits while the queue is full).
    pub(super) async fn send(&self, call: CallRecord) {
        // The writer ends only after `finish`, or by panicking: `finish` reports that.
        let _ = self.queue.send(call).await;
    }

    /// Waits for the writer to store everything sent; what the delta holds.
    pub(super) async fn finish(self) -> Result<DeltaCounts, CollectError> {
        drop(self.queue);
        match self.task.await {
            Ok(result) => result.map_err(CollectError::from),
            Err(join) => Err(CollectError::Store(crate::storage::StoreError::backend(
                "task", "delta", join,
            ))),
        }
    }
}
