//! The command line: [`parse`] turns the arguments and the environment into
//! one validated [`Command`] (pure, unit-tested without a process), then
//! [`execute`] runs it and says how it ended.
//!
//! Every setting has a flag and an environment variable (the flag wins), so
//! the boot service can use an env file and an engineer a terminal. The
//! Cablecast password is only ever read from the environment, never from the
//! arguments, where any user on the box could read it.
//!
//! `spec` is the one definition of every command, flag and variable (the
//! parser and the help both read it); `parse` validates; `service` runs the
//! long-running commands (monitor, demo, serve), `measure` the measuring
//! ones (bench, loadtest, export) and `transcriptions` the caption commands.
//!
//! Adding to it, each a local change:
//! - A flag: an `Opt` in the command's list in `spec` (`switch(..)` or
//!   `flag(..)` with its value name, variable and default); read it in the
//!   command's arm of `parse` with `given.switch(..)`, `given.setting(..)`
//!   or `given.required(..)` into a field of its `Action`. Help, `--help` and
//!   the unknown-flag check follow from the spec.
//! - An environment setting: an `Opt` with an empty flag (`var(..)`) in the
//!   list of every command that uses it (a shared `const` group when
//!   several do), read with `given.value(..)` and validated in `parse` (the
//!   alert settings in `alerting`) into the settings that need it. Nothing
//!   outside `main` reads the environment, and nothing here reads a
//!   variable by name around the spec.
//! - A command: a `CommandSpec` in `spec::COMMANDS` (an action of a group is
//!   named `"group action"`, as `"transcriptions scan"`) with its own
//!   `spec::CommandName`, an `Action` variant, an arm in `parse` and one in
//!   [`execute`]; both matches are exhaustive, so a missing arm does not
//!   compile.

#[macro_use]
mod output;
mod alerting;
mod alerts;
mod measure;
mod parse;
mod service;
pub mod spec;
mod transcriptions;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;

use crate::bench::BenchError;
use crate::cablecast::CablecastError;
use crate::config::ConfigError;
use crate::export::ExportFailure;
use crate::loadtest::LoadError;
use crate::logging;
use crate::status::StatusBoard;
use crate::store::{self, Access, Store, StoreError, SCHEMA_VERSION};
use crate::stuck::StuckAfter;
use crate::transcription::{LinkError, RecordError, ScanError};

pub use parse::{
    parse, Action, AlertsAction, Command, ExportRequest, Service, TranscriptionList,
    TranscriptionsAction, VodList,
};

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
    /// A single cycle ran, but VODs could not be refreshed.
    Unrefreshed { vods: usize },
    /// The load test could not start (a bad or remote `--url`, a host name
    /// that does not resolve).
    Load(LoadError),
    /// Every request of a load test failed.
    NothingAnswered { requests: u64 },
    /// Writing an export failed.
    Export(ExportFailure),
    /// The bench could not finish.
    Bench(BenchError),
    /// A caption scan failed.
    Scan(ScanError),
    /// Linking results to shows failed.
    Link(LinkError),
    /// A reported result was refused or could not be stored.
    Record(RecordError),
    /// The status server or the demo station could not start.
    Start {
        what: &'static str,
        error: std::io::Error,
    },
    /// Writing JSON output failed.
    Json(serde_json::Error),
    /// Writing to standard output failed (a reader that went away ends
    /// the command quietly instead: see [`execute`]).
    Output(std::io::Error),
}

