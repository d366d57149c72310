//! What the status server's tests share: a station database filled by the
//! real monitor, a running server on a free loopback port, and a small HTTP
//! client over raw sockets (so a test controls exactly what is sent and when).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archivist::config::CablecastSettings;
use archivist::config::MonitorSettings;
use archivist::demo::DemoStation;
use archivist::monitor::Monitor;
use archivist::status::StatusBoard;
use archivist::status::SyncNow;
use archivist::store::{Access, Store};
use archivist::web::{AdminToken, StatusServer, WebSettings};

use crate::support::{self, Scratch};

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A database the monitor has filled from a demo station, and a status
/// server on it. Dropping it stops the server, then the station.
pub struct Site {
    pub server: StatusServer,
    pub board: Arc<StatusBoard>,
    pub monitor: Monitor,
    pub station: DemoStation,
    pub wake: Option<Receiver<SyncNow>>,
    pub scratch: Scratch,
}

impl Site {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.scratch.db()
    }
}

pub fn monitor_settings(api_url: &str) -> MonitorSettings {
    MonitorSettings {
        cablecast: CablecastSettings {
            api_url: api_url.to_string(),
            credentials: None,
            location_id: None,
            timeout_secs: 2,
            time_zone: archivist::clock::StationZone::utc(),
        },
        interval: Duration::from_secs(1),
        catalog_interval: Duration::from_secs(3600),
        changes_interval: Duration::ZERO,
        single_run: false,
        performance: false,
        batch_size: 50,
        http_concurrency: 4,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
    }
}

pub fn web_settings() -> WebSettings {
    let mut settings = WebSettings::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Duration::from_secs(60),
    );
    settings.socket_timeout = Duration::from_secs(2);
    settings
}

/// A station of `shows` shows, `cycles` monitor cycles into a fresh
/// database, and a server on it (with `settings`, and the admin token when
/// `admin` is set).
pub fn site_with(shows: usize, cycles: usize, mut settings: WebSettings, admin: bool) -> Site {
    let scratch = Scratch::new();
    let station = support::station(shows);
    let store = Arc::new(Store::open(&scratch.db(), Access::ReadWrite).expect("store opens"));
    let board = Arc::new(StatusBoard::new(store));
    let mut monitor = Monitor::new(monitor_settings(&station.api_url()), Arc::clone(&board));
    for _ in 0..cycles {
        station.catalogue().advance();
        monitor.cycle();
    }
    let (sender, wake): (SyncSender<SyncNow>, _) = std::sync::mpsc::sync_channel(1);
    if admin {
        settings.admin_token = Some(AdminToken::new(TOKEN).expect("valid token"));
    }
    let server =
        StatusServer::start(settings, Arc::clone(&board), Some(sender)).expect("server starts");
    Site {
        server,
        board,
        monitor,
        station,
        wake: Some(wake),
        scratch,
    }
}

pub fn site() -> Site {
    site_with(120, 2, web_settings(), false)
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Connects with a read timeout, so a test never hangs on a silent server.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout set");
    stream
}

/// Sends `head` (request line and headers, without the blank line), then
/// `body`, and reads one answer on a new connection.
pub fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut stream = connect(addr);
    let mut request = format!("{head}\r\nHost: test\r\n");
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("request sent");
    stream.write_all(body).expect("body sent");
    read_answer(&mut stream).expect("an answer")
}

pub fn get(addr: SocketAddr, path: &str) -> Answer {
    exchange(addr, &format!("GET {path} HTTP/1.1"), b"")
}

/// Reads one answer (status line, headers, Content-Length body).
pub fn read_answer(stream: &mut TcpStream) -> std::io::Result<Answer> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed after {} bytes", head.len()),
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Polls `check` until it holds or `within` passes.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `SELECT count(*) FROM cablecast_vod [WHERE vod_state = ?]`.
pub fn count_vods(db: &Path, state: Option<&str>) -> i64 {
    let conn = support::sqlite(db);
    match state {
        Some(s) => conn.query_row(
            "SELECT count(*) FROM cablecast_vod WHERE vod_state = ?1",
            [s],
            |r| r.get(0),
        ),
        None => conn.query_row("SELECT count(*) FROM cablecast_vod", [], |r| r.get(0)),
    }
    .expect("count")
}
