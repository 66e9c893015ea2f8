//! A run's fetched calls, on disk as they arrive: a small SQLite file beside the working copy, so that
//! a cycle's memory does not grow with the meetings it fetches. Each call is hashed and compressed
//! once, here; [`super::Database::apply`] then copies the stored rows into the database in the
//! cycle's one transaction, and copies them again into a newer database after an upload conflict,
//! without compressing anything twice.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::codec::Encoder;
use super::rows::as_i64;
use super::rows::parse_time;
use super::{CallRecord, CheckpointUpdate, DbError, db_time};

const SCHEMA: &str = r"
    CREATE TABLE bodies (
        sha256    TEXT PRIMARY KEY,
        length    INTEGER NOT NULL,
        encoding  TEXT NOT NULL,
        data      BLOB NOT NULL
    );
    CREATE TABLE calls (
        instance_id  TEXT NOT NULL,
        called_at    TEXT NOT NULL,
        completed    INTEGER NOT NULL,
        error        TEXT,
        tracking_id  TEXT,
        PRIMARY KEY (instance_id, called_at)
    );
    CREATE TABLE pages (
        instance_id  TEXT NOT NULL,
        called_at    TEXT NOT NULL,
        page         INTEGER NOT NULL,
        fetched_at   TEXT NOT NULL,
        request_url  TEXT NOT NULL,
        status       INTEGER NOT NULL,
        tracking_id  TEXT NOT NULL,
        body_sha256  TEXT NOT NULL,
        valid_json   INTEGER NOT NULL,
        PRIMARY KEY (instance_id, called_at, page)
    );
";

/// A spilled delta also carries its run's checkpoint updates ([`Delta::add_checkpoints`]); a delta
/// made before spills existed has no such table, and gets it when opened.
const CHECKPOINTS: &str = r"
    CREATE TABLE IF NOT EXISTS checkpoints (
        instance_id      TEXT NOT NULL,
        called_at        TEXT NOT NULL,
        next_allowed_at  TEXT NOT NULL,
        attempts         INTEGER NOT NULL,
        failed           INTEGER NOT NULL,
        error            TEXT,
        tracking_id      TEXT,
        final            INTEGER NOT NULL
    );
";

/// What a delta holds so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeltaCounts {
    /// Calls.
    pub calls: usize,
    /// Pages.
    pub pages: usize,
    /// Bytes of the pages as received.
    pub bytes: usize,
}

/// A run's calls and pages in their own file.
#[derive(Debug)]
pub struct Delta {
    conn: Connection,
    path: PathBuf,
    encoder: Encoder,
    counts: DeltaCounts,
    /// A transaction is open: the calls added since are committed by [`Delta::finish`].
    open: bool,
}

