//! The listener and the workers: one `tiny_http::Server` on a std
//! `TcpListener`, shared by a fixed pool of worker threads.
//!
//! Every accepted socket gets read and write timeouts and a deadline for its
//! request head (tiny_http's `ConnectionLimits`, from the patched copy in
//! `vendor/`), so a client that stalls is dropped and the thread reading for
//! it comes back; request heads and bodies are bounded (`routes`). A handler
//! that panics answers 500 and its worker carries on. Stopping unblocks and
//! joins every worker.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tiny_http::{ConnectionLimits, Server};

use super::admin::AdminToken;
use super::links::CablecastLinks;
use super::reply::Reply;
use super::routes::Site;
use super::WebError;
use crate::clock::StationZone;
use crate::status::{StatusBoard, SyncNow};

/// Workers answering requests. Answers come from memory in microseconds, so
/// a few threads keep two cores busy; slow clients hold tiny_http's
/// per-connection threads, not these.
pub const DEFAULT_WORKERS: usize = 4;

/// How long a socket may sit without a byte moving before it is closed:
/// longer than any browser's keep-alive pause between a page and its
/// reload, well inside the 15 s the page's users would notice.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request line plus headers accepted (tiny_http answers 431 past
/// it): browsers send 1 to 2 KiB.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// Most connections open at once. Each holds one of tiny_http's threads
/// (about 0.1 MB), so this bounds threads and memory however many clients
/// connect; connections past it are closed at once and retried by browsers.
pub const MAX_CONNECTIONS: usize = 512;

/// Most connections open at once from one address: far above what a
/// browser or a scraper opens (6 at most), and below `MAX_CONNECTIONS`, so
/// one misbehaving machine on the LAN always leaves places for the others.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 400;

/// Longest a client may take to send one request head (browsers send it in
/// one packet). tiny_http checks it as bytes arrive, so a client trickling
/// its head is cut off within this plus the socket timeout: 15 s at most.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How the status server runs.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub listen: SocketAddr,
    pub workers: usize,
    /// Read and write timeout of every connection.
    pub socket_timeout: Duration,
    /// `/healthz` answers 503 once the monitor's last cycle is older.
    pub cycle_deadline: Duration,
    /// When set, write endpoints exist and require it.
    pub admin_token: Option<AdminToken>,
    /// Links from VODs and shows into Cablecast, when its URL is known.
    pub cablecast_links: Option<CablecastLinks>,
    /// The station's time zone: the times the pages and `/health/*` show.
    pub zone: StationZone,
}

impl WebSettings {
    /// Defaults for a monitor cycling every `interval`: healthy while the
    /// last cycle is at most two intervals and a minute old.
    pub fn new(listen: SocketAddr, interval: Duration) -> WebSettings {
        WebSettings {
            listen,
            workers: DEFAULT_WORKERS,
            socket_timeout: DEFAULT_SOCKET_TIMEOUT,
            cycle_deadline: interval * 2 + Duration::from_secs(60),
            admin_token: None,
            cablecast_links: None,
            zone: StationZone::utc(),
        }
    }
}

/// A running status server. Stops (and joins its workers) when dropped.
pub struct StatusServer {
    addr: SocketAddr,
    server: Arc<Server>,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl StatusServer {
    /// Binds `settings.listen` and starts the workers. `sync_now` wakes the
    /// monitor, when one runs in this process.
    pub fn start(
        settings: WebSettings,
        board: Arc<StatusBoard>,
        sync_now: Option<SyncSender<SyncNow>>,
    ) -> io::Result<StatusServer> {
        crate::memory::tune_allocator();
        let listen = settings.listen;
        let context =
            |e: io::Error| io::Error::new(e.kind(), format!("status server on {listen}: {e}"));
        let listener = TcpListener::bind(listen).map_err(context)?;
        let addr = listener.local_addr().map_err(context)?;
        let limits = ConnectionLimits {
            read_timeout: Some(settings.socket_timeout),
            write_timeout: Some(settings.socket_timeout),
            header_timeout: Some(HEAD_TIMEOUT.min(settings.socket_timeout)),
            max_header_bytes: Some(MAX_HEAD_BYTES),
            max_connections: Some(MAX_CONNECTIONS),
            max_connections_per_ip: Some(MAX_CONNECTIONS_PER_CLIENT),
            // Without it the last part of a page larger than one write waits
            // for the client's delayed ACK (40 ms a request).
            no_delay: true,
        };
        let server = Server::from_listener_with_limits(listener, None, limits)
            .map_err(|e| io::Error::other(format!("status server on {listen}: {e}")))?;
        let server = Arc::new(server);
        let site = Site::new(
            board,
            settings.admin_token,
            sync_now,
            settings.cycle_deadline,
        )
        .map(|site| {
            site.with_cablecast_links(settings.cablecast_links)
                .in_zone(settings.zone)
        })
        .map_err(|e| io::Error::other(format!("status server on {listen}: {e}")))?;
        let site = Arc::new(site);
        let stopping = Arc::new(AtomicBool::new(false));
        let workers = (0..settings.workers.max(1))
            .map(|n| {
                let server = Arc::clone(&server);
                let site = Arc::clone(&site);
                let stopping = Arc::clone(&stopping);
                thread::Builder::new()
                    .name(format!("web-{n}"))
                    .spawn(move || work(&server, &site, &stopping))
            })
            .collect::<io::Result<Vec<_>>>()
            .map_err(context)?;
        Ok(StatusServer {
            addr,
            server,
            stopping,
            workers,
        })
    }

    /// The address actually bound (a `:0` port resolved).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server stops (it does not stop by itself).
    pub fn wait(mut self) {
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn work(server: &Server, site: &Site, stopping: &AtomicBool) {
    loop {
        let mut request = match server.recv() {
            Ok(request) => request,
            Err(e) => {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                log::warn!("status server: {e}");
                continue;
            }
        };
        let reply = panic::catch_unwind(AssertUnwindSafe(|| site.answer(&mut request)))
            .unwrap_or_else(|_| {
                log::error!("status server: answering {} panicked", request.url());
                Reply::error(&WebError::Internal)
            });
        if let Err(e) = request.respond(reply.into_response()) {
            log::debug!("status server: writing an answer: {e}");
        }
    }
}
