//! A connection that only answers `PRAGMA data_version`, for a reader that
//! asks on every request whether the file changed (the status server) and
//! must not queue behind the sync-stats aggregate, which holds the watch
//! connection for as long as it runs.
//!
//! Data versions are comparable only on the connection that read them: keep
//! what a probe said, and compare it with what the same probe says later.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;

use super::{describe, lock, open_reader, sqlite_error, Store, StoreError};

/// Page cache of the probe: it reads no pages, only the WAL index.
const PROBE_CACHE_KIB: i64 = 16;

/// A private read-only connection for [`VersionProbe::data_version`].
pub struct VersionProbe {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens a probe of this store's file.
    pub fn version_probe(&self) -> Result<VersionProbe, StoreError> {
        let conn = open_reader(&self.path, PROBE_CACHE_KIB).map_err(|e| StoreError::Open {
            path: self.path.clone(),
            detail: describe(&e),
        })?;
        Ok(VersionProbe {
            path: self.path.clone(),
            conn: Mutex::new(conn),
        })
    }
}

impl VersionProbe {
    /// Changes whenever another connection (this process's writer, or
    /// another process) has committed since the last look.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        let conn = lock(&self.conn);
        conn.prepare_cached("PRAGMA main.data_version")
            .and_then(|mut pragma| pragma.query_row([], |row| row.get(0)))
            .map_err(|e| sqlite_error(&self.path, "reading data_version", &e))
    }
}