impl Delta {
    /// A new, empty delta at `path` (a file left there by a crashed run is replaced).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn create(path: &Path) -> Result<Self, DbError> {
        let err = |source| DbError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let _ = std::fs::remove_file(path);
        let conn = Connection::open(path).map_err(err)?;
        // Scratch data: if the machine stops, the run is lost with it and the lease's planned calls
        // hold the meetings back, so no journal and no syncing.
        conn.pragma_update(None, "journal_mode", "OFF")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "OFF")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        conn.execute_batch(CHECKPOINTS).map_err(err)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            encoder: Encoder::new(),
            counts: DeltaCounts::default(),
            open: false,
        })
    }

    /// An existing delta at `path`, to add to.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let err = |source| DbError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "OFF")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "OFF")
            .map_err(err)?;
        conn.execute_batch(CHECKPOINTS).map_err(err)?;
        let counts = conn
            .query_row(
                "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM pages),
                        (SELECT coalesce(sum(b.length), 0) FROM pages p JOIN bodies b ON b.sha256 = p.body_sha256)",
                [],
                |row| {
                    Ok(DeltaCounts {
                        calls: usize::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                        pages: usize::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                        bytes: usize::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    })
                },
            )
            .map_err(err)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            encoder: Encoder::new(),
            counts,
            open: false,
        })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it holds.
    #[must_use]
    pub fn counts(&self) -> DeltaCounts {
        self.counts
    }

    /// Adds one call with its pages (a call already in it is left as it is).
    ///
    /// # Errors
    /// SQLite errors; the call is then not in the delta.
    pub fn add(&mut self, call: &CallRecord) -> Result<(), DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let called_at = db_time(call.called_at);
        // One transaction for the whole run, committed by `finish`: a commit per call rewrote the
        // indexes' pages every time (the delta is scratch data with no journal, so a commit buys
        // nothing before the run ends; SQLite spills pages to the file when its cache is full).
        if !self.open {
            self.conn.execute_batch("BEGIN").map_err(err)?;
            self.open = true;
        }
        let conn = &self.conn;
        let new = conn
            .execute(
                "INSERT INTO calls (instance_id, called_at, completed, error, tracking_id) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![call.instance_id, called_at, call.completed, call.error, call.tracking_id],
            )
            .map_err(err)?;
        if new == 0 {
            return Ok(());
        }
        let mut bytes = 0;
        {
            let mut insert_body = conn
                .prepare_cached(
                    "INSERT INTO bodies (sha256, length, encoding, data) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )
                .map_err(err)?;
            let mut insert_page = conn
                .prepare_cached(
                    "INSERT INTO pages (instance_id, called_at, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(err)?;
            let last = call.pages.len();
            for (index, page) in call.pages.iter().enumerate() {
                let stored = self.encoder.encode(&page.body);
                insert_body
                    .execute(params![
                        stored.sha256,
                        as_i64(stored.length),
                        stored.encoding.label(),
                        stored.data
                    ])
                    .map_err(err)?;
                let valid = !(call.last_page_malformed && index + 1 == last);
                insert_page
                    .execute(params![
                        call.instance_id,
                        called_at,
                        as_i64(index + 1),
                        db_time(page.fetched_at),
                        page.request_url,
                        page.status,
                        page.tracking_id,
                        stored.sha256,
                        valid
                    ])
                    .map_err(err)?;
                bytes += page.body.len();
            }
        }
        self.counts.calls += 1;
        self.counts.pages += call.pages.len();
        self.counts.bytes += bytes;
        Ok(())
    }

    /// Adds checkpoint updates (a spill keeps its run's, for the run that merges it).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn add_checkpoints(&mut self, updates: &[CheckpointUpdate]) -> Result<(), DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        if !self.open {
            self.conn.execute_batch("BEGIN").map_err(err)?;
            self.open = true;
        }
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO checkpoints (instance_id, called_at, next_allowed_at, attempts, failed, error, tracking_id, final)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(err)?;
        for c in updates {
            insert
                .execute(params![
                    c.instance_id,
                    db_time(c.called_at),
                    db_time(c.next_allowed_at),
                    c.attempts,
                    c.failed,
                    c.error,
                    c.tracking_id,
                    c.final_
                ])
                .map_err(err)?;
        }
        Ok(())
    }

    /// The checkpoint updates it carries, in the order added. An update whose times cannot be read
    /// is left out (logged): the calls' pages still merge, and the meeting is planned as if the call
    /// had not been made, which the lease's planned calls hold back anyway.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointUpdate>, DbError> {
        let err = |source| DbError::Sqlite {
            path: self.path.display().to_string(),
            source,
        };
        let mut query = self
            .conn
            .prepare(
                "SELECT instance_id, called_at, next_allowed_at, attempts, failed, error, tracking_id, final
                 FROM checkpoints ORDER BY rowid",
            )
            .map_err(err)?;
        let path = self.path.display().to_string();
        let rows = query
            .query_map([], |row| {
                let instance_id: String = row.get(0)?;
                let times = (parse_time(row.get(1)?), parse_time(row.get(2)?));
                let (Some(called_at), Some(next_allowed_at)) = times else {
                    tracing::warn!(%instance_id, %path, "a spilled checkpoint with unreadable times is left out");
                    return Ok(None);
                };
                Ok(Some(CheckpointUpdate {
                    instance_id,
                    called_at,
                    next_allowed_at,
                    attempts: row.get(3)?,
                    failed: row.get(4)?,
                    error: row.get(5)?,
                    tracking_id: row.get(6)?,
                    final_: row.get(7)?,
                }))
            })
            .map_err(err)?;
        rows.filter_map(Result::transpose)
            .collect::<Result<_, _>>()
            .map_err(err)
    }

    /// Copies another delta's calls, pages and bodies into this one (rows already here are left as
    /// they are): a spill joins the run that merges it. Its checkpoints are not copied: the run
    /// reads them with [`Delta::checkpoints`] before it plans.
    ///
    /// # Errors
    /// SQLite errors; then none of `other` is in this delta (when nothing else was added since it
    /// was opened).
    pub fn absorb(&mut self, other: &Path) -> Result<DeltaCounts, DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        if self.open {
            self.conn.execute_batch("COMMIT").map_err(err)?;
            self.open = false;
        }
        self.conn
            .execute("ATTACH DATABASE ?1 AS other", [other.display().to_string()])
            .map_err(err)?;
        let copied = (|| {
            let tx = self.conn.transaction()?;
            // The bytes of the pages this delta does not hold yet.
            let bytes: i64 = tx.query_row(
                "SELECT coalesce(sum(b.length), 0) FROM other.pages p JOIN other.bodies b ON b.sha256 = p.body_sha256
                 WHERE NOT EXISTS (SELECT 1 FROM main.pages m
                                   WHERE m.instance_id = p.instance_id AND m.called_at = p.called_at AND m.page = p.page)",
                [],
                |row| row.get(0),
            )?;
            tx.execute(
                "INSERT INTO main.bodies (sha256, length, encoding, data)
                 SELECT sha256, length, encoding, data FROM other.bodies WHERE true
                 ON CONFLICT (sha256) DO NOTHING",
                [],
            )?;
            let calls = tx.execute(
                "INSERT INTO main.calls SELECT instance_id, called_at, completed, error, tracking_id FROM other.calls WHERE true
                 ON CONFLICT (instance_id, called_at) DO NOTHING",
                [],
            )?;
            let pages = tx.execute(
                "INSERT INTO main.pages SELECT instance_id, called_at, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json
                 FROM other.pages WHERE true
                 ON CONFLICT (instance_id, called_at, page) DO NOTHING",
                [],
            )?;
            tx.commit()?;
            Ok::<_, rusqlite::Error>(DeltaCounts {
                calls,
                pages,
                bytes: usize::try_from(bytes).unwrap_or(0),
            })
        })();
        if let Err(source) = self.conn.execute("DETACH DATABASE other", []) {
            tracing::warn!(error = %source, "detaching a spilled delta");
        }
        let copied = copied.map_err(err)?;
        self.counts.calls += copied.calls;
        self.counts.pages += copied.pages;
        self.counts.bytes += copied.bytes;
        Ok(copied)
    }

    /// Commits what was added and closes the file, returning its path (for
    /// [`super::Changes::delta`]).
    ///
    /// # Errors
    /// SQLite errors: then the delta holds none of the calls added since it was opened.
    pub fn finish(self) -> Result<PathBuf, DbError> {
        let Self {
            conn, path, open, ..
        } = self;
        let err = |source| DbError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        if open {
            conn.execute_batch("COMMIT").map_err(err)?;
        }
        if let Err((_, error)) = conn.close() {
            tracing::warn!(%error, path = %path.display(), "closing the delta");
        }
        Ok(path)
    }
}

