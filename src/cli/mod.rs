//! The command line: parses arguments and the environment once into validated
//! settings, runs one command, and says how it ended.
//!
//! Every setting has a flag and an environment variable (the flag wins), so
//! the boot service can use an env file and an engineer a terminal. The
//! Cablecast password is only ever read from the environment, never from the
//! arguments, where any user on the box could read it.
//!
//! `service` holds the long-running commands (monitor, demo, serve),
//! `measure` the measuring ones (bench, loadtest, export) and
//! `transcriptions` the caption commands; this file parses what every
//! command shares and dispatches.

mod alerts;
mod measure;
mod service;
mod transcriptions;

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

use crate::alert::AlertSettings;
use crate::bench::{self, BenchReport, BenchSettings};
use crate::cablecast::{CablecastError, CablecastSettings};
use crate::config::{self, ConfigError, MonitorSettings};
use crate::demo::{DemoStation, StationOptions};
use crate::export::{self, ExportFormat};
use crate::loadtest::{self, LoadReport, LoadSettings, Target};
use crate::logging;
use crate::monitor::Monitor;
use crate::status::StatusBoard;
use crate::store::export::ExportTable;
use crate::store::{
    self, Access, DatabaseLock, Store, StoreError, TranscriptionFilter, SCHEMA_VERSION,
};
use crate::systemd::ServiceLink;
use crate::transcription::{
    self, report as transcription_report, RecordError, TranscriptionReport,
};
use crate::web::{AdminToken, StatusServer, WebSettings};

use measure::{bench_settings, export_flags, load_settings};
use service::{
    admin_token, monitor_flags, monitor_settings, run_demo, run_demo_station, run_monitor,
    run_serve, serve_settings,
};
use transcriptions::run_transcriptions;

const USAGE: &str = "\
archivist: keeps a station's Cablecast VOD state in one SQLite file, and shows it.

Usage: archivist [--db PATH] [--log-level LEVEL] COMMAND [OPTIONS]

Commands:
  demo       Run the monitor against a built-in demo station (no Cablecast needed)
  monitor    Poll Cablecast every --interval and keep the database current
  status     Print the sync figures from the database (--json for machines)
  serve      Serve the status page and API from the database, without polling Cablecast
  init       Create or migrate the database, then exit
  export     Stream vods|shows|transcriptions to stdout (--format csv|jsonl, --state S)
  bench      Measure each optimisation on a generated station database (--vods N, --runs R, --json)
  loadtest   Load the status server over keep-alive connections (--url, --users, --duration, --json)
  transcriptions scan DIR...      Record the caption files (.scc, .vtt, .srt) under DIRs
  transcriptions add --video V [--output O] [--status completed|failed] [--error E]
                                  Record one transcription a job reports
  transcriptions link [--show CABLECAST_ID --video V]
                                  Link results to shows (automatically, or this one by hand)
  transcriptions list [--failed|--unlinked|--needs-captions]
                                  List results (or the shows that still need captions)
  alerts list [--json]            Firing alerts, silences and recent alerts
  alerts silence --for 2h [--kind KIND]
                                  Record but send nothing for a while (planned maintenance)
  alerts test                     Send a test message to every destination; exit 0 if all got it
  backup DEST [--force]
             Write a checked copy of the database to DEST while the service runs
             (--force replaces an existing DEST)
  restore SRC
             Replace the database with a checked copy of SRC (stop the service first);
             the replaced file is kept as DB.before-restore
  demo-station [--listen ADDR] [--shows N]
             Serve only the demo Cablecast until stopped [default 127.0.0.1:8090, 300 shows]
  help       Print this help (--version: version, commit, target and SQLite)

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

export options:
  vods|shows|transcriptions   What to export (rows stream from the database; memory stays flat)
  --format csv|jsonl          CSV with a header row (RFC 4180), or one JSON object per line [default csv]
  --state S                   Only VODs in this vodState (transcriptions: this status)

bench options (with --db PATH it measures a copy of that database instead):
  --vods N              VODs in the generated database [default 100000]
  --runs R              Repetitions; figures are medians [default 5]
  --json                Print the figures as JSON

