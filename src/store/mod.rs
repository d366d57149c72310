//! The SQLite file: the only place Archivist keeps state, and the only module
//! that speaks SQL.
//!
//! One writer connection (behind a mutex) runs every write in a
//! `BEGIN IMMEDIATE` transaction; an r2d2 pool of read-only connections serves
//! readers; one more read-only "watch" connection answers `PRAGMA data_version`
//! and the sync-stats aggregate, because data versions are only comparable on
//! the same connection. The file runs in WAL mode with `synchronous=NORMAL`, a
//! busy timeout and foreign keys on, so a sqlite3 CLI reading the file never
//! blocks the service and one briefly writing it only delays it.
//!
//! What this module is not: it does not decide what to write (the monitor
//! does) and it does not cache (see `cache` and `status`).

pub mod alerts;
mod backup;
pub mod bench;
mod catalog;
mod catalogue_state;
pub mod counters;
mod cycles;
pub mod export;
mod history;
mod lock;
pub mod missing;
mod outage;
mod probe;
mod schema;
mod stats;
mod stuck;
mod transcriptions;
mod vod_events;
mod vod_lists;
mod vod_search;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use backup::{check_copy, restore, CopyFacts, Restored};
pub use catalog::RefreshOutcome;
pub use catalogue_state::{CatalogueProgress, CatalogueState};
pub use cycles::{CycleRecord, LastCycle};
pub use history::{History, HistoryRange, HistorySample};
pub use lock::DatabaseLock;
pub use outage::Outage;
pub use probe::VersionProbe;
pub use schema::SCHEMA_VERSION;
pub use stats::{SyncStats, TranscriptionCounts};
pub use transcriptions::{
    CaptionCounts, ManualLinkOutcome, ReportedTranscription, ScanCounts, ScannedCaption,
    ShowNeedingCaptions, ShowToLink, TranscriptionFilter, TranscriptionRow, UnlinkedCaption,
};
pub use vod_events::{VodEvent, EVENTS_IN_ALL, EVENTS_PER_VOD, EVENT_DAYS};
pub use vod_lists::VodEntry;
pub use vod_search::{ShowRecord, VodFilter, MAX_WORDS};

/// The SQLite library bundled into the binary, e.g. `3.53.2`.
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// A query an engineer can paste into the sqlite3 shell to see the VODs by
/// state (the demo prints it).
pub const VODS_BY_STATE_SQL: &str =
    "SELECT vod_state, count(*) FROM cablecast_vod GROUP BY vod_state";

/// Largest size, in bytes, the `-wal` file keeps after a checkpoint. A long
/// read (a backup of a big file) lets the WAL grow meanwhile; without a limit
/// the file would stay at that high-water mark for good.
const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// How long one statement waits for another process's lock before SQLite
/// reports busy. A sqlite3 CLI session that writes briefly finishes well
/// inside this.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times a write retries `BEGIN IMMEDIATE` after a busy timeout, so a
/// write lock held by another process for up to a minute delays a batch
/// instead of losing it.
const WRITE_LOCK_ATTEMPTS: u32 = 12;

/// Reader connections in the pool: enough for the status server's workers.
const READER_POOL_SIZE: u32 = 8;

/// Page cache per connection, in KiB (SQLite's default is 2 MiB each, which
/// for ten connections would be most of the appliance's memory budget). The
/// writer and the watch connection (which runs the aggregate over the whole
/// `idx_vod_state`) get more; pooled readers serve small pages of rows.
const WRITER_CACHE_KIB: i64 = 2048;
const WATCH_CACHE_KIB: i64 = 1024;
const READER_CACHE_KIB: i64 = 256;

/// SQLite's memory in all, for every connection of the process together
/// (`PRAGMA soft_heap_limit`): above it SQLite reuses its cached pages
/// rather than allocate more. The page caches above come to 5.25 MiB (6.25
/// while a checked copy is made); the rest is statements, schemas and sort
/// space.
const SQLITE_HEAP_LIMIT: i64 = 12 * 1024 * 1024;

