//! Writing a cycle's [`Changes`] in one transaction, and dropping superseded snapshots.

use std::path::{Path, PathBuf};

use rusqlite::params;

use super::{Applied, Changes, Database, DbError, Delta, db_time, delta};

impl Database {
    /// Applies `changes` in one transaction. Safe to apply twice.
    ///
    /// # Errors
    /// SQLite errors; nothing is written then.
    pub fn apply(&mut self, changes: &Changes) -> Result<Applied, DbError> {
        // Calls held in memory go through a delta file too (one way of storing pages): a new one,
        // or a copy of the changes' own delta with them added.
        let in_memory = if changes.calls.is_empty() {
            None
        } else {
            let mut path = self.path.clone().into_os_string();
            path.push(format!(".{}.delta", uuid::Uuid::new_v4().simple()));
            let path = PathBuf::from(path);
            let mut delta = match &changes.delta {
                Some(given) => {
                    std::fs::copy(given, &path).map_err(|e| DbError::Delta {
                        path: given.display().to_string(),
                        detail: e.to_string(),
                    })?;
                    Delta::open(&path)?
                }
                None => Delta::create(&path)?,
            };
            for call in &changes.calls {
                delta.add(call)?;
            }
            Some(delta.finish()?)
        };
        let applied = self.apply_with(changes, in_memory.as_deref().or(changes.delta.as_deref()));
        if let Some(path) = in_memory {
            let _ = std::fs::remove_file(path);
        }
        applied
    }

