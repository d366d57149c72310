//! systemd's service protocol, as far as the boot service needs it: `READY=1`
//! after the first cycle, `STATUS=` with the sync figures, and `WATCHDOG=1`
//! while the monitor is alive, sent over `$NOTIFY_SOCKET` (a path, or an
//! abstract socket written `@name`). Without `$NOTIFY_SOCKET` (a terminal, a
//! test) everything here does nothing.
//!
//! What "alive" means: a cycle on a large catalogue can take longer than the
//! watchdog period, so pinging only after each cycle would get a healthy
//! monitor killed; pinging from a timer alone would keep a stuck one alive.
//! The timer thread (every half watchdog period) therefore vouches for the
//! monitor only when it is waiting between cycles (the wait is bounded by
//! `--interval`), or when it made progress within the last watchdog period:
//! a cycle finished, or a Cablecast request began (each is bounded by
//! `--http-timeout`, and a cycle is a sequence of them). A monitor stuck on
//! anything else stops being vouched for, and systemd restarts it one
//! watchdog period later. Before `READY=1` the same pings also extend
//! systemd's start timeout, so a first catalogue pass that takes longer than
//! `TimeoutStartSec=` is not mistaken for a hung start.
//!
//! On SIGTERM the service says `STOPPING=1` (see `shutdown`).
//!
//! What this is not: no other systemd feature (socket activation, journald's
//! native protocol, the `libsystemd` library).

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::monitor::CycleReport;
use crate::store::StoreError;

/// Tick of the timer when systemd asked for no watchdog: only the start
/// timeout is extended then.
const START_EXTENSION_TICK: Duration = Duration::from_secs(30);

/// What systemd puts in the environment of a service it starts, as `cli`
/// read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemdEnv {
    /// `NOTIFY_SOCKET`: where readiness and status go.
    pub notify_socket: Option<String>,
    /// `WATCHDOG_USEC`: the watchdog period.
    pub watchdog_usec: Option<String>,
    /// `WATCHDOG_PID`: the process the watchdog is meant for.
    pub watchdog_pid: Option<String>,
}

/// The socket systemd listens on, from the environment it started us with.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
    /// `WATCHDOG_USEC`, when the watchdog is on and meant for this process.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// `None` when not started by systemd (or `$NOTIFY_SOCKET` is unusable,
    /// which is logged once).
    pub fn from_env(env: &SystemdEnv) -> Option<Notifier> {
        let target = env.notify_socket.as_ref().filter(|s| !s.is_empty())?;
        let address = match socket_address(target) {
            Ok(address) => address,
            Err(e) => {
                log::warn!("NOTIFY_SOCKET {target:?} is unusable ({e}); not talking to systemd");
                return None;
            }
        };
        let socket = match UnixDatagram::unbound() {
            Ok(socket) => socket,
            Err(e) => {
                log::warn!("cannot open a socket to systemd ({e}); not talking to systemd");
                return None;
            }
        };
        let for_us = env
            .watchdog_pid
            .as_ref()
            .is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = env
            .watchdog_usec
            .as_ref()
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us)
            .map(Duration::from_micros);
        Some(Notifier {
            socket,
            address,
            watchdog,
        })
    }

    /// Sends one message (lines `KEY=value`). A lost message is logged, not
    /// fatal: systemd notices missing pings on its own.
    pub fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.address) {
            log::debug!("telling systemd {message:?} failed: {e}");
        }
    }

    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }
}

fn socket_address(target: &str) -> std::io::Result<SocketAddr> {
    match target.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => SocketAddr::from_pathname(target),
    }
}

/// What the monitor thread shares with the watchdog timer.
#[derive(Debug)]
struct Pulse {
    started: Instant,
    /// Cycles finished so far.
    cycles: AtomicU64,
    /// Milliseconds since `started` until which the monitor is waiting
    /// between cycles (`u64::MAX`: for good, as in read-only mode).
    idle_until_ms: AtomicU64,
    ready: AtomicBool,
}

/// The service's link to systemd: readiness, status and the watchdog.
/// Dropping it stops the timer thread.
pub struct ServiceLink {
    notifier: Option<Arc<Notifier>>,
    pulse: Arc<Pulse>,
    stop: Option<Sender<()>>,
    timer: Option<JoinHandle<()>>,
}

