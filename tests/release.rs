//! A release people can use from a terminal: output into a closed pipe,
//! typo suggestions, what a failed connection to Cablecast says, the demo's
//! console, and the version the changelog and `--version` agree on.

use archivist::store::SCHEMA_VERSION;
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::raw::{RawMode, RawStation};
use crate::support::{
    archivist, error_line, single_run, station, stderr, stdout, wait_until, Scratch,
};

/// A write end of a pipe whose read end is already closed: the first write
/// to it fails with EPIPE, as `archivist status | head` does once `head` has
/// its lines.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two new descriptors, each owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: fds[0] and fds[1] are open and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

/// `archivist --db DB ARGS` with its output into a closed pipe.
fn into_closed_pipe(db: &Path, args: &[&str]) -> Output {
    archivist()
        .arg("--db")
        .arg(db)
        .args(args)
        .stdout(closed_pipe())
        .output()
        .expect("archivist runs")
}

#[test]
fn every_command_is_quiet_and_succeeds_when_its_reader_goes_away() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let demo = station(60);
    let out = single_run(&db, &demo.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["status", "--failed"],
        &["status", "--failed", "--json"],
        &["status", "--stuck"],
        &["alerts", "list"],
        &["alerts", "list", "--json"],
        &["transcriptions", "list"],
        &["transcriptions", "list", "--needs-captions"],
        &["--version"],
        &["help"],
        &["status", "--help"],
    ] {
        let out = into_closed_pipe(&db, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} into a closed pipe: {}",
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "{args:?} says nothing on stderr");
    }
    // The same commands still fail as before when the failure is not the
    // reader's: a missing database is exit 1 with its one line.
    let out = into_closed_pipe(&scratch.path("missing.db"), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(error_line(&out).contains("no such file"));
}

#[test]
fn a_mistyped_flag_or_command_gets_the_nearest_one() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let said = |args: &[&str]| {
        let out = archivist()
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .expect("archivist runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        error_line(&out)
    };
    assert!(said(&["status", "--stuk"]).contains("did you mean --stuck?"));
    assert!(said(&["status", "--faild"]).contains("did you mean --failed?"));
    assert!(said(&["stauts"]).contains("did you mean status?"));
    assert!(said(&["alerts", "lst"]).contains("did you mean alerts list?"));
    assert!(said(&["transcriptions", "list", "--unlinkd"]).contains("did you mean --unlinked?"));
    // Nothing near: no guess.
    let far = said(&["status", "--colour"]);
    assert!(far.contains("takes no option --colour"), "{far}");
    assert!(!far.contains("did you mean"), "{far}");
}

