//! `systemctl stop` and Ctrl-C: SIGTERM and SIGINT end `monitor`, `serve`
//! and `demo-station` with exit 0 within a few seconds, even in the middle of
//! a cycle waiting on a slow Cablecast, with one closing line and the
//! write-ahead log folded into the file.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::child::Running;
use crate::support::{self, archivist, Scratch};

/// What "a few seconds" means here: the grace period (`shutdown::GRACE`)
/// plus a commit and the process's teardown, with room for a loaded CI
/// machine.
const STOP_WITHIN: Duration = Duration::from_secs(archivist::shutdown::GRACE.as_secs() + 5);

/// The WAL beside `db` is empty or gone: everything is in the main file.
fn assert_checkpointed(db: &Path) {
    let wal = db.with_extension("db-wal");
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(size, 0, "{} still holds {size} bytes", wal.display());
}

#[test]
fn sigterm_mid_cycle_stops_cleanly_and_checkpoints() {
    let scratch = Scratch::new();
    let station = support::station(200);
    let db = scratch.db();
    let notify_path = scratch.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("socket binds");
    // A catalogue pass every cycle, so every cycle talks to Cablecast; a
    // request timeout far longer than the stop may take.
    let mut monitor = Running::monitor(
        &db,
        &station.api_url(),
        &["--catalog-interval", "1", "--http-timeout", "60"],
        &[("NOTIFY_SOCKET", notify_path.to_str().expect("utf-8"))],
    );
    monitor.wait_for("INFO  cycle ", 1, Duration::from_secs(30));
    // Slow answers: the next cycle's requests wait on the station.
    let before = station.requests();
    station.set_latency(Duration::from_secs(10));
    assert!(
        support::wait_until(Duration::from_secs(10), || station.requests() > before),
        "no cycle began; log:\n{}",
        monitor.log()
    );
    let cycles_logged = monitor.count("INFO  cycle ");

    let sent = Instant::now();
    monitor.signal(libc::SIGTERM);
    let status = monitor.wait_exit(STOP_WITHIN);
    let took = sent.elapsed();
    station.set_latency(Duration::ZERO);
    let status = status.unwrap_or_else(|| {
        panic!(
            "still running {STOP_WITHIN:?} after SIGTERM; log:\n{}",
            monitor.log()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; log:\n{}",
        monitor.log()
    );
    assert_eq!(
        monitor.count("stopped on SIGTERM"),
        1,
        "log:\n{}",
        monitor.log()
    );
    assert!(
        monitor.log().contains("checkpointed"),
        "log:\n{}",
        monitor.log()
    );
    // The interrupted cycle is neither logged nor recorded as a failure.
    assert_eq!(monitor.count("INFO  cycle "), cycles_logged);
    assert_eq!(monitor.count("ERROR"), 0, "log:\n{}", monitor.log());
    assert_checkpointed(&db);
    assert_eq!(support::integrity(&db), "ok");
    assert_eq!(support::last_reachable(&db), Some(true));

    // systemd heard the stop.
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout set");
    let mut buffer = [0u8; 4096];
    let mut heard = Vec::new();
    while let Ok(n) = notify.recv(&mut buffer) {
        heard.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    assert!(
        heard.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")),
        "{heard:?}"
    );
    eprintln!("stopped {took:?} after SIGTERM");
}

#[test]
fn sigint_between_cycles_stops_at_once() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let db = scratch.db();
    let mut monitor = Running::monitor(&db, &station.api_url(), &["--interval", "3600"], &[]);
    monitor.wait_for("INFO  cycle ", 1, Duration::from_secs(30));
    monitor.signal(libc::SIGINT);
    let status = monitor
        .wait_exit(STOP_WITHIN)
        .unwrap_or_else(|| panic!("still running; log:\n{}", monitor.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", monitor.log());
    assert_eq!(monitor.count("stopped on SIGINT"), 1, "{}", monitor.log());
    assert_checkpointed(&db);
    assert_eq!(support::integrity(&db), "ok");
}

#[test]
fn serve_demo_and_demo_station_stop_on_sigterm() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let db = scratch.db();
    let out = support::single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", support::stderr(&out));

    let mut serve = archivist();
    serve
        .arg("--db")
        .arg(&db)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let mut serve = Running::start(serve);
    serve.wait_for("serving ", 1, Duration::from_secs(20));
    serve.signal(libc::SIGTERM);
    let status = serve
        .wait_exit(STOP_WITHIN)
        .unwrap_or_else(|| panic!("serve still running; log:\n{}", serve.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", serve.log());
    assert_eq!(serve.count("stopped on SIGTERM"), 1, "{}", serve.log());
    assert_checkpointed(&db);

    let demo_db = scratch.path("demo.db");
    let mut demo = archivist();
    demo.arg("--db")
        .arg(&demo_db)
        .args(["demo", "--listen", "127.0.0.1:0"]);
    let mut demo = Running::start(demo);
    demo.wait_for("INFO  cycle ", 1, Duration::from_secs(30));
    demo.signal(libc::SIGTERM);
    let status = demo
        .wait_exit(STOP_WITHIN)
        .unwrap_or_else(|| panic!("demo still running; log:\n{}", demo.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", demo.log());
    assert_eq!(demo.count("stopped on SIGTERM"), 1, "{}", demo.log());
    assert_checkpointed(&demo_db);

    let mut demo = archivist();
    demo.args(["demo-station", "--listen", "127.0.0.1:0", "--shows", "5"]);
    let mut demo = Running::start(demo);
    demo.wait_for("demo station on http://", 1, Duration::from_secs(20));
    demo.signal(libc::SIGTERM);
    let status = demo
        .wait_exit(STOP_WITHIN)
        .unwrap_or_else(|| panic!("demo-station still running; log:\n{}", demo.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", demo.log());
    assert_eq!(demo.count("stopped on SIGTERM"), 1, "{}", demo.log());
}
