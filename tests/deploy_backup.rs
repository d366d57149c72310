//! `archivist backup` and `archivist restore`: consistent copies while the
//! monitor writes, refusals that leave the database alone, and the
//! integrity check at start that turns a damaged database read-only.

use std::path::Path;

use crate::deploy_support::{cycles, damage_page_of, wait_until, Running};
use crate::support::run_on;
use crate::support::{self, archivist, sqlite, stderr, stdout, stored_vods, Scratch};

fn backup(db: &Path, dest: &Path, extra: &[&str]) -> std::process::Output {
    archivist()
        .arg("--db")
        .arg(db)
        .arg("backup")
        .arg(dest)
        .args(extra)
        .output()
        .expect("archivist runs")
}

fn restore(db: &Path, src: &Path) -> std::process::Output {
    archivist()
        .arg("--db")
        .arg(db)
        .arg("restore")
        .arg(src)
        .output()
        .expect("archivist runs")
}

fn integrity(db: &Path) -> String {
    sqlite(db)
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity check runs")
}

/// Names in a directory, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("directory reads")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The `archivist.db.before-restore-*` copies in `dir` (no -wal/-shm), sorted.
fn kept_copies(dir: &Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|n| n.starts_with("archivist.db.before-restore-") && !n.contains("-wal"))
        .filter(|n| !n.ends_with("-shm"))
        .collect()
}

/// A database with one cycle against a small station, and that station.
fn station_and_db(scratch: &Scratch) -> archivist::demo::DemoStation {
    let station = support::station(40);
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    station
}

#[test]
fn backup_while_the_monitor_writes_is_one_consistent_moment() {
    let scratch = Scratch::new();
    let station = support::station(200);
    let db = scratch.db();
    let monitor = Running::monitor(&db, &station.api_url(), &["--interval", "1"], &[]);
    wait_until("the first cycle", || cycles(&db) >= 1);

    // Another writer commits a pair of rows that must always agree: a copy
    // of any one moment has as many probe rows as the counter says.
    sqlite(&db)
        .execute_batch(
            "CREATE TABLE backup_probe (n INTEGER PRIMARY KEY);
             INSERT INTO archivist_meta (key, value) VALUES ('probe', '0');",
        )
        .expect("probe table");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let conn = sqlite(&db);
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .expect("busy timeout");
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE;
                     INSERT INTO backup_probe (n) VALUES ({n});
                     UPDATE archivist_meta SET value = '{n}' WHERE key = 'probe';
                     COMMIT;"
                ))
                .expect("probe write");
            }
            n
        })
    };
    for round in 0..4 {
        station.catalogue().advance();
        let dest = scratch.path(&format!("copy-{round}.db"));
        let out = backup(&db, &dest, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let line = stdout(&out);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains(&dest.display().to_string()), "{line}");
        assert!(line.contains("bytes"), "{line}");
        assert_eq!(integrity(&dest), "ok");
        let (rows, counter): (i64, String) = sqlite(&dest)
            .query_row(
                "SELECT (SELECT count(*) FROM backup_probe), value FROM archivist_meta WHERE key = 'probe'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("probe reads");
        assert_eq!(rows.to_string(), counter, "copy {round} is torn");
        assert!(
            !scratch.path(&format!("copy-{round}.db-wal")).exists(),
            "a copy is one file"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let probes = writer.join().expect("writer thread");
    assert!(probes > 0);
    monitor.stop();

    // Quiet now: a copy holds exactly what the database holds.
    let dest = scratch.path("quiet.db");
    let out = backup(&db, &dest, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&dest), stored_vods(&db));
    assert_eq!(cycles(&dest), cycles(&db));
    assert!(
        !files_in(scratch.dir.path())
            .iter()
            .any(|n| n.contains(".partial-")),
        "no temporary file left"
    );
}

#[test]
fn backup_does_not_replace_a_file_unless_forced() {
    let scratch = Scratch::new();
    let _station = station_and_db(&scratch);
    let dest = scratch.path("copy.db");
    std::fs::write(&dest, "an engineer's file").expect("file written");
    let out = backup(&scratch.db(), &dest, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&dest).expect("file reads"),
        "an engineer's file"
    );
    let out = backup(&scratch.db(), &dest, &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(integrity(&dest), "ok");
}

#[test]
fn restore_refuses_while_a_monitor_runs_and_works_once_it_stopped() {
    let scratch = Scratch::new();
    let station = station_and_db(&scratch);
    let db = scratch.db();
    let saved = scratch.path("saved.db");
    assert!(backup(&db, &saved, &[]).status.success());
    let saved_vods = stored_vods(&saved);

    station.catalogue().advance();
    let before = cycles(&db);
    let monitor = Running::monitor(&db, &station.api_url(), &["--interval", "300"], &[]);
    wait_until("the monitor's cycle", || cycles(&db) > before);
    let out = restore(&db, &saved);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("in use by monitor"), "{err}");
    assert!(err.contains("systemctl stop archivist"), "{err}");
    assert_ne!(stored_vods(&db), saved_vods, "the station moved on");

    monitor.stop();
    let live_vods = stored_vods(&db);
    let out = restore(&db, &saved);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("before-restore"), "{}", stdout(&out));
    assert_eq!(stored_vods(&db), saved_vods);
    assert_eq!(integrity(&db), "ok");
    let previous = kept_copies(&scratch.path("."));
    assert_eq!(previous.len(), 1, "{previous:?}");
    let previous = scratch.path(&previous[0]);
    assert_eq!(
        stored_vods(&previous),
        live_vods,
        "the replaced file is kept whole"
    );

    // The restored file is the service's again: a monitor runs on it.
    let out = support::single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn restore_refuses_damaged_foreign_newer_and_missing_files() {
    let scratch = Scratch::new();
    let _station = station_and_db(&scratch);
    let db = scratch.db();
    let good = scratch.path("good.db");
    assert!(backup(&db, &good, &[]).status.success());

    let damaged = scratch.path("damaged.db");
    std::fs::copy(&good, &damaged).expect("copy");
    damage_page_of(&damaged, "cablecast_vod");
    let foreign = scratch.path("playout.db");
    sqlite(&foreign)
        .execute_batch("CREATE TABLE playlist (id INTEGER PRIMARY KEY, clip TEXT)")
        .expect("foreign file");
    let newer = scratch.path("newer.db");
    std::fs::copy(&good, &newer).expect("copy");
    sqlite(&newer)
        .execute_batch("PRAGMA user_version = 99")
        .expect("version set");

    let vods = stored_vods(&db);
    let files = files_in(scratch.dir.path());
    let cases = [
        (damaged, "integrity check"),
        (foreign, "another program"),
        (newer, "newer than this archivist"),
        (scratch.path("missing.db"), "no such file"),
    ];
    for (src, says) in cases {
        let out = restore(&db, &src);
        assert_eq!(out.status.code(), Some(1), "{}", src.display());
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{}: {err}", src.display());
        assert!(err.contains(&src.display().to_string()), "{err}");
        assert_eq!(stored_vods(&db), vods, "database unchanged");
    }
    let mut after = files_in(scratch.dir.path());
    after.retain(|n| !n.ends_with(".lock"));
    let mut expected = files;
    expected.retain(|n| !n.ends_with(".lock"));
    assert_eq!(after, expected, "no file left behind");
}