impl ServiceLink {
    /// Connects to systemd if it started this process, and starts the
    /// watchdog timer. `progress` is a counter that moves while the monitor
    /// works inside a cycle (Cablecast requests begun).
    pub fn start(env: &SystemdEnv, progress: fn() -> u64) -> ServiceLink {
        let pulse = Arc::new(Pulse {
            started: Instant::now(),
            cycles: AtomicU64::new(0),
            idle_until_ms: AtomicU64::new(0),
            ready: AtomicBool::new(false),
        });
        let notifier = Notifier::from_env(env).map(Arc::new);
        let mut link = ServiceLink {
            notifier,
            pulse,
            stop: None,
            timer: None,
        };
        if let Some(notifier) = &link.notifier {
            let (stop, stopped) = mpsc::channel::<()>();
            let notifier = Arc::clone(notifier);
            let pulse = Arc::clone(&link.pulse);
            let spawned = std::thread::Builder::new()
                .name("watchdog".into())
                .spawn(move || {
                    let tick = notifier.watchdog().map_or(START_EXTENSION_TICK, |w| w / 2);
                    // A monitor is given one whole watchdog period to show progress.
                    let stall_limit = notifier.watchdog().unwrap_or(START_EXTENSION_TICK * 2);
                    let mut seen = progress();
                    let mut last_progress = Instant::now();
                    loop {
                        match stopped.recv_timeout(tick) {
                            Err(RecvTimeoutError::Timeout) => {}
                            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                        }
                        let now_seen = progress() + pulse.cycles.load(Ordering::Relaxed);
                        if now_seen != seen {
                            seen = now_seen;
                            last_progress = Instant::now();
                        }
                        let idle = pulse.idle_until_ms.load(Ordering::Relaxed)
                            > pulse.started.elapsed().as_millis() as u64;
                        if idle {
                            // Waiting is progress: the next cycle starts afresh.
                            last_progress = Instant::now();
                        }
                        if !idle && last_progress.elapsed() >= stall_limit {
                            log::warn!(
                                "the monitor made no progress for {} s; no longer telling systemd it is alive",
                                last_progress.elapsed().as_secs()
                            );
                            continue;
                        }
                        let mut message = String::new();
                        if notifier.watchdog().is_some() {
                            message.push_str("WATCHDOG=1\n");
                        }
                        if !pulse.ready.load(Ordering::Relaxed) {
                            message.push_str(&format!(
                                "EXTEND_TIMEOUT_USEC={}\n",
                                (tick * 3).as_micros()
                            ));
                        }
                        if !message.is_empty() {
                            notifier.send(&message);
                        }
                    }
                });
            match spawned {
                Ok(handle) => {
                    link.stop = Some(stop);
                    link.timer = Some(handle);
                }
                Err(e) => log::warn!(
                    "cannot start the watchdog timer ({e}); pinging after each cycle only"
                ),
            }
        }
        link
    }

    /// After each cycle: `READY=1` the first time, the figures as `STATUS=`,
    /// and a watchdog ping. `next_cycle_in` is the wait until the next one.
    pub fn cycle_done(&self, report: &CycleReport, next_cycle_in: Duration) {
        self.pulse.cycles.fetch_add(1, Ordering::Relaxed);
        self.set_idle_for(next_cycle_in);
        self.tell(&status_line(report));
    }

    /// The database failed its integrity check: ready (the process serves
    /// what it can, read-only) and alive for good, with the reason as status.
    pub fn read_only(&self, damage: &StoreError) {
        self.pulse.idle_until_ms.store(u64::MAX, Ordering::Relaxed);
        self.tell(&format!("read-only: {damage}"));
    }

    /// What tells systemd the service is stopping (`STOPPING=1`), to run
    /// from the thread that learns of the stop.
    pub fn stopping_notice(&self) -> impl FnOnce() + Send + 'static {
        let notifier = self.notifier.clone();
        move || {
            if let Some(notifier) = notifier {
                notifier.send("STOPPING=1\nSTATUS=stopping\n");
            }
        }
    }

    fn set_idle_for(&self, wait: Duration) {
        let until = self.pulse.started.elapsed() + wait;
        self.pulse
            .idle_until_ms
            .store(until.as_millis() as u64, Ordering::Relaxed);
    }

    fn tell(&self, status: &str) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let mut message = String::new();
        if !self.pulse.ready.swap(true, Ordering::Relaxed) {
            message.push_str("READY=1\n");
        }
        // STATUS is one line by the protocol.
        message.push_str(&format!("STATUS={}\n", status.replace('\n', " ")));
        if notifier.watchdog().is_some() {
            message.push_str("WATCHDOG=1\n");
        }
        notifier.send(&message);
    }
}

impl Drop for ServiceLink {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(timer) = self.timer.take() {
            let _ = timer.join();
        }
    }
}

/// One line for `systemctl status`: the figures and Cablecast's health.
fn status_line(report: &CycleReport) -> String {
    let figures = match &report.stats {
        Some(s) => format!(
            "{} VODs, {:.1} % complete, {} in flight, {} failed",
            s.total_vods,
            s.sync_percentage(),
            s.pending_vods,
            s.failed_vods
        ),
        None => "figures unavailable".into(),
    };
    let health = match (&report.cablecast_error, &report.store_error) {
        (Some(e), _) => format!("Cablecast {}", e.kind().replace('_', " ")),
        (None, Some(_)) => "database error (see the log)".into(),
        (None, None) => "Cablecast reachable".into(),
    };
    format!(
        "{figures}; {health}; last cycle {:.1} s",
        report.record.duration_ms as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_and_path_sockets_are_told_apart() {
        use std::os::linux::net::SocketAddrExt;
        let named = socket_address("@archivist-test").expect("abstract");
        assert_eq!(named.as_abstract_name(), Some(&b"archivist-test"[..]));
        let path = socket_address("/run/systemd/notify").expect("path");
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
    }

    #[test]
    fn watchdog_meant_for_another_process_is_ignored() {
        let env = SystemdEnv {
            notify_socket: Some("@archivist-test".into()),
            watchdog_usec: Some("2000000".into()),
            watchdog_pid: Some("1".into()),
        };
        let notifier = Notifier::from_env(&env).expect("socket");
        assert_eq!(notifier.watchdog(), None);
    }
}