/// A loopback server that reads each request and closes the connection
/// without a byte of answer. Stops when dropped.
struct Hangup {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Hangup {
    fn start() -> Hangup {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let (stopping, count) = (Arc::clone(&stop), Arc::clone(&accepted));
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        stream.set_nonblocking(false).expect("blocking");
                        stream
                            .set_read_timeout(Some(Duration::from_secs(2)))
                            .expect("timeout");
                        let _ = stream.read(&mut [0u8; 4096]);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Hangup {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        }
    }
}

impl Drop for Hangup {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_connection_closed_without_an_answer_is_called_closed_and_tried_again() {
    let scratch = Scratch::new();
    let hangup = Hangup::start();
    let out = single_run(
        &scratch.db(),
        &format!("http://{}/CablecastAPI/v1", hangup.addr),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = error_line(&out);
    assert!(
        line.contains("Cablecast closed the connection without answering"),
        "{line}"
    );
    assert!(!stderr(&out).contains("503"), "{}", stderr(&out));
    // Transient, like a 5xx: the request was sent again.
    assert!(hangup.accepted.load(Ordering::SeqCst) >= 2);
}

#[test]
fn a_refused_connection_says_what_to_check() {
    let scratch = Scratch::new();
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = single_run(
        &scratch.db(),
        &format!("http://127.0.0.1:{port}/CablecastAPI/v1"),
        &[],
    );
    let line = error_line(&out);
    assert!(line.contains("Connection refused"), "{line}");
    assert!(
        line.contains("is Cablecast running? is the port in CABLECAST_API_URL right? does a firewall block this machine?"),
        "{line}"
    );
}

#[test]
fn a_silent_server_is_waited_for_out_loud() {
    let scratch = Scratch::new();
    let silent = RawStation::start(RawMode::Silent);
    // single_run waits 2 s per request.
    let out = single_run(&scratch.db(), &silent.api_url(), &[]);
    let err = stderr(&out);
    assert!(
        err.contains("no answer from Cablecast within 2 s (the server took the connection but did not answer; ARCHIVIST_HTTP_TIMEOUT sets the wait); trying again (attempt 2 of 3)"),
        "{err}"
    );
    assert!(error_line(&out).contains("no answer from Cablecast within 2 s"));
}

/// A child killed and reaped when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `archivist demo` in `dir` with stdout and stderr into files there.
fn demo_in(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Guard {
    let mut command = archivist();
    command
        .current_dir(dir)
        .args(["demo", "--listen", "127.0.0.1:0", "--interval", "1"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("demo.out")).expect("stdout file"))
        .stderr(File::create(dir.join("demo.err")).expect("stderr file"));
    for (key, value) in env {
        command.env(key, value);
    }
    Guard(command.spawn().expect("demo starts"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Lines of the demo's log that are one VOD's change of state.
fn vod_change_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(" INFO  VOD ") && l.contains(" -> "))
        .count()
}

#[test]
fn the_demo_prints_its_page_last_and_a_next_command_that_works() {
    let scratch = Scratch::new();
    let dir = scratch.dir.path();
    let mut demo = demo_in(dir, &[], &[]);
    assert!(
        wait_until(Duration::from_secs(30), || read(&dir.join("demo.out"))
            .contains("Status page: ")),
        "no status page line: {}",
        read(&dir.join("demo.err"))
    );
    let console = read(&dir.join("demo.out"));
    let last = console.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Status page: http://127.0.0.1:"),
        "{console}"
    );
    let next = console
        .lines()
        .find_map(|l| l.strip_prefix("In another terminal: "))
        .expect("a suggested command");
    assert_eq!(next, "archivist --db archivist-demo.db status");
    // Cycles run: their lines, never one line per VOD.
    let cycles = |log: &str| log.lines().filter(|l| l.contains(" INFO  cycle ")).count();
    assert!(wait_until(Duration::from_secs(60), || {
        let log = read(&dir.join("demo.err"));
        cycles(&log) >= 4 && log.contains("changed")
    }));
    let log = read(&dir.join("demo.err"));
    assert_eq!(vod_change_lines(&log), 0, "{log}");
    // The suggested command works from here, with this binary.
    let words: Vec<&str> = next.split_whitespace().skip(1).collect();
    let out = archivist()
        .current_dir(dir)
        .args(&words)
        .output()
        .expect("status runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("VODs:"), "{}", stdout(&out));
    // A bare `status` here points at the demo's database.
    let out = archivist()
        .current_dir(dir)
        .arg("status")
        .output()
        .expect("status runs");
    let line = error_line(&out);
    assert!(
        line.contains("archivist-demo.db beside it is the demo's database: archivist --db archivist-demo.db COMMAND"),
        "{line}"
    );
    let _ = demo.0.kill();
    let _ = demo.0.wait();
}

#[test]
fn the_demo_under_cargo_suggests_cargo_and_logs_each_vod_at_debug() {
    let scratch = Scratch::new();
    let dir = scratch.dir.path();
    let demo = demo_in(
        dir,
        &[],
        &[
            ("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR")),
            ("ARCHIVIST_LOG_LEVEL", "debug"),
        ],
    );
    assert!(wait_until(Duration::from_secs(60), || {
        vod_change_lines(&read(&dir.join("demo.err"))) > 0
    }));
    let console = read(&dir.join("demo.out"));
    assert!(
        console
            .contains("In another terminal: cargo run --release -- --db archivist-demo.db status"),
        "{console}"
    );
    drop(demo);
}

/// The version in Cargo.toml, read from the file itself.
fn cargo_toml_version() -> String {
    let manifest = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a version line in Cargo.toml")
        .to_string()
}

#[test]
fn the_changelog_and_version_name_the_version_in_cargo_toml() {
    let version = cargo_toml_version();
    let changelog = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/CHANGELOG.md"));
    let releases: Vec<&str> = changelog
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split(']').next())
        .filter(|v| *v != "Unreleased")
        .collect();
    assert_eq!(
        releases.first().copied(),
        Some(version.as_str()),
        "the newest release in deploy/CHANGELOG.md is the one Cargo.toml names"
    );
    assert!(releases.contains(&"0.1.0"), "{releases:?}");
    let out = archivist().arg("--version").output().expect("runs");
    assert!(
        stdout(&out).starts_with(&format!("archivist {version} (commit ")),
        "{}",
        stdout(&out)
    );
}

/// The `archivist.db.before-schema-*` copies in `dir`, without `-wal`/`-shm`.
fn pre_upgrade_copies(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut copies: Vec<_> = std::fs::read_dir(dir)
        .expect("folder reads")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(&format!("archivist.db.before-schema-{SCHEMA_VERSION}-"))
                && !name.ends_with("-wal")
                && !name.ends_with("-shm")
        })
        .collect();
    copies.sort();
    copies
}

#[test]
fn an_upgrade_keeps_a_checked_copy_of_the_file_as_it_was_first() {
    let scratch = Scratch::new();
    let db = scratch.db();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/archivist-0.1.0.db"),
        &db,
    )
    .expect("fixture copies");
    let vods = crate::support::number(&db, "SELECT count(*) FROM cablecast_vod");
    let out = crate::support::run_on(&db, &["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let copies = pre_upgrade_copies(scratch.dir.path());
    assert_eq!(copies.len(), 1, "{copies:?}");
    let copy = &copies[0];
    assert!(
        stderr(&out).contains(&format!(
            "upgrading {} from schema version 1 to {SCHEMA_VERSION}; the file as it was is kept as {}",
            db.display(),
            copy.display()
        )),
        "{}",
        stderr(&out)
    );
    // The copy is the 0.1.0 file: its schema, its rows, sound.
    assert_eq!(crate::support::number(copy, "PRAGMA user_version"), 1);
    assert_eq!(
        crate::support::number(copy, "SELECT count(*) FROM cablecast_vod"),
        vods
    );
    assert_eq!(crate::support::integrity(copy), "ok");
    assert_eq!(
        crate::support::number(&db, "PRAGMA user_version"),
        SCHEMA_VERSION
    );
    // Once: an upgraded file is not copied again.
    let out = crate::support::run_on(&db, &["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pre_upgrade_copies(scratch.dir.path()).len(), 1);
}
