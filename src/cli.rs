//! The command line: parses arguments and the environment once into validated
//! settings, runs one command, and says how it ended.
//!
//! Every setting has a flag and an environment variable (the flag wins), so
//! the boot service can use an env file and an engineer a terminal. The
//! Cablecast password is only ever read from the environment, never from the
//! arguments, where any user on the box could read it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lexopt::prelude::*;
use log::LevelFilter;

use crate::cablecast::{CablecastError, CablecastSettings};
use crate::config::{self, ConfigError, MonitorSettings};
use crate::demo::{DemoStation, StationOptions};
use crate::logging;
use crate::monitor::Monitor;
use crate::status::StatusBoard;
use crate::store::{Access, Store, StoreError, SCHEMA_VERSION};
use crate::web::{AdminToken, StatusServer, WebSettings};

/// Longest interval accepted: a day.
const MAX_INTERVAL_SECS: u64 = 86_400;
/// Longest request timeout accepted.
const MAX_TIMEOUT_SECS: u64 = 600;

const USAGE: &str = "\
archivist: keeps a station's Cablecast VOD state in one SQLite file, and shows it.

Usage: archivist [--db PATH] [--log-level LEVEL] COMMAND [OPTIONS]

Commands:
  demo       Run the monitor against a built-in demo station (no Cablecast needed)
  monitor    Poll Cablecast every --interval and keep the database current
  status     Print the sync figures from the database (--json for machines)
  serve      Serve the status page and API from the database, without polling Cablecast
  init       Create or migrate the database, then exit
  help       Print this help

Options for every command:
  --db PATH              Database file [env ARCHIVIST_DB, default ./archivist.db]
  --log-level LEVEL      error|warn|info|debug|trace [env ARCHIVIST_LOG_LEVEL, default info]

monitor (and demo) options:
  --interval SECONDS          Between cycle starts [ARCHIVIST_INTERVAL, default 300; demo 10]
  --catalog-interval SECONDS  Between catalogue passes [ARCHIVIST_CATALOG_INTERVAL, default 3600]
  --single-run                Run one cycle and exit: 0 current, 1 Cablecast failed, 2 config error
  --performance               Also log each cycle's phase timings and query figures
  --batch-size N              Refresh results per transaction [ARCHIVIST_BATCH_SIZE, default 50]
  --http-concurrency N        Refresh requests at once [ARCHIVIST_HTTP_CONCURRENCY, default 4]
  --http-timeout SECONDS      Per Cablecast request [ARCHIVIST_HTTP_TIMEOUT, default 30]
  --listen ADDR               Status server address [ARCHIVIST_LISTEN, default 127.0.0.1:8080]

serve options:
  --listen ADDR               As above
  --interval SECONDS          The monitor's interval, for /healthz [ARCHIVIST_INTERVAL, default 300]

Status server (monitor, demo, serve; environment only):
  ARCHIVIST_ADMIN_TOKEN   Enables POST /api/sync-now for `Authorization: Bearer TOKEN`
                          (at least 16 characters; unset: no write endpoints)

Cablecast (environment only):
  CABLECAST_API_URL       API root, e.g. https://cablecast.example.org/CablecastAPI/v1
  CABLECAST_USER_ID       Frontdoor user for HTTP Basic auth (optional)
  CABLECAST_PASSWORD      Its password (optional; never pass it as an argument)
  CABLECAST_LOCATION_ID   Keep only shows of this location (optional)
";

/// How a command failed, and so which exit code it gets.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments.
    Usage(String),
    /// A missing or malformed setting.
    Config(ConfigError),
    /// The database failed.
    Store(StoreError),
    /// Cablecast failed in a one-shot command.
    Cablecast(CablecastError),
    /// Anything else, already a sentence.
    Other(String),
}

impl CliError {
    /// 2 for usage and configuration errors (a refused Cablecast login is
    /// one), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => 2,
            CliError::Cablecast(CablecastError::Unauthorized { .. }) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) => write!(f, "{message} (see `archivist help`)"),
            CliError::Config(e) => e.fmt(f),
            CliError::Store(e) => e.fmt(f),
            CliError::Cablecast(e) => e.fmt(f),
            CliError::Other(message) => f.write_str(message),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e)
    }
}

impl From<lexopt::Error> for CliError {
    fn from(e: lexopt::Error) -> Self {
        CliError::Usage(e.to_string())
    }
}

/// The environment as given to the process.
pub type Env = HashMap<String, String>;

/// Options every command takes.
struct Global {
    db: Option<PathBuf>,
    log_level: Option<String>,
}

/// Flags of `monitor` and `demo`, before validation.
#[derive(Default)]
struct MonitorFlags {
    interval: Option<String>,
    catalog_interval: Option<String>,
    single_run: bool,
    performance: bool,
    batch_size: Option<String>,
    http_concurrency: Option<String>,
    http_timeout: Option<String>,
    listen: Option<String>,
}

