//! Copies of the database and the checks that make them trustworthy: the
//! integrity check at start, `archivist backup` (a consistent copy while the
//! monitor runs) and `archivist restore` (a checked copy swapped in while it
//! does not).
//!
//! Both copies are made with `VACUUM INTO`: one read transaction, so the copy
//! is a snapshot of one moment even while the monitor commits (WAL readers
//! never block the writer), compacted, and a single self-contained file. A
//! copy is written under a temporary name in the destination's directory,
//! checked, flushed to disk and only then given its real name, so a file with
//! the real name is always complete.
//!
//! What this is not: it does not rotate backups (deploy/backup-rotate.sh
//! does) and it does not stop the service (the engineer does).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::lock::DatabaseLock;
use super::{describe, schema, sqlite_error, Store, StoreError, BUSY_TIMEOUT};

/// Tables every Archivist database has, whatever its version: a file with a
/// schema version but without them is not ours.
const ARCHIVIST_TABLES: &[&str] = &["cablecast_show", "cablecast_vod", "monitor_cycle"];

/// Problems of `PRAGMA integrity_check` said in the one log line; the first
/// few say enough.
const VERDICT_LINES: usize = 5;

/// What a checked copy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFacts {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    pub vods: i64,
}

/// What `restore` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub copy: CopyFacts,
    /// Where the replaced database was kept, if there was one.
    pub previous: Option<PathBuf>,
}

/// Runs `PRAGMA quick_check` (or `integrity_check` when `full`): `None` when
/// the file is sound, else SQLite's verdict. A file too damaged to read at
/// all is a verdict too, not an error.
pub(super) fn damage_of(conn: &Connection, full: bool) -> rusqlite::Result<Option<String>> {
    let pragma = if full {
        "PRAGMA integrity_check"
    } else {
        "PRAGMA quick_check"
    };
    let lines: rusqlite::Result<Vec<String>> = conn.prepare(pragma).and_then(|mut statement| {
        statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect()
    });
    match lines {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(None),
        Ok(lines) => Ok(Some(one_line_verdict(&lines))),
        // SQLite reports some malformed records as running out of memory
        // (a length field read from garbage): the same verdict.
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase | ErrorCode::OutOfMemory)
            ) =>
        {
            Ok(Some(format!("unreadable: {}", describe(&e))))
        }
        Err(e) => Err(e),
    }
}

/// The check's problems as one line: SQLite puts several in one row,
/// separated by newlines, under a `*** in database main ***` heading. The
/// first [`VERDICT_LINES`] say enough; the rest are counted.
fn one_line_verdict(rows: &[String]) -> String {
    let problems: Vec<&str> = rows
        .iter()
        .flat_map(|row| row.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("***"))
        .collect();
    let mut verdict = problems
        .iter()
        .take(VERDICT_LINES)
        .copied()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > VERDICT_LINES {
        verdict.push_str(&format!(
            "; and {} more problems",
            problems.len() - VERDICT_LINES
        ));
    }
    verdict
}

/// The refusal for a damaged database, naming the newest daily backup next
/// to it (`backups/archivist-YYYY-MM-DD.db`, as deploy/daily-backup.sh
/// writes them) when there is one.
pub(super) fn damaged(path: &Path, verdict: String) -> StoreError {
    let backups = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("backups");
    let newest = fs::read_dir(&backups)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("archivist-") && n.ends_with(".db"))
        })
        .max();
    StoreError::Damaged {
        path: path.to_path_buf(),
        verdict,
        restore_from: Some(newest.unwrap_or_else(|| backups.join("archivist-YYYY-MM-DD.db"))),
    }
}

impl Store {
    /// Why this database refuses writes, if its integrity check failed when
    /// it was opened (for the status page and the log).
    pub fn damage(&self) -> Option<&StoreError> {
        self.damage.as_ref()
    }

    /// Writes a consistent copy of the database to `dest` and checks it with
    /// `PRAGMA integrity_check` before giving it its name. Refuses to replace
    /// an existing `dest` unless `replace`.
    pub fn backup_to(&self, dest: &Path, replace: bool) -> Result<CopyFacts, StoreError> {
        if !replace && dest.exists() {
            return Err(file_error(
                dest,
                "writing a backup",
                "already exists; choose another name or pass --force to replace it".into(),
            ));
        }
        let folder = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !folder.is_dir() {
            return Err(file_error(
                dest,
                "writing a backup",
                format!(
                    "the folder {} does not exist; create it or choose another",
                    folder.display()
                ),
            ));
        }
        if let Err(e) = super::writable_dir(folder) {
            return Err(file_error(
                dest,
                "writing a backup",
                format!(
                    "the folder {} is not writable by this user ({e})",
                    folder.display()
                ),
            ));
        }
        let source = open_source(&self.path)?;
        place_checked_copy(&source, &self.path, dest, replace, None)
    }
}

