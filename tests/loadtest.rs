//! `archivist loadtest` against a real loopback HTTP server started here:
//! it keeps connections alive, reads fixed-length and chunked answers,
//! counts failures by kind, stops by itself, and refuses a target off this
//! machine without sending it anything.

use std::io::Cursor;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use serde_json::Value;
use tiny_http::{Response, Server};

use crate::support::{self, archivist};

/// A stand-in for the status server: the four paths the load test asks for
/// (`/` answered chunked), 404 for anything else.
struct StatusStandIn {
    addr: SocketAddr,
    server: Arc<Server>,
    requests: Arc<AtomicU64>,
    workers: Vec<JoinHandle<()>>,
}

impl StatusStandIn {
    fn start() -> StatusStandIn {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("server starts"));
        let addr = server.server_addr().to_ip().expect("an IP address");
        let requests = Arc::new(AtomicU64::new(0));
        let workers = (0..4)
            .map(|_| {
                let (server, requests) = (Arc::clone(&server), Arc::clone(&requests));
                thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        requests.fetch_add(1, Ordering::Relaxed);
                        let _ = match request.url() {
                            "/" => request.respond(Response::new(
                                200.into(),
                                Vec::new(),
                                Cursor::new(b"<html>status page</html>".repeat(40)),
                                None,
                                None,
                            )),
                            "/api/status" | "/api/vods" | "/healthz" => {
                                request.respond(Response::from_string("{\"ok\":true}"))
                            }
                            _ => request.respond(Response::from_string("no").with_status_code(404)),
                        };
                    }
                })
            })
            .collect();
        StatusStandIn {
            addr,
            server,
            requests,
            workers,
        }
    }
}

impl Drop for StatusStandIn {
    fn drop(&mut self) {
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn loadtest(args: &[&str]) -> std::process::Output {
    archivist()
        .arg("loadtest")
        .args(args)
        .output()
        .expect("archivist runs")
}

#[test]
fn keep_alive_load_is_counted_per_endpoint_and_stops_by_itself() {
    let server = StatusStandIn::start();
    let url = format!("http://{}", server.addr);
    let output = loadtest(&[
        "--url",
        &url,
        "--users",
        "3",
        "--duration",
        "30",
        "--requests",
        "400",
        "--json",
    ]);
    assert!(output.status.success(), "{}", support::stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(report["requests"], 400);
    assert_eq!(server.requests.load(Ordering::Relaxed), 400);
    assert_eq!(report["success_pct"], 100.0);
    assert_eq!(report["errors"], serde_json::json!({}));
    // Keep-alive: one connection per user for the whole run.
    assert_eq!(report["connections_opened"], 3);
    let endpoints = report["endpoints"].as_array().expect("endpoints");
    let paths: Vec<&str> = endpoints
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, ["/api/status", "/", "/api/vods", "/healthz"]);
    for endpoint in endpoints {
        assert!(endpoint["requests"].as_u64() > Some(0), "{endpoint}");
        let latency = &endpoint["latency_ms"];
        let (min, p50, p99, max) = (
            latency["min"].as_f64().expect("min"),
            latency["p50"].as_f64().expect("p50"),
            latency["p99"].as_f64().expect("p99"),
            latency["max"].as_f64().expect("max"),
        );
        assert!(min <= p50 && p50 <= p99 && p99 <= max, "{latency}");
    }
    assert_eq!(report["overall"]["requests"], 400);

    let text = loadtest(&[
        "--url",
        &format!("{url}/elsewhere"),
        "--users",
        "2",
        "--duration",
        "5",
        "--requests",
        "20",
    ]);
    // The figures are printed, and a run where nothing answered fails.
    assert_eq!(text.status.code(), Some(1), "{}", support::stderr(&text));
    assert!(support::stderr(&text).contains("none of the 20 requests succeeded"));
    let table = support::stdout(&text);
    assert!(table.contains("0.00 % successful"), "{table}");
    assert!(table.contains("HTTP 404: 20"), "{table}");
}

#[test]
fn targets_off_this_machine_are_refused_before_anything_is_sent() {
    for url in ["http://archive.example.org:8080", "http://192.0.2.10:8080/"] {
        let output = loadtest(&["--url", url, "--duration", "1"]);
        assert_eq!(output.status.code(), Some(2), "{url}");
        assert!(support::stderr(&output).contains("--allow-remote"), "{url}");
        assert!(output.stdout.is_empty());
    }
    // A listener on this machine's own non-loopback address, if it has one:
    // without --allow-remote it must not see a single connection.
    let probe = UdpSocket::bind("0.0.0.0:0").expect("UDP socket");
    let Some(own_ip) = probe
        .connect("192.0.2.1:9")
        .ok()
        .and_then(|()| probe.local_addr().ok())
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    else {
        return;
    };
    let listener = TcpListener::bind((own_ip, 0)).expect("listener binds");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let output = loadtest(&["--url", &url, "--duration", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the load test connected to a remote target"
    );
}
