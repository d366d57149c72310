//! The long-running commands: `monitor`, `demo`, `demo-station` and
//! `serve`, and the validation of their settings.

use super::*;

/// Longest interval accepted: a day.
const MAX_INTERVAL_SECS: u64 = 86_400;
/// Longest request timeout accepted.
const MAX_TIMEOUT_SECS: u64 = 600;

/// Flags of `monitor` and `demo`, before validation.
#[derive(Default)]
pub(super) struct MonitorFlags {
    interval: Option<String>,
    catalog_interval: Option<String>,
    single_run: bool,
    performance: bool,
    batch_size: Option<String>,
    http_concurrency: Option<String>,
    http_timeout: Option<String>,
    listen: Option<String>,
}

pub(super) fn monitor_flags(rest: Vec<OsString>) -> Result<MonitorFlags, CliError> {
    let mut flags = MonitorFlags::default();
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("interval") => flags.interval = Some(parser.value()?.string()?),
            Long("catalog-interval") => flags.catalog_interval = Some(parser.value()?.string()?),
            Long("single-run") => flags.single_run = true,
            Long("performance") => flags.performance = true,
            Long("batch-size") => flags.batch_size = Some(parser.value()?.string()?),
            Long("http-concurrency") => flags.http_concurrency = Some(parser.value()?.string()?),
            Long("http-timeout") => flags.http_timeout = Some(parser.value()?.string()?),
            Long("listen") => flags.listen = Some(parser.value()?.string()?),
            other => return Err(other.unexpected().into()),
        }
    }
    Ok(flags)
}

/// A flag's value, else the variable's, with the name of whichever was used
/// (so an error names the setting the engineer actually set).
fn pick<'a>(
    flag: &'a Option<String>,
    flag_name: &'a str,
    env: &'a Env,
    var: &'a str,
) -> Option<(&'a str, &'a str)> {
    match flag {
        Some(value) => Some((flag_name, value.as_str())),
        None => env.get(var).map(|value| (var, value.as_str())),
    }
}

/// Validates the monitor's settings. `api_url` overrides the environment
/// (the demo points the monitor at its own station).
pub(super) fn monitor_settings(
    flags: &MonitorFlags,
    env: &Env,
    api_url: Option<String>,
) -> Result<MonitorSettings, ConfigError> {
    let api_url = match api_url {
        Some(url) => url,
        None => {
            let text = env
                .get("CABLECAST_API_URL")
                .filter(|u| !u.trim().is_empty())
                .ok_or_else(|| {
                    ConfigError::new(
                        "CABLECAST_API_URL",
                        "not set; give the Cablecast API root, e.g. https://cablecast.example.org/CablecastAPI/v1 (or run `archivist demo`)",
                    )
                })?;
            config::parse_api_url("CABLECAST_API_URL", text)?
        }
    };
    let credentials = config::credentials(
        env.get("CABLECAST_USER_ID").cloned(),
        env.get("CABLECAST_PASSWORD").cloned(),
    )?;
    let location_id = match env
        .get("CABLECAST_LOCATION_ID")
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
    {
        Some(text) => Some(text.parse::<i64>().ok().filter(|l| *l > 0).ok_or_else(|| {
            ConfigError::new(
                "CABLECAST_LOCATION_ID",
                format!("{text:?} is not a positive whole number"),
            )
        })?),
        None => None,
    };
    let seconds =
        |flag: &Option<String>, flag_name: &str, var: &str, default: u64, max: u64| match pick(
            flag, flag_name, env, var,
        ) {
            Some((name, text)) => config::parse_seconds(name, text, max),
            None => Ok(Duration::from_secs(default)),
        };
    let count =
        |flag: &Option<String>, flag_name: &str, var: &str, default: usize, max: usize| match pick(
            flag, flag_name, env, var,
        ) {
            Some((name, text)) => config::parse_count(name, text, 1, max),
            None => Ok(default),
        };
    let timeout = seconds(
        &flags.http_timeout,
        "--http-timeout",
        "ARCHIVIST_HTTP_TIMEOUT",
        30,
        MAX_TIMEOUT_SECS,
    )?;
    let listen: SocketAddr = match pick(&flags.listen, "--listen", env, "ARCHIVIST_LISTEN") {
        Some((name, text)) => config::parse_listen(name, text)?,
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    Ok(MonitorSettings {
        cablecast: CablecastSettings {
            api_url,
            credentials,
            location_id,
            timeout_secs: timeout.as_secs(),
        },
        interval: seconds(
            &flags.interval,
            "--interval",
            "ARCHIVIST_INTERVAL",
            300,
            MAX_INTERVAL_SECS,
        )?,
        catalog_interval: seconds(
            &flags.catalog_interval,
            "--catalog-interval",
            "ARCHIVIST_CATALOG_INTERVAL",
            3600,
            MAX_INTERVAL_SECS * 7,
        )?,
        single_run: flags.single_run,
        performance: flags.performance,
        batch_size: count(
            &flags.batch_size,
            "--batch-size",
            "ARCHIVIST_BATCH_SIZE",
            50,
            10_000,
        )?,
        http_concurrency: count(
            &flags.http_concurrency,
            "--http-concurrency",
            "ARCHIVIST_HTTP_CONCURRENCY",
            4,
            64,
        )?,
        listen,
    })
}

/// `ARCHIVIST_ADMIN_TOKEN`, validated.
pub(super) fn admin_token(env: &Env) -> Result<Option<AdminToken>, ConfigError> {
    match env.get("ARCHIVIST_ADMIN_TOKEN").filter(|t| !t.is_empty()) {
        Some(text) => AdminToken::new(text)
            .map(Some)
            .map_err(|reason| ConfigError::new("ARCHIVIST_ADMIN_TOKEN", reason)),
        None => Ok(None),
    }
}

/// Validates `serve`'s flags and variables.
pub(super) fn serve_settings(rest: Vec<OsString>, env: &Env) -> Result<WebSettings, CliError> {
    let (mut listen, mut interval) = (None, None);
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("listen") => listen = Some(parser.value()?.string()?),
            Long("interval") => interval = Some(parser.value()?.string()?),
            other => return Err(other.unexpected().into()),
        }
    }
    let listen: SocketAddr = match pick(&listen, "--listen", env, "ARCHIVIST_LISTEN") {
        Some((name, text)) => config::parse_listen(name, text)?,
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let interval = match pick(&interval, "--interval", env, "ARCHIVIST_INTERVAL") {
        Some((name, text)) => config::parse_seconds(name, text, MAX_INTERVAL_SECS)?,
        None => Duration::from_secs(300),
    };
    let mut settings = WebSettings::new(listen, interval);
    settings.admin_token = admin_token(env)?;
    Ok(settings)
}

