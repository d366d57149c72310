//! The listener and the workers: one `tiny_http::Server` on a std
//! `TcpListener`, shared by a fixed pool of worker threads.
//!
//! Every accepted socket gets a write timeout (a client that stops reading
//! is dropped); request heads and bodies are bounded (`routes`). A handler
//! that panics answers 500 and its worker carries on. Stopping unblocks and
//! joins every worker.
//!
//! Read timeouts (a client that stops sending) need tiny_http's own
//! per-connection limits: stock tiny_http 0.12 cannot take them, and a read
//! timeout on the listener would time out `accept` itself.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tiny_http::Server;

use super::admin::AdminToken;
use super::reply::Reply;
use super::routes::Site;
use super::WebError;
use crate::monitor::SyncNow;
use crate::status::StatusBoard;

/// Workers answering requests. Answers come from memory in microseconds, so
/// a few threads keep two cores busy; slow clients hold tiny_http's
/// per-connection threads, not these.
pub const DEFAULT_WORKERS: usize = 4;

/// How long a socket may sit without a byte moving before it is closed:
/// longer than any browser's keep-alive pause between a page and its
/// reload, well inside the 15 s the page's users would notice.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

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
        let listen = settings.listen;
        let context =
            |e: io::Error| io::Error::new(e.kind(), format!("status server on {listen}: {e}"));
        let listener = TcpListener::bind(listen).map_err(context)?;
        let addr = listener.local_addr().map_err(context)?;
        set_accepted_timeouts(&listener, settings.socket_timeout).map_err(context)?;
        let server = Server::from_listener(listener, None)
            .map_err(|e| io::Error::other(format!("status server on {listen}: {e}")))?;
        let server = Arc::new(server);
        let site = Arc::new(Site::new(
            board,
            settings.admin_token,
            sync_now,
            settings.cycle_deadline,
        ));
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

/// Sets the write timeout and `TCP_NODELAY` on the listening socket; Linux
/// copies both to every socket `accept` returns, which tiny_http 0.12 gives
/// no other way to reach. Without `TCP_NODELAY` the last part of a page
/// larger than one write waits for the client's delayed ACK (40 ms).
/// Not the read timeout: Linux applies that one to `accept` itself, which
/// would end tiny_http 0.12's accept loop after the first idle spell.
#[cfg(target_os = "linux")]
fn set_accepted_timeouts(listener: &TcpListener, timeout: Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let timeout = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    let on: libc::c_int = 1;
    set_option(
        listener.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_SNDTIMEO,
        &timeout,
    )?;
    set_option(
        listener.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        &on,
    )
}

#[cfg(target_os = "linux")]
fn set_option<T>(
    fd: std::os::fd::RawFd,
    level: libc::c_int,
    option: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `fd` is the listener's open descriptor, and `value` points to
    // a live value of the size passed.
    let done = unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_accepted_timeouts(_: &TcpListener, _: Duration) -> io::Result<()> {
    log::warn!("status server: socket timeouts are only set on Linux");
    Ok(())
}
