//! The SQLite database, the system of record: raw List Meetings items, every Meeting Qualities page
//! byte for byte with its request URL, status, tracking id and fetch time, a checkpoint per meeting,
//! and the runs. Anything derived is rebuilt from the raw rows.
//!
//! All writes of a collection cycle go through [`Changes`] and [`Database::apply`] in one transaction,
//! and applying the same changes twice, or on top of another run's changes, is safe: rows are keyed by
//! what they are (meeting id, call time, page), and checkpoints merge by taking the later call.

mod archived;
mod codec;
mod delta;
mod error;
mod partition;
mod read;
mod rows;
mod schema;
#[cfg(test)]
pub(crate) mod test_support;
mod write;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use archived::ArchivedMeeting;
pub use codec::sha256_hex;
pub use delta::{Delta, DeltaCounts};
pub use error::DbError;
pub use partition::DayCounts;
pub use read::{MeetingsCursor, MeetingsPage, Totals};
pub use rows::{
    Applied, CallRecord, Changes, Checkpoint, CheckpointUpdate, MeetingRow, MeetingStatus,
    RunError, RunRecord, StoredCall, StoredMeeting, StoredPage, db_time, item_digest,
};

/// An open database file.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

impl Database {
    /// Opens (or creates) the file at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// SQLite errors, or [`DbError::TooNew`].
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let err = |source| DbError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // One self-contained file: it is uploaded whole, so no WAL beside it.
        conn.pragma_update(None, "journal_mode", "DELETE")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        // Query plans that do not depend on the values bound: without it, SQLite (built with
        // STAT4) compiled a cached statement again each time it was given another meeting id,
        // 6 % of a full render in the profile.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(err)?;
        let mut db = Self {
            conn,
            path: path.to_owned(),
        };
        db.migrate()?;
        Ok(db)
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> DbError + '_ {
        move |source| DbError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let known = i64::try_from(schema::MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(DbError::TooNew {
                path,
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        // Migrations rebuild tables that others reference: foreign keys are checked once, after.
        self.conn
            .pragma_update(None, "foreign_keys", false)
            .map_err(err)?;
        for (index, sql) in schema::MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(index + 1).unwrap_or(i64::MAX),
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        self.conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        let dangling: i64 = self
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        if dangling > 0 {
            return Err(DbError::Corrupt {
                path: path.clone(),
                report: format!("{dangling} rows refer to rows that are missing"),
            });
        }
        Ok(())
    }

    /// The schema version.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn schema_version(&self) -> Result<i64, DbError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err())
    }

    /// `PRAGMA quick_check` of the file at `path`, opened read-only (nothing is migrated or
    /// written): a database file that is not one, or is damaged, is an error.
    ///
    /// # Errors
    /// [`DbError::Corrupt`] with SQLite's report, or SQLite's error when the file cannot be opened.
    pub fn quick_check_file(path: &Path) -> Result<(), DbError> {
        let err = |source| DbError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        let report: Vec<String> = conn
            .prepare("PRAGMA quick_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(err)?;
        if report == ["ok"] {
            Ok(())
        } else {
            Err(DbError::Corrupt {
                path: path.display().to_string(),
                report: report.join("; "),
            })
        }
    }

    /// `PRAGMA integrity_check`: `Ok` only when SQLite says "ok" (before an upload).
    ///
    /// # Errors
    /// [`DbError::Corrupt`] with SQLite's report.
    pub fn integrity_check(&self) -> Result<(), DbError> {
        self.check("PRAGMA integrity_check")
    }

    /// Rewrites the file (`VACUUM`) when more than a quarter of it is free pages (left by pruned
    /// snapshots), so that the object uploaded every cycle does not keep their size. Returns
    /// whether it did.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn compact_if_sparse(&self) -> Result<bool, DbError> {
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .map_err(self.err())?;
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .map_err(self.err())?;
        if free < 256 || free * 4 < pages {
            return Ok(false);
        }
        self.conn.execute_batch("VACUUM").map_err(self.err())?;
        Ok(true)
    }

    /// `PRAGMA quick_check`: the structure without the index contents, quick enough to run on every
    /// read (before publishing the site).
    ///
    /// # Errors
    /// [`DbError::Corrupt`] with SQLite's report.
    pub fn quick_check(&self) -> Result<(), DbError> {
        self.check("PRAGMA quick_check")
    }

    fn check(&self, pragma: &'static str) -> Result<(), DbError> {
        let mut statement = self.conn.prepare(pragma).map_err(self.err())?;
        let report: Vec<String> = statement
            .query_map([], |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        if report == ["ok"] {
            Ok(())
        } else {
            Err(DbError::Corrupt {
                path: self.path.display().to_string(),
                report: report.join("; "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::db::rows::as_i64;
    use crate::db::test_support::{page, t, tempdir};

    #[test]
    fn migrations_bring_a_new_file_to_the_latest_version_and_refuse_newer_ones() {
        let scratch = tempdir();
        let dir = scratch.path();
        let path = dir.join("db.sqlite");
        let db = Database::open(&path).unwrap();
        assert_eq!(
            db.schema_version().unwrap(),
            i64::try_from(schema::MIGRATIONS.len()).unwrap()
        );
        db.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(db);
        assert!(matches!(
            Database::open(&path),
            Err(DbError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn a_version_1_file_with_deflated_bodies_is_migrated_and_reads_back_byte_for_byte() {
        use std::io::Write;
        let scratch = tempdir();
        let dir = scratch.path();
        let path = dir.join("db.sqlite");
        let old_body = br#"{"items":[{"packetLoss":[0.0,0.0,0.1,0.0,0.0,0.0]}]}"#.repeat(30);
        {
            // A file as version 1 wrote it: deflate was the only codec.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let mut deflate =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            deflate.write_all(&old_body).unwrap();
            let data = deflate.finish().unwrap();
            let sha = sha256_hex(&old_body);
            conn.execute(
                "INSERT INTO bodies VALUES (?1, ?2, 'deflate', ?3)",
                params![sha, as_i64(old_body.len()), data],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO quality_calls (instance_id, called_at, completed) VALUES ('a_I_1', '2026-01-05T10:00:00.000Z', 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO quality_pages VALUES (1, 1, '2026-01-05T10:00:00.000Z', 'https://x', 200, 'T', ?1, 1)",
                [sha],
            )
            .unwrap();
        }
        let mut db = Database::open(&path).unwrap();
        assert_eq!(
            db.schema_version().unwrap(),
            i64::try_from(schema::MIGRATIONS.len()).unwrap()
        );
        db.integrity_check().unwrap();
        let pages = db.latest_complete_pages("a_I_1").unwrap();
        assert_eq!(pages[0].body.as_ref(), old_body.as_slice());
        // New bodies go in with zstd beside the old deflated ones.
        let at = t("2026-01-05T10:10:00Z");
        let new_body = br#"{"items":[{"latency":[10,20,30,40,50,60,70,80]}]}"#.repeat(30);
        db.apply(&Changes {
            calls: vec![CallRecord {
                instance_id: "a_I_1".into(),
                called_at: at,
                pages: vec![page(&new_body, at)],
                completed: true,
                error: None,
                tracking_id: None,
                last_page_malformed: false,
            }],
            ..Changes::default()
        })
        .unwrap();
        assert_eq!(db.totals().unwrap().zstd_bodies, 1);
        let pages = db.latest_complete_pages("a_I_1").unwrap();
        assert_eq!(pages[0].body.as_ref(), new_body.as_slice());
        let first = db.calls("a_I_1").unwrap()[0].id;
        assert_eq!(
            db.call_pages(first).unwrap()[0].body.as_ref(),
            old_body.as_slice()
        );
    }
}
