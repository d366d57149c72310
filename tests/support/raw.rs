//! A raw TCP stand-in for Cablecast, for the faults an HTTP library cannot
//! produce: a connection reset in the middle of a body, an answer that never
//! comes, a body far larger than any real page. When healthy it forwards
//! every request to a demo station, optionally rewriting the answer, so a
//! running monitor can be switched between faults and a real catalogue.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Rewrites a forwarded answer: (request path, body) -> body.
pub type Rewrite = Arc<dyn Fn(&str, String) -> String + Send + Sync>;

/// How the stand-in answers.
#[derive(Clone)]
pub enum RawMode {
    /// Forwards to the demo station at this address, rewriting bodies when
    /// a rewrite is given.
    Forward(SocketAddr, Option<Rewrite>),
    /// Sends the status line, headers and part of the body, then resets the
    /// connection (RST, because the request was left unread).
    ResetMidBody,
    /// Reads the request and never answers; the connection stays open.
    Silent,
    /// A `200` JSON answer of this many bytes (a listing padded with spaces).
    Huge(usize),
    /// This status and body, as given.
    Answer(u16, String),
    /// A valid head, then the body one byte every 200 ms: every read
    /// succeeds, the answer never ends in useful time.
    Trickle,
}

struct Shared {
    mode: Mutex<RawMode>,
    stop: AtomicBool,
    requests: AtomicU64,
    /// Connections left hanging by `Silent`, closed on drop.
    held: Mutex<Vec<TcpStream>>,
}

/// The stand-in; stops and closes every connection when dropped.
pub struct RawStation {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl RawStation {
    pub fn start(mode: RawMode) -> RawStation {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            held: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accepting);
                std::thread::spawn(move || serve(&shared, stream));
            }
        });
        RawStation {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The value for `CABLECAST_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}{}", self.addr, archivist::demo::API_PATH)
    }

    pub fn set_mode(&self, mode: RawMode) {
        *self.shared.mode.lock().expect("mode") = mode;
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for RawStation {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.shared.held.lock().expect("held").clear();
    }
}

/// Reads the request head; returns (path, Authorization header) or None.
fn read_head(stream: &mut TcpStream) -> Option<(String, Option<String>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split_whitespace().nth(1)?.to_string();
    let authorization = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    });
    Some((path, authorization))
}

fn respond(stream: &mut TcpStream, status: u16, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} Fault\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn serve(shared: &Shared, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().expect("mode").clone();
    match mode {
        RawMode::ResetMidBody => {
            // Wait for the request to arrive but leave it unread: closing a
            // socket with unread input makes the kernel send a reset.
            let mut first = [0u8; 1];
            if stream.peek(&mut first).is_err() {
                return;
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90000\r\n\r\n{\"vods\": [{\"id\": 1207, \"vodState\": \"comp",
            );
            let _ = stream.flush();
            std::thread::sleep(Duration::from_millis(20));
        }
        RawMode::Silent => {
            let _ = read_head(&mut stream);
            shared.held.lock().expect("held").push(stream);
        }
        RawMode::Huge(size) => {
            if read_head(&mut stream).is_none() {
                return;
            }
            let start = b"{\"vods\": [], \"meta\": {\"count\": 0}, \"pad\": \"";
            let end = b"\"}";
            let pad = size.saturating_sub(start.len() + end.len());
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(start);
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = pad;
            while left > 0 {
                let n = left.min(chunk.len());
                if stream.write_all(&chunk[..n]).is_err() {
                    return;
                }
                left -= n;
            }
            let _ = stream.write_all(end);
        }
        RawMode::Trickle => {
            if read_head(&mut stream).is_none() {
                return;
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
            );
            for _ in 0..100_000 {
                if shared.stop.load(Ordering::SeqCst) || stream.write_all(b" ").is_err() {
                    return;
                }
                let _ = stream.flush();
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        RawMode::Answer(status, body) => {
            if read_head(&mut stream).is_some() {
                respond(&mut stream, status, body.as_bytes());
            }
        }
        RawMode::Forward(upstream, rewrite) => {
            let Some((path, authorization)) = read_head(&mut stream) else {
                return;
            };
            let mut request = minreq::get(format!("http://{upstream}{path}")).with_timeout(30);
            if let Some(authorization) = authorization {
                request = request.with_header("Authorization", authorization);
            }
            match request.send() {
                Ok(answer) => {
                    let status = answer.status_code;
                    let body = answer.as_str().unwrap_or_default().to_string();
                    let body = match &rewrite {
                        Some(rewrite) => rewrite(&path, body),
                        None => body,
                    };
                    respond(&mut stream, status, body.as_bytes());
                }
                Err(_) => respond(&mut stream, 502, b"<html>bad gateway</html>"),
            }
        }
    }
}