/// A checked copy of the database as it is, before a migration to schema
/// `to` changes it: `DB.before-schema-N-YYYYMMDDTHHMMSSZ` beside it, kept
/// until removed by hand. The migration does not run without it.
pub(super) fn before_migration(
    conn: &Connection,
    path: &Path,
    to: i64,
) -> Result<CopyFacts, StoreError> {
    let dest = unused_name(path, &format!(".before-schema-{to}"));
    place_checked_copy(conn, path, &dest, false, None)
}

/// Checks that `src` is a sound Archivist database this version can use,
/// without changing it.
pub fn check_copy(src: &Path) -> Result<CopyFacts, StoreError> {
    let conn = open_source(src)?;
    check(&conn, src, true)
}

/// Replaces the database `db` with a checked copy of `src`. Refuses while a
/// monitor holds the database's lock, and holds it itself meanwhile so a
/// monitor starting now waits for the restore. The replaced file is kept as
/// `DB.before-restore-TIMESTAMP`, a name no earlier restore used, with its
/// write-ahead log folded in (or moved along), so it is complete.
pub fn restore(src: &Path, db: &Path) -> Result<Restored, StoreError> {
    if fs::canonicalize(src)
        .ok()
        .is_some_and(|s| fs::canonicalize(db).ok() == Some(s))
    {
        return Err(file_error(
            src,
            "restoring",
            "this is the database itself; give a backup".into(),
        ));
    }
    let _lock = DatabaseLock::acquire(db, "restore")?;
    let source = open_source(src)?;
    check(&source, src, true)?;
    let previous = db.exists().then(|| unused_name(db, ".before-restore"));
    let owner = fs::metadata(db).ok();
    let copy = place_checked_copy(
        &source,
        src,
        db,
        true,
        owner.as_ref().map(|m| (m, previous.as_deref())),
    )?;
    Ok(Restored { copy, previous })
}

/// Opens a database to copy from, read-only.
fn open_source(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |detail: String| StoreError::Open {
        path: path.to_path_buf(),
        detail,
    };
    if path.is_dir() {
        return Err(open_error(
            "is a directory; give a backup file in it (e.g. archivist-YYYY-MM-DD.db)".into(),
        ));
    }
    if !path.is_file() {
        return Err(open_error("no such file".into()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| open_error(describe(&e)))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| open_error(describe(&e)))?;
    Ok(conn)
}

/// Checks an open database: sound (`full`: `integrity_check`, else
/// `quick_check`), Archivist's, and not newer than this version.
fn check(conn: &Connection, path: &Path, full: bool) -> Result<CopyFacts, StoreError> {
    let sqlite_error = |what: &str, e: rusqlite::Error| sqlite_error(path, what, &e);
    if let Some(verdict) =
        damage_of(conn, full).map_err(|e| sqlite_error("checking integrity", e))?
    {
        return Err(StoreError::Damaged {
            path: path.to_path_buf(),
            verdict,
            restore_from: None,
        });
    }
    schema::check_readable(conn, path)?;
    let schema_version = schema::version(conn, path)?;
    let names: Vec<String> = ARCHIVIST_TABLES.iter().map(|t| format!("'{t}'")).collect();
    let tables: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({})",
                names.join(", ")
            ),
            [],
            |row| row.get(0),
        )
        .map_err(|e| sqlite_error("reading the tables", e))?;
    if tables != ARCHIVIST_TABLES.len() as i64 {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            detail: "not an Archivist database (its tables are missing)".into(),
        });
    }
    let vods: i64 = conn
        .query_row("SELECT count(*) FROM cablecast_vod", [], |row| row.get(0))
        .map_err(|e| sqlite_error("counting VODs", e))?;
    let bytes = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(CopyFacts {
        path: path.to_path_buf(),
        bytes,
        schema_version,
        vods,
    })
}

