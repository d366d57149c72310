//! The status server as the binary runs it: `archivist serve` beside a
//! database, and `archivist demo` serving its page.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::run_on;
use crate::support::{self, archivist, stderr, stdout, Scratch};
use crate::web_support::{eventually, exchange, get, TOKEN};

/// Stops the child process when dropped (the test started it).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads stdout lines until one announces the status page; returns its
/// address.
fn status_address(stdout: ChildStdout) -> std::net::SocketAddr {
    let (found, address) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Status page: http://") {
                let _ = found.send(rest.trim_end_matches('/').to_string());
            }
        }
    });
    address
        .recv_timeout(Duration::from_secs(20))
        .expect("the status page address is printed")
        .parse()
        .expect("an address")
}

/// Starts `archivist --db DB ARGS...` (a command that serves the page) with
/// `env`, and waits for it to print the page's address.
fn start_with_page(
    db: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Running, std::net::SocketAddr) {
    let mut command = archivist();
    command.arg("--db").arg(db).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the command starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    (running, status_address(stdout))
}

#[test]
fn serve_answers_from_the_database_like_status_json() {
    let scratch = Scratch::new();
    let station = support::station(60);
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = run_on(&scratch.db(), &["status", "--json"]);
    let expected: serde_json::Value = serde_json::from_str(&stdout(&status)).expect("json");

    let (_running, addr) =
        start_with_page(&scratch.db(), &["serve", "--listen", "127.0.0.1:0"], &[]);
    let mut served = get(addr, "/api/status").json();
    // Performance counters are the monitor's, recorded with its last cycle;
    // both readers report them alike.
    served["performance"]["rss_kb"] = expected["performance"]["rss_kb"].clone();
    assert_eq!(served, expected);
    assert_eq!(get(addr, "/healthz").status, 200);
    assert_eq!(get(addr, "/").status, 200);
    // No monitor runs here: nothing to wake, and no token means no endpoint.
    assert_eq!(
        exchange(addr, "POST /api/sync-now HTTP/1.1", b"").status,
        404
    );
}

#[test]
fn serve_refuses_a_missing_database() {
    let scratch = Scratch::new();
    let out = run_on(&scratch.db(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert!(!scratch.db().exists());
}

#[test]
fn a_short_admin_token_is_a_config_error() {
    let scratch = Scratch::new();
    let out = archivist()
        .arg("--db")
        .arg(scratch.db())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ARCHIVIST_ADMIN_TOKEN", "admin")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("ARCHIVIST_ADMIN_TOKEN"), "{err}");
    assert!(!err.contains("admin\""), "the token is not echoed: {err}");
}

#[test]
fn demo_serves_its_page_and_sync_now_runs_a_cycle() {
    let scratch = Scratch::new();
    let (_running, addr) = start_with_page(
        &scratch.db(),
        &["demo", "--listen", "127.0.0.1:0", "--interval", "3600"],
        &[("ARCHIVIST_ADMIN_TOKEN", TOKEN)],
    );
    let cycles = || {
        support::sqlite(&scratch.db())
            .query_row("SELECT count(*) FROM monitor_cycle", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
    };
    assert!(eventually(Duration::from_secs(20), || cycles() >= 1));
    assert!(eventually(Duration::from_secs(5), || get(addr, "/healthz")
        .status
        == 200));
    let before = cycles();
    let wake = format!("POST /api/sync-now HTTP/1.1\r\nAuthorization: Bearer {TOKEN}");
    assert_eq!(exchange(addr, &wake, b"").status, 202);
    // The interval is an hour: only the wake-up explains a new cycle.
    assert!(
        eventually(Duration::from_secs(20), || cycles() > before),
        "sync-now did not start a cycle"
    );
}

/// A field of `/proc/PID/status`, in its unit (kB or a count).
fn proc_status(pid: u32, field: &str) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("process status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for {pid}"))
}

#[test]
fn three_hundred_stalled_clients_cost_a_thread_each_and_little_memory() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (running, addr) =
        start_with_page(&scratch.db(), &["serve", "--listen", "127.0.0.1:0"], &[]);
    let pid = running.0.id();
    let idle_threads = proc_status(pid, "Threads:");
    let stalled: Vec<std::net::TcpStream> = (0..300)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(addr).expect("connects");
            std::io::Write::write_all(&mut stream, b"GET / HTTP/1.1\r\nHo").expect("sent");
            stream
        })
        .collect();
    // tiny_http's pool keeps a few idle threads, which take the first
    // connections; every further connection starts one.
    assert!(
        eventually(Duration::from_secs(10), || proc_status(pid, "Threads:")
            >= 300),
        "threads: {}",
        proc_status(pid, "Threads:")
    );
    assert_eq!(get(addr, "/api/status").status, 200);
    let threads = proc_status(pid, "Threads:");
    let rss_kb = proc_status(pid, "VmRSS:");
    assert!(threads <= idle_threads + 300 + 8, "{threads} threads");
    assert!(
        rss_kb < 64 * 1024,
        "{rss_kb} kB resident with 300 stalled clients"
    );
    drop(stalled);
}

#[test]
fn a_damaged_database_gets_a_page_that_says_so() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    crate::deploy_support::damage_page_of(&scratch.db(), "archivist_meta");
    let (_running, addr) =
        start_with_page(&scratch.db(), &["demo", "--listen", "127.0.0.1:0"], &[]);
    let health = get(addr, "/healthz");
    assert_eq!(health.status, 503, "{}", health.text());
    let page = get(addr, "/");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("id=\"damage\""), "no damage banner");
}