#[test]
fn damaged_database_is_never_written_and_says_how_to_restore() {
    let scratch = Scratch::new();
    let station = station_and_db(&scratch);
    let db = scratch.db();
    let backups = scratch.path("backups");
    std::fs::create_dir(&backups).expect("backups directory");
    for day in ["2026-11-28", "2026-11-29"] {
        let out = backup(&db, &backups.join(format!("archivist-{day}.db")), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    damage_page_of(&db, "idx_vod_state");
    let requests = station.requests();
    let bytes = std::fs::read(&db).expect("database reads");

    let out = support::single_run(&db, &station.api_url(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("failed its integrity check"), "{err}");
    assert!(
        err.contains("archivist restore") && err.contains("archivist-2026-11-29.db"),
        "names the newest backup: {err}"
    );
    assert_eq!(station.requests(), requests, "no cycle ran");

    let out = run_on(&db, &["init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("integrity check"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&db).expect("database reads"),
        bytes,
        "not written"
    );

    // The backup is the way back.
    let out = restore(&db, &backups.join("archivist-2026-11-29.db"));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = support::single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn restore_twice_keeps_every_replaced_database_whole() {
    let scratch = Scratch::new();
    let station = station_and_db(&scratch);
    let db = scratch.db();
    let saved = scratch.path("saved.db");
    assert!(backup(&db, &saved, &[]).status.success());

    // Two different live states, each replaced by the same backup in turn.
    let mut replaced = Vec::new();
    for _ in 0..2 {
        station.catalogue().advance();
        let out = support::single_run(&db, &station.api_url(), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        replaced.push(stored_vods(&db));
        let out = restore(&db, &saved);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_ne!(
        replaced[0], replaced[1],
        "the station moved between restores"
    );
    let kept = kept_copies(&scratch.path("."));
    assert_eq!(kept.len(), 2, "{:?}", files_in(&scratch.path(".")));
    for (name, vods) in kept.iter().zip(&replaced) {
        let copy = scratch.path(name);
        // One self-contained file: its log was folded in before the move.
        let wal = scratch.path(&format!("{name}-wal"));
        assert!(
            std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
            "{name} left a log"
        );
        assert_eq!(integrity(&copy), "ok");
        assert_eq!(&stored_vods(&copy), vods, "{name} is the state it replaced");
    }
}

#[test]
fn restore_from_a_directory_says_it_is_one() {
    let scratch = Scratch::new();
    let _station = station_and_db(&scratch);
    let backups = scratch.path("backups");
    std::fs::create_dir(&backups).expect("backups directory");
    let out = restore(&scratch.db(), &backups);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is a directory"), "{err}");
    assert!(!err.contains("no such file"), "{err}");
}

#[test]
fn serve_serves_the_restored_file() {
    let scratch = Scratch::new();
    let small = support::station(5);
    let small_db = scratch.path("small.db");
    let out = support::single_run(&small_db, &small.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let _station = station_and_db(&scratch);
    let db = scratch.db();
    let total = |addr| {
        let (code, body) = crate::support::http::get(addr, "/api/status");
        assert_eq!(code, 200, "{body}");
        let body = body.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let json: serde_json::Value = serde_json::from_str(body).expect("json");
        json["total_vods"].as_i64().expect("total_vods")
    };
    let mut command = archivist();
    command
        .arg("--db")
        .arg(&db)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let serve = crate::support::child::Running::start(command);
    serve.wait_for("serving ", 1, std::time::Duration::from_secs(20));
    let line = serve.log();
    let addr: std::net::SocketAddr = line
        .rsplit("http://")
        .next()
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line}"));
    let before = total(addr);
    let restored = stored_vods(&small_db).len() as i64;
    assert_ne!(before, restored);
    let out = restore(&db, &small_db);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        crate::support::wait_until(std::time::Duration::from_secs(10), || {
            std::panic::catch_unwind(|| total(addr)).ok() == Some(restored)
        }),
        "serve still shows {before} VODs, not the restored {restored}; log:\n{}",
        serve.log()
    );
}
