//! A webhook receiver on loopback: records every request it gets, and can
//! answer with chosen statuses or slowly, to stand in for a destination
//! that is down, failing or slow. Stops on drop.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    got: Vec<Received>,
    /// Every request, whatever it was answered.
    requests: usize,
    /// Statuses for the next requests; 200 once empty.
    answers: VecDeque<u16>,
    delay: Duration,
}

pub struct Receiver {
    server: Arc<tiny_http::Server>,
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// A receiver on a free loopback port.
    pub fn start() -> Receiver {
        Receiver::on("127.0.0.1:0")
    }

    /// A receiver on `addr` (a port a destination already points at).
    pub fn on(addr: &str) -> Receiver {
        let server = Arc::new(tiny_http::Server::http(addr).expect("receiver binds"));
        let inner = Arc::new(Mutex::new(Inner::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, inner, stop) =
                (Arc::clone(&server), Arc::clone(&inner), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50))
                    else {
                        continue;
                    };
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let received = Received {
                        method: request.method().to_string(),
                        path: request.url().to_string(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| (h.field.to_string(), h.value.to_string()))
                            .collect(),
                        body,
                    };
                    let (status, delay) = {
                        let mut inner = inner.lock().expect("receiver");
                        inner.requests += 1;
                        let status = inner.answers.pop_front().unwrap_or(200);
                        (status, inner.delay)
                    };
                    std::thread::sleep(delay);
                    if status == 200 {
                        inner.lock().expect("receiver").got.push(received);
                    }
                    let _ = request
                        .respond(tiny_http::Response::from_string("ok").with_status_code(status));
                }
            })
        };
        Receiver {
            server,
            inner,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.server_addr().to_ip().expect("an IP address")
    }

    /// `scheme://127.0.0.1:PORT/path`.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr())
    }

    /// The next requests are answered with these statuses (and not kept).
    pub fn answer_next(&self, statuses: &[u16]) {
        self.inner
            .lock()
            .expect("receiver")
            .answers
            .extend(statuses.iter().copied());
    }

    /// Every answer waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.inner.lock().expect("receiver").delay = delay;
    }

    /// The requests answered 200 so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("receiver").got.clone()
    }

    /// Every request so far, whatever it was answered.
    pub fn requests(&self) -> usize {
        self.inner.lock().expect("receiver").requests
    }

    /// Waits until `n` requests were answered 200; panics after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let done = super::wait_until(timeout, || self.received().len() >= n);
        let got = self.received();
        assert!(
            done,
            "waited {timeout:?} for {n} requests, got {}: {got:#?}",
            got.len()
        );
        got
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