/// How the file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Creates the file if needed and applies the schema.
    ReadWrite,
    /// Never writes: for `status`, `export` and other read-only commands.
    ReadOnly,
}

/// The kind of an SQLite failure, from SQLite's result code, so the caller
/// and the sentence can tell what the engineer has to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteFailure {
    /// The disk (or the file system) is full (`SQLITE_FULL`).
    DiskFull,
    /// The file, its folder or its mount cannot be written
    /// (`SQLITE_READONLY`, `SQLITE_PERM`), or the store was opened read-only.
    ReadOnly,
    /// The disk failed to read or write (`SQLITE_IOERR`).
    Io,
    /// Anything else; `detail` says what.
    Other,
}

impl SqliteFailure {
    /// What the engineer reads first.
    fn sentence(self) -> &'static str {
        match self {
            SqliteFailure::DiskFull => "the disk is full; free space on it",
            SqliteFailure::ReadOnly => {
                "the file is read-only; check its permissions, its folder's and the mount"
            }
            SqliteFailure::Io => "the disk failed to read or write",
            SqliteFailure::Other => "",
        }
    }
}

/// What went wrong with the database, always naming the file.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// The file could not be opened, or is not an SQLite database.
    Open { path: PathBuf, detail: String },
    /// The file was written by a newer Archivist than this one.
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// Another process kept the write lock longer than Archivist waits.
    Locked { path: PathBuf, what: String },
    /// An SQLite failure while doing `what`: `failure` tells a full disk
    /// from a read-only file; `detail` is SQLite's own words.
    Sqlite {
        path: PathBuf,
        what: String,
        failure: SqliteFailure,
        detail: String,
    },
    /// The file failed its integrity check; nothing is written to it.
    /// `restore_from` is the backup to suggest, for the service's database.
    Damaged {
        path: PathBuf,
        verdict: String,
        restore_from: Option<PathBuf>,
    },
    /// A monitor (or a restore) holds the database's lock file.
    InUse { path: PathBuf, holder: String },
    /// A file operation around the database (lock, copy, rename) failed.
    File {
        path: PathBuf,
        what: String,
        detail: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { path, detail } => {
                write!(f, "cannot open database {}: {detail}", path.display())
            }
            StoreError::TooNew { path, found, known } => write!(
                f,
                "database {} has schema version {found}, newer than this archivist knows ({known}); use a newer archivist or restore a backup",
                path.display()
            ),
            StoreError::Locked { path, what } => write!(
                f,
                "database {} stayed locked by another process while {what}; will retry",
                path.display()
            ),
            StoreError::Sqlite {
                path,
                what,
                failure,
                detail,
            } => {
                write!(f, "database {}: {what}: ", path.display())?;
                match failure.sentence() {
                    "" => f.write_str(detail),
                    sentence => write!(f, "{sentence} ({detail})"),
                }
            }
            StoreError::Damaged {
                path,
                verdict,
                restore_from,
            } => {
                write!(
                    f,
                    "database {} failed its integrity check ({verdict})",
                    path.display()
                )?;
                match restore_from {
                    Some(backup) => write!(
                        f,
                        "; Archivist will not write to it. Stop the service and restore a backup: archivist restore {}",
                        backup.display()
                    ),
                    None => Ok(()),
                }
            }
            StoreError::InUse { path, holder } => {
                let holder = if holder.is_empty() {
                    "another archivist process"
                } else {
                    holder
                };
                write!(f, "database {} is in use by {holder}", path.display())?;
                if holder.starts_with("monitor") {
                    f.write_str("; stop the service first (systemctl stop archivist)")?;
                }
                Ok(())
            }
            StoreError::File { path, what, detail } => {
                write!(f, "{what}: {}: {detail}", path.display())
            }
        }
    }
}

impl std::error::Error for StoreError {}

