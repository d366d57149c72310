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
    // `serve` judges the monitor by its interval; `status` by the rhythm of
    // its cycles, which one cycle does not show.
    assert_eq!(served["monitor"]["running"], true, "{served}");
    assert_eq!(expected["monitor"], serde_json::Value::Null, "{expected}");
    served["monitor"] = serde_json::Value::Null;
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
    // A newcomer sees the links into Cablecast: the demo's own station.
    let failed = support::number(
        &scratch.db(),
        "SELECT min(id) FROM cablecast_vod WHERE vod_state = 'error'",
    );
    let vod = get(addr, &format!("/api/vods/{failed}")).json();
    let link = vod["cablecast_url"]
        .as_str()
        .expect("a link into Cablecast");
    assert!(
        link.starts_with("http://127.0.0.1:") && link.ends_with(&format!("/vods/{failed}")),
        "{link}"
    );
    let page = get(addr, &format!("/vods/{failed}")).text();
    assert!(page.contains(r#"id="cablecast-vod-link""#), "{page}");
    assert!(page.contains(r#"id="vod-hint""#), "{page}");
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

/// The box on UTC, the station in Chicago.
const CHICAGO_ON_UTC: [(&str, &str); 2] =
    [("TZ", "UTC"), ("ARCHIVIST_TIMEZONE", "America/Chicago")];

/// A database whose times straddle the night Chicago's clocks go back
/// (2026-11-01: 02:00 CDT is 01:00 CST, 07:00 UTC). Returns the VODs whose
/// state changed at 23:30 CDT on Oct 31, 00:30 CDT and 23:30 CST on Nov 1.
fn a_night_the_clocks_go_back(db: &std::path::Path) -> [i64; 3] {
    let station = support::station(40);
    let out = support::single_run(db, &station.api_url(), &CHICAGO_ON_UTC);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(station);
    let conn = support::sqlite(db);
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM cablecast_vod WHERE vod_state = 'complete' ORDER BY id LIMIT 3")
        .expect("prepares")
        .query_map([], |r| r.get(0))
        .expect("reads")
        .collect::<Result<_, _>>()
        .expect("ids");
    let [before, first, last] = ids[..] else {
        panic!("the demo has three complete VODs")
    };
    conn.execute_batch(&format!(
        "UPDATE cablecast_vod SET state_changed_at = '2026-12-01T12:00:00Z',
             state_changed_source = 'cablecast';
         UPDATE cablecast_vod SET state_changed_at = '2026-11-01T04:30:00Z' WHERE id = {before};
         UPDATE cablecast_vod SET state_changed_at = '2026-11-01T05:30:00Z',
             vod_state = 'processing' WHERE id = {first};
         UPDATE cablecast_vod SET state_changed_at = '2026-11-02T05:30:00Z' WHERE id = {last};
         UPDATE monitor_cycle SET started_at = '2026-11-01T07:30:00Z',
             finished_at = '2026-11-01T07:30:00Z';
         INSERT INTO alert (id, kind, subject, state, title, fired_at)
             VALUES ('clock-firing', 'vod_failed', 'vod 1', 'firing', 'VOD 1 failed',
                     '2026-11-01T06:30:00Z');
         INSERT INTO alert (id, kind, subject, state, title, fired_at, resolved_at)
             VALUES ('clock-resolved', 'cablecast_down', 'cablecast', 'resolved',
                     'Cablecast unreachable', '2026-11-01T07:30:00Z', '2026-11-01T08:00:00Z');
         INSERT INTO transcription_result (id, video_path, status, completed_at)
             VALUES ('clock-tx', '/media/council.mp4', 'completed', '2026-11-01T06:45:00Z');"
    ))
    .expect("the night is written");
    [before, first, last]
}

/// Runs `archivist --db DB ARGS` with `env` and returns what it printed.
fn printed(db: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = archivist();
    command.arg("--db").arg(db).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("archivist runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_station_in_chicago_on_a_utc_box_reads_chicago_time_across_a_change_of_clocks() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let [before, first, last] = a_night_the_clocks_go_back(&db);

    // The CLI: 01:30 happens twice that night; each is named by its zone.
    let status = printed(&db, &["status"], &CHICAGO_ON_UTC);
    assert!(
        status.contains("Last cycle: 2026-11-01 01:30 CST"),
        "{status}"
    );
    assert!(
        status.contains("oldest in flight since 2026-11-01 00:30 CDT"),
        "{status}"
    );
    assert!(!status.contains("T07:30:00Z"), "{status}");
    let alerts = printed(&db, &["alerts", "list"], &CHICAGO_ON_UTC);
    assert!(alerts.contains("since 2026-11-01 01:30 CDT"), "{alerts}");
    assert!(
        alerts.contains("2026-11-01 01:30 CST to 2026-11-01 02:00 CST"),
        "{alerts}"
    );
    let silenced = printed(&db, &["alerts", "silence", "--for", "2h"], &CHICAGO_ON_UTC);
    assert!(
        silenced.contains(" CST (") || silenced.contains(" CDT ("),
        "{silenced}"
    );
    assert!(!silenced.contains("Z ("), "{silenced}");
    let captions = printed(&db, &["transcriptions", "list"], &CHICAGO_ON_UTC);
    assert!(captions.starts_with("2026-11-01 01:45 CDT"), "{captions}");
    // JSON stays UTC.
    let json = printed(&db, &["status", "--json"], &CHICAGO_ON_UTC);
    assert!(json.contains("\"2026-11-01T07:30:00Z\""), "{json}");
    // Without ARCHIVIST_TIMEZONE, the box's zone as TZ gives it.
    let on_utc = printed(&db, &["status"], &[("TZ", "UTC")]);
    assert!(
        on_utc.contains("Last cycle: 2026-11-01 07:30 UTC"),
        "{on_utc}"
    );
    let box_in_chicago = printed(&db, &["status"], &[("TZ", "America/Chicago")]);
    assert!(
        box_in_chicago.contains("Last cycle: 2026-11-01 01:30 CST"),
        "{box_in_chicago}"
    );

    // The page, /health text and the day filters, from `archivist serve`.
    let (_running, addr) =
        start_with_page(&db, &["serve", "--listen", "127.0.0.1:0"], &CHICAGO_ON_UTC);
    let page = get(addr, "/").text();
    assert!(page.contains("2026-11-01 01:30 CST</time>"), "{page}");
    assert!(page.contains("since 2026-11-01 01:30 CDT"), "{page}");
    assert!(page.contains("America/Chicago"), "{page}");
    // The monitor stopped after its last cycle: /health says since when,
    // in the station's time.
    let health = get(addr, "/health/publishing");
    assert_eq!(health.status, 503);
    assert!(
        health
            .text()
            .contains("unknown: no monitoring cycle since 2026-11-01 01:30 CST"),
        "{}",
        health.text()
    );
    let vod = get(addr, &format!("/vods/{last}")).text();
    assert!(vod.contains("2026-11-01 23:30 CST"), "{vod}");

    // Nov 1 in Chicago is 25 hours long: 05:00 UTC to 06:00 UTC the next
    // day. A UTC day would hold `before` and lose `last`.
    let day = get(addr, "/api/vods?from=2026-11-01&to=2026-11-01&limit=10").json();
    let mut found: Vec<i64> = day["vods"]
        .as_array()
        .expect("vods")
        .iter()
        .map(|v| v["id"].as_i64().expect("an id"))
        .collect();
    found.sort_unstable();
    let mut expected = vec![first, last];
    expected.sort_unstable();
    assert_eq!(found, expected, "{day}");
    assert!(
        day.to_string().contains("\"2026-11-01T05:30:00Z\""),
        "{day}"
    );
    let list = get(addr, "/vods?from=2026-11-01&to=2026-11-01").text();
    assert!(
        list.contains(r#"<span id="found-count">2</span>"#),
        "{list}"
    );
    assert!(!list.contains(&format!(r#"data-vod="{before}""#)), "{list}");
    let oct_31 = get(addr, "/api/vods?from=2026-10-31&to=2026-10-31").json();
    assert_eq!(oct_31["total"], 1, "{oct_31}");
    assert_eq!(oct_31["vods"][0]["id"], before);
}
