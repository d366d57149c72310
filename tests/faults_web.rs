//! Hostile input to the status server of a running monitor: slowloris,
//! oversized heads and bodies, invalid UTF-8 and percent-encoding, path
//! traversal, absurd `limit`/`offset`, unknown methods, pipelined garbage,
//! and random query strings. Each gets the right 4xx, normal requests keep
//! being answered meanwhile, and the process's threads and memory stay
//! bounded. Also here, because it needs the server: a listen port already in
//! use is refused at start as a configuration error.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use archivist::web::{DEFAULT_SOCKET_TIMEOUT, HEAD_TIMEOUT, MAX_CONNECTIONS_PER_CLIENT};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::child::Running;
use crate::support::http::{exchange, get};
use crate::support::{self, archivist, last_reachable, stderr, wait_until, Scratch};

const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A figure from `/proc/PID/status` (`Threads`, `VmRSS` in KiB).
fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// A running monitor with its status server, on a small demo station.
fn serving(scratch: &Scratch, station: &archivist::demo::DemoStation) -> (Running, SocketAddr) {
    let db = scratch.db();
    let monitor = Running::monitor(
        &db,
        &station.api_url(),
        &[],
        &[("ARCHIVIST_ADMIN_TOKEN", ADMIN_TOKEN)],
    );
    assert!(
        wait_until(Duration::from_secs(20), || last_reachable(&db)
            == Some(true)),
        "{}",
        monitor.log()
    );
    let addr = monitor.status_addr();
    assert_eq!(get(addr, "/healthz").0, 200);
    (monitor, addr)
}