/// The open database.
///
/// Its connections never leave `store`: what another module can call is
/// named for what it does, never "run this SQL". This does not compile:
///
/// ```compile_fail,E0624
/// # fn silence(store: &archivist::store::Store) {
/// let _ = store.write("silencing", |c| c.execute_batch("update alert set notified = 1"));
/// # }
/// ```
pub struct Store {
    path: PathBuf,
    /// Set when the integrity check at open failed: every write is refused.
    damage: Option<StoreError>,
    writer: Option<Mutex<Connection>>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    watch: Mutex<Connection>,
    /// The file's (device, inode) at open, to notice it being replaced.
    file_id: Option<(u64, u64)>,
}

/// (device, inode) of the file at `path` now.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (and with `ReadWrite`, creates and migrates) the database file.
    pub fn open(path: &Path, access: Access) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let open_error = |detail: String| open_failure(&path, detail);
        if access == Access::ReadOnly && !path.exists() {
            return Err(open_error(missing_database(&path, Path::new(SERVICE_DB))));
        }
        let mut damage = None;
        let writer = match access {
            Access::ReadWrite => {
                let conn = Connection::open(&path).map_err(|e| open_error(describe(&e)))?;
                conn.busy_timeout(BUSY_TIMEOUT)
                    .map_err(|e| open_error(describe(&e)))?;
                schema::check_writable(&conn, &path)?;
                configure(&conn, true, WRITER_CACHE_KIB).map_err(|e| open_error(describe(&e)))?;
                // Checked before the schema is applied: a damaged file is
                // never written to, not even by a migration.
                match backup::damage_of(&conn, false).map_err(|e| open_error(describe(&e)))? {
                    Some(verdict) => damage = Some(backup::damaged(&path, verdict)),
                    None => schema::apply(&conn, &path)?,
                }
                Some(Mutex::new(conn))
            }
            Access::ReadOnly => None,
        };
        let watch = open_reader(&path, WATCH_CACHE_KIB).map_err(|e| open_error(describe(&e)))?;
        if access == Access::ReadOnly {
            schema::check_readable(&watch, &path)?;
        }
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(reader_flags())
            .with_init(|conn| configure(conn, false, READER_CACHE_KIB));
        let readers = r2d2::Pool::builder()
            .max_size(READER_POOL_SIZE)
            .min_idle(Some(1))
            // A local SQLite connection does not go stale: checking each one
            // out with a `SELECT 1` would only add a statement per read.
            .test_on_check_out(false)
            .connection_timeout(BUSY_TIMEOUT)
            .build(manager)
            .map_err(|e| open_error(e.to_string()))?;
        Ok(Store {
            file_id: file_id(&path),
            path,
            damage,
            writer,
            readers,
            watch: Mutex::new(watch),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another file now has this database's name (`restore` renamed a copy
    /// over it): this store still reads the file it opened, which is gone.
    pub fn replaced(&self) -> bool {
        match (self.file_id, file_id(&self.path)) {
            (Some(opened), Some(now)) => opened != now,
            _ => false,
        }
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction and commits it. If
    /// another process holds the write lock, waits (bounded) rather than fail;
    /// on any error the transaction rolls back whole. Private to `store`,
    /// like `write_single` and `read`: they hand out the connection, and
    /// only `store` speaks SQL.
    fn write<T>(
        &self,
        what: &str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let writer = self.writer_for(what)?;
        let conn = lock(writer);
        counters::as_write(|| {
            if !conn.is_autocommit() {
                // Left open by a panic in an earlier write: never commit it.
                conn.execute_batch("ROLLBACK")
                    .map_err(|e| self.error(what, &e))?;
            }
            begin_immediate(&conn, &self.path, what)?;
            let outcome = work(&conn).and_then(|value| {
                conn.execute_batch("COMMIT")?;
                Ok(value)
            });
            outcome.map_err(|e| {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                self.error(what, &e)
            })
        })
    }

    /// Runs one statement that writes, on its own (SQLite's implicit
    /// transaction, so it costs one statement rather than three), retrying
    /// while another process holds the write lock.
    fn write_single(
        &self,
        what: &str,
        statement: impl Fn(&Connection) -> rusqlite::Result<usize>,
    ) -> Result<usize, StoreError> {
        let writer = self.writer_for(what)?;
        let conn = lock(writer);
        for _ in 1..WRITE_LOCK_ATTEMPTS {
            match statement(&conn) {
                Err(e) if is_busy(&e) => continue,
                other => return other.map_err(|e| self.error(what, &e)),
            }
        }
        statement(&conn).map_err(|e| self.error(what, &e))
    }

    /// Runs `statements` in one write: rows for unit tests elsewhere in the
    /// crate that no product path writes (a time in the past, a state set
    /// by hand). Test builds only.
    #[cfg(test)]
    pub(crate) fn write_rows_for_tests(&self, statements: &str) -> Result<(), StoreError> {
        self.write("test rows", |c| c.execute_batch(statements))
    }

    /// Folds the write-ahead log into the file and empties it
    /// (`wal_checkpoint(TRUNCATE)`): the clean end of a process. Waits for a
    /// write in progress to commit first (the writer is one connection).
    /// `Ok(false)` when this store does not write (read-only or damaged).
    pub fn checkpoint(&self) -> Result<bool, StoreError> {
        let what = "checkpointing the write-ahead log";
        let Ok(writer) = self.writer_for(what) else {
            return Ok(false);
        };
        let conn = lock(writer);
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .map_err(|e| self.error(what, &e))?;
        if busy != 0 {
            return Err(StoreError::Sqlite {
                path: self.path.clone(),
                what: what.to_string(),
                failure: SqliteFailure::Other,
                detail: "another connection is still reading; the log is folded in later".into(),
            });
        }
        Ok(true)
    }

    /// A read that failed the way a damaged file fails (malformed, not a
    /// database, or SQLite's "out of memory" on a garbled record) gets the
    /// integrity verdict and the backup to restore, as at open, rather
    /// than SQLite's bare words; checked on a connection of its own.
    fn damage_behind(&self, e: &rusqlite::Error) -> Option<StoreError> {
        if let Some(damage) = &self.damage {
            return Some(damage.clone());
        }
        if !matches!(
            e.sqlite_error_code(),
            Some(
                rusqlite::ErrorCode::DatabaseCorrupt
                    | rusqlite::ErrorCode::NotADatabase
                    | rusqlite::ErrorCode::OutOfMemory
            )
        ) {
            return None;
        }
        let conn = open_reader(&self.path, WATCH_CACHE_KIB).ok()?;
        let verdict = match backup::damage_of(&conn, false) {
            Ok(verdict) => verdict?,
            Err(check) => format!("unreadable: {}", describe(&check)),
        };
        Some(backup::damaged(&self.path, verdict))
    }

    /// The writer connection, unless the file is read-only or damaged.
    fn writer_for(&self, what: &str) -> Result<&Mutex<Connection>, StoreError> {
        if let Some(damage) = &self.damage {
            return Err(damage.clone());
        }
        self.writer.as_ref().ok_or_else(|| self.read_only(what))
    }

    fn read_only(&self, what: &str) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            what: what.to_string(),
            failure: SqliteFailure::ReadOnly,
            detail: "database opened read-only".into(),
        }
    }

    /// Runs `work` on a pooled read-only connection.
    fn read<T>(
        &self,
        what: &str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.get().map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            what: what.to_string(),
            failure: SqliteFailure::Other,
            detail: e.to_string(),
        })?;
        work(&conn).map_err(|e| self.error(what, &e))
    }

    /// Runs `work` on the watch connection (see the module docs).
    fn watch<T>(
        &self,
        what: &str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = lock(&self.watch);
        work(&conn).map_err(|e| self.error(what, &e))
    }

    /// The watch connection's `PRAGMA data_version`: it changes whenever
    /// another connection (this process's writer or another process) has
    /// committed since the last look.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.watch("reading data_version", |conn| {
            conn.prepare_cached("PRAGMA main.data_version")?
                .query_row([], |row| row.get(0))
        })
    }

    fn error(&self, what: &str, e: &rusqlite::Error) -> StoreError {
        if is_busy(e) {
            return StoreError::Locked {
                path: self.path.clone(),
                what: what.to_string(),
            };
        }
        if let Some(damage) = self.damage_behind(e) {
            return damage;
        }
        sqlite_error(&self.path, what, e)
    }
}