    fn apply_with(&mut self, changes: &Changes, delta: Option<&Path>) -> Result<Applied, DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        // A database can only be attached outside a transaction.
        if let Some(delta) = delta {
            self.conn
                .execute("ATTACH DATABASE ?1 AS delta", [delta.display().to_string()])
                .map_err(err)?;
        }
        let applied = self.apply_in_one_transaction(changes, delta.is_some());
        if delta.is_some()
            && let Err(source) = self.conn.execute("DETACH DATABASE delta", [])
        {
            tracing::warn!(error = %source, "detaching the delta");
        }
        applied
    }

    fn apply_in_one_transaction(
        &mut self,
        changes: &Changes,
        with_delta: bool,
    ) -> Result<Applied, DbError> {
        let path = self.path.display().to_string();
        let err = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let applied = if with_delta {
            delta::merge(&tx).map_err(err)?
        } else {
            Applied::default()
        };
        {
            let mut upsert_meeting = tx
                .prepare_cached(
                    "INSERT INTO meetings (instance_id, series_id, title, host_name, host_email, start_time, end_time, state, raw_item, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
                     ON CONFLICT (instance_id) DO UPDATE SET
                        series_id = excluded.series_id, title = excluded.title, host_name = excluded.host_name,
                        host_email = excluded.host_email, start_time = excluded.start_time, end_time = excluded.end_time,
                        state = excluded.state, raw_item = excluded.raw_item, last_seen = excluded.last_seen
                     WHERE excluded.last_seen >= meetings.last_seen",
                )
                .map_err(err)?;
            for m in &changes.meetings {
                upsert_meeting
                    .execute(params![
                        m.instance_id,
                        m.series_id,
                        m.title,
                        m.host_name,
                        m.host_email,
                        m.start.map(db_time),
                        m.end.map(db_time),
                        m.state,
                        m.raw_item,
                        db_time(m.seen_at)
                    ])
                    .map_err(err)?;
                tx.execute(
                    "UPDATE meetings SET first_seen = min(first_seen, ?2) WHERE instance_id = ?1",
                    params![m.instance_id, db_time(m.seen_at)],
                )
                .map_err(err)?;
            }
            let mut upsert_checkpoint = tx
                .prepare_cached(
                    "INSERT INTO checkpoints (instance_id, last_call_at, next_allowed_at, attempts, failures, last_error, last_tracking_id, final, final_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?8 THEN ?2 END)
                     ON CONFLICT (instance_id) DO UPDATE SET
                        attempts = checkpoints.attempts + excluded.attempts,
                        next_allowed_at = max(coalesce(checkpoints.next_allowed_at, ''), excluded.next_allowed_at),
                        failures = CASE WHEN excluded.last_call_at >= coalesce(checkpoints.last_call_at, '')
                                        THEN CASE WHEN excluded.failures > 0 THEN checkpoints.failures + 1 ELSE 0 END
                                        ELSE checkpoints.failures END,
                        last_error = CASE WHEN excluded.last_call_at >= coalesce(checkpoints.last_call_at, '')
                                          THEN excluded.last_error ELSE checkpoints.last_error END,
                        last_tracking_id = CASE WHEN excluded.last_call_at >= coalesce(checkpoints.last_call_at, '')
                                          THEN excluded.last_tracking_id ELSE checkpoints.last_tracking_id END,
                        last_call_at = max(coalesce(checkpoints.last_call_at, ''), excluded.last_call_at),
                        final_at = CASE WHEN checkpoints.final THEN checkpoints.final_at ELSE excluded.final_at END,
                        final = checkpoints.final OR excluded.final",
                )
                .map_err(err)?;
            for c in &changes.checkpoints {
                upsert_checkpoint
                    .execute(params![
                        c.instance_id,
                        db_time(c.called_at),
                        db_time(c.next_allowed_at),
                        c.attempts,
                        i64::from(c.failed),
                        c.error,
                        c.tracking_id,
                        c.final_
                    ])
                    .map_err(err)?;
            }
            if let Some(run) = &changes.run {
                tx.execute(
                    "INSERT INTO runs (id, started_at, ended_at, meetings_listed, meetings_due, calls, pages, bytes, rate_limited, errors, outcome, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT (id) DO NOTHING",
                    params![
                        run.id, db_time(run.started_at), run.ended_at.map(db_time), run.meetings_listed, run.meetings_due,
                        run.calls, run.pages, run.bytes, run.rate_limited, run.errors, run.outcome, run.detail
                    ],
                )
                .map_err(err)?;
                let already: i64 = tx
                    .query_row(
                        "SELECT count(*) FROM run_errors WHERE run_id = ?1",
                        [&run.id],
                        |r| r.get(0),
                    )
                    .map_err(err)?;
                if already == 0 {
                    for e in &changes.run_errors {
                        tx.execute(
                            "INSERT INTO run_errors (run_id, at, instance_id, kind, message, tracking_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![run.id, db_time(e.at), e.instance_id, e.kind, e.message, e.tracking_id],
                        )
                        .map_err(err)?;
                    }
                }
            }
        }
        let mut applied = applied;
        if changes.prune_superseded {
            applied.pruned_calls = prune_superseded(&tx).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(applied)
    }
}

