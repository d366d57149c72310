//! What the engineer reads when the service meets its surroundings: a port
//! the service user may not bind, a folder it may not write, a backup folder
//! that is not there, a damaged file, a one-off run. One clear line each,
//! naming the thing to fix.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use crate::deploy_support::damage_page_of;
use crate::support::child::Running;
use crate::support::mounts::ReadOnlyView;
use crate::support::{self, archivist, error_line, run_on, stderr, Scratch};

/// Lets every user into `dir` and read `file` (the scratch folder is private).
fn open_to_all(dir: &Path, file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [(dir, 0o755), (file, 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

#[test]
#[ignore = "needs root (runs the binary as another user); .ci/run runs it"]
fn a_privileged_port_says_permission_not_another_program() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test runs `serve` as the unprivileged user nobody, which needs root"
    );
    let scratch = Scratch::new();
    let db = scratch.db();
    let out = run_on(&db, &["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    open_to_all(scratch.dir.path(), &db);
    let out = archivist()
        .arg("--db")
        .arg(&db)
        .args(["serve", "--listen", "127.0.0.1:81"])
        .uid(65534)
        .gid(65534)
        .output()
        .expect("archivist runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains("below 1024"), "{line}");
    assert!(line.contains("port 81"), "{line}");
    assert!(!line.contains("another"), "{line}");
}

#[test]
#[ignore = "needs root (a read-only bind mount); .ci/run runs it"]
fn a_folder_the_database_cannot_be_written_in_is_named() {
    let scratch = Scratch::new();
    let view = ReadOnlyView::of(scratch.dir.path());
    let db = view.path("archivist.db");
    let out = run_on(&db, &["init"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(
        line.contains(&format!(
            "the folder {} is not writable",
            view.dir.path().display()
        )),
        "{line}"
    );
}

#[test]
fn a_missing_backup_folder_is_said() {
    let scratch = Scratch::new();
    let db = scratch.db();
    assert!(run_on(&db, &["init"]).status.success());
    let folder = scratch.path("backups");
    let dest = folder.join("archivist-2026-12-01.db");
    let out = run_on(&db, &["backup", dest.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(
        line.contains(&format!("the folder {} does not exist", folder.display())),
        "{line}"
    );
    assert!(!line.contains("CannotOpen"), "{line}");
}

#[test]
fn a_single_run_does_not_promise_cycles() {
    let scratch = Scratch::new();
    // Nothing listens on the discard port: Cablecast is unreachable.
    let out = support::single_run(&scratch.db(), "http://127.0.0.1:9/CablecastAPI/v1", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("once"), "{err}");
    assert!(!err.contains("every 300 s"), "{err}");
    assert!(!err.contains("retrying every cycle"), "{err}");
}

#[test]
fn a_damaged_database_is_one_log_line_and_status_names_the_backup() {
    let scratch = Scratch::new();
    let station = support::station(200);
    let db = scratch.db();
    let out = support::single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let backups = scratch.path("backups");
    std::fs::create_dir(&backups).expect("backups folder");
    let newest = backups.join("archivist-2026-11-30.db");
    let out = run_on(&db, &["backup", newest.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Folds the log into the file, so the damage below is what SQLite reads.
    support::sqlite(&db)
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");

    // An index with many broken entries: the check lists a problem per row.
    let index = scratch.path("index.db");
    std::fs::copy(&db, &index).expect("copy");
    damage_page_of(&index, "sqlite_autoindex_cablecast_show_1");
    let monitor = Running::monitor(&index, &station.api_url(), &[], &[]);
    monitor.wait_for("status page on", 1, Duration::from_secs(20));
    let lines = monitor.lines();
    let integrity: Vec<_> = lines
        .iter()
        .filter(|l| l.text.contains("integrity"))
        .collect();
    assert_eq!(integrity.len(), 1, "{}", monitor.log());
    // Every line of the log is a log line (a timestamp first), none a
    // continuation of the verdict.
    assert!(
        lines.iter().all(|l| l.text.starts_with("20")),
        "{}",
        monitor.log()
    );
    drop(monitor);

    // The index the figures are read through: reading them fails.
    damage_page_of(&db, "idx_vod_state");
    let out = run_on(&db, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains("failed its integrity check"), "{line}");
    assert!(
        line.contains(&format!("archivist restore {}", newest.display())),
        "{line}"
    );
    assert!(!line.contains("out of memory"), "{line}");
}
