//! The database under attack: another process holding the write lock, the
//! file or its directory read-only, the disk full, garbage over the file's
//! pages, and files that are not Archivist's. Each gets one clear line that
//! names the file and the cause, and what was committed stays committed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::child::Running;
use crate::support::mounts::{Immutable, ReadOnlyView, SmallDisk};
use crate::support::{
    self, integrity, last_reachable, number, served_vods, single_run, sqlite, stderr, stored_vods,
    wait_until, Scratch,
};
use crate::support::{error_line, run_on};

fn status(db: &Path) -> std::process::Output {
    run_on(db, &["status", "--json"])
}

/// An engineer's `sqlite3` shell on the file, fed line by line; quits on
/// drop.
struct Sqlite3 {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Sqlite3 {
    fn open(db: &Path) -> Sqlite3 {
        let mut child = Command::new("sqlite3")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("this test needs the sqlite3 CLI (apt-get install sqlite3)");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Sqlite3 { child, out }
    }

    /// Runs `sql` and waits for its marker line, so the statement is known
    /// to have run.
    fn run(&mut self, sql: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{sql}\nSELECT 'done';").expect("sqlite3 input");
        stdin.flush().expect("flush");
        let mut line = String::new();
        while line.trim() != "done" {
            line.clear();
            let n = self.out.read_line(&mut line).expect("sqlite3 output");
            assert!(n > 0, "sqlite3 ended early");
        }
    }
}

impl Drop for Sqlite3 {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs the sqlite3 CLI; .ci/run runs it"]
fn a_write_lock_held_by_sqlite3_delays_a_running_monitor_and_loses_nothing() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(60);
    let monitor = Running::monitor(&db, &station.api_url(), &[], &[]);
    assert!(wait_until(Duration::from_secs(20), || last_reachable(&db)
        == Some(true)));
    let mut engineer = Sqlite3::open(&db);
    engineer.run("BEGIN IMMEDIATE;");
    // While the lock is held, Cablecast moves every in-flight VOD on.
    for vod in station.catalogue().vods.iter_mut() {
        if ["unknown", "queued", "processing", "partial", "waiting"].contains(&vod.state.as_str()) {
            vod.state = "complete".into();
            vod.percent = 1.0;
        }
    }
    monitor.wait_for("locked by another process", 1, Duration::from_secs(20));
    // Readers are not blocked by a writer in WAL mode: `status` answers
    // while the lock is held (a blocked reader would fail with "locked").
    let out = status(&db);
    assert!(out.status.success(), "{}", stderr(&out));
    // Hold the lock past one busy timeout: the fault under test.
    std::thread::sleep(archivist::store::BUSY_TIMEOUT + Duration::from_secs(1));
    engineer.run("COMMIT;");
    drop(engineer);
    let caught_up = wait_until(Duration::from_secs(20), || {
        stored_vods(&db) == served_vods(&station)
    });
    if !caught_up {
        let stored = stored_vods(&db);
        let served = served_vods(&station);
        let differ: Vec<_> = stored.iter().filter(|v| !served.contains(v)).collect();
        panic!(
            "the monitor did not catch up: {differ:?}\n{}",
            monitor.log()
        );
    }
    assert!(
        monitor.count("locked by another process") <= 3,
        "{}",
        monitor.log()
    );
    assert_eq!(integrity(&db), "ok");
}

#[test]
#[ignore = "needs root (mount, chattr); .ci/run runs it"]
fn a_read_only_directory_is_named_and_nothing_is_lost() {
    let scratch = Scratch::new();
    let station = support::station(40);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let known = stored_vods(&scratch.db());
    station.catalogue().advance();

    let view = ReadOnlyView::of(scratch.dir.path());
    let db = view.path("archivist.db");
    let out = single_run(&db, &station.api_url(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains(&db.display().to_string()), "{line}");
    assert!(line.contains("Read-only file system"), "{line}");
    // Reading needs the WAL index beside the file, which a read-only
    // directory cannot hold: refused too, with the same cause.
    let out = status(&db);
    if !out.status.success() {
        let line = error_line(&out);
        assert!(line.contains(&db.display().to_string()), "{line}");
        assert!(line.contains("Read-only file system"), "{line}");
    }
    drop(view);
    assert_eq!(stored_vods(&scratch.db()), known);
    assert_eq!(integrity(&scratch.db()), "ok");
}

#[test]
#[ignore = "needs root (mount, chattr); .ci/run runs it"]
fn an_immutable_file_is_named_and_nothing_is_lost() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(40);
    let out = single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let known = stored_vods(&db);
    station.catalogue().advance();
    let guard = Immutable::make(&db);
    let out = single_run(&db, &station.api_url(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains(&db.display().to_string()), "{line}");
    assert!(
        line.contains("read-only") || line.contains("readonly"),
        "{line}"
    );
    let out = status(&db);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(guard);
    assert_eq!(stored_vods(&db), known);
    let out = single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&db), served_vods(&station));
}