impl CliError {
    /// 2 for usage and configuration errors (a refused Cablecast login, a
    /// redirect or an API URL that points at the wrong thing is one, and so
    /// is a result a job reported wrongly), 1 for
    /// everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => 2,
            CliError::Cablecast(
                CablecastError::Unauthorized { .. }
                | CablecastError::Redirected { .. }
                | CablecastError::PlainHttp { .. }
                | CablecastError::WrongApiRoot { .. }
                | CablecastError::HtmlPage { .. },
            ) => 2,
            CliError::Load(LoadError::BadUrl(_) | LoadError::Remote(_)) => 2,
            CliError::Record(e) => match e {
                RecordError::Store(_) => 1,
                _ => 2,
            },
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
            CliError::Unrefreshed { vods } => write!(f, "{vods} VODs could not be refreshed"),
            CliError::Load(e) => e.fmt(f),
            CliError::NothingAnswered { requests } => write!(
                f,
                "none of the {requests} requests succeeded; is the status server running at --url?"
            ),
            CliError::Export(e) => e.fmt(f),
            CliError::Bench(e) => e.fmt(f),
            CliError::Scan(e) => e.fmt(f),
            CliError::Link(e) => e.fmt(f),
            CliError::Record(e) => e.fmt(f),
            CliError::Start { what, error } => write!(f, "starting {what}: {error}"),
            CliError::Json(e) => write!(f, "writing JSON: {e}"),
            CliError::Output(e) => write!(f, "writing the output: {e}"),
        }
    }
}

impl std::error::Error for CliError {}

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

impl From<LoadError> for CliError {
    fn from(e: LoadError) -> Self {
        CliError::Load(e)
    }
}

impl From<lexopt::Error> for CliError {
    fn from(e: lexopt::Error) -> Self {
        CliError::Usage(e.to_string())
    }
}

/// The environment as given to the process.
pub type Env = HashMap<String, String>;

/// Parses and runs one command.
pub fn run(args: Vec<OsString>, env: &Env) -> Result<ExitCode, CliError> {
    execute(parse(args, env)?)
}

/// Runs a parsed command. A reader of its output that went away (`| head`)
/// ends it quietly, with exit 0: what it was read for was read.
pub fn execute(command: Command) -> Result<ExitCode, CliError> {
    // Before any thread starts, so none gets an arena of its own.
    crate::memory::tune_allocator();
    match dispatch(command) {
        Err(CliError::Output(e)) if output::reader_gone(&e) => Ok(ExitCode::SUCCESS),
        outcome => outcome,
    }
}