/// Copies `source` (the file `source_path`) to `dest` through a temporary
/// file beside it: `VACUUM INTO`, `integrity_check`, fsync, rename, fsync of
/// the directory. With `replacing` (restore), the temporary file takes the
/// replaced file's owner and mode, and the replaced file and its `-wal` are
/// kept under the given name.
fn place_checked_copy(
    source: &Connection,
    source_path: &Path,
    dest: &Path,
    replace: bool,
    replacing: Option<(&fs::Metadata, Option<&Path>)>,
) -> Result<CopyFacts, StoreError> {
    let temp = with_suffix(dest, &format!(".partial-{}", std::process::id()));
    let outcome = (|| {
        let _ = fs::remove_file(&temp);
        let temp_text = temp.to_str().ok_or_else(|| {
            file_error(dest, "writing a copy", "the path is not valid UTF-8".into())
        })?;
        source
            .execute("VACUUM INTO ?1", [temp_text])
            .map_err(|e| sqlite_error(source_path, format!("copying to {}", temp.display()), &e))?;
        let mut facts = {
            let copy = Connection::open(&temp).map_err(|e| StoreError::Open {
                path: temp.clone(),
                detail: describe(&e),
            })?;
            // A copy is one self-contained file: never a -wal beside it.
            copy.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
                .map_err(|e| sqlite_error(&temp, "leaving WAL mode", &e))?;
            // The copy holds what the source holds: name the source.
            check(&copy, &temp, true).map_err(|e| match e {
                StoreError::Damaged { verdict, .. } => StoreError::Damaged {
                    path: source_path.to_path_buf(),
                    verdict,
                    restore_from: None,
                },
                other => other,
            })?
        };
        let file =
            File::open(&temp).map_err(|e| file_error(&temp, "opening the copy", e.to_string()))?;
        file.sync_all()
            .map_err(|e| file_error(&temp, "flushing the copy to disk", e.to_string()))?;
        if let Some((metadata, keep_as)) = replacing {
            match_owner(&temp, metadata)?;
            if let Some(keep_as) = keep_as {
                keep_previous(dest, keep_as)?;
            }
        }
        if replace {
            fs::rename(&temp, dest)
        } else {
            // A hard link fails if `dest` appeared meanwhile: never clobber.
            fs::hard_link(&temp, dest).and_then(|()| fs::remove_file(&temp))
        }
        .map_err(|e| file_error(dest, "giving the copy its name", e.to_string()))?;
        sync_dir(dest)?;
        facts.path = dest.to_path_buf();
        Ok(facts)
    })();
    if outcome.is_err() {
        let _ = fs::remove_file(&temp);
        let _ = fs::remove_file(with_suffix(&temp, "-journal"));
    }
    outcome
}

/// Keeps the database about to be replaced as `keep_as` (a hard link, so the
/// database keeps its name until the rename), moves its `-wal` along so that
/// copy is complete and the new file never meets an old WAL, and removes the
/// `-shm` (an index of the WAL, rebuilt on the next open). Only called with
/// the lock held, so no connection has the files open.
fn keep_previous(db: &Path, keep_as: &Path) -> Result<(), StoreError> {
    let what = "keeping the replaced database";
    // Folds the log into the file, so the kept copy is one file; a file too
    // damaged for that keeps its -wal beside it instead (below).
    if let Ok(conn) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    // Never replaces anything: `keep_as` is a name no file has.
    fs::hard_link(db, keep_as).map_err(|e| file_error(keep_as, what, e.to_string()))?;
    let wal = with_suffix(db, "-wal");
    if wal.exists() {
        fs::rename(&wal, with_suffix(keep_as, "-wal"))
            .map_err(|e| file_error(&wal, what, e.to_string()))?;
    }
    let shm = with_suffix(db, "-shm");
    match fs::remove_file(&shm) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(file_error(&shm, what, e.to_string()))
        }
        _ => Ok(()),
    }
}

/// Gives the new file the replaced file's owner and mode, so a restore run
/// as root leaves a database the service user can still write.
fn match_owner(path: &Path, previous: &fs::Metadata) -> Result<(), StoreError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let what = "giving the copy the database's owner and mode";
    let current = fs::metadata(path).map_err(|e| file_error(path, what, e.to_string()))?;
    if (current.uid(), current.gid()) != (previous.uid(), previous.gid()) {
        std::os::unix::fs::chown(path, Some(previous.uid()), Some(previous.gid()))
            .map_err(|e| file_error(path, what, e.to_string()))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(previous.mode() & 0o7777))
        .map_err(|e| file_error(path, what, e.to_string()))
}

/// Makes a rename in `path`'s directory survive a power cut.
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| file_error(dir, "flushing the directory to disk", e.to_string()))
}

/// `PATH` + `suffix` + `-YYYYMMDDTHHMMSSZ` (and `-2`, `-3`, ... after it if
/// taken): a name for a kept copy that no earlier copy (nor its `-wal`) has.
fn unused_name(path: &Path, suffix: &str) -> PathBuf {
    let stamp: String = crate::clock::now()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = with_suffix(path, &format!("{suffix}-{stamp}"));
    let taken = |p: &Path| p.exists() || with_suffix(p, "-wal").exists();
    let mut candidate = base.clone();
    let mut n = 1;
    while taken(&candidate) {
        n += 1;
        candidate = with_suffix(&base, &format!("-{n}"));
    }
    candidate
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_error(path: &Path, what: &str, detail: String) -> StoreError {
    StoreError::File {
        path: path.to_path_buf(),
        what: what.into(),
        detail,
    }
}
