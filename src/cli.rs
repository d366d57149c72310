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

/// `archivist export`'s arguments.
struct ExportRequest {
    table: ExportTable,
    format: ExportFormat,
    state: Option<String>,
}

fn export_flags(rest: Vec<OsString>) -> Result<ExportRequest, CliError> {
    let mut table = None;
    let mut format = ExportFormat::Csv;
    let mut state = None;
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("format") => {
                format = match parser.value()?.string()?.as_str() {
                    "csv" => ExportFormat::Csv,
                    "jsonl" => ExportFormat::JsonLines,
                    other => {
                        return Err(CliError::Usage(format!(
                            "--format {other:?}: use csv or jsonl"
                        )))
                    }
                }
            }
            Long("state") => state = Some(parser.value()?.string()?),
            Value(value) if table.is_none() => {
                table = Some(match value.string()?.as_str() {
                    "vods" => ExportTable::Vods,
                    "shows" => ExportTable::Shows,
                    "transcriptions" => ExportTable::Transcriptions,
                    other => {
                        return Err(CliError::Usage(format!(
                            "export {other:?}: choose vods, shows or transcriptions"
                        )))
                    }
                })
            }
            other => return Err(other.unexpected().into()),
        }
    }
    let table = table.ok_or_else(|| {
        CliError::Usage("export needs what to export: vods, shows or transcriptions".into())
    })?;
    if state.is_some() && !table.has_state() {
        return Err(CliError::Usage(
            "--state applies to vods and transcriptions only".into(),
        ));
    }
    Ok(ExportRequest {
        table,
        format,
        state,
    })
}

/// Largest generated database: ten million VODs is far past any station.
const MAX_BENCH_VODS: usize = 10_000_000;
const MAX_BENCH_RUNS: usize = 100;

fn bench_settings(
    rest: Vec<OsString>,
    db: Option<PathBuf>,
    env: &Env,
) -> Result<(BenchSettings, bool), CliError> {
    let mut vods = 100_000;
    let mut runs = 5;
    let mut json = false;
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("vods") => {
                vods = config::parse_count("--vods", &parser.value()?.string()?, 1, MAX_BENCH_VODS)?
            }
            Long("runs") => {
                runs = config::parse_count("--runs", &parser.value()?.string()?, 1, MAX_BENCH_RUNS)?
            }
            Long("json") => json = true,
            other => return Err(other.unexpected().into()),
        }
    }
    let scratch_dir = env
        .get("TMPDIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    Ok((
        BenchSettings {
            vods: vods as u64,
            db,
            runs,
            scratch_dir,
        },
        json,
    ))
}

fn load_settings(rest: Vec<OsString>) -> Result<(LoadSettings, bool), CliError> {
    let mut url = "http://127.0.0.1:8080".to_string();
    let mut users = 10;
    let mut duration = Duration::from_secs(60);
    let mut max_requests = None;
    let mut allow_remote = false;
    let mut json = false;
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("url") => url = parser.value()?.string()?,
            Long("users") => {
                users = config::parse_count(
                    "--users",
                    &parser.value()?.string()?,
                    1,
                    loadtest::MAX_USERS,
                )?
            }
            Long("duration") => {
                duration = config::parse_seconds(
                    "--duration",
                    &parser.value()?.string()?,
                    loadtest::MAX_DURATION_SECS,
                )?
            }
            Long("requests") => {
                max_requests = Some(config::parse_count(
                    "--requests",
                    &parser.value()?.string()?,
                    1,
                    usize::MAX,
                )? as u64)
            }
            Long("allow-remote") => allow_remote = true,
            Long("json") => json = true,
            other => return Err(other.unexpected().into()),
        }
    }
    let target = Target::parse(&url).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok((
        LoadSettings {
            target,
            users,
            duration,
            max_requests,
            allow_remote,
        },
        json,
    ))
}

/// A path argument made absolute (never resolved through symlinks), as text.
fn absolute_arg(flag: &str, value: OsString) -> Result<String, CliError> {
    let path = std::path::absolute(PathBuf::from(&value))
        .map_err(|e| CliError::Usage(format!("{flag} {:?}: {e}", value.to_string_lossy())))?;
    path.into_os_string()
        .into_string()
        .map_err(|p| CliError::Usage(format!("{flag} {p:?} is not valid UTF-8")))
}

