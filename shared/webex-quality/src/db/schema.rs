//! The schema, as numbered migrations. `PRAGMA user_version` holds the number of the last one applied;
//! a file from a newer version of Webex Quality is refused rather than guessed at.

/// Migrations in order; migration `n` (1-based) brings the schema to version `n`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: raw meetings and qualities, checkpoints, runs.
    r"
    CREATE TABLE meetings (
        instance_id  TEXT PRIMARY KEY,
        series_id    TEXT,
        title        TEXT,
        host_name    TEXT,
        host_email   TEXT,
        start_time   TEXT,           -- RFC 3339, UTC, milliseconds: sorts as text
        end_time     TEXT,
        state        TEXT,
        raw_item     TEXT NOT NULL,  -- the List Meetings item exactly as Webex sent it (latest seen)
        first_seen   TEXT NOT NULL,
        last_seen    TEXT NOT NULL
    );
    CREATE INDEX meetings_by_start ON meetings (start_time);

    -- Response bodies, content-addressed by the SHA-256 of the raw bytes; stored deflated when that
    -- pays, and always given back byte for byte.
    CREATE TABLE bodies (
        sha256    TEXT PRIMARY KEY,
        length    INTEGER NOT NULL,
        encoding  TEXT NOT NULL CHECK (encoding IN ('identity', 'deflate')),
        data      BLOB NOT NULL
    );

    -- One Meeting Qualities call (the first page and the Link pages that followed it).
    CREATE TABLE quality_calls (
        id           INTEGER PRIMARY KEY,
        instance_id  TEXT NOT NULL,
        called_at    TEXT NOT NULL,
        completed    INTEGER NOT NULL,   -- 1 when the last page was reached
        error        TEXT,
        tracking_id  TEXT,
        UNIQUE (instance_id, called_at)
    );

    CREATE TABLE quality_pages (
        call_id      INTEGER NOT NULL REFERENCES quality_calls (id),
        page         INTEGER NOT NULL,   -- 1-based
        fetched_at   TEXT NOT NULL,
        request_url  TEXT NOT NULL,
        status       INTEGER NOT NULL,
        tracking_id  TEXT NOT NULL,
        body_sha256  TEXT NOT NULL REFERENCES bodies (sha256),
        valid_json   INTEGER NOT NULL,
        PRIMARY KEY (call_id, page)
    );

    -- Per meeting instance: when it was last called, when it may be called again, and whether the
    -- final fetch is done. Never one watermark for all meetings.
    CREATE TABLE checkpoints (
        instance_id       TEXT PRIMARY KEY,
        last_call_at      TEXT,
        next_allowed_at   TEXT,
        attempts          INTEGER NOT NULL DEFAULT 0,
        failures          INTEGER NOT NULL DEFAULT 0,  -- consecutive failed calls
        last_error        TEXT,
        last_tracking_id  TEXT,
        final             INTEGER NOT NULL DEFAULT 0,
        final_at          TEXT
    );

    CREATE TABLE runs (
        id               TEXT PRIMARY KEY,
        started_at       TEXT NOT NULL,
        ended_at         TEXT,
        meetings_listed  INTEGER NOT NULL DEFAULT 0,
        meetings_due     INTEGER NOT NULL DEFAULT 0,
        calls            INTEGER NOT NULL DEFAULT 0,
        pages            INTEGER NOT NULL DEFAULT 0,
        bytes            INTEGER NOT NULL DEFAULT 0,
        rate_limited     INTEGER NOT NULL DEFAULT 0,
        errors           INTEGER NOT NULL DEFAULT 0,
        outcome          TEXT NOT NULL,
        detail           TEXT
    );
    CREATE INDEX runs_by_start ON runs (started_at);

    CREATE TABLE run_errors (
        run_id       TEXT NOT NULL REFERENCES runs (id),
        at           TEXT NOT NULL,
        instance_id  TEXT,
        kind         TEXT NOT NULL,
        message      TEXT NOT NULL,
        tracking_id  TEXT
    );
    ",
    // 2: bodies may be stored zstd-compressed. SQLite cannot change a CHECK constraint in place,
    // so the table is rebuilt (the rows are copied as stored: nothing is recompressed).
    r"
    CREATE TABLE bodies_v2 (
        sha256    TEXT PRIMARY KEY,
        length    INTEGER NOT NULL,
        encoding  TEXT NOT NULL CHECK (encoding IN ('identity', 'deflate', 'zstd')),
        data      BLOB NOT NULL
    );
    INSERT INTO bodies_v2 (sha256, length, encoding, data) SELECT sha256, length, encoding, data FROM bodies;
    DROP TABLE bodies;
    ALTER TABLE bodies_v2 RENAME TO bodies;
    ",
    // 3: superseded snapshots. Once a meeting's final fetch is stored complete and valid, the pages
    // of its earlier calls may be dropped (WEBEX_QUALITY_KEEP_SNAPSHOTS); the calls stay, marked,
    // so that "no pages" is never mistaken for "lost". Bodies are found by page for that.
    r"
    ALTER TABLE quality_calls ADD COLUMN pages_pruned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX quality_pages_by_body ON quality_pages (body_sha256);
    ",
    // 4: meetings whose day went to an archive while List Meetings can still return them (a day is
    // archived once all its meetings are final, about a day after it ends). The collector skips
    // such a meeting when it is listed unchanged, and brings it back from its archive part when its
    // item changed (it then goes to a further part). Rows leave once the listing cannot return
    // the day any more.
    r"
    CREATE TABLE archived_meetings (
        instance_id  TEXT PRIMARY KEY,
        day          TEXT NOT NULL,     -- YYYY-MM-DD: the archive's day
        part         INTEGER NOT NULL,  -- the archive part that holds the meeting
        start_time   TEXT,
        item_sha256  TEXT NOT NULL      -- SHA-256 of the List Meetings item as archived
    );
    ",
];