/// `archivist serve`: the page and API alone. Opens the file read-write when
/// it may (so the history tables of an older file get created), else
/// read-only; never creates it.
pub(super) fn run_serve(db: &std::path::Path, settings: WebSettings) -> Result<ExitCode, CliError> {
    let writable = db.exists()
        && std::fs::OpenOptions::new().write(true).open(db).is_ok()
        && db
            .parent()
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    std::path::Path::new(".")
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
    let store = Arc::new(Store::open(db, access)?);
    let board = Arc::new(StatusBoard::new(store));
    let server = start_status_server(settings, board, None)?;
    println!("Status page: http://{}/", server.addr());
    log::info!("serving {} on http://{}/", db.display(), server.addr());
    server.wait();
    Ok(ExitCode::SUCCESS)
}

fn start_status_server(
    settings: WebSettings,
    board: Arc<StatusBoard>,
    wake: Option<std::sync::mpsc::SyncSender<crate::monitor::SyncNow>>,
) -> Result<StatusServer, CliError> {
    let listen = settings.listen;
    StatusServer::start(settings, board, wake).map_err(|e| match e.kind() {
        // The address is a setting the engineer can fix: a config error.
        std::io::ErrorKind::AddrInUse
        | std::io::ErrorKind::AddrNotAvailable
        | std::io::ErrorKind::PermissionDenied => CliError::Config(ConfigError::new(
            "--listen (or ARCHIVIST_LISTEN)",
            format!("{e}; is another archivist or program using {listen}?"),
        )),
        _ => CliError::Other(e.to_string()),
    })
}

pub(super) fn run_monitor(
    db: &std::path::Path,
    settings: MonitorSettings,
    env: &Env,
    admin_token: Option<AdminToken>,
    on_listening: &dyn Fn(SocketAddr),
) -> Result<ExitCode, CliError> {
    let alert_settings = AlertSettings::from_env(env, crate::stuck::StuckAfter::default())?;
    // Held for the whole run, so `restore` can tell the service is running.
    let _lock = DatabaseLock::acquire(db, "monitor")?;
    let store = Arc::new(Store::open(db, Access::ReadWrite)?);
    let service = ServiceLink::start(env, crate::cablecast::requests_begun);
    let mut web = WebSettings::new(settings.listen, settings.interval);
    web.admin_token = admin_token;
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
        let board = Arc::new(StatusBoard::new(store));
        let server = start_status_server(web, board, None)?;
        on_listening(server.addr());
        server.wait();
        return Ok(ExitCode::SUCCESS);
    }
    let board = Arc::new(StatusBoard::new(store));
    let single_run = settings.single_run;
    let interval = settings.interval;
    log::info!(
        "monitoring {} every {} s into {}",
        settings.cablecast.api_url,
        settings.interval.as_secs(),
        db.display()
    );
    let mut monitor = Monitor::new(settings, Arc::clone(&board));
    if !single_run {
        monitor = monitor.with_alerts(alerts::watch(Arc::clone(board.store()), alert_settings));
    }
    if single_run {
        let report = monitor.cycle();
        service.cycle_done(&report, Duration::ZERO);
        return match report.cablecast_error {
            Some(e @ CablecastError::Unauthorized { .. }) => Err(CliError::Cablecast(e)),
            Some(e) => Err(CliError::Cablecast(e)),
            None if !report.is_current() => {
                Err(CliError::Other(report.store_error.unwrap_or_else(|| {
                    format!("{} VODs could not be refreshed", report.refresh.failed)
                })))
            }
            None => Ok(ExitCode::SUCCESS),
        };
    }
    // One pending wake-up is enough: more requests while it waits add nothing.
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    let server = start_status_server(web, Arc::clone(&board), Some(wake))?;
    on_listening(server.addr());
    monitor.run(Some(woken), |report| {
        let took = Duration::from_millis(report.record.duration_ms.max(0) as u64);
        service.cycle_done(report, interval.saturating_sub(took));
    });
    drop(server);
    Ok(ExitCode::SUCCESS)
}