loadtest options:
  --url URL             Status server [default http://127.0.0.1:8080]
  --users N             Concurrent keep-alive connections [default 10, at most 1024]
  --duration SECONDS    How long to run [default 60, at most 3600]
  --requests N          Stop after N requests in all, if sooner
  --allow-remote        Allow a target that is not this machine
  --json                Print the figures as JSON

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
            CliError::Cablecast(
                CablecastError::Unauthorized { .. } | CablecastError::Redirected { .. },
            ) => 2,
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

/// Parses and runs one command.
pub fn run(args: Vec<OsString>, env: &Env) -> Result<ExitCode, CliError> {
    let (global, command, rest) = split_global(args)?;
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
            print!("{USAGE}\n{}", crate::alert::SETTINGS_HELP);
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
            if let Some(damage) = store.damage() {
                return Err(damage.clone().into());
            }
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
            run_monitor(&db, settings, env, token, &|addr| {
                log::info!("status page on http://{addr}/")
            })
        }
        "backup" => {
            let (dest, force) = path_and_force(rest, "backup DEST [--force]")?;
            logging::init(level);
            let copy = Store::open(&db, Access::ReadOnly)?.backup_to(&dest, force)?;
            println!(
                "backup {} written and checked: {} bytes, {} VODs, schema version {}",
                copy.path.display(),
                copy.bytes,
                copy.vods,
                copy.schema_version
            );
            Ok(ExitCode::SUCCESS)
        }
        "restore" => {
            let (src, _) = path_and_force(rest, "restore SRC")?;
            logging::init(level);
            let restored = store::restore(&src, &db)?;
            println!(
                "restored {} from {}: {} bytes, {} VODs, schema version {}{}",
                db.display(),
                src.display(),
                restored.copy.bytes,
                restored.copy.vods,
                restored.copy.schema_version,
                restored
                    .previous
                    .map(|p| format!("; the replaced database is kept as {}", p.display()))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        "demo-station" => {
            logging::init(level);
            run_demo_station(rest)
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
        "export" => {
            let request = export_flags(rest)?;
            logging::init(level);
            let store = Store::open(&db, Access::ReadOnly)?;
            let stdout = std::io::stdout();
            export::export(
                &store,
                request.table,
                request.format,
                request.state.as_deref(),
                stdout.lock(),
            )
            .map_err(|e| CliError::Other(e.to_string()))?;
            Ok(ExitCode::SUCCESS)
        }
        "bench" => {
            let (settings, json) = bench_settings(rest, global.db, env)?;
            // The cycles the bench runs would log a line each: keep to warnings.
            logging::init(level.min(LevelFilter::Warn));
            let report = bench::run(&settings, |step| eprintln!("bench: {step} ..."))
                .map_err(|e| CliError::Other(e.to_string()))?;
            print_report(&report, json, BenchReport::to_text)?;
            Ok(ExitCode::SUCCESS)
        }
        "loadtest" => {
            let (settings, json) = load_settings(rest)?;
            logging::init(level);
            let report = loadtest::run(&settings).map_err(|e| CliError::Usage(e.to_string()))?;
            print_report(&report, json, LoadReport::to_text)?;
            Ok(ExitCode::SUCCESS)
        }
        "transcriptions" => {
            logging::init(level);
            run_transcriptions(&db, rest)
        }
        "alerts" => alerts::run(&db, rest, env, level),
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    }
}

/// Prints a report as JSON or as its text table.
fn print_report<T: serde::Serialize>(
    report: &T,
    json: bool,
    text: impl Fn(&T) -> String,
) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| CliError::Other(format!("writing the figures as JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", text(report));
    }
    Ok(())
}

/// Takes the options every command shares (`--db`, `--log-level`, before or
/// after the command) and the command's name out of the arguments, leaving
/// the command's own arguments untouched for its parser, values that start
/// with `-` included.
fn split_global(args: Vec<OsString>) -> Result<(Global, Option<String>, Vec<OsString>), CliError> {
    let mut global = Global {
        db: None,
        log_level: None,
    };
    let mut command: Option<String> = None;
    let mut rest: Vec<OsString> = Vec::new();
    let mut args = args.into_iter();
    let value_of = |name: &str, next: Option<OsString>| {
        next.ok_or_else(|| CliError::Usage(format!("{name} needs a value")))
    };
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            rest.push(arg);
            continue;
        };
        if let Some(path) = text.strip_prefix("--db=") {
            global.db = Some(PathBuf::from(path));
        } else if let Some(level) = text.strip_prefix("--log-level=") {
            global.log_level = Some(level.to_string());
        } else if text == "--db" {
            global.db = Some(value_of("--db", args.next())?.into());
        } else if text == "--log-level" {
            let level = value_of("--log-level", args.next())?;
            global.log_level = Some(level.to_string_lossy().into_owned());
        } else if command.is_none() {
            command = Some(match text {
                "--help" | "-h" => "help".to_string(),
                "--version" | "-V" => "version".to_string(),
                _ if text.starts_with('-') => {
                    return Err(CliError::Usage(format!(
                        "unknown option {text:?} before the command"
                    )))
                }
                _ => text.to_string(),
            });
        } else {
            rest.push(arg);
        }
    }
    Ok((global, command, rest))
}

/// `archivist --version`: what a station engineer needs in a bug report
/// (the commit and target come from src/build.rs).
pub fn version_line() -> String {
    format!(
        "archivist {} (commit {}, {}, SQLite {})",
        env!("CARGO_PKG_VERSION"),
        env!("ARCHIVIST_COMMIT"),
        env!("ARCHIVIST_TARGET"),
        rusqlite::version()
    )
}

/// `backup DEST [--force]` and `restore SRC`: one path, and for backup the
/// permission to replace it.
pub(super) fn path_and_force(
    rest: Vec<OsString>,
    usage: &str,
) -> Result<(PathBuf, bool), CliError> {
    let mut path = None;
    let mut force = false;
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("force") if usage.contains("--force") => force = true,
            Value(value) if path.is_none() => path = Some(PathBuf::from(value)),
            other => return Err(other.unexpected().into()),
        }
    }
    let path = path.ok_or_else(|| CliError::Usage(format!("usage: archivist {usage}")))?;
    Ok((path, force))
}

pub(super) fn no_more_args(rest: Vec<OsString>) -> Result<(), CliError> {
    match rest.first() {
        Some(arg) => Err(CliError::Usage(format!(
            "unexpected argument {:?}",
            arg.to_string_lossy()
        ))),
        None => Ok(()),
    }
}