/// `StoreError::Open` with the operating system's reason added, if any.
fn open_failure(path: &Path, detail: String) -> StoreError {
    StoreError::Open {
        detail: match why_unopenable(path) {
            Some(cause) => format!("{detail}: {cause}"),
            None => detail,
        },
        path: path.to_path_buf(),
    }
}

/// The operating system's reason a database file cannot be opened, when
/// there is one SQLite does not say ("unable to open database file" covers a
/// directory, a missing directory and a read-only filesystem alike).
fn why_unopenable(path: &Path) -> Option<String> {
    if path.is_dir() {
        return Some("it is a directory, not a file".into());
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Some(format!("directory {} does not exist", parent.display()));
    }
    if let Err(e) = writable_dir(parent) {
        return Some(format!(
            "the folder {} is not writable by this user ({e}; SQLite keeps the database's -wal and -shm files beside it there): run as the user that owns it or give a --db in a writable folder",
            parent.display()
        ));
    }
    if path.exists() {
        // Opened for appending and closed at once: nothing is written.
        if let Err(e) = std::fs::OpenOptions::new().append(true).open(path) {
            return Some(format!("the file cannot be written: {e}"));
        }
    }
    None
}

/// Where the installed service keeps its database (`deploy/archivist.service`).
pub const SERVICE_DB: &str = "/var/lib/archivist/archivist.db";

