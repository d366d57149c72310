//! Creates and migrates the database schema, forward only.
//!
//! `schema.sql` (top level, embedded here) is the whole current schema and is
//! idempotent; it is applied at every start. `PRAGMA user_version` records the
//! schema version; `MIGRATIONS` holds the steps from each older version, run
//! in order in one transaction. A file with a newer version than this binary
//! knows is refused, never "downgraded".

use std::path::Path;

use rusqlite::Connection;

use super::{begin_immediate, describe, open_failure, sqlite_error, StoreError};

/// The whole current schema.
const SCHEMA: &str = include_str!("../../schema.sql");

/// The version `SCHEMA` describes.
pub const SCHEMA_VERSION: i64 = 4;

/// `MIGRATIONS[n]` upgrades a version `n + 1` file to version `n + 2`, before
/// `SCHEMA` runs (so `SCHEMA` may rely on the columns they add). A step adds
/// columns (`ALTER TABLE ... ADD COLUMN`) and fills them; new tables and
/// indexes come from `SCHEMA` itself, which creates what is missing.
///
/// Version 1 is release 0.1.0 and version 4 is release 0.2.0;
/// `tests/fixtures/archivist-0.1.0.db` and `archivist-0.2.0.db` are files they
/// wrote, and `tests/schema_upgrade.rs` proves each step keeps every row and
/// ends at the same tables, columns and indexes as a new file.
const MIGRATIONS: &[&str] = &[
    // 1 -> 2
    MIGRATION_2,
    // 2 -> 3
    MIGRATION_3,
    // 3 -> 4
    MIGRATION_4,
];

/// Version 1 (0.1.0) to 2.
const MIGRATION_2: &str = "
-- Captions Cablecast already has, and its reason for a VOD's state.
ALTER TABLE cablecast_show ADD COLUMN has_captions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cablecast_show ADD COLUMN caption_provider TEXT;
ALTER TABLE cablecast_vod ADD COLUMN status_message TEXT;
-- Where a VOD's time in state comes from. Rows of 0.1.0 kept the time
-- Archivist first saw the state: 'observed'.
ALTER TABLE cablecast_vod ADD COLUMN state_changed_source TEXT;
UPDATE cablecast_vod SET state_changed_source = 'observed' WHERE state_changed_at IS NOT NULL;
";

/// Version 2 to 3: alerts that can be trusted.
const MIGRATION_3: &str = "
-- A 0.1.0 file reaches here without the alert tables (version 2's schema
-- added them after its step): they are made in their version 2 shape first.
CREATE TABLE IF NOT EXISTS alert (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    title TEXT NOT NULL, detail TEXT, fired_at TEXT NOT NULL, resolved_at TEXT,
    notified INTEGER NOT NULL DEFAULT 0, silenced INTEGER NOT NULL DEFAULT 0,
    last_notified_at TEXT
);
CREATE TABLE IF NOT EXISTS alert_message (
    id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_delivery (
    destination TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES alert_message(id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,
    delivered_at TEXT, last_error TEXT,
    PRIMARY KEY (destination, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_change (
    kind TEXT NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (kind, subject)
) WITHOUT ROWID;
-- When the trouble began (the first failed cycle), which may be before the
-- alert fired; and who acknowledged a failed VOD, why and when.
ALTER TABLE alert ADD COLUMN began_at TEXT;
ALTER TABLE alert ADD COLUMN acked_at TEXT;
ALTER TABLE alert ADD COLUMN acked_by TEXT;
ALTER TABLE alert ADD COLUMN ack_note TEXT;
-- A delivery a destination refused for good (HTTP 4xx, SMTP 5xx): never
-- retried, shown with its answer.
ALTER TABLE alert_delivery ADD COLUMN failed_at TEXT;
-- Each change-queue entry counts the flips it stands for, so an entry read
-- before a flip is not deleted after it. The triggers that fill it are
-- replaced by schema.sql's, which count.
ALTER TABLE alert_change ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER IF EXISTS alert_vod_failure_added;
DROP TRIGGER IF EXISTS alert_vod_failure_moved;
DROP TRIGGER IF EXISTS alert_vod_failure_removed;
DROP TRIGGER IF EXISTS alert_transcription_failure_added;
DROP TRIGGER IF EXISTS alert_transcription_failure_moved;
DROP TRIGGER IF EXISTS alert_transcription_failure_removed;
";

/// Version 3 to 4: shows that aired with no VOD are found by their event
/// date. No column changes; the index is made here so the step says what
/// version 4 is (`SCHEMA` makes it too, for new files).
const MIGRATION_4: &str = "
CREATE INDEX IF NOT EXISTS idx_show_event_date ON cablecast_show(event_date);
";

const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION - 1);

/// Brings the file to `SCHEMA_VERSION`.
pub(super) fn apply(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let failed = |what: &str, e: rusqlite::Error| sqlite_error(path, what, &e);
    let found = known_version(conn, path)?;
    if found > 0 && found < SCHEMA_VERSION {
        let copy = super::backup::before_migration(conn, path, SCHEMA_VERSION)?;
        log::info!(
            "upgrading {} from schema version {found} to {SCHEMA_VERSION}; the file as it was is kept as {}",
            path.display(),
            copy.path.display()
        );
    }
    begin_immediate(conn, path, "applying the schema")?;
    let mut script = String::new();
    if found > 0 {
        for step in &MIGRATIONS[(found - 1) as usize..] {
            script.push_str(step);
            script.push('\n');
        }
    }
    script.push_str(SCHEMA);
    script.push_str(&format!(
        "\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
    ));
    conn.execute_batch(&script).map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        failed("applying the schema", e)
    })
}

/// The file's schema version, refused when newer than this binary knows.
fn known_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let found = version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Refuses, before anything is written to it (even the journal mode), a file
/// this binary must not touch: not SQLite, another program's, or newer.
pub(super) fn check_writable(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    known_version(conn, path).map(|_| ())
}

/// Checks a file opened read-only is one this binary can read.
pub(super) fn check_readable(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = known_version(conn, path)?;
    if found == 0 {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            detail: "not an Archivist database (no schema); run `archivist init` first".into(),
        });
    }
    Ok(())
}

pub(super) fn version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    // The first read of a file that is not SQLite fails here with "file is
    // not a database".
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| open_failure(path, describe(&e)))?;
    if found == 0 {
        // The schema is applied in one transaction together with the version,
        // so a version-0 file with tables belongs to another program: refuse
        // it rather than write into it.
        let foreign: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |row| row.get(0),
            )
            .map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                detail: describe(&e),
            })?;
        if foreign > 0 {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                detail: "an SQLite file of another program, not an Archivist database; give Archivist a file of its own".into(),
            });
        }
    }
    Ok(found)
}
