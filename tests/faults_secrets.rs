//! The Cablecast password, and the Basic auth header made from it, never
//! leave the process: not in a log line at trace level through good cycles
//! and failing ones, not in an error, not in `status`, not on the status
//! page, its JSON, `/metrics` or `/healthz`, not in the database file, not
//! in the process's command line.

use std::time::Duration;

use archivist::demo::{DemoStation, Fault, StationOptions};
use base64::Engine;

use crate::support::child::Running;
use crate::support::http;
use crate::support::{archivist, last_reachable, single_run, stderr, stdout, wait_until, Scratch};

const USER: &str = "frontdoor";
const PASSWORD: &str = "Sup3r-Secret-Pa55";

/// Every form of the secret worth looking for.
fn secrets() -> Vec<String> {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let pair = b64(&format!("{USER}:{PASSWORD}"));
    vec![
        PASSWORD.to_string(),
        PASSWORD.to_ascii_lowercase(),
        b64(PASSWORD),
        // The header without its padding, and a long prefix of it.
        pair.trim_end_matches('=').to_string(),
        pair[..pair.len() - 4].to_string(),
    ]
}

fn assert_no_secret(text: &str, place: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(&secret),
            "{place} holds the password (as {secret:?}):\n{text}"
        );
    }
}

fn assert_no_secret_bytes(bytes: &[u8], place: &str) {
    assert_no_secret(&String::from_utf8_lossy(bytes), place);
}

#[test]
fn the_password_never_leaves_the_process() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = DemoStation::start(StationOptions {
        shows: 30,
        credentials: Some((USER.into(), PASSWORD.into())),
        ..StationOptions::default()
    })
    .expect("station");
    let credentials = [
        ("CABLECAST_USER_ID", USER),
        ("CABLECAST_PASSWORD", PASSWORD),
        ("ARCHIVIST_LOG_LEVEL", "trace"),
    ];
    let monitor = Running::monitor(&db, &station.api_url(), &["--performance"], &credentials);
    assert!(
        wait_until(Duration::from_secs(20), || last_reachable(&db)
            == Some(true)),
        "{}",
        monitor.log()
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", monitor.pid())).expect("cmdline");
    assert_no_secret_bytes(&cmdline, "/proc/PID/cmdline");

    // Through refusals and server errors, and back.
    for (fault, needle) in [
        (Fault::Status(401), "HTTP 401"),
        (Fault::Status(500), "HTTP 500"),
        (Fault::TruncatedJson, "malformed"),
    ] {
        station.set_fault(fault);
        monitor.wait_for(needle, 1, Duration::from_secs(20));
    }
    station.set_fault(Fault::None);
    monitor.wait_for("reachable again", 1, Duration::from_secs(20));
    // Everything the status server shows.
    let addr = monitor.status_addr();
    for path in [
        "/",
        "/api/status",
        "/api/vods?limit=1000",
        "/api/history",
        "/metrics",
        "/healthz",
        "/badge.svg",
    ] {
        let (code, text) = http::get(addr, path);
        assert_eq!(code, 200, "{path}: {text}");
        assert_no_secret(&text, path);
    }
    // Without an admin token, the write endpoints do not exist at all.
    for path in ["/api/sync-now", "/api/transcriptions"] {
        let (codes, _) = http::exchange(
            addr,
            format!("POST {path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {PASSWORD}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(codes.first(), Some(&404), "POST {path}");
    }
    let log = monitor.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "not at trace level:\n{log}"
    );
    assert_no_secret(&log, "the trace log");
    drop(monitor);

    // One-shot failures: a wrong password, then an unreachable server.
    let wrong = single_run(
        &db,
        &station.api_url(),
        &[
            ("CABLECAST_USER_ID", USER),
            ("CABLECAST_PASSWORD", &PASSWORD.to_ascii_lowercase()),
            ("ARCHIVIST_LOG_LEVEL", "trace"),
        ],
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert_no_secret(&stderr(&wrong), "a refused login's error");
    drop(station);
    let gone = single_run(&db, "http://127.0.0.1:9/CablecastAPI/v1", &credentials);
    assert_eq!(gone.status.code(), Some(1));
    assert_no_secret(&stderr(&gone), "an unreachable server's error");

    for args in [&["status"][..], &["status", "--json"][..]] {
        let out = archivist()
            .arg("--db")
            .arg(&db)
            .args(args)
            .envs(credentials)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_no_secret(&stdout(&out), "status output");
        assert_no_secret(&stderr(&out), "status errors");
    }
    // The database (and its WAL) keeps cycle errors, never credentials.
    for name in ["archivist.db", "archivist.db-wal"] {
        if let Ok(bytes) = std::fs::read(scratch.path(name)) {
            assert_no_secret_bytes(&bytes, name);
        }
    }
}

/// A loopback listener that records every request head it receives and
/// answers each with `answer(port_of_the_other_listener)`.
struct Recorder {
    addr: std::net::SocketAddr,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start(answer: String) -> Recorder {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopped) = (heads.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).expect("blocking");
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .expect("timeout");
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                seen.lock()
                    .expect("heads")
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Recorder {
            addr,
            heads,
            stop,
            thread: Some(thread),
        }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads").clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_redirect_is_a_configuration_error_and_the_credentials_stay_home() {
    // The target another host (here: another port) would be: it answers like
    // Cablecast, so a client that followed would report success.
    let target = Recorder::start(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 38\r\nConnection: close\r\n\r\n{\"shows\":[],\"meta\":{\"count\":0}}      "
            .to_string(),
    );
    let location = format!("http://{}/CablecastAPI/v1/shows?page_size=1", target.addr);
    let configured = Recorder::start(format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    let scratch = Scratch::new();
    let out = single_run(
        &scratch.db(),
        &format!("http://{}/CablecastAPI/v1", configured.addr),
        &[
            ("CABLECAST_USER_ID", USER),
            ("CABLECAST_PASSWORD", PASSWORD),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "a configuration error: {err}");
    assert!(
        err.contains("answered 302") && err.contains("set CABLECAST_API_URL"),
        "says what to do: {err}"
    );
    assert!(
        err.contains(&format!("http://{}/CablecastAPI/v1/shows", target.addr)),
        "names where Cablecast pointed: {err}"
    );
    assert_no_secret(&err, "stderr");
    assert!(
        configured
            .heads()
            .iter()
            .any(|h| h.contains("Authorization: Basic")),
        "the configured server got the credentials"
    );
    assert!(
        target.heads().is_empty(),
        "the redirect target was contacted: {:?}",
        target.heads()
    );
}