/// The demo's own database (`archivist demo`), in the folder it ran in.
pub const DEMO_DB: &str = "archivist-demo.db";

/// What to say when the database a command reads does not exist: on an
/// installed machine the engineer most likely meant the service's.
fn missing_database(path: &Path, service_db: &Path) -> String {
    let reach = format!(
        "sudo -u archivist archivist --db {} COMMAND",
        service_db.display()
    );
    let demo_db = path.with_file_name(DEMO_DB);
    if path != service_db && service_db.exists() {
        format!(
            "no such file; this machine's service keeps its database in {}: {reach}",
            service_db.display()
        )
    } else if path != demo_db && demo_db.exists() {
        format!(
            "no such file; {} beside it is the demo's database: archivist --db {} COMMAND",
            demo_db.display(),
            demo_db.display()
        )
    } else {
        format!(
            "no such file (run `archivist init` or the monitor first; on an installed machine: {reach})"
        )
    }
}

/// Whether this process may create files in `dir` (its effective user and
/// groups, as the kernel decides, read-only mounts included).
pub(crate) fn writable_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let text = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::access(text.as_ptr(), libc::W_OK | libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Takes the write lock, waiting (bounded) while another process holds it.
fn begin_immediate(conn: &Connection, path: &Path, what: &str) -> Result<(), StoreError> {
    // Each attempt already waits BUSY_TIMEOUT inside SQLite.
    for attempt in 1..=WRITE_LOCK_ATTEMPTS {
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => return Ok(()),
            Err(e) if is_busy(&e) => {
                if attempt == 1 {
                    log::warn!(
                        "database {} is locked by another process while {what}; waiting",
                        path.display()
                    );
                }
            }
            Err(e) => return Err(sqlite_error(path, what, &e)),
        }
    }
    Err(StoreError::Locked {
        path: path.to_path_buf(),
        what: what.to_string(),
    })
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the connection leaves no transaction open (it
    // rolls back on drop), so the connection is still usable.
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn reader_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
}

fn open_reader(path: &Path, cache_kib: i64) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, reader_flags())?;
    configure(&conn, false, cache_kib)?;
    Ok(conn)
}