#[test]
#[ignore = "needs root (mount, chattr); .ci/run runs it"]
fn a_full_disk_is_named_and_committed_pages_stay() {
    let disk = SmallDisk::mount("2m");
    let db = disk.path("archivist.db");
    let station = support::station(6000);
    let out = single_run(&db, &station.api_url(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains(&db.display().to_string()), "{line}");
    assert!(line.contains("full"), "{line}");
    assert_eq!(integrity(&db), "ok");
    let stored = number(&db, "SELECT count(*) FROM cablecast_show");
    assert_eq!(
        stored % archivist::cablecast::PAGE_SIZE as i64,
        0,
        "a page was half applied"
    );

    // More room: the next run finishes the job.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(disk.dir.path())
        .status()
        .expect("mount runs");
    assert!(grown.success());
    let out = single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&db), served_vods(&station));
}

#[test]
fn garbage_over_the_pages_is_refused_with_the_file_named() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(300);
    let out = single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Everything into the main file, so the noise hits real pages.
    sqlite(&db)
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    let page_size = number(&db, "PRAGMA page_size") as usize;
    let mut bytes = std::fs::read(&db).expect("read database");
    let pages = bytes.len() / page_size;
    assert!(pages > 12, "{pages} pages");
    // A failing disk: noise over a run of pages in the middle.
    let mut noise = 0x9E37_79B9_7F4A_7C15u64;
    for byte in &mut bytes[4 * page_size..10 * page_size] {
        noise ^= noise << 13;
        noise ^= noise >> 7;
        noise ^= noise << 17;
        *byte = noise as u8;
    }
    std::fs::write(&db, &bytes).expect("write garbage");
    for out in [single_run(&db, &station.api_url(), &[]), status(&db)] {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let line = error_line(&out);
        assert!(line.contains(&db.display().to_string()), "{line}");
        assert!(
            line.contains("malformed") || line.contains("corrupt"),
            "{line}"
        );
    }
    // The damaged file is left as it was for recovery, not written over.
    assert!(
        std::fs::read(&db).expect("read") == bytes,
        "the damaged file was written to"
    );
}

#[test]
fn files_that_are_not_archivists_are_refused_untouched() {
    let scratch = Scratch::new();
    let station = support::station(10);
    let foreign = scratch.path("billing.db");
    sqlite(&foreign)
        .execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
        .expect("foreign db");
    let before = std::fs::read(&foreign).expect("read");
    let directory = scratch.path("a-directory");
    std::fs::create_dir(&directory).expect("dir");
    let nowhere = scratch.path("no/such/dir/archivist.db");
    for path in [&foreign, &directory, &nowhere] {
        for out in [single_run(path, &station.api_url(), &[]), status(path)] {
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            let line = error_line(&out);
            assert!(line.contains(&path.display().to_string()), "{line}");
            assert!(
                line.contains("another program")
                    || line.contains("is a directory")
                    || line.contains("does not exist"),
                "{line}"
            );
        }
    }
    assert!(
        std::fs::read(&foreign).expect("read") == before,
        "the other program's file was written to"
    );
    assert!(!nowhere.exists());
}

#[test]
#[ignore = "needs root (mount, chattr); .ci/run runs it"]
fn a_disk_that_fills_under_a_running_monitor_is_survived() {
    let disk = SmallDisk::mount("4m");
    let db = disk.path("archivist.db");
    let station = support::station(200);
    let monitor = Running::monitor(&db, &station.api_url(), &[], &[]);
    assert!(wait_until(Duration::from_secs(20), || last_reachable(&db)
        == Some(true)));
    let known = stored_vods(&db);
    // Something else on the box takes every byte left.
    let filler = disk.path("filler");
    let mut file = std::fs::File::create(&filler).expect("filler");
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    drop(file);
    // Cablecast moves on meanwhile; the writes fail.
    let moved: Vec<i64> = {
        let mut catalogue = station.catalogue();
        let mut moved = Vec::new();
        for vod in catalogue.vods.iter_mut() {
            if ["queued", "processing", "waiting"].contains(&vod.state.as_str()) {
                vod.state = "complete".into();
                vod.percent = 1.0;
                moved.push(vod.id);
            }
        }
        moved
    };
    assert!(!moved.is_empty());
    monitor.wait_for("full", 1, Duration::from_secs(20));
    let failing = monitor.lines().len();
    assert!(
        wait_until(Duration::from_secs(20), || monitor.lines().len()
            >= failing + 6),
        "the monitor went quiet: {}",
        monitor.log()
    );
    let full_lines = monitor.count("disk is full");
    // What was committed is still there and still readable.
    assert_eq!(integrity(&db), "ok");
    let stored = stored_vods(&db);
    assert_eq!(stored.len(), known.len());
    // Room again: the monitor catches up by itself.
    std::fs::remove_file(&filler).expect("free the disk");
    assert!(
        wait_until(Duration::from_secs(20), || stored_vods(&db)
            == served_vods(&station)),
        "{}",
        monitor.log()
    );
    monitor.wait_for("database writes work again", 1, Duration::from_secs(10));
    assert_eq!(
        full_lines,
        1,
        "the full disk was logged more than once: {}",
        monitor.log()
    );
}
