//! The database's lock file, `archivist.db.lock` next to `archivist.db`: held
//! by a running monitor (and by `restore` while it swaps the file) for as
//! long as it runs, so `restore` can tell for certain whether the service is
//! using the database.
//!
//! Why a lock file with `flock(2)` rather than SQLite's own locks or a pid
//! file: in WAL mode a monitor between cycles holds no SQLite lock another
//! process can see apart from the shared-memory lock every reader holds too,
//! so SQLite cannot tell the monitor from a `status` command or an engineer
//! reading with sqlite3. A pid file goes stale when the process is killed (the
//! watchdog does exactly that) and the pid can be reused. The kernel drops a
//! `flock` when the process exits however it exits, so the lock is never
//! stale, and nothing but Archivist takes it.
//!
//! What this is not: it does not guard against a second writer in general
//! (SQLite's transactions do that); it only answers "is a monitor running".

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::StoreError;

/// Held while a monitor or a restore uses the database; released on drop
/// (and by the kernel if the process dies).
#[derive(Debug)]
pub struct DatabaseLock {
    path: PathBuf,
    _file: File,
}

impl DatabaseLock {
    /// The lock file of a database file.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock of `db` without waiting. `holder` ("monitor",
    /// "restore") goes into the file so the refusal can name who holds it.
    pub fn acquire(db: &Path, holder: &str) -> Result<DatabaseLock, StoreError> {
        let path = Self::path_for(db);
        let failed = |detail: String| StoreError::File {
            path: path.clone(),
            what: "taking the database lock".into(),
            detail,
        };
        // A lock file left by another user (say, root running `restore`) may
        // not be writable; flock works on a read-only descriptor too.
        let mut file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && path.exists() => {
                File::open(&path).map_err(|e| failed(e.to_string()))?
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        match try_flock(&file) {
            Ok(true) => {}
            Ok(false) => {
                let mut who = String::new();
                let _ = file.read_to_string(&mut who);
                return Err(StoreError::InUse {
                    path: db.to_path_buf(),
                    holder: who.trim().to_string(),
                });
            }
            Err(e) => return Err(failed(e.to_string())),
        }
        // Best effort: the note only makes a refusal clearer.
        let note = format!("{holder} (process {})\n", std::process::id());
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(note.as_bytes()));
        Ok(DatabaseLock { path, _file: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when another process holds it.
/// The lock belongs to the open file and goes when it is closed.
fn try_flock(file: &File) -> std::io::Result<bool> {
    loop {
        // SAFETY: flock only reads the descriptor, which `file` keeps open
        // for the duration of the call.
        let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if result == 0 {
            return Ok(true);
        }
        let error = std::io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(error),
        }
    }
}
