//! The status server under many clients at once: a burst of keep-alive
//! connections must all be answered, and stalled clients must neither starve
//! others nor hold their threads past the socket timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::web_support::{connect, get, read_answer, site, site_with, web_settings};

/// Connections opened at the same moment, as 50 browsers and scrapers do.
const BURST: usize = 50;

#[test]
fn a_burst_of_keep_alive_connections_is_answered_in_full() {
    let site = site();
    let addr = site.addr();
    // Warm the cache so the burst measures the server, not the first render.
    assert_eq!(get(addr, "/api/status").status, 200);
    let mut streams: Vec<TcpStream> = (0..BURST).map(|_| connect(addr)).collect();
    for stream in &mut streams {
        stream
            .write_all(b"GET /api/status HTTP/1.1\r\nHost: test\r\n\r\n")
            .expect("request sent");
    }
    // Read every answer in parallel, keeping every connection open. No
    // timing is asserted: the readers wait as long as a server serving the
    // burst one connection at a time, each up to its socket timeout, could
    // take (a guard against a hang, not a speed check).
    let patience = web_settings().socket_timeout * BURST as u32;
    let (done, results) = mpsc::channel();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let done = done.clone();
            stream
                .set_read_timeout(Some(patience))
                .expect("timeout set");
            std::thread::spawn(move || {
                let answered = read_answer(&mut stream).map(|a| a.status == 200);
                let _ = done.send(answered.unwrap_or(false));
                stream // kept open until every reader is done
            })
        })
        .collect();
    drop(done);
    let answered = results.iter().filter(|ok| *ok).count();
    let streams: Vec<TcpStream> = readers
        .into_iter()
        .map(|r| r.join().expect("reader"))
        .collect();
    assert_eq!(
        answered, BURST,
        "only {answered} of {BURST} keep-alive connections answered"
    );
    drop(streams);
}

/// Opens `n` connections that each send half a request head, then nothing.
fn stalled_clients(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut stream = connect(addr);
            stream
                .write_all(b"GET /api/status HTTP/1.1\r\nHost: te")
                .expect("partial head sent");
            stream
        })
        .collect()
}

/// Whether the server still holds `stream` open (nothing to read, no EOF).
fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("non-blocking");
    let mut byte = [0u8; 1];
    let open =
        matches!(stream.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).expect("blocking");
    open
}

#[test]
fn stalled_clients_do_not_starve_others() {
    // A socket timeout far longer than the test, so the stalled clients are
    // still there while the others are served (checked, not assumed).
    let mut settings = web_settings();
    settings.socket_timeout = Duration::from_secs(120);
    let site = site_with(120, 2, settings, false);
    let addr = site.addr();
    // More stalled clients than workers.
    let stalled = stalled_clients(addr, 20);
    for path in [
        "/",
        "/api/status",
        "/healthz",
        "/metrics",
        "/api/vods?limit=5",
    ] {
        assert_eq!(get(addr, path).status, 200, "{path}");
    }
    assert!(
        stalled.iter().all(still_open),
        "the stalled clients were gone before the others were served"
    );
}

#[test]
fn stalled_clients_are_cut_off() {
    let site = site();
    let addr = site.addr();
    let mut stalled = stalled_clients(addr, 20);
    // The socket timeout (2 s in these tests) closes every stalled
    // connection; reading then ends (EOF or reset), never times out here.
    let deadline = Instant::now() + Duration::from_secs(8);
    for stream in &mut stalled {
        stream
            .set_read_timeout(Some(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ))
            .expect("timeout set");
        let mut rest = Vec::new();
        let outcome = stream.read_to_end(&mut rest);
        let closed = match &outcome {
            Ok(_) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        assert!(closed, "a stalled connection stayed open: {outcome:?}");
    }
    assert_eq!(get(addr, "/api/status").status, 200);
}

#[test]
fn keeps_accepting_after_idle_spells_longer_than_the_socket_timeout() {
    let site = site();
    assert_eq!(get(site.addr(), "/healthz").status, 200);
    // Let time pass (the tests' socket timeout is 2 s): nothing to wait for.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(get(site.addr(), "/healthz").status, 200);
}
