//! What the boot service relies on: `--version` for the installer and the
//! bug report, and the messages systemd gets (`READY=1`, `STATUS=`,
//! `WATCHDOG=1`) from a real monitor, on a path socket and an abstract one.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::deploy_support::{damage_page_of, Running, DEADLINE};
use crate::support::{self, archivist, stderr, stdout, Scratch};

#[test]
fn version_names_commit_target_and_sqlite() {
    let out = archivist().arg("--version").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let line = stdout(&out);
    let line = line.trim_end();
    let prefix = format!("archivist {} (commit ", env!("CARGO_PKG_VERSION"));
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{line}"));
    let parts: Vec<&str> = rest.trim_end_matches(')').split(", ").collect();
    assert_eq!(parts.len(), 3, "{line}");
    let commit = parts[0];
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert!(
        parts[1].starts_with(std::env::consts::ARCH) && parts[1].contains("-linux-"),
        "{line}"
    );
    assert!(parts[2].starts_with("SQLite 3."), "{line}");
    assert!(line.ends_with(')'), "{line}");
}

/// Reads datagrams until `enough` says so, failing after the deadline.
fn collect(socket: &UnixDatagram, mut enough: impl FnMut(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE;
    let mut messages = Vec::new();
    let mut buffer = [0u8; 4096];
    while !enough(&messages) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; got {messages:?}");
        socket.set_read_timeout(Some(left)).expect("timeout set");
        if let Ok(n) = socket.recv(&mut buffer) {
            messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    }
    messages
}

#[test]
fn single_run_tells_systemd_it_is_ready_with_the_figures() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let path = scratch.path("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("socket binds");
    let out = support::single_run(
        &scratch.db(),
        &station.api_url(),
        &[
            ("NOTIFY_SOCKET", path.to_str().expect("utf-8 path")),
            ("WATCHDOG_USEC", "60000000"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let messages = collect(&socket, |m| !m.is_empty());
    let first: Vec<&str> = messages[0].lines().collect();
    assert_eq!(first[0], "READY=1", "{messages:?}");
    let status = first
        .iter()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or_else(|| panic!("no STATUS in {messages:?}"));
    assert!(
        status.contains("VODs") && status.contains("% complete"),
        "{status}"
    );
    assert!(status.contains("Cablecast reachable"), "{status}");
    assert!(first.contains(&"WATCHDOG=1"), "{messages:?}");
}

fn abstract_socket(tag: &str) -> (UnixDatagram, String) {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("archivist-test-{tag}-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .expect("abstract address");
    let socket = UnixDatagram::bind_addr(&address).expect("abstract socket binds");
    (socket, format!("@{name}"))
}

#[test]
fn running_monitor_keeps_pinging_the_watchdog_between_cycles() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let (socket, name) = abstract_socket("watchdog");
    // A watchdog of 0.4 s: the timer pings every 0.2 s while the monitor
    // waits out its 300 s interval.
    let monitor = Running::monitor(
        &scratch.db(),
        &station.api_url(),
        &["--interval", "300"],
        &[("NOTIFY_SOCKET", &name), ("WATCHDOG_USEC", "400000")],
    );
    let messages = collect(&socket, |m| {
        m.iter().filter(|m| m.as_str() == "WATCHDOG=1\n").count() >= 3
    });
    monitor.stop();
    let ready_at = messages
        .iter()
        .position(|m| m.starts_with("READY=1\n"))
        .unwrap_or_else(|| panic!("no READY=1 in {messages:?}"));
    assert!(
        messages[..ready_at]
            .iter()
            .all(|m| m.contains("EXTEND_TIMEOUT_USEC=")),
        "pings before READY extend the start timeout: {messages:?}"
    );
    assert_eq!(
        messages.iter().filter(|m| m.contains("READY=1")).count(),
        1,
        "{messages:?}"
    );
}

#[test]
fn damaged_database_keeps_the_service_up_read_only() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let db = scratch.db();
    let out = support::single_run(&db, &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    damage_page_of(&db, "idx_vod_state");
    let requests = station.requests();
    let (socket, name) = abstract_socket("read-only");
    let mut monitor = Running::monitor(
        &db,
        &station.api_url(),
        &["--interval", "1"],
        &[("NOTIFY_SOCKET", &name), ("WATCHDOG_USEC", "400000")],
    );
    let messages = collect(&socket, |m| m.len() >= 3);
    let first = &messages[0];
    assert!(first.starts_with("READY=1\n"), "{messages:?}");
    assert!(first.contains("STATUS=read-only:"), "{first}");
    assert!(first.contains("archivist restore"), "{first}");
    assert!(
        messages[1..].iter().all(|m| m == "WATCHDOG=1\n"),
        "{messages:?}"
    );
    assert!(
        monitor.child.try_wait().expect("status").is_none(),
        "still running"
    );
    assert_eq!(station.requests(), requests, "no cycle in read-only mode");
    monitor.stop();
}

#[test]
fn a_monitor_stuck_inside_a_request_is_no_longer_vouched_for() {
    let scratch = Scratch::new();
    let station = support::station(3);
    // Each answer takes far longer than the 0.2 s watchdog: the monitor sits
    // inside one request with nothing moving, so the timer must fall silent
    // (a real watchdog would restart it) until the next request begins.
    station.set_latency(Duration::from_millis(1200));
    let (socket, name) = abstract_socket("stuck");
    let started = Instant::now();
    let monitor = Running::monitor(
        &scratch.db(),
        &station.api_url(),
        &["--interval", "300", "--http-timeout", "10"],
        &[("NOTIFY_SOCKET", &name), ("WATCHDOG_USEC", "200000")],
    );
    let messages = collect(&socket, |m| m.iter().any(|m| m.contains("READY=1")));
    let first_cycle = started.elapsed();
    monitor.stop();
    let pings = messages.len() - 1;
    // Pinging every 0.1 s throughout would send first_cycle / 0.1 pings.
    let unconditional = (first_cycle.as_millis() / 100) as usize;
    assert!(
        unconditional >= 10 && pings * 2 < unconditional,
        "{pings} pings in {first_cycle:?}: {messages:?}"
    );
}