/// Parses and runs one command.
pub fn run(args: Vec<OsString>, env: &Env) -> Result<ExitCode, CliError> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut global = Global {
        db: None,
        log_level: None,
    };
    let mut command: Option<String> = None;
    let mut rest: Vec<OsString> = Vec::new();
    // Global options may come before or after the command; everything else
    // is left for the command's own parser.
    while let Some(arg) = parser.next()? {
        match arg {
            Long("db") => global.db = Some(parser.value()?.into()),
            Long("log-level") => global.log_level = Some(parser.value()?.string()?),
            Long("help") | Short('h') if command.is_none() => command = Some("help".into()),
            Long("version") | Short('V') if command.is_none() => command = Some("version".into()),
            Value(value) if command.is_none() => command = Some(value.string()?),
            Value(value) => rest.push(value),
            Long(name) => {
                rest.push(format!("--{name}").into());
                if let Some(value) = parser.optional_value() {
                    rest.push(value);
                }
            }
            Short(c) => rest.push(format!("-{c}").into()),
        }
    }
    let level = match &global.log_level {
        Some(text) => logging::parse_level("--log-level", text)?,
        None => match env.get("ARCHIVIST_LOG_LEVEL") {
            Some(text) => logging::parse_level("ARCHIVIST_LOG_LEVEL", text)?,
            None => LevelFilter::Info,
        },
    };
    let db = global
        .db
        .clone()
        .or_else(|| env.get("ARCHIVIST_DB").map(PathBuf::from))
        .unwrap_or_else(config::default_db);
    let command = command.unwrap_or_else(|| "help".into());
    match command.as_str() {
        "help" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "version" => {
            println!("{}", version_line());
            Ok(ExitCode::SUCCESS)
        }
        "init" => {
            no_more_args(rest)?;
            logging::init(level);
            let store = Store::open(&db, Access::ReadWrite)?;
            println!(
                "database {} is ready (schema version {SCHEMA_VERSION})",
                store.path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
            let mut json = false;
            let mut parser = lexopt::Parser::from_args(rest);
            while let Some(arg) = parser.next()? {
                match arg {
                    Long("json") => json = true,
                    other => return Err(other.unexpected().into()),
                }
            }
            logging::init(level);
            let store = Arc::new(Store::open(&db, Access::ReadOnly)?);
            let report = StatusBoard::new(store).report()?;
            if json {
                let text = serde_json::to_string_pretty(&report)
                    .map_err(|e| CliError::Other(format!("writing the status as JSON: {e}")))?;
                println!("{text}");
            } else {
                print!("{}", report.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        "monitor" => {
            let flags = monitor_flags(rest)?;
            let settings = monitor_settings(&flags, env, None)?;
            let token = admin_token(env)?;
            logging::init(level);
            run_monitor(&db, settings, token, &|addr| {
                log::info!("status page on http://{addr}/")
            })
        }
        "demo" => {
            let flags = monitor_flags(rest)?;
            let token = admin_token(env)?;
            logging::init(level);
            run_demo(global.db, flags, env, token)
        }
        "serve" => {
            let settings = serve_settings(rest, env)?;
            logging::init(level);
            run_serve(&db, settings)
        }
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    }
}

/// `archivist --version`: what a station engineer needs in a bug report.
pub fn version_line() -> String {
    format!(
        "archivist {} ({}-{}, SQLite {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        rusqlite::version()
    )
}

fn no_more_args(rest: Vec<OsString>) -> Result<(), CliError> {
    match rest.first() {
        Some(arg) => Err(CliError::Usage(format!(
            "unexpected argument {:?}",
            arg.to_string_lossy()
        ))),
        None => Ok(()),
    }
}

fn monitor_flags(rest: Vec<OsString>) -> Result<MonitorFlags, CliError> {
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
fn monitor_settings(
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
fn admin_token(env: &Env) -> Result<Option<AdminToken>, ConfigError> {
    match env.get("ARCHIVIST_ADMIN_TOKEN").filter(|t| !t.is_empty()) {
        Some(text) => AdminToken::new(text)
            .map(Some)
            .map_err(|reason| ConfigError::new("ARCHIVIST_ADMIN_TOKEN", reason)),
        None => Ok(None),
    }
}

/// Validates `serve`'s flags and variables.
fn serve_settings(rest: Vec<OsString>, env: &Env) -> Result<WebSettings, CliError> {
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
fn run_serve(db: &std::path::Path, settings: WebSettings) -> Result<ExitCode, CliError> {
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
    StatusServer::start(settings, board, wake).map_err(|e| CliError::Other(e.to_string()))
}

fn run_monitor(
    db: &std::path::Path,
    settings: MonitorSettings,
    admin_token: Option<AdminToken>,
    on_listening: &dyn Fn(SocketAddr),
) -> Result<ExitCode, CliError> {
    let store = Arc::new(Store::open(db, Access::ReadWrite)?);
    let board = Arc::new(StatusBoard::new(store));
    let single_run = settings.single_run;
    let mut web = WebSettings::new(settings.listen, settings.interval);
    web.admin_token = admin_token;
    log::info!(
        "monitoring {} every {} s into {}",
        settings.cablecast.api_url,
        settings.interval.as_secs(),
        db.display()
    );
    let mut monitor = Monitor::new(settings, Arc::clone(&board));
    if single_run {
        let report = monitor.cycle();
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
    monitor.run(Some(woken), |_| {});
    drop(server);
    Ok(ExitCode::SUCCESS)
}

/// Seconds between demo cycles: quick enough to watch states move.
const DEMO_INTERVAL: &str = "10";

fn run_demo(
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
    let outcome = run_monitor(&db, settings, admin_token, &|addr| {
        println!("Status page: http://{addr}/");
    });
    drop(ticker_station);
    outcome
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