/// `archivist transcriptions scan|add|link|list`.
fn run_transcriptions(db: &std::path::Path, rest: Vec<OsString>) -> Result<ExitCode, CliError> {
    let mut parser = lexopt::Parser::from_args(rest);
    let action = match parser.next()? {
        Some(Value(action)) => action.string()?,
        _ => {
            return Err(CliError::Usage(
                "transcriptions needs scan, add, link or list".into(),
            ))
        }
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    let (mut video, mut output, mut show) = (None, None, None);
    let mut status = "completed".to_string();
    let mut error = None;
    let mut filter = None;
    while let Some(arg) = parser.next()? {
        match (action.as_str(), arg) {
            ("scan", Value(dir)) => dirs.push(dir.into()),
            ("add" | "link", Long("video")) => {
                video = Some(absolute_arg("--video", parser.value()?)?)
            }
            ("add", Long("output")) => output = Some(absolute_arg("--output", parser.value()?)?),
            ("add", Long("status")) => status = parser.value()?.string()?,
            ("add", Long("error")) => error = Some(parser.value()?.string()?),
            ("link", Long("show")) => {
                let text = parser.value()?.string()?;
                show = Some(text.trim().parse::<i64>().map_err(|_| {
                    CliError::Usage(format!("--show {text:?} is not a Cablecast show id"))
                })?);
            }
            ("list", Long("failed")) => filter = Some("failed"),
            ("list", Long("unlinked")) => filter = Some("unlinked"),
            ("list", Long("needs-captions")) => filter = Some("needs-captions"),
            (_, other) => return Err(other.unexpected().into()),
        }
    }
    match action.as_str() {
        "scan" => {
            if dirs.is_empty() {
                return Err(CliError::Usage("transcriptions scan needs a DIR".into()));
            }
            let store = Store::open(db, Access::ReadWrite)?;
            let started = std::time::Instant::now();
            let report =
                transcription::scan(&store, &dirs).map_err(|e| CliError::Other(e.to_string()))?;
            print!(
                "{}",
                transcription_report::scan_text(&report, started.elapsed().as_secs_f64())
            );
            Ok(if report.failed_roots.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "add" => {
            let video =
                video.ok_or_else(|| CliError::Usage("transcriptions add needs --video".into()))?;
            let store = Store::open(db, Access::ReadWrite)?;
            let report = TranscriptionReport {
                video,
                output,
                status,
                error,
            };
            let id = transcription::record(&store, &report).map_err(|e| match e {
                RecordError::Store(e) => CliError::Store(e),
                invalid => CliError::Usage(invalid.to_string()),
            })?;
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        "link" => {
            let store = Store::open(db, Access::ReadWrite)?;
            match (show, video) {
                (Some(show), Some(video)) => {
                    let linked = transcription::link_by_hand(&store, show, &video)
                        .map_err(|e| CliError::Other(e.to_string()))?;
                    println!(
                        "linked {} results of {video} to show {show} \"{}\" by hand",
                        linked.rows, linked.show_title
                    );
                    if !linked.other_videos.is_empty() {
                        eprintln!(
                            "archivist: warning: show {show} is also linked to {}",
                            linked.other_videos.join(", ")
                        );
                    }
                }
                (None, None) => {
                    let report =
                        transcription::link(&store).map_err(|e| CliError::Other(e.to_string()))?;
                    print!("{}", transcription_report::link_text(&report));
                }
                _ => {
                    return Err(CliError::Usage(
                        "transcriptions link takes --show and --video together".into(),
                    ))
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        "list" => {
            let store = Store::open(db, Access::ReadOnly)?;
            let text = match filter {
                Some("needs-captions") => {
                    transcription_report::needs_captions_text(&store.shows_needing_captions()?)
                }
                Some("failed") => transcription_report::rows_text(
                    &store.transcriptions(TranscriptionFilter::Failed)?,
                ),
                Some(_) => transcription_report::rows_text(
                    &store.transcriptions(TranscriptionFilter::Unlinked)?,
                ),
                None => transcription_report::rows_text(
                    &store.transcriptions(TranscriptionFilter::All)?,
                ),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(CliError::Usage(format!(
            "unknown transcriptions action {other:?}"
        ))),
    }
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
fn path_and_force(rest: Vec<OsString>, usage: &str) -> Result<(PathBuf, bool), CliError> {
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

fn run_monitor(
    db: &std::path::Path,
    settings: MonitorSettings,
    env: &Env,
    admin_token: Option<AdminToken>,
    on_listening: &dyn Fn(SocketAddr),
) -> Result<ExitCode, CliError> {
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
fn run_demo_station(rest: Vec<OsString>) -> Result<ExitCode, CliError> {
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