/// Drops the pages of every call superseded by its meeting's final fetch: for each final meeting
/// whose latest complete call has pages that are all valid (a malformed page supersedes nothing),
/// the pages of its other calls go
/// (those calls stay, marked `pages_pruned`), and so do the bodies no page refers to any more. The
/// final fetch's bodies are never touched. Returns the calls pruned.
fn prune_superseded(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<usize> {
    // Each final meeting with pages in more than one call, and the call that stays.
    let mut candidates = tx.prepare_cached(
        "SELECT k.instance_id, latest.id
         FROM checkpoints k
         JOIN quality_calls latest ON latest.id =
              (SELECT c.id FROM quality_calls c WHERE c.instance_id = k.instance_id AND c.completed
               ORDER BY c.called_at DESC LIMIT 1)
         WHERE k.final
           -- The latest complete call supersedes the others only when it is whole and valid.
           AND EXISTS (SELECT 1 FROM quality_pages p WHERE p.call_id = latest.id)
           AND NOT EXISTS (SELECT 1 FROM quality_pages p WHERE p.call_id = latest.id AND NOT p.valid_json)
           AND (SELECT count(*) FROM quality_calls c
                WHERE c.instance_id = k.instance_id
                  AND EXISTS (SELECT 1 FROM quality_pages p WHERE p.call_id = c.id)) > 1",
    )?;
    let meetings: Vec<(String, i64)> = candidates
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut drop_pages = tx.prepare_cached(
        "DELETE FROM quality_pages
         WHERE call_id IN (SELECT id FROM quality_calls WHERE instance_id = ?1 AND id <> ?2)
         RETURNING call_id, body_sha256",
    )?;
    let mut mark = tx.prepare_cached("UPDATE quality_calls SET pages_pruned = 1 WHERE id = ?1")?;
    let mut drop_body = tx.prepare_cached(
        "DELETE FROM bodies WHERE sha256 = ?1
         AND NOT EXISTS (SELECT 1 FROM quality_pages WHERE body_sha256 = ?1)",
    )?;
    let mut pruned = 0;
    for (instance_id, keep) in meetings {
        let dropped: Vec<(i64, String)> = drop_pages
            .query_map(params![instance_id, keep], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut calls: Vec<i64> = dropped.iter().map(|(call, _)| *call).collect();
        calls.sort_unstable();
        calls.dedup();
        for call in &calls {
            mark.execute([call])?;
        }
        pruned += calls.len();
        for (_, sha) in &dropped {
            drop_body.execute([sha])?;
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_support::{call, final_checkpoint, page, t, tempdir};
    use crate::db::{CallRecord, CheckpointUpdate};

    #[test]
    fn applying_the_same_changes_twice_writes_them_once() {
        let scratch = tempdir();
        let dir = scratch.path();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        let at = t("2026-01-05T10:00:00Z");
        let changes = Changes {
            calls: vec![CallRecord {
                instance_id: "a_I_1".into(),
                called_at: at,
                pages: vec![page(b"{\"items\":[]}", at), page(b"{\"items\":[1]}", at)],
                completed: true,
                error: None,
                tracking_id: None,
                last_page_malformed: false,
            }],
            checkpoints: vec![CheckpointUpdate {
                instance_id: "a_I_1".into(),
                called_at: at,
                next_allowed_at: at + chrono::Duration::minutes(5),
                attempts: 1,
                failed: false,
                error: None,
                tracking_id: None,
                final_: true,
            }],
            ..Changes::default()
        };
        let first = db.apply(&changes).unwrap();
        assert_eq!(
            first,
            Applied {
                calls: 1,
                pages: 2,
                bodies: 2,
                pruned_calls: 0,
            }
        );
        let second = db.apply(&changes).unwrap();
        assert_eq!(
            second,
            Applied {
                calls: 0,
                pages: 0,
                bodies: 0,
                pruned_calls: 0,
            }
        );
        assert_eq!(db.totals().unwrap().pages, 2);
        // Checkpoints merge: attempts add up (two runs' worth), the later call and final stick.
        assert_eq!(db.checkpoint("a_I_1").unwrap().unwrap().attempts, 2);
        assert_eq!(
            i64::from(db.checkpoint("a_I_1").unwrap().unwrap().final_),
            1
        );
        db.integrity_check().unwrap();
    }

    #[test]
    fn an_older_checkpoint_update_does_not_move_the_last_call_back() {
        let scratch = tempdir();
        let dir = scratch.path();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        let update = |at: &str, error: Option<&str>| CheckpointUpdate {
            instance_id: "a_I_1".into(),
            called_at: t(at),
            next_allowed_at: t(at) + chrono::Duration::minutes(5),
            attempts: 1,
            failed: error.is_some(),
            error: error.map(str::to_owned),
            tracking_id: None,
            final_: false,
        };
        db.apply(&Changes {
            checkpoints: vec![update("2026-01-05T10:10:00Z", None)],
            ..Changes::default()
        })
        .unwrap();
        db.apply(&Changes {
            checkpoints: vec![update("2026-01-05T10:00:00Z", Some("boom"))],
            ..Changes::default()
        })
        .unwrap();
        db.apply(&Changes {
            meetings: vec![],
            ..Changes::default()
        })
        .unwrap();
        let next: String = db
            .conn
            .query_row("SELECT next_allowed_at FROM checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(next, "2026-01-05T10:15:00.000Z");
        let error: Option<String> = db
            .conn
            .query_row("SELECT last_error FROM checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(error, None);
    }

    #[test]
    fn snapshots_superseded_by_a_valid_final_fetch_are_pruned_and_the_final_stays_exact() {
        let scratch = tempdir();
        let dir = scratch.path();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        let shared = br#"{"items":[{"same":"in every snapshot"}]}"#;
        let final_body = br#"{"items":[{"latency":[1,2,3]}]}"#;
        // Two in-progress snapshots (one shares a body with the final fetch), then the final one.
        db.apply(&Changes {
            calls: vec![
                call(
                    "a_I_1",
                    "2026-01-05T10:10:00Z",
                    &[b"{\"items\":[1]}", shared],
                    true,
                    false,
                ),
                call(
                    "a_I_1",
                    "2026-01-05T10:15:00Z",
                    &[b"{\"items\":[2]}"],
                    false,
                    false,
                ),
                call(
                    "b_I_2",
                    "2026-01-05T10:10:00Z",
                    &[b"{\"items\":[3]}"],
                    true,
                    false,
                ),
            ],
            ..Changes::default()
        })
        .unwrap();
        let kept_all = Changes {
            calls: vec![call(
                "a_I_1",
                "2026-01-05T10:50:00Z",
                &[final_body, shared],
                true,
                false,
            )],
            checkpoints: vec![final_checkpoint("a_I_1", "2026-01-05T10:50:00Z")],
            ..Changes::default()
        };
        // Without the setting nothing goes.
        assert_eq!(db.apply(&kept_all).unwrap().pruned_calls, 0);
        assert_eq!(db.totals().unwrap().pages, 6);
        let applied = db
            .apply(&Changes {
                prune_superseded: true,
                ..Changes::default()
            })
            .unwrap();
        assert_eq!(applied.pruned_calls, 2);
        let calls = db.calls("a_I_1").unwrap();
        assert_eq!(calls.len(), 3, "the calls themselves stay");
        assert_eq!(
            calls.iter().map(|c| c.pages_pruned).collect::<Vec<_>>(),
            [true, true, false]
        );
        assert!(db.call_pages(calls[0].id).unwrap().is_empty());
        let kept = db.latest_complete_pages("a_I_1").unwrap();
        assert_eq!(kept[0].body.as_ref(), final_body.as_slice());
        assert_eq!(
            kept[1].body.as_ref(),
            shared.as_slice(),
            "a shared body stays"
        );
        // Bodies only the pruned pages used are gone; the other meeting is untouched.
        assert_eq!(db.totals().unwrap().bodies, 3);
        assert!(!db.calls("b_I_2").unwrap()[0].pages_pruned);
        db.integrity_check().unwrap();
        // Pruning again finds nothing.
        let again = Changes {
            prune_superseded: true,
            ..Changes::default()
        };
        assert_eq!(db.apply(&again).unwrap().pruned_calls, 0);
    }

    #[test]
    fn a_final_fetch_with_a_malformed_page_supersedes_nothing() {
        let scratch = tempdir();
        let dir = scratch.path();
        let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
        db.apply(&Changes {
            calls: vec![
                call(
                    "a_I_1",
                    "2026-01-05T10:10:00Z",
                    &[b"{\"items\":[1]}"],
                    true,
                    false,
                ),
                call(
                    "a_I_1",
                    "2026-01-05T10:50:00Z",
                    &[b"{\"items\":[2]}", b"{cut"],
                    true,
                    true,
                ),
            ],
            checkpoints: vec![final_checkpoint("a_I_1", "2026-01-05T10:50:00Z")],
            prune_superseded: true,
            ..Changes::default()
        })
        .unwrap();
        // The latest complete call is not valid: every page stays, the malformed one included
        // (it is what Webex sent).
        assert_eq!(db.totals().unwrap().pages, 3);
    }
}