fn configure(conn: &Connection, writer: bool, cache_kib: i64) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{cache_kib}; PRAGMA soft_heap_limit = {SQLITE_HEAP_LIMIT};"
    ))?;
    if writer {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!("database could not switch to WAL mode (it is in {mode} mode)");
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
        ))?;
    } else {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    conn.set_prepared_statement_cache_capacity(32);
    counters::attach(conn);
    Ok(())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// `StoreError::Sqlite` for an SQLite error while doing `what` on `path`.
fn sqlite_error(path: &Path, what: impl Into<String>, e: &rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.to_path_buf(),
        what: what.into(),
        failure: failure_of(e),
        detail: describe(e),
    }
}

/// The kind of failure SQLite's result code says.
fn failure_of(e: &rusqlite::Error) -> SqliteFailure {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => SqliteFailure::DiskFull,
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied) => {
            SqliteFailure::ReadOnly
        }
        Some(rusqlite::ErrorCode::SystemIoFailure) => SqliteFailure::Io,
        _ => SqliteFailure::Other,
    }
}

/// SQLite's own sentence for an error, without Rust's debug wrapping.
fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(code, Some(message)) => {
            format!("{message} ({:?})", code.code)
        }
        rusqlite::Error::SqliteFailure(code, None) => format!("{code}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that fills the file: more text than its page limit holds.
    fn fill(store: &Store) -> Result<(), StoreError> {
        store.write("recording a cycle", |c| {
            c.execute(
                "INSERT INTO archivist_meta (key, value) VALUES ('filler', ?1)",
                ["x".repeat(1 << 20)],
            )
            .map(drop)
        })
    }

    #[test]
    fn a_refused_write_says_whether_the_disk_is_full_or_the_file_read_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("full.db"), Access::ReadWrite).expect("opens");
        // SQLite's own "full": the file may not grow past its pages now.
        store
            .write("capping the file", |c| {
                c.execute_batch("PRAGMA max_page_count = 1; PRAGMA max_page_count")
            })
            .expect("capped");
        let e = fill(&store).expect_err("the file is full");
        assert!(
            matches!(
                e,
                StoreError::Sqlite {
                    failure: SqliteFailure::DiskFull,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("the disk is full"), "{e}");
        assert!(!e.to_string().contains("read-only"), "{e}");

        let store = Store::open(&dir.path().join("ro.db"), Access::ReadWrite).expect("opens");
        store
            .write("refusing writes", |c| {
                c.execute_batch("PRAGMA query_only = 1")
            })
            .expect("set");
        let e = fill(&store).expect_err("read-only");
        assert!(
            matches!(
                e,
                StoreError::Sqlite {
                    failure: SqliteFailure::ReadOnly,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("the file is read-only"), "{e}");
        assert!(!e.to_string().contains("disk is full"), "{e}");
    }

    #[test]
    fn sqlite_memory_is_capped_for_the_whole_process() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _store = Store::open(&dir.path().join("cap.db"), Access::ReadWrite).expect("opens");
        // The limit is SQLite's, not a connection's: any connection reads it.
        let other = Connection::open_in_memory().expect("opens");
        let limit: i64 = other
            .query_row("PRAGMA soft_heap_limit", [], |row| row.get(0))
            .expect("reads");
        assert_eq!(limit, SQLITE_HEAP_LIMIT);
    }

    #[test]
    fn a_missing_database_points_to_the_service_one_when_it_exists() {
        let dir = tempfile::tempdir().expect("temp dir");
        let service_db = dir.path().join("service.db");
        let here = Path::new("archivist.db");
        let said = missing_database(here, &service_db);
        assert!(
            said.contains("no such file (run `archivist init`"),
            "{said}"
        );
        assert!(said.contains("--db"), "{said}");
        std::fs::write(&service_db, b"").expect("file written");
        let said = missing_database(here, &service_db);
        assert!(
            said.contains(&format!("keeps its database in {}", service_db.display())),
            "{said}"
        );
        assert!(
            said.contains(&format!(
                "sudo -u archivist archivist --db {}",
                service_db.display()
            )),
            "{said}"
        );
    }
}
