//! Shared helpers: temporary databases, the real binary, a demo station.

#![allow(dead_code)]

pub mod child;
pub mod http;
pub mod mounts;
pub mod raw;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use archivist::demo::{DemoStation, StationOptions};

/// A temporary directory holding one test's database; removed on drop.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.path("archivist.db")
    }
}

/// The `archivist` binary under test, with a clean environment: nothing from
/// the developer's shell leaks in.
pub fn archivist() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_archivist"));
    command.env_clear();
    command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// `archivist --db DB ARGS...`, run to the end.
pub fn run_on(db: &Path, args: &[&str]) -> Output {
    archivist()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("archivist runs")
}

/// `archivist --db DB monitor --single-run` against a station.
pub fn single_run(db: &Path, api_url: &str, extra_env: &[(&str, &str)]) -> Output {
    let mut command = archivist();
    command
        .arg("--db")
        .arg(db)
        .args(["monitor", "--single-run", "--http-timeout", "2"])
        .env("CABLECAST_API_URL", api_url);
    for (key, value) in extra_env {
        command.env(key, value);
    }
    command.output().expect("archivist runs")
}

/// A demo station of `shows` shows on a free loopback port.
pub fn station(shows: usize) -> DemoStation {
    DemoStation::start(StationOptions {
        shows,
        ..StationOptions::default()
    })
    .expect("demo station starts")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one `archivist:` line a failed command ends with (and no panic).
pub fn error_line(out: &Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("archivist:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

/// Opens the database as an engineer's sqlite3 session would.
pub fn sqlite(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).expect("database opens")
}

/// `SELECT vod_state, count(*) ... GROUP BY vod_state`, sorted.
pub fn counts_by_state(db: &Path) -> Vec<(String, i64)> {
    let conn = sqlite(db);
    let mut select = conn
        .prepare(
            "SELECT vod_state, count(*) FROM cablecast_vod GROUP BY vod_state ORDER BY vod_state",
        )
        .expect("query prepares");
    let rows = select
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query runs");
    rows.collect::<Result<_, _>>().expect("rows read")
}

/// Every stored VOD as (id, state, percent), sorted by id.
pub fn stored_vods(db: &Path) -> Vec<(i64, String, Option<f64>)> {
    let conn = sqlite(db);
    let mut select = conn
        .prepare("SELECT id, vod_state, percent_complete FROM cablecast_vod ORDER BY id")
        .expect("query prepares");
    let rows = select
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("query runs");
    rows.collect::<Result<_, _>>().expect("rows read")
}

/// Every VOD the station serves as (id, state, percent), sorted by id.
pub fn served_vods(station: &DemoStation) -> Vec<(i64, String, Option<f64>)> {
    let mut vods: Vec<_> = station
        .catalogue()
        .vods
        .iter()
        .map(|v| (v.id, v.state.clone(), Some(v.percent)))
        .collect();
    vods.sort_by_key(|v| v.0);
    vods
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; says which.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `PRAGMA integrity_check`, as an engineer would run it.
pub fn integrity(db: &Path) -> String {
    let conn = sqlite(db);
    let mut check = conn
        .prepare("PRAGMA integrity_check")
        .expect("check prepares");
    let rows = check.query_map([], |r| r.get(0)).expect("check runs");
    let lines: Vec<String> = rows.collect::<Result<_, _>>().expect("check rows");
    lines.join("; ")
}

/// One number from the database (0 when the table does not exist yet).
pub fn number(db: &Path, sql: &str) -> i64 {
    sqlite(db).query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

/// Cycles recorded so far.
pub fn cycles(db: &Path) -> i64 {
    number(db, "SELECT count(*) FROM monitor_cycle")
}

/// Whether the newest recorded cycle reached Cablecast.
pub fn last_reachable(db: &Path) -> Option<bool> {
    sqlite(db)
        .query_row(
            "SELECT cablecast_reachable FROM monitor_cycle ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .ok()
}

/// Waits for `n` more recorded cycles than `after`.
pub fn wait_for_cycles(db: &Path, after: i64, n: i64, timeout: Duration) -> bool {
    wait_until(timeout, || cycles(db) >= after + n)
}