#[test]
fn hostile_requests_get_the_right_4xx() {
    let scratch = Scratch::new();
    let station = support::station(50);
    let (monitor, addr) = serving(&scratch, &station);
    let pid = monitor.pid();
    let threads_before = proc_status(pid, "Threads");
    let rss_before = proc_status(pid, "VmRSS");

    let big_header = format!(
        "GET /api/status HTTP/1.1\r\nHost: a\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let many_headers = format!(
        "GET /api/status HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-A: b\r\n".repeat(5_000)
    );
    let huge_body = format!(
        "POST /api/sync-now HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: 100000000000\r\n\r\n{}",
        "x".repeat(200_000)
    );
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("traversal", b"GET /../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400, 404]),
        ("encoded traversal", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400, 404]),
        ("double slash", b"GET //etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400, 404]),
        ("invalid UTF-8 path", b"GET /\xff\xfe\xfd HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400, 404]),
        ("bad escape", b"GET /api/vods?limit=%zz HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400]),
        ("short escape", b"GET /api/vods?state=% HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400]),
        ("escaped invalid UTF-8", b"GET /api/vods?state=%ff%fe HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400]),
        ("huge limit", b"GET /api/vods?limit=99999999999999999999999 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400]),
        ("limit zero", b"GET /api/vods?limit=0 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400]),
        ("negative offset", b"GET /api/vods?offset=-1 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400]),
        ("offset past i64", b"GET /api/vods?offset=18446744073709551615 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400]),
        ("unknown method", b"BREW /api/status HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[400, 405, 501]),
        ("DELETE", b"DELETE /api/status HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), &[405]),
        ("POST to a read-only path", b"POST /api/status HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".to_vec(), &[405]),
        ("sync-now without token", b"POST /api/sync-now HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n".to_vec(), &[401]),
        ("sync-now with a wrong token", b"POST /api/sync-now HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer 0123456789abcdef0123456789abcdeX\r\nContent-Length: 0\r\n\r\n".to_vec(), &[401]),
        ("huge body", huge_body.into_bytes(), &[413]),
        ("huge header", big_header.into_bytes(), &[431]),
        ("many headers", many_headers.into_bytes(), &[431]),
        ("binary noise", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), &[400]),
        ("no version", b"GET /\r\n\r\n".to_vec(), &[400, 505]),
        ("future version", b"GET / HTTP/9.9\r\nHost: a\r\n\r\n".to_vec(), &[400, 505]),
    ];
    for (name, raw, expected) in &cases {
        let (codes, text) = exchange(addr, raw);
        let first = codes.first().copied().unwrap_or(0);
        assert!(
            expected.contains(&first),
            "{name}: answered {first}, expected one of {expected:?}:\n{}",
            text.chars().take(400).collect::<String>()
        );
        assert!(!text.contains("root:"), "{name}: served a system file");
        // Normal requests are still answered between attacks.
        assert_eq!(get(addr, "/api/status").0, 200, "after {name}");
    }

    // An absurd but valid offset is an empty page, not an error.
    let (code, text) = get(addr, "/api/vods?offset=9223372036854775807&limit=1000");
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("\"vods\":[]"), "{text}");

    // Pipelined: a good request, then garbage. The first is answered, the
    // garbage refused, and nothing after it is read.
    let (codes, _) = exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n\x00\x01garbage\x7f\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(codes.first(), Some(&200), "{codes:?}");
    assert!(
        codes.len() <= 2 && codes.get(1).is_none_or(|c| *c == 400),
        "{codes:?}"
    );

    let threads_after = proc_status(pid, "Threads");
    let rss_after = proc_status(pid, "VmRSS");
    assert!(
        threads_after <= threads_before + 8,
        "threads grew from {threads_before} to {threads_after}"
    );
    assert!(
        rss_after <= rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert!(!monitor.log().contains("panicked"), "{}", monitor.log());
    eprintln!(
        "hostile requests: threads {threads_before} -> {threads_after}, RSS {rss_before} -> {rss_after} KiB"
    );
}

#[test]
fn slowloris_is_cut_off_and_never_starves_the_page() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let (monitor, addr) = serving(&scratch, &station);
    let pid = monitor.pid();
    let threads_before = proc_status(pid, "Threads");
    let rss_before = proc_status(pid, "VmRSS");
    let mut peak_rss = rss_before;
    const ATTACKERS: usize = 120;
    let mut trickling: Vec<TcpStream> = (0..ATTACKERS)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    assert!(
        trickling.len() >= ATTACKERS / 2,
        "could not open connections"
    );
    for stream in &trickling {
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    }
    let head = b"GET /api/status HTTP/1.1\r\nHost: a\r\nX-Slow: ";
    let started = Instant::now();
    let mut peak_threads = 0;
    let mut slowest = Duration::ZERO;
    let mut answered_beside_attackers = 0;
    let mut byte = 0;
    // A byte per connection every 250 ms, for longer than the server allows
    // a request head to take.
    while started.elapsed() < HEAD_TIMEOUT + Duration::from_secs(3) {
        let next = head.get(byte).copied().unwrap_or(b'x');
        trickling.retain_mut(|s| s.write_all(&[next]).is_ok());
        byte += 1;
        let asked = Instant::now();
        let (code, _) = get(addr, "/healthz");
        assert_eq!(code, 200, "a normal request was refused during the attack");
        slowest = slowest.max(asked.elapsed());
        // Answered while attackers held their connections open (the ones
        // still there took this round's byte just before).
        if !trickling.is_empty() {
            answered_beside_attackers += 1;
        }
        peak_threads = peak_threads.max(proc_status(pid, "Threads"));
        peak_rss = peak_rss.max(proc_status(pid, "VmRSS"));
        std::thread::sleep(Duration::from_millis(250));
    }
    // One thread per open connection (tiny_http's design): bounded by the
    // connections, and given back when the server cuts them off.
    assert!(
        peak_threads <= threads_before + ATTACKERS as u64 + 16,
        "{peak_threads} threads for {ATTACKERS} connections"
    );
    assert!(
        peak_rss <= rss_before + 64 * 1024,
        "RSS went from {rss_before} KiB to {peak_rss} KiB"
    );
    assert!(
        answered_beside_attackers > 0,
        "no normal request was answered while attackers held connections"
    );
    eprintln!(
        "slowloris: {answered_beside_attackers} normal requests answered beside attackers, slowest {slowest:?}"
    );
    // Every trickling connection is closed by the server within its head
    // deadline plus a socket timeout.
    let cut_off = wait_until(HEAD_TIMEOUT + DEFAULT_SOCKET_TIMEOUT, || {
        trickling.retain_mut(|s| s.write_all(b"x").is_ok());
        trickling.is_empty()
    });
    assert!(
        cut_off,
        "{} trickling connections still open",
        trickling.len()
    );
    let settled = wait_until(Duration::from_secs(10), || {
        proc_status(pid, "Threads") <= threads_before + 4
    });
    assert!(
        settled,
        "threads did not come back down: {} before, {} now",
        threads_before,
        proc_status(pid, "Threads")
    );
    eprintln!(
        "slowloris: {ATTACKERS} connections, {threads_before} threads before, peak {peak_threads}; RSS {rss_before} KiB before, peak {peak_rss} KiB; slowest normal request {slowest:?}"
    );
}

#[test]
fn random_query_strings_are_answered_never_failed() {
    let scratch = Scratch::new();
    let station = support::station(20);
    let (monitor, addr) = serving(&scratch, &station);
    // Random, and replayable: the seed is printed, and taken from
    // ARCHIVIST_QUERY_SEED when set.
    let seed = match std::env::var("ARCHIVIST_QUERY_SEED") {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .expect("ARCHIVIST_QUERY_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos().into()),
    };
    eprintln!("query strings from seed {seed} (replay: ARCHIVIST_QUERY_SEED={seed})");
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..Config::default()
    });
    let key = prop_oneof![
        Just("limit".to_string()),
        Just("offset".to_string()),
        Just("state".to_string()),
        Just("range".to_string()),
        "[a-z%+=&]{0,8}",
    ];
    let value = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[0-9]{15,30}",
        "(%[0-9a-fA-F]{2}|%[g-z]?|[a-zA-Z0-9+._~-]){0,20}",
        "[ -~]{0,20}".prop_map(|t| t.replace([' ', '#'], "+")),
    ];
    let query = prop::collection::vec((key, value), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    let paths = ["/api/vods", "/api/history", "/api/status", "/"];
    let outcome = runner.run(&(query, 0..paths.len()), |(query, path)| {
        let target = format!("{}?{query}", paths[path]);
        let (code, text) = get(addr, &target);
        prop_assert!(
            code == 200 || code == 400 || code == 404,
            "{target}: {code}\n{}",
            text.chars().take(300).collect::<String>()
        );
        Ok(())
    });
    if let Err(e) = outcome {
        panic!(
            "{e} (replay: ARCHIVIST_QUERY_SEED={seed})\n{}",
            monitor.log()
        );
    }
    assert_eq!(get(addr, "/healthz").0, 200);
}

/// Runs `command` to its end, killing it if it is still running after
/// `timeout` (a monitor that failed to refuse would run forever).
fn finish(mut command: std::process::Command, timeout: Duration) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let ended = wait_until(timeout, || matches!(child.try_wait(), Ok(Some(_))));
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    assert!(ended, "still running after {timeout:?}: {}", stderr(&out));
    out
}

#[test]
fn a_listen_port_in_use_is_named_at_start() {
    let station = support::station(5);
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    for (flags, vars, setting) in [
        (vec!["--listen", addr.as_str()], vec![], "--listen"),
        (
            vec![],
            vec![("ARCHIVIST_LISTEN", addr.as_str())],
            "ARCHIVIST_LISTEN",
        ),
    ] {
        let scratch = Scratch::new();
        let mut command = archivist();
        command
            .arg("--db")
            .arg(scratch.db())
            .args(["monitor", "--interval", "1"])
            .args(&flags)
            .env("CABLECAST_API_URL", station.api_url());
        for (key, value) in &vars {
            command.env(key, value);
        }
        let out = finish(command, Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let line = err.lines().last().unwrap_or_default();
        assert!(line.starts_with("archivist:"), "{err}");
        assert!(line.contains(setting) && line.contains(&addr), "{err}");
        assert!(line.contains("in use"), "{err}");
    }
    drop(taken);
}

#[test]
fn one_client_cannot_hold_more_than_its_share_of_connections() {
    use std::io::{ErrorKind, Read};
    let scratch = Scratch::new();
    let station = support::station(20);
    let (monitor, addr) = serving(&scratch, &station);
    let pid = monitor.pid();
    let threads_before = proc_status(pid, "Threads");
    // One machine opens its share of connections and sends nothing.
    let held: Vec<TcpStream> = (0..MAX_CONNECTIONS_PER_CLIENT)
        .map(|_| TcpStream::connect(addr).expect("connects"))
        .collect();
    // One more from the same address is closed at once, unanswered: an end
    // of stream or a reset, sooner than any of the server's timeouts would
    // close it (a read that times out is a connection left open).
    let mut extra = TcpStream::connect(addr).expect("the kernel accepts it");
    let sooner_than_the_server = HEAD_TIMEOUT.min(DEFAULT_SOCKET_TIMEOUT) / 2;
    extra
        .set_read_timeout(Some(sooner_than_the_server))
        .expect("timeout");
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    let read = extra.read_to_end(&mut answer);
    let closed = match &read {
        Ok(0) => true,
        Err(e) => {
            answer.is_empty()
                && matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                )
        }
        Ok(_) => false,
    };
    assert!(
        closed,
        "a connection past the limit was not closed at once: {read:?} {:?}",
        String::from_utf8_lossy(&answer)
    );
    let threads_held = proc_status(pid, "Threads");
    assert!(
        threads_held <= threads_before + MAX_CONNECTIONS_PER_CLIENT as u64 + 8,
        "threads {threads_before} -> {threads_held}"
    );
    // Closing them gives the places back.
    drop(held);
    assert!(
        wait_until(Duration::from_secs(10), || get(addr, "/healthz").0 == 200),
        "the server did not take connections again"
    );
}