fn dispatch(command: Command) -> Result<ExitCode, CliError> {
    let Command {
        db,
        log_level,
        zone,
        action,
    } = command;
    match action {
        Action::Help(text) => {
            out!("{text}")?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Version => {
            outln!("{}", version_line())?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Init => {
            logging::init(log_level);
            let store = Store::open(&db, Access::ReadWrite)?;
            if let Some(damage) = store.damage() {
                return Err(damage.clone().into());
            }
            outln!(
                "database {} is ready (schema version {SCHEMA_VERSION})",
                store.path().display()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Status {
            json,
            list,
            stuck_after,
        } => {
            logging::init(log_level);
            let store = Arc::new(Store::open(&db, Access::ReadOnly)?);
            if let Some(list) = list {
                return print_vod_list(&store, list, &stuck_after, json);
            }
            let mut report = StatusBoard::new(Arc::clone(&store))
                .with_stuck_after(stuck_after)
                .report()?;
            if let Some(pulse) = alerts::monitor_pulse(&store)? {
                report.note_pulse(&pulse);
            }
            print_report(&report, json, |r| r.to_text(&zone))?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Monitor(service) => {
            logging::init(log_level);
            service::run_monitor(&db, service, &|addr| {
                log::info!("status page on http://{addr}/")
            })
        }
        Action::Demo(service, again) => {
            logging::init_demo(log_level);
            service::run_demo(&db, service, &again)
        }
        Action::Serve(settings, stuck_after) => {
            logging::init(log_level);
            service::run_serve(&db, settings, stuck_after)
        }
        Action::DemoStation(options) => {
            logging::init(log_level);
            service::run_demo_station(options)
        }
        Action::Backup { dest, force } => {
            logging::init(log_level);
            let copy = Store::open(&db, Access::ReadOnly)?.backup_to(&dest, force)?;
            outln!(
                "backup {} written and checked: {} bytes, {} VODs, schema version {}",
                copy.path.display(),
                copy.bytes,
                copy.vods,
                copy.schema_version
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Restore { src } => {
            logging::init(log_level);
            let restored = store::restore(&src, &db)?;
            outln!(
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
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Export(request) => {
            logging::init(log_level);
            measure::run_export(&db, request)
        }
        Action::Bench { settings, json } => {
            // The cycles the bench runs would log a line each: keep to warnings.
            logging::init(log_level.min(log::LevelFilter::Warn));
            measure::run_bench(&settings, json)
        }
        Action::Loadtest { settings, json } => {
            logging::init(log_level);
            measure::run_loadtest(&settings, json)
        }
        Action::Transcriptions(action) => {
            logging::init(log_level);
            transcriptions::run_transcriptions(&db, action, &zone)
        }
        Action::Alerts(action) => {
            logging::init(log_level);
            alerts::run(&db, action, &zone)
        }
    }
}

/// Most VODs `status --stuck` or `--failed` prints.
const MAX_LISTED_VODS: usize = 10_000;

/// One VOD of `status --stuck --json` or `--failed --json`.
#[derive(serde::Serialize)]
struct ListedVod<'a> {
    id: i64,
    show_cablecast_id: Option<i64>,
    show_title: Option<&'a str>,
    state: &'a str,
    state_changed_at: Option<&'a str>,
    state_changed_source: Option<&'a str>,
    seconds_in_state: Option<i64>,
    error_message: Option<&'a str>,
    status_message: Option<&'a str>,
}

/// `status --stuck` / `--failed`: one VOD a line (or a JSON array).
fn print_vod_list(
    store: &Store,
    list: VodList,
    thresholds: &StuckAfter,
    json: bool,
) -> Result<ExitCode, CliError> {
    let now = crate::clock::unix_now();
    let entries = match list {
        VodList::Stuck => store.stuck_entries(thresholds, now, MAX_LISTED_VODS)?,
        VodList::Failed => store.failed_entries(MAX_LISTED_VODS)?,
    };
    let listed: Vec<ListedVod<'_>> = entries
        .iter()
        .map(|e| ListedVod {
            id: e.id,
            show_cablecast_id: e.show_cablecast_id,
            show_title: e.show_title.as_deref(),
            state: &e.state,
            state_changed_at: e.state_changed_at.as_deref(),
            state_changed_source: e.state_changed_source.as_deref(),
            seconds_in_state: e
                .state_changed_at
                .as_deref()
                .and_then(crate::clock::parse_stored)
                .map(|at| now - at),
            error_message: e.error_message.as_deref(),
            status_message: e.status_message.as_deref(),
        })
        .collect();
    if json {
        let text = serde_json::to_string_pretty(&listed).map_err(CliError::Json)?;
        outln!("{text}")?;
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        outln!(
            "{}",
            match list {
                VodList::Stuck => format!("No VOD is stuck ({thresholds})."),
                VodList::Failed => "No VOD has failed.".to_string(),
            }
        )?;
    }
    for vod in &listed {
        let age = match (vod.seconds_in_state, vod.state_changed_source) {
            (Some(secs), Some("cablecast")) => {
                format!(" for {}", crate::clock::humanize_secs(secs))
            }
            (Some(secs), _) => format!(" for at least {}", crate::clock::humanize_secs(secs)),
            (None, _) => String::new(),
        };
        outln!(
            "VOD {}  {}{age}  {}{}",
            vod.id,
            vod.state,
            vod.show_title
                .map(str::to_string)
                .or_else(|| vod.show_cablecast_id.map(|s| format!("show {s}")))
                .unwrap_or_else(|| "(no show)".into()),
            vod.error_message
                .or(vod.status_message)
                .map(|m| format!("  ({m})"))
                .unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a report as JSON or as its text table.
fn print_report<T: serde::Serialize>(
    report: &T,
    json: bool,
    text: impl Fn(&T) -> String,
) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(report).map_err(CliError::Json)?;
        outln!("{text}")?;
    } else {
        out!("{}", text(report))?;
    }
    Ok(())
}

/// `archivist --version`: what a station engineer needs in a bug report
/// (the commit and target come from src/build.rs).
pub fn version_line() -> String {
    format!(
        "archivist {} (commit {}, {}, SQLite {})",
        env!("CARGO_PKG_VERSION"),
        env!("ARCHIVIST_COMMIT"),
        env!("ARCHIVIST_TARGET"),
        store::sqlite_version()
    )
}
