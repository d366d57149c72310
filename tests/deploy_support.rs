//! What the deployment tests share: a monitor process that is always
//! stopped, polling with a deadline, and damaging a database file on purpose.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{archivist, sqlite};

/// How long any wait in these tests may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Pause between polls: short against any deadline here.
const POLL: Duration = Duration::from_millis(20);

/// A running `archivist` process; killed and reaped on drop.
pub struct Running {
    pub child: Child,
}

impl Running {
    /// Starts `archivist --db DB monitor ARGS` against a station.
    pub fn monitor(db: &Path, api_url: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command: Command = archivist();
        command
            .arg("--db")
            .arg(db)
            .arg("monitor")
            // A free port for the status page, whichever tests run at once.
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("CABLECAST_API_URL", api_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        Running {
            child: command.spawn().expect("archivist starts"),
        }
    }

    /// Stops the process now and waits for it to be gone.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `ready` until it holds, failing the test after `DEADLINE`.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// Cycles recorded in the database so far (0 while it does not exist yet).
pub fn cycles(db: &Path) -> i64 {
    if !db.exists() {
        return 0;
    }
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| {
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.query_row("SELECT count(*) FROM monitor_cycle", [], |row| row.get(0))
        })
        .unwrap_or(0)
}

/// Overwrites the page at which `object` (a table or index) starts with
/// garbage, leaving the schema page readable: the file opens, and the
/// integrity check finds the damage. The file must be closed (no -wal).
pub fn damage_page_of(db: &Path, object: &str) {
    let (page, page_size): (i64, i64) = {
        let conn = sqlite(db);
        let page = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                [object],
                |row| row.get(0),
            )
            .expect("object exists");
        let size = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("page size");
        (page, size)
    };
    assert!(page > 1, "{object} starts on page {page}");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(db)
        .expect("database opens for writing");
    file.seek(SeekFrom::Start(((page - 1) * page_size) as u64))
        .expect("seek");
    file.write_all(&vec![0xA5; page_size as usize])
        .expect("garbage written");
}
