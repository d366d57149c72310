//! The long-running commands: `monitor`, `demo`, `demo-station` and
//! `serve`, as validated by `parse`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::{alerts, CliError, Service};
use crate::config::ConfigError;
use crate::demo::{DemoStation, StationOptions};
use crate::monitor::Monitor;
use crate::shutdown;
use crate::status::{StatusBoard, SyncNow};
use crate::store::{Access, DatabaseLock, Store};
use crate::stuck::StuckAfter;
use crate::systemd::ServiceLink;
use crate::web::{CablecastLinks, StatusServer, WebSettings};

/// `archivist serve`: the page and API alone. Opens the file read-write when
/// it may (so the history tables of an older file get created), else
/// read-only; never creates it.
pub(super) fn run_serve(
    db: &Path,
    settings: WebSettings,
    stuck_after: StuckAfter,
) -> Result<ExitCode, CliError> {
    let writable = db.exists()
        && std::fs::OpenOptions::new().write(true).open(db).is_ok()
        && db
            .parent()
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }
            })
            .and_then(|dir| std::fs::metadata(dir).ok())
            .is_some_and(|meta| !meta.permissions().readonly());
    let access = if writable {
        Access::ReadWrite
    } else {
        Access::ReadOnly
    };
    listen_for_stop()?;
    let mut settings = settings;
    let mut first = true;
    loop {
        let store = Arc::new(Store::open(db, access)?);
        close_on_stop(&store);
        let board = Arc::new(StatusBoard::new(Arc::clone(&store)).with_stuck_after(stuck_after));
        let server = start_status_server(settings.clone(), board, None)?;
        if first {
            // A reader gone from the terminal does not stop the server.
            let _ = outln!("Status page: http://{}/", server.addr());
            log::info!("serving {} on http://{}/", db.display(), server.addr());
            first = false;
        }
        // The same address (a `:0` port resolved) after a reopen.
        settings.listen = server.addr();
        // `restore` renames a new file over the database: serve that one.
        while !shutdown::wait_timeout(REPLACED_CHECK) {
            crate::memory::give_back_freed();
            if store.replaced() {
                break;
            }
        }
        drop(server);
        if shutdown::requested() {
            shutdown::finish();
            return Ok(ExitCode::SUCCESS);
        }
        log::info!(
            "{} was replaced (restored from a backup): serving the new file",
            db.display()
        );
    }
}

/// How often `serve` looks whether the database file was replaced.
const REPLACED_CHECK: Duration = Duration::from_secs(1);

/// Makes SIGTERM and SIGINT stop the command cleanly (see `shutdown`).
/// Called before the command starts any thread.
fn listen_for_stop() -> Result<(), CliError> {
    shutdown::listen().map_err(|error| CliError::Start {
        what: "the stop-signal listener",
        error,
    })
}

/// What ends a stopped process that has the database open: the log folded
/// into the file, and the one line that says so.
fn close_on_stop(store: &Arc<Store>) {
    let store = Arc::clone(store);
    shutdown::closing_steps(move || {
        let signal = shutdown::signal().unwrap_or("a stop request");
        match store.checkpoint() {
            Ok(true) => log::info!(
                "stopped on {signal}: {} checkpointed and closed",
                store.path().display()
            ),
            Ok(false) => log::info!(
                "stopped on {signal}: {} closed, not written (read-only or damaged)",
                store.path().display()
            ),
            Err(e) => log::warn!("stopped on {signal}: {e}"),
        }
    });
}

fn start_status_server(
    settings: WebSettings,
    board: Arc<StatusBoard>,
    wake: Option<std::sync::mpsc::SyncSender<SyncNow>>,
) -> Result<StatusServer, CliError> {
    let listen = settings.listen;
    StatusServer::start(settings, board, wake).map_err(|e| match e.kind() {
        // The address is a setting the engineer can fix: a config error.
        std::io::ErrorKind::AddrInUse => CliError::Config(ConfigError::new(
            "--listen (or ARCHIVIST_LISTEN)",
            format!("{e}; is another archivist or program using {listen}?"),
        )),
        std::io::ErrorKind::PermissionDenied => CliError::Config(ConfigError::new(
            "--listen (or ARCHIVIST_LISTEN)",
            format!(
                "{e}; this user may not listen on port {}: ports below 1024 need privileges the service does not have, use 1024 or above (e.g. 8080)",
                listen.port()
            ),
        )),
        std::io::ErrorKind::AddrNotAvailable => CliError::Config(ConfigError::new(
            "--listen (or ARCHIVIST_LISTEN)",
            format!("{e}; {} is not an address of this machine", listen.ip()),
        )),
        _ => CliError::Start {
            what: "the status server",
            error: e,
        },
    })
}