/// Seconds between demo cycles: quick enough to watch states move.
const DEMO_INTERVAL: &str = "10";

pub(super) fn run_demo(
    db: Option<PathBuf>,
    mut flags: MonitorFlags,
    env: &Env,
    admin_token: Option<AdminToken>,
) -> Result<ExitCode, CliError> {
    let station = DemoStation::start(StationOptions::default())
        .map_err(|e| CliError::Other(format!("starting the demo station: {e}")))?;
    flags.interval.get_or_insert_with(|| DEMO_INTERVAL.into());
    // The demo never reads the station's real settings: it has its own
    // station and, unless --db is given, its own database file.
    let demo_env: Env = env
        .iter()
        .filter(|(k, _)| !k.starts_with("CABLECAST_") && k.as_str() != "ARCHIVIST_DB")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let settings = monitor_settings(&flags, &demo_env, Some(station.api_url()))?;
    let db = db.unwrap_or_else(|| PathBuf::from("archivist-demo.db"));
    println!("Demo station (Cablecast API): {}", station.api_url());
    println!("Database: {}  (inspect: sqlite3 -readonly {} 'SELECT vod_state, count(*) FROM cablecast_vod GROUP BY vod_state')", db.display(), db.display());
    println!("Status: archivist --db {} status", db.display());
    let interval = settings.interval;
    let ticker_station = Arc::new(station);
    let mover = Arc::clone(&ticker_station);
    if !settings.single_run {
        std::thread::spawn(move || loop {
            std::thread::sleep(interval);
            mover.catalogue().advance();
        });
    }
    let outcome = run_monitor(&db, settings, env, admin_token, &|addr| {
        println!("Status page: http://{addr}/");
    });
    drop(ticker_station);
    outcome
}

/// Where `demo-station` listens unless told: beside the status page's 8080.
const DEMO_STATION_LISTEN: &str = "127.0.0.1:8090";

/// `archivist demo-station`: the demo Cablecast alone, until the process is
/// stopped, for running a separately started monitor against it (the CI's
/// arm run under qemu does).
pub(super) fn run_demo_station(rest: Vec<OsString>) -> Result<ExitCode, CliError> {
    let mut options = StationOptions::default();
    let mut listen = DEMO_STATION_LISTEN.to_string();
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("listen") => listen = parser.value()?.string()?,
            Long("shows") => {
                options.shows =
                    config::parse_count("--shows", &parser.value()?.string()?, 1, 100_000)?
            }
            other => return Err(other.unexpected().into()),
        }
    }
    options.listen = config::parse_listen("--listen", &listen)?;
    let station = DemoStation::start(options)
        .map_err(|e| CliError::Other(format!("starting the demo station: {e}")))?;
    println!("CABLECAST_API_URL={}", station.api_url());
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn monitor_needs_a_cablecast_url() {
        let e = monitor_settings(&MonitorFlags::default(), &env(&[]), None).expect_err("no url");
        assert_eq!(e.setting, "CABLECAST_API_URL");
    }

    #[test]
    fn flags_win_over_environment_and_errors_name_the_setting() {
        let vars = env(&[
            ("CABLECAST_API_URL", "http://127.0.0.1:9/v1"),
            ("ARCHIVIST_INTERVAL", "60"),
        ]);
        let flags = MonitorFlags {
            interval: Some("5".into()),
            ..MonitorFlags::default()
        };
        let settings = monitor_settings(&flags, &vars, None).expect("valid");
        assert_eq!(settings.interval, Duration::from_secs(5));
        let bad = env(&[
            ("CABLECAST_API_URL", "http://127.0.0.1:9/v1"),
            ("ARCHIVIST_INTERVAL", "soon"),
        ]);
        let e = monitor_settings(&MonitorFlags::default(), &bad, None).expect_err("bad interval");
        assert_eq!(e.setting, "ARCHIVIST_INTERVAL");
    }
}