/// Copies a delta's calls, pages and bodies into the database attached as `main`, inside the
/// caller's transaction; the delta is attached as `delta`. Rows already there are left as they are.
pub(super) fn merge(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<super::Applied> {
    let bodies = tx.execute(
        "INSERT INTO main.bodies (sha256, length, encoding, data)
         SELECT sha256, length, encoding, data FROM delta.bodies WHERE true
         ON CONFLICT (sha256) DO NOTHING",
        [],
    )?;
    let calls = tx.execute(
        "INSERT INTO main.quality_calls (instance_id, called_at, completed, error, tracking_id)
         SELECT instance_id, called_at, completed, error, tracking_id FROM delta.calls WHERE true
         ON CONFLICT (instance_id, called_at) DO NOTHING",
        [],
    )?;
    let pages = tx.execute(
        "INSERT INTO main.quality_pages (call_id, page, fetched_at, request_url, status, tracking_id, body_sha256, valid_json)
         SELECT c.id, p.page, p.fetched_at, p.request_url, p.status, p.tracking_id, p.body_sha256, p.valid_json
         FROM delta.pages p JOIN main.quality_calls c ON c.instance_id = p.instance_id AND c.called_at = p.called_at
         WHERE true
         ON CONFLICT (call_id, page) DO NOTHING",
        [],
    )?;
    Ok(super::Applied {
        calls,
        pages,
        bodies,
        pruned_calls: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_support::{call, final_checkpoint, tempdir};

    #[test]
    fn a_spill_carries_its_checkpoints_and_merges_into_another_delta_once() {
        let scratch = tempdir();
        let dir = scratch.path();
        let spill_path = dir.join("spill.sqlite");
        let mut spill = Delta::create(&spill_path).unwrap();
        spill
            .add(&call(
                "a_I_1",
                "2026-01-05T10:00:00Z",
                &[b"{\"items\":[1]}", b"{\"items\":[2]}"],
                true,
                false,
            ))
            .unwrap();
        let checkpoint = final_checkpoint("a_I_1", "2026-01-05T10:00:00Z");
        spill
            .add_checkpoints(std::slice::from_ref(&checkpoint))
            .unwrap();
        spill.finish().unwrap();

        let reopened = Delta::open(&spill_path).unwrap();
        assert_eq!(reopened.checkpoints().unwrap(), vec![checkpoint]);
        assert_eq!(
            reopened.counts(),
            DeltaCounts {
                calls: 1,
                pages: 2,
                bytes: 26
            }
        );
        drop(reopened);

        let mut run = Delta::create(&dir.join("run.sqlite")).unwrap();
        run.add(&call(
            "b_I_1",
            "2026-01-05T10:01:00Z",
            &[b"{\"items\":[]}"],
            true,
            false,
        ))
        .unwrap();
        let copied = run.absorb(&spill_path).unwrap();
        assert_eq!((copied.calls, copied.pages), (1, 2));
        // Twice (a spill whose deletion failed): nothing new.
        let again = run.absorb(&spill_path).unwrap();
        assert_eq!(again, DeltaCounts::default());
        assert_eq!(
            run.counts(),
            DeltaCounts {
                calls: 2,
                pages: 3,
                bytes: 38
            }
        );
        assert!(
            run.checkpoints().unwrap().is_empty(),
            "a run's own checkpoints come at spill time"
        );
        let path = run.finish().unwrap();
        let merged = Delta::open(&path).unwrap();
        assert_eq!((merged.counts().calls, merged.counts().pages), (2, 3));
    }
}