pub(super) fn run_monitor(
    db: &Path,
    service: Service,
    on_listening: &dyn Fn(SocketAddr),
) -> Result<ExitCode, CliError> {
    let Service {
        settings,
        admin_token,
        systemd,
        stuck_after,
        cablecast_links,
        alerts: alert_settings,
    } = service;
    listen_for_stop()?;
    // Held for the whole run, so `restore` can tell the service is running.
    let _lock = DatabaseLock::acquire(db, "monitor")?;
    let store = Arc::new(Store::open(db, Access::ReadWrite)?);
    close_on_stop(&store);
    let service = ServiceLink::start(&systemd, crate::cablecast::requests_begun);
    shutdown::on_request(service.stopping_notice());
    let board = Arc::new(StatusBoard::new(Arc::clone(&store)).with_stuck_after(stuck_after));
    let mut web = WebSettings::new(settings.listen, settings.interval);
    web.admin_token = admin_token;
    web.cablecast_links = cablecast_links;
    web.zone = settings.cablecast.time_zone.clone();
    if let Some(damage) = store.damage().cloned() {
        if settings.single_run {
            return Err(damage.into());
        }
        // Read-only mode: no cycles (they would write), but the process stays
        // up so the status page can say what happened; `Store::damage` is
        // what the page reads.
        log::error!("{damage}");
        service.read_only(&damage);
        // Nothing can be recorded: the alert goes out from memory.
        let _notifier = alerts::database_damaged(&alert_settings, &damage.to_string());
        let server = start_status_server(web, board, None)?;
        on_listening(server.addr());
        shutdown::wait();
        drop(server);
        shutdown::finish();
        return Ok(ExitCode::SUCCESS);
    }
    let single_run = settings.single_run;
    let interval = settings.interval;
    if single_run {
        log::info!(
            "checking {} once into {}",
            settings.cablecast.api_url,
            db.display()
        );
    } else {
        log::info!(
            "monitoring {} every {} s into {}",
            settings.cablecast.api_url,
            settings.interval.as_secs(),
            db.display()
        );
    }
    let mut monitor = Monitor::new(settings, Arc::clone(&board));
    if !single_run {
        monitor = monitor.with_alerts(alerts::watch(Arc::clone(board.store()), alert_settings));
    }
    if single_run {
        let report = monitor.cycle();
        if report.stopped {
            shutdown::finish();
            return Ok(ExitCode::SUCCESS);
        }
        service.cycle_done(&report, Duration::ZERO);
        let current = report.is_current();
        return match (report.cablecast_error, report.store_error) {
            (Some(e), _) => Err(CliError::Cablecast(e)),
            (None, Some(e)) => Err(CliError::Store(e)),
            (None, None) if !current => Err(CliError::Unrefreshed {
                vods: report.refresh.failed,
            }),
            (None, None) => Ok(ExitCode::SUCCESS),
        };
    }
    // One pending wake-up is enough: more requests while it waits add nothing.
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    let stop_waiting = wake.clone();
    shutdown::on_request(move || {
        let _ = stop_waiting.try_send(SyncNow);
    });
    let server = start_status_server(web, Arc::clone(&board), Some(wake))?;
    on_listening(server.addr());
    monitor.run(woken, |report| {
        let took = Duration::from_millis(report.record.duration_ms.max(0) as u64);
        service.cycle_done(report, interval.saturating_sub(took));
        crate::memory::give_back_freed();
    });
    drop(server);
    shutdown::finish();
    Ok(ExitCode::SUCCESS)
}

/// `archivist demo`: starts the built-in station, points the monitor at it
/// and runs it; the station's day moves on once per cycle. `again` runs
/// archivist from here, for the commands it suggests.
pub(super) fn run_demo(db: &Path, mut service: Service, again: &str) -> Result<ExitCode, CliError> {
    // Before the station's threads start, so they leave the signals to it.
    listen_for_stop()?;
    let station = DemoStation::start(StationOptions {
        moves_every: Some(service.settings.interval),
        ..StationOptions::default()
    })
    .map_err(|error| CliError::Start {
        what: "the demo station",
        error,
    })?;
    service.settings.cablecast.api_url = station.api_url();
    // A newcomer sees where the page links into Cablecast: here, the demo
    // station's own records.
    service.cablecast_links = Some(CablecastLinks::from_api_url(&station.api_url()));
    let api_url = station.api_url();
    let outcome = run_monitor(db, service, &|addr| {
        // A reader gone from the terminal does not stop the demo.
        let _ = out!("{}", demo_banner(&api_url, db, again, addr));
    });
    drop(station);
    outcome
}

/// What the demo prints once its page is up: where things are, what to
/// run next, and the status page's address last, on a line of its own.
fn demo_banner(api_url: &str, db: &Path, again: &str, page: SocketAddr) -> String {
    let db = db.display();
    format!(
        "Demo station (Cablecast API): {api_url}\n\
         Database: {db}  (inspect: sqlite3 -readonly {db} '{sql}')\n\
         In another terminal: {again} --db {db} status\n\
         Each VOD's changes are logged with --log-level debug; Ctrl-C stops the demo.\n\
         \n\
         Status page: http://{page}/\n",
        sql = crate::store::VODS_BY_STATE_SQL
    )
}

/// `archivist demo-station`: the demo Cablecast alone, until the process is
/// stopped, for running a separately started monitor against it (the CI's
/// arm run under qemu does).
pub(super) fn run_demo_station(options: StationOptions) -> Result<ExitCode, CliError> {
    listen_for_stop()?;
    let station = DemoStation::start(options).map_err(|error| CliError::Start {
        what: "the demo station",
        error,
    })?;
    let _ = outln!("CABLECAST_API_URL={}", station.api_url());
    log::info!("demo station on {}", station.api_url());
    shutdown::closing_steps(|| {
        let signal = shutdown::signal().unwrap_or("a stop request");
        log::info!("stopped on {signal}: demo station closed");
    });
    shutdown::wait();
    drop(station);
    shutdown::finish();
    Ok(ExitCode::SUCCESS)
}
