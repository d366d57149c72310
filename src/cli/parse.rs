//! Arguments and environment in, one validated [`Command`] out. Pure: it
//! opens nothing, starts nothing and prints nothing, so every flag and
//! setting is tested here without a process.
//!
//! Each command reads its raw arguments through its [`spec`] entry (which
//! flags exist, which variable backs each, the default) and validates them
//! into the typed settings of `config` and of the module that runs it.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use log::LevelFilter;

use super::alerting::alert_settings;
use super::spec::{self, CommandName, CommandSpec, Given};
use super::{CliError, Env};
use crate::alert::{AlertKind, AlertSettings};
use crate::bench::BenchSettings;

use crate::clock::StationZone;
use crate::config::{self, CablecastSettings, ConfigError, Credentials, MonitorSettings};
use crate::demo::StationOptions;
use crate::export::ExportFormat;
use crate::loadtest::{self, LoadSettings, Target};
use crate::logging;
use crate::store::export::ExportTable;
use crate::store::TranscriptionFilter;
use crate::stuck::{self, StuckAfter};
use crate::systemd::SystemdEnv;
use crate::transcription::{TranscriptionReport, TranscriptionStatus};
use crate::vod::VodState;
use crate::web::{AdminToken, CablecastLinks, WebSettings, WEB_URL_SETTING};

/// Longest interval accepted: a day.
const MAX_INTERVAL_SECS: u64 = 86_400;
/// Longest request timeout accepted.
const MAX_TIMEOUT_SECS: u64 = 600;
/// The demo's own database, unless `--db` is given.
const DEMO_DB: &str = crate::store::DEMO_DB;
/// Where the bench's generated database goes without `TMPDIR`.
const SCRATCH_DIR: &str = "/tmp";
/// Largest generated database: ten million VODs is far past any station.
const MAX_BENCH_VODS: usize = 10_000_000;
const MAX_BENCH_RUNS: usize = 100;
/// Most shows `demo-station` generates.
const MAX_DEMO_SHOWS: usize = 100_000;

/// One run of the program: the database, the log level and what to do.
#[derive(Debug)]
pub struct Command {
    pub db: PathBuf,
    pub log_level: LevelFilter,
    /// The station's time zone: `ARCHIVIST_TIMEZONE` for the commands that
    /// take it, else the box's (`TZ`, `/etc/localtime`).
    pub zone: StationZone,
    pub action: Action,
}

/// What to do, with every setting it needs, validated.
#[derive(Debug)]
pub enum Action {
    /// Print this text (the overview, or one command's help).
    Help(String),
    Version,
    Init,
    Status {
        json: bool,
        /// `--stuck` or `--failed`: list those VODs instead.
        list: Option<VodList>,
        stuck_after: StuckAfter,
    },
    Monitor(Service),
    /// The monitor against the built-in station; its Cablecast URL is set
    /// once the station listens. The text runs archivist again from here
    /// (`cargo run --release --` when cargo started it), for the commands
    /// the demo suggests.
    Demo(Service, String),
    Serve(WebSettings, StuckAfter),
    Backup {
        dest: PathBuf,
        force: bool,
    },
    Restore {
        src: PathBuf,
    },
    DemoStation(StationOptions),
    Export(ExportRequest),
    Bench {
        settings: BenchSettings,
        json: bool,
    },
    Loadtest {
        settings: LoadSettings,
        json: bool,
    },
    Transcriptions(TranscriptionsAction),
    Alerts(AlertsAction),
}

/// `archivist alerts ...`.
#[derive(Debug)]
pub enum AlertsAction {
    List {
        json: bool,
    },
    Silence {
        length: Duration,
        kind: Option<AlertKind>,
    },
    /// `alerts ack VOD_ID`: a failed VOD acknowledged.
    Ack {
        vod: i64,
        note: Option<String>,
        by: String,
    },
    /// `alerts silence --end`: the running silences (of one kind) end now.
    EndSilence {
        kind: Option<AlertKind>,
    },
    Test(Box<AlertSettings>),
}

/// What the long-running monitor needs.
#[derive(Debug)]
pub struct Service {
    pub settings: MonitorSettings,
    pub admin_token: Option<AdminToken>,
    pub systemd: SystemdEnv,
    pub stuck_after: StuckAfter,
    /// Links from the status page into Cablecast.
    pub cablecast_links: Option<CablecastLinks>,
    /// Where alerts go and when they fire.
    pub alerts: AlertSettings,
}

/// The VOD lists `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VodList {
    /// In flight longer than their state's threshold, longest first.
    Stuck,
    /// In `error` or `permanentFailure`, newest first.
    Failed,
}

/// `archivist export`.
#[derive(Debug)]
pub struct ExportRequest {
    pub table: ExportTable,
    pub format: ExportFormat,
    pub state: Option<String>,
}

/// `archivist transcriptions ...`.
#[derive(Debug)]
pub enum TranscriptionsAction {
    Scan(Vec<PathBuf>),
    Add(TranscriptionReport),
    /// Automatic linking.
    Link,
    LinkByHand {
        show: i64,
        video: String,
    },
    List(TranscriptionList),
}

/// What `transcriptions list` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptionList {
    Results(TranscriptionFilter),
    NeedsCaptions,
}

/// Parses the arguments (without the program name) and the environment.
pub fn parse(args: Vec<OsString>, env: &Env) -> Result<Command, CliError> {
    let (global, name, rest) = split_global(args)?;
    let mut command = Command {
        db: db_path(&global, env),
        log_level: log_level(&global, env)?,
        zone: StationZone::of_this_box(env.get("TZ").map(String::as_str)),
        action: Action::Version,
    };
    let (spec, rest) = match find_command(name, rest)? {
        Found::Version => return Ok(command),
        Found::Help(text) => {
            command.action = Action::Help(text);
            return Ok(command);
        }
        Found::Command(spec, rest) => (spec, rest),
    };
    let env = command_env(spec, env);
    let given = spec.read(rest, &env)?;
    if given.help {
        command.action = Action::Help(spec.help());
        return Ok(command);
    }
    if spec.id == CommandName::Demo {
        command.db = global.db.clone().unwrap_or_else(|| PathBuf::from(DEMO_DB));
    }
    if spec.takes(ZONE_SETTING) {
        command.zone = station_zone(&given, command.zone)?;
    }
    command.action = action(&given, global.db, &command.zone)?;
    if let Action::Demo(_, again) = &mut command.action {
        // Cargo sets CARGO_MANIFEST_DIR for what it runs (`cargo run`): the
        // demo's suggested next command then works from where it started.
        if env.contains_key("CARGO_MANIFEST_DIR") {
            *again = "cargo run --release --".to_string();
        }
    }
    Ok(command)
}

/// `--log-level`, else its variable, else the spec's default.
fn log_level(global: &Global, env: &Env) -> Result<LevelFilter, ConfigError> {
    match (&global.log_level, spec::global_variable("log-level", env)) {
        (Some(text), _) => logging::parse_level("--log-level", text),
        (None, Some((variable, text))) => logging::parse_level(variable, &text),
        (None, None) => logging::parse_level("--log-level", spec::global_default("log-level")),
    }
}

/// `--db`, else its variable, else the default.
fn db_path(global: &Global, env: &Env) -> PathBuf {
    match (&global.db, spec::global_variable("db", env)) {
        (Some(path), _) => path.clone(),
        (None, Some((_, text))) => PathBuf::from(text),
        (None, None) => config::default_db(),
    }
}

/// What the command's name names.
enum Found {
    /// `version`: answered at once.
    Version,
    /// `help`, or a group's help: this text, at once.
    Help(String),
    /// A command (or a group's action) and its own arguments.
    Command(&'static CommandSpec, Vec<OsString>),
}

/// The command `name` names (`help` when none), and its arguments.
fn find_command(name: Option<String>, rest: Vec<OsString>) -> Result<Found, CliError> {
    let name = name.unwrap_or_else(|| "help".into());
    match name.as_str() {
        "version" => Ok(Found::Version),
        "help" => Ok(Found::Help(help_for(&rest)?)),
        group if spec::is_group(group) => find_action(group, rest),
        other => match spec::command(other) {
            Some(spec) => Ok(Found::Command(spec, rest)),
            None => {
                let names = spec::COMMANDS.iter().map(|c| c.name);
                let hint = spec::nearest(other, names)
                    .map(|near| format!("; did you mean {near}?"))
                    .unwrap_or_default();
                Err(CliError::Usage(format!("unknown command {other:?}{hint}")))
            }
        },
    }
}

/// The action of a group (`transcriptions scan`), or the group's help.
fn find_action(group: &str, rest: Vec<OsString>) -> Result<Found, CliError> {
    let mut rest = rest.into_iter();
    let action = rest.next();
    let action = action.as_ref().and_then(|a| a.to_str());
    match action {
        Some("--help" | "-h") => Ok(Found::Help(group_help(group))),
        None => Err(CliError::Usage(format!(
            "{group} needs {}",
            spec::actions(group).join(", ")
        ))),
        Some(action) => match spec::command(&format!("{group} {action}")) {
            Some(spec) => Ok(Found::Command(spec, rest.collect())),
            None => {
                let actions = spec::actions(group);
                let hint = spec::nearest(action, actions.iter().copied())
                    .map(|near| format!("; did you mean {group} {near}?"))
                    .unwrap_or_default();
                Err(CliError::Usage(format!(
                    "{group} needs {}, not {action:?}{hint}",
                    actions.join(", ")
                )))
            }
        },
    }
}

/// The environment a command reads. The demo never reads the station's
/// real settings: it has its own station, its own database unless --db is
/// given, and its own pace unless --interval is given.
fn command_env(spec: &CommandSpec, env: &Env) -> Env {
    if spec.id != CommandName::Demo {
        return env.clone();
    }
    let own = [
        spec::global_variable_name("db"),
        spec.variable("interval"),
        spec.variable("catalog-interval"),
    ];
    env.iter()
        .filter(|(k, _)| !k.starts_with("CABLECAST_") && !own.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The command's settings, validated into its [`Action`]. `db` is `--db`
/// as given (the bench works on a copy of it).
fn action(given: &Given, db: Option<PathBuf>, zone: &StationZone) -> Result<Action, CliError> {
    use CommandName as C;
    let id = given.spec().id;
    match id {
        C::Backup | C::Restore | C::Export | C::TranscriptionsScan | C::AlertsAck | C::Help => {}
        _ => no_operands(given)?,
    }
    Ok(match id {
        C::Help => Action::Help(help_for(&given.operands)?),
        C::Init => Action::Init,
        C::Status => status(given)?,
        C::Monitor => Action::Monitor(service(given, None, zone)?),
        C::Demo => {
            // A placeholder the demo replaces with its station's address;
            // it is validated like any other.
            let url = "http://127.0.0.1/CablecastAPI/v1".to_string();
            // `parse` names the launcher when cargo runs the demo.
            Action::Demo(service(given, Some(url), zone)?, "archivist".to_string())
        }
        C::Serve => {
            let mut settings = serve_settings(given)?;
            settings.zone = zone.clone();
            Action::Serve(settings, stuck_after(given)?)
        }
        C::Backup => Action::Backup {
            dest: one_path(given)?,
            force: given.switch("force"),
        },
        C::Restore => Action::Restore {
            src: one_path(given)?,
        },
        C::DemoStation => Action::DemoStation(station_options(given)?),
        C::Export => Action::Export(export_request(given)?),
        C::Bench => Action::Bench {
            settings: bench_settings(given, db)?,
            json: given.switch("json"),
        },
        C::Loadtest => Action::Loadtest {
            settings: load_settings(given)?,
            json: given.switch("json"),
        },
        C::AlertsList => Action::Alerts(AlertsAction::List {
            json: given.switch("json"),
        }),
        C::AlertsSilence => Action::Alerts(alerts_silence(given)?),
        C::AlertsAck => Action::Alerts(alerts_ack(given)?),
        C::AlertsTest => Action::Alerts(AlertsAction::Test(Box::new(alert_settings(
            given,
            stuck_after(given)?,
        )?))),
        C::TranscriptionsScan => Action::Transcriptions(transcriptions_scan(given)?),
        C::TranscriptionsAdd => Action::Transcriptions(transcriptions_add(given)?),
        C::TranscriptionsLink => Action::Transcriptions(transcriptions_link(given)?),
        C::TranscriptionsList => Action::Transcriptions(transcriptions_list(given)),
    })
}

/// `status`: the figures, or one list of VODs.
fn status(given: &Given) -> Result<Action, CliError> {
    Ok(Action::Status {
        json: given.switch("json"),
        list: match (given.switch("stuck"), given.switch("failed")) {
            (true, true) => {
                return Err(CliError::Usage(
                    "status takes --stuck or --failed, not both".into(),
                ))
            }
            (true, false) => Some(VodList::Stuck),
            (false, true) => Some(VodList::Failed),
            (false, false) => None,
        },
        stuck_after: stuck_after(given)?,
    })
}

/// `alerts silence --for DURATION [--kind KIND]`, or `--end [--kind KIND]`.
fn alerts_silence(given: &Given) -> Result<AlertsAction, CliError> {
    let kind = silence_kind(given)?;
    let length = match (given.setting("for"), given.switch("end")) {
        (Some(_), true) => {
            return Err(CliError::Usage(
                "alerts silence takes --for or --end, not both".into(),
            ))
        }
        (None, true) => return Ok(AlertsAction::EndSilence { kind }),
        (Some((setting, text)), false) => stuck::parse_duration(&text)
            .map_err(|reason| CliError::Usage(format!("{setting}: {reason}")))?,
        (None, false) => {
            return Err(CliError::Usage(
                "alerts silence needs --for (e.g. --for 2h) or --end".into(),
            ))
        }
    };
    Ok(AlertsAction::Silence { length, kind })
}

/// `alerts ack VOD_ID [--note TEXT] [--by NAME]`.
fn alerts_ack(given: &Given) -> Result<AlertsAction, CliError> {
    let vod = match given.operands.as_slice() {
        [id] => {
            let id = id.to_string_lossy();
            id.trim()
                .parse::<i64>()
                .map_err(|_| CliError::Usage(format!("{id:?} is not a VOD id")))?
        }
        _ => {
            return Err(CliError::Usage(
                "usage: archivist alerts ack VOD_ID [--note TEXT]".into(),
            ))
        }
    };
    Ok(AlertsAction::Ack {
        vod,
        note: given.value("note").filter(|n| !n.trim().is_empty()),
        by: given
            .value("by")
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "the command line".into()),
    })
}

/// `--kind` of `alerts silence`.
fn silence_kind(given: &Given) -> Result<Option<AlertKind>, CliError> {
    match given.value("kind") {
        Some(name) => Some(AlertKind::parse(&name).ok_or_else(|| {
            let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
            CliError::Usage(format!(
                "{name:?} is not an alert kind ({})",
                known.join(", ")
            ))
        }))
        .transpose(),
        None => Ok(None),
    }
}

/// `archivist help [COMMAND [ACTION]]`.
fn help_for(rest: &[OsString]) -> Result<String, CliError> {
    let words: Vec<String> = rest
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    match words.as_slice() {
        [] => Ok(spec::overview()),
        [flag] if flag == "--help" || flag == "-h" => Ok(spec::command("help")
            .map(CommandSpec::help)
            .unwrap_or_else(spec::overview)),
        [group] if spec::is_group(group) => Ok(group_help(group)),
        words => spec::command(&words.join(" "))
            .map(CommandSpec::help)
            .ok_or_else(|| CliError::Usage(format!("no command {:?}", words.join(" ")))),
    }
}

/// The help of every action of a group.
fn group_help(group: &str) -> String {
    spec::actions(group)
        .iter()
        .filter_map(|action| spec::command(&format!("{group} {action}")))
        .map(CommandSpec::help)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Options every command takes.
struct Global {
    db: Option<PathBuf>,
    log_level: Option<String>,
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

fn no_operands(given: &Given) -> Result<(), CliError> {
    match given.operands.first() {
        Some(arg) => Err(CliError::Usage(format!(
            "unexpected argument {:?}",
            arg.to_string_lossy()
        ))),
        None => Ok(()),
    }
}

/// `backup DEST` and `restore SRC`: exactly one path.
fn one_path(given: &Given) -> Result<PathBuf, CliError> {
    let spec = given.spec();
    match given.operands.as_slice() {
        [path] => Ok(PathBuf::from(path)),
        _ => Err(CliError::Usage(format!(
            "usage: archivist {} {}",
            spec.name, spec.operands
        ))),
    }
}

/// A setting's text (flag, variable or default) parsed as seconds.
fn seconds(given: &Given, name: &str, max: u64) -> Result<Duration, ConfigError> {
    let (setting, text) = given.required(name);
    config::parse_seconds(&setting, &text, max)
}

/// A setting's text parsed as a count from 1 to `max`.
fn count(given: &Given, name: &str, max: usize) -> Result<usize, ConfigError> {
    let (setting, text) = given.required(name);
    config::parse_count(&setting, &text, 1, max)
}

fn listen(given: &Given) -> Result<SocketAddr, ConfigError> {
    let (setting, text) = given.required("listen");
    config::parse_listen(&setting, &text)
}

/// The monitor's settings. `api_url` overrides the environment (the demo
/// points the monitor at its own station).
fn service(
    given: &Given,
    api_url: Option<String>,
    zone: &StationZone,
) -> Result<Service, ConfigError> {
    let settings = monitor_settings(given, api_url, zone)?;
    // The demo links to its own station once it listens (`run_demo`).
    let demo = given.spec().id == CommandName::Demo;
    let cablecast_links = if demo {
        None
    } else {
        cablecast_links(given, Some(&settings.cablecast.api_url))?
    };
    let stuck_after = stuck_after(given)?;
    // The demo's alerts go where the settings say, as the monitor's do.
    let alerts = alert_settings(given, stuck_after)?;
    Ok(Service {
        stuck_after,
        cablecast_links,
        alerts,
        settings,
        admin_token: admin_token(given)?,
        systemd: SystemdEnv {
            notify_socket: given.value("NOTIFY_SOCKET"),
            watchdog_usec: given.value("WATCHDOG_USEC"),
            watchdog_pid: given.value("WATCHDOG_PID"),
        },
    })
}

fn monitor_settings(
    given: &Given,
    api_url: Option<String>,
    zone: &StationZone,
) -> Result<MonitorSettings, ConfigError> {
    let (api_url, credentials, location_id) = match api_url {
        Some(url) => (url, None, None),
        None => cablecast_station(given)?,
    };
    let timeout = seconds(given, "http-timeout", MAX_TIMEOUT_SECS)?;
    Ok(MonitorSettings {
        cablecast: CablecastSettings {
            api_url,
            credentials,
            location_id,
            timeout_secs: timeout.as_secs(),
            time_zone: zone.clone(),
        },
        interval: seconds(given, "interval", MAX_INTERVAL_SECS)?,
        catalog_interval: seconds(given, "catalog-interval", MAX_INTERVAL_SECS * 7)?,
        // Unset: every cycle.
        changes_interval: match given.setting("changes-interval") {
            Some((setting, text)) => config::parse_seconds(&setting, &text, MAX_INTERVAL_SECS)?,
            None => Duration::ZERO,
        },
        single_run: given.switch("single-run"),
        performance: given.switch("performance"),
        batch_size: count(given, "batch-size", 10_000)?,
        http_concurrency: count(given, "http-concurrency", 64)?,
        listen: listen(given)?,
    })
}

/// The station's API root, credentials and location, from the environment.
fn cablecast_station(
    given: &Given,
) -> Result<(String, Option<Credentials>, Option<i64>), ConfigError> {
    let text = given
        .value("CABLECAST_API_URL")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            ConfigError::new(
                "CABLECAST_API_URL",
                "not set; give the Cablecast API root, e.g. https://cablecast.example.org/CablecastAPI/v1 (or run `archivist demo`)",
            )
        })?;
    let api_url = config::parse_api_url("CABLECAST_API_URL", &text)?;
    let credentials = config::credentials(
        given.value("CABLECAST_USER_ID"),
        given.value("CABLECAST_PASSWORD"),
    )?;
    let location_id = match given
        .value("CABLECAST_LOCATION_ID")
        .filter(|l| !l.trim().is_empty())
    {
        Some(text) => Some(
            text.trim()
                .parse::<i64>()
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| {
                    ConfigError::new(
                        "CABLECAST_LOCATION_ID",
                        format!("{:?} is not a positive whole number", text.trim()),
                    )
                })?,
        ),
        None => None,
    };
    Ok((api_url, credentials, location_id))
}

/// The setting naming the station's time zone.
const ZONE_SETTING: &str = "ARCHIVIST_TIMEZONE";

/// The station's time zone: `ARCHIVIST_TIMEZONE` when set, else the box's
/// own (`box_zone`, from `TZ` or `/etc/localtime`). Cablecast's date-times
/// without an offset are station-local, and times shown to people are in
/// this zone.
fn station_zone(given: &Given, box_zone: StationZone) -> Result<StationZone, ConfigError> {
    match given.value(ZONE_SETTING).filter(|z| !z.trim().is_empty()) {
        Some(name) => {
            StationZone::named(&name).map_err(|reason| ConfigError::new(ZONE_SETTING, reason))
        }
        None => Ok(box_zone),
    }
}

/// `ARCHIVIST_ADMIN_TOKEN`, validated.
fn admin_token(given: &Given) -> Result<Option<AdminToken>, ConfigError> {
    match given
        .value("ARCHIVIST_ADMIN_TOKEN")
        .filter(|t| !t.is_empty())
    {
        Some(text) => AdminToken::new(&text)
            .map(Some)
            .map_err(|reason| ConfigError::new("ARCHIVIST_ADMIN_TOKEN", reason)),
        None => Ok(None),
    }
}

fn serve_settings(given: &Given) -> Result<WebSettings, ConfigError> {
    let mut settings = WebSettings::new(
        listen(given)?,
        seconds(given, "interval", MAX_INTERVAL_SECS)?,
    );
    settings.admin_token = admin_token(given)?;
    let api_url = match given
        .value("CABLECAST_API_URL")
        .filter(|u| !u.trim().is_empty())
    {
        Some(text) => Some(config::parse_api_url("CABLECAST_API_URL", &text)?),
        None => None,
    };
    settings.cablecast_links = cablecast_links(given, api_url.as_deref())?;
    Ok(settings)
}

/// `ARCHIVIST_STUCK_AFTER`, validated; the defaults when unset.
fn stuck_after(given: &Given) -> Result<StuckAfter, ConfigError> {
    match given.value(stuck::SETTING).filter(|t| !t.trim().is_empty()) {
        Some(text) => StuckAfter::parse(&text),
        None => Ok(StuckAfter::default()),
    }
}

/// Links into Cablecast: `CABLECAST_WEB_URL` when set, else the API records
/// under `api_url` (already validated), else none.
fn cablecast_links(
    given: &Given,
    api_url: Option<&str>,
) -> Result<Option<CablecastLinks>, ConfigError> {
    match given
        .value(WEB_URL_SETTING)
        .filter(|t| !t.trim().is_empty())
    {
        Some(template) => CablecastLinks::from_template(&template).map(Some),
        None => Ok(api_url.map(CablecastLinks::from_api_url)),
    }
}

/// How often the standalone demo station's day moves on.
const DEMO_STATION_STEP: Duration = Duration::from_secs(10);

fn station_options(given: &Given) -> Result<StationOptions, ConfigError> {
    Ok(StationOptions {
        shows: count(given, "shows", MAX_DEMO_SHOWS)?,
        listen: listen(given)?,
        moves_every: Some(DEMO_STATION_STEP),
        ..StationOptions::default()
    })
}

fn export_request(given: &Given) -> Result<ExportRequest, CliError> {
    let table = match given.operands.as_slice() {
        [] => {
            return Err(CliError::Usage(
                "export needs what to export: vods, shows or transcriptions".into(),
            ))
        }
        [table] => match table.to_string_lossy().as_ref() {
            "vods" => ExportTable::Vods,
            "shows" => ExportTable::Shows,
            "transcriptions" => ExportTable::Transcriptions,
            other => {
                return Err(CliError::Usage(format!(
                    "export {other:?}: choose vods, shows or transcriptions"
                )))
            }
        },
        [_, extra, ..] => {
            return Err(CliError::Usage(format!(
                "unexpected argument {:?}",
                extra.to_string_lossy()
            )))
        }
    };
    let format = match given.required("format").1.as_str() {
        "csv" => ExportFormat::Csv,
        "jsonl" => ExportFormat::JsonLines,
        other => {
            return Err(CliError::Usage(format!(
                "--format {other:?}: use csv or jsonl"
            )))
        }
    };
    let state = given.value("state");
    if let Some(state) = &state {
        let known: Vec<&str> = match table {
            ExportTable::Shows => {
                return Err(CliError::Usage(
                    "--state applies to vods and transcriptions only".into(),
                ))
            }
            ExportTable::Vods => VodState::KNOWN.iter().map(VodState::as_str).collect(),
            ExportTable::Transcriptions => {
                [TranscriptionStatus::Completed, TranscriptionStatus::Failed]
                    .iter()
                    .map(|s| s.as_str())
                    .collect()
            }
        };
        if !known.contains(&state.as_str()) {
            return Err(CliError::Usage(format!(
                "--state {state:?}: choose one of {}",
                known.join(", ")
            )));
        }
    }
    Ok(ExportRequest {
        table,
        format,
        state,
    })
}

fn bench_settings(given: &Given, db: Option<PathBuf>) -> Result<BenchSettings, ConfigError> {
    let scratch_dir = given
        .value("TMPDIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SCRATCH_DIR));
    Ok(BenchSettings {
        vods: count(given, "vods", MAX_BENCH_VODS)? as u64,
        db,
        runs: count(given, "runs", MAX_BENCH_RUNS)?,
        scratch_dir,
    })
}

fn load_settings(given: &Given) -> Result<LoadSettings, CliError> {
    let max_requests = match given.setting("requests") {
        Some((name, text)) => Some(config::parse_count(&name, &text, 1, usize::MAX)? as u64),
        None => None,
    };
    Ok(LoadSettings {
        target: Target::parse(&given.required("url").1)?,
        users: count(given, "users", loadtest::MAX_USERS)?,
        duration: seconds(given, "duration", loadtest::MAX_DURATION_SECS)?,
        max_requests,
        allow_remote: given.switch("allow-remote"),
    })
}

/// A path argument made absolute (never resolved through symlinks), as text.
fn absolute_arg(flag: &str, value: &str) -> Result<String, CliError> {
    let path = std::path::absolute(PathBuf::from(value))
        .map_err(|e| CliError::Usage(format!("{flag} {value:?}: {e}")))?;
    path.into_os_string()
        .into_string()
        .map_err(|p| CliError::Usage(format!("{flag} {p:?} is not valid UTF-8")))
}

/// `--video`, made absolute, when given.
fn video(given: &Given) -> Result<Option<String>, CliError> {
    given
        .value("video")
        .map(|v| absolute_arg("--video", &v))
        .transpose()
}

fn transcriptions_scan(given: &Given) -> Result<TranscriptionsAction, CliError> {
    if given.operands.is_empty() {
        return Err(CliError::Usage("transcriptions scan needs a DIR".into()));
    }
    Ok(TranscriptionsAction::Scan(
        given.operands.iter().map(PathBuf::from).collect(),
    ))
}

fn transcriptions_add(given: &Given) -> Result<TranscriptionsAction, CliError> {
    let video =
        video(given)?.ok_or_else(|| CliError::Usage("transcriptions add needs --video".into()))?;
    Ok(TranscriptionsAction::Add(TranscriptionReport {
        video,
        output: given
            .value("output")
            .map(|o| absolute_arg("--output", &o))
            .transpose()?,
        status: given.required("status").1,
        error: given.value("error"),
    }))
}

fn transcriptions_link(given: &Given) -> Result<TranscriptionsAction, CliError> {
    let show =
        match given.value("show") {
            Some(text) => Some(text.trim().parse::<i64>().map_err(|_| {
                CliError::Usage(format!("--show {text:?} is not a Cablecast show id"))
            })?),
            None => None,
        };
    match (show, video(given)?) {
        (Some(show), Some(video)) => Ok(TranscriptionsAction::LinkByHand { show, video }),
        (None, None) => Ok(TranscriptionsAction::Link),
        _ => Err(CliError::Usage(
            "transcriptions link takes --show and --video together".into(),
        )),
    }
}

fn transcriptions_list(given: &Given) -> TranscriptionsAction {
    // One list: the first of these given.
    let list = if given.switch("needs-captions") {
        TranscriptionList::NeedsCaptions
    } else if given.switch("unlinked") {
        TranscriptionList::Results(TranscriptionFilter::Unlinked)
    } else if given.switch("failed") {
        TranscriptionList::Results(TranscriptionFilter::Failed)
    } else {
        TranscriptionList::Results(TranscriptionFilter::All)
    };
    TranscriptionsAction::List(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The password every monitor case carries, which no error may echo.
    const PASSWORD: &str = "Tr1cky-Pa55word";

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn parsed(words: &[&str], vars: &[(&str, &str)]) -> Command {
        parse(args(words), &env(vars)).unwrap_or_else(|e| panic!("{words:?}: {e}"))
    }

    fn refused(words: &[&str], vars: &[(&str, &str)]) -> CliError {
        match parse(args(words), &env(vars)) {
            Ok(command) => panic!("{words:?} {vars:?} parsed: {command:?}"),
            Err(e) => e,
        }
    }

    /// A valid monitor setup.
    const STATION: &[(&str, &str)] = &[
        ("CABLECAST_API_URL", "http://127.0.0.1:9/CablecastAPI/v1"),
        ("CABLECAST_USER_ID", "station"),
        ("CABLECAST_PASSWORD", PASSWORD),
    ];

    /// `monitor --single-run FLAGS` with `vars` over a valid setup is
    /// refused with a configuration or usage error (exit 2) whose one line
    /// names `named` and never the password.
    fn monitor_refused(flags: &[&str], vars: &[(&str, &str)], named: &str) {
        let mut words = vec!["monitor", "--single-run"];
        words.extend_from_slice(flags);
        let mut all: Vec<(&str, &str)> = STATION.to_vec();
        all.extend_from_slice(vars);
        let e = refused(&words, &all);
        let line = e.to_string();
        assert_eq!(e.exit_code(), 2, "{flags:?} {vars:?}: {line}");
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.contains(named),
            "{flags:?} {vars:?}: {named} not in {line}"
        );
        assert!(!line.contains(PASSWORD), "{line}");
    }

    #[test]
    fn cablecast_settings_are_checked() {
        for (url, why) in [
            ("ftp://cablecast.example.org/v1", "http://"),
            ("cablecast.example.org/CablecastAPI/v1", "http://"),
            ("http://", "CABLECAST_API_URL"),
            ("http://cc.example.org/CablecastAPI/v1?page_size=5", "query"),
            ("http://cc example.org/v1", "spaces"),
            ("   ", "not set"),
        ] {
            monitor_refused(&[], &[("CABLECAST_API_URL", url)], "CABLECAST_API_URL");
            monitor_refused(&[], &[("CABLECAST_API_URL", url)], why);
        }
        monitor_refused(&[], &[("CABLECAST_USER_ID", "")], "CABLECAST_USER_ID");
        let only_user = [
            ("CABLECAST_API_URL", "http://127.0.0.1:9/v1"),
            ("CABLECAST_USER_ID", "station"),
        ];
        let e = refused(&["monitor"], &only_user);
        assert!(e.to_string().contains("CABLECAST_PASSWORD"), "{e}");
        monitor_refused(
            &[],
            &[("CABLECAST_USER_ID", "st:ation")],
            "CABLECAST_USER_ID",
        );
        for location in ["0", "-4", "1.5", "main studio"] {
            monitor_refused(
                &[],
                &[("CABLECAST_LOCATION_ID", location)],
                "CABLECAST_LOCATION_ID",
            );
        }
        monitor_refused(
            &[],
            &[(
                "CABLECAST_API_URL",
                "https://station:secret@cc.example.org/v1",
            )],
            "credentials",
        );
        let e = refused(&["monitor"], &[("CABLECAST_USER_ID", "station")]);
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = refused(&["monitor"], &[]);
        assert!(e.to_string().contains("CABLECAST_API_URL"), "{e}");
    }

    #[test]
    fn monitor_settings_are_checked() {
        let flag_cases: &[(&[&str], &str)] = &[
            (&["--interval", "abc"], "--interval"),
            (&["--interval", "0"], "--interval"),
            (&["--interval", "86401"], "--interval"),
            (&["--interval", "-1"], "--interval"),
            (&["--catalog-interval", "0"], "--catalog-interval"),
            (&["--http-timeout", "0"], "--http-timeout"),
            (&["--http-timeout", "601"], "--http-timeout"),
            (&["--http-concurrency", "0"], "--http-concurrency"),
            (&["--http-concurrency", "65"], "--http-concurrency"),
            (&["--batch-size", "0"], "--batch-size"),
            (&["--batch-size", "-3"], "--batch-size"),
            (&["--batch-size", "10001"], "--batch-size"),
            (&["--listen", "127.0.0.1"], "--listen"),
            (&["--listen", "everywhere"], "--listen"),
            (&["--listen", "127.0.0.1:99999"], "--listen"),
            (&["--listen", ""], "--listen"),
            (&["--log-level", "LOUD"], "--log-level"),
            // A flag without its value, and one that does not exist.
            (&["--interval"], "--interval"),
            (&["--intervall", "5"], "intervall"),
        ];
        for (flags, named) in flag_cases {
            monitor_refused(flags, &[], named);
        }
        for (var, value) in [
            ("ARCHIVIST_INTERVAL", "soon"),
            ("ARCHIVIST_CATALOG_INTERVAL", "hourly"),
            ("ARCHIVIST_HTTP_TIMEOUT", "fast"),
            ("ARCHIVIST_HTTP_CONCURRENCY", "many"),
            ("ARCHIVIST_BATCH_SIZE", "0"),
            ("ARCHIVIST_LISTEN", "localhost:8080"),
            ("ARCHIVIST_LOG_LEVEL", "LOUD"),
            ("ARCHIVIST_ADMIN_TOKEN", "short"),
        ] {
            monitor_refused(&[], &[(var, value)], var);
        }
    }

    #[test]
    fn a_flag_wins_and_an_error_names_the_flag_not_the_variable() {
        monitor_refused(
            &["--interval", "soon"],
            &[("ARCHIVIST_INTERVAL", "60")],
            "--interval",
        );
        let mut vars = STATION.to_vec();
        vars.push(("ARCHIVIST_INTERVAL", "60"));
        let Action::Monitor(service) = parsed(&["monitor", "--interval", "5"], &vars).action else {
            panic!("not a monitor");
        };
        assert_eq!(service.settings.interval, Duration::from_secs(5));
        let Action::Monitor(service) = parsed(&["monitor"], &vars).action else {
            panic!("not a monitor");
        };
        assert_eq!(service.settings.interval, Duration::from_secs(60));
    }

    #[test]
    fn defaults_are_the_ones_the_help_shows() {
        let command = parsed(&["monitor"], STATION);
        assert_eq!(command.db, config::default_db());
        assert_eq!(command.log_level, LevelFilter::Info);
        let Action::Monitor(service) = command.action else {
            panic!("not a monitor");
        };
        let s = service.settings;
        assert_eq!(s.interval, Duration::from_secs(300));
        assert_eq!(s.catalog_interval, Duration::from_secs(86_400));
        assert_eq!(s.changes_interval, Duration::ZERO);
        assert_eq!((s.batch_size, s.http_concurrency), (50, 4));
        assert_eq!(s.cablecast.timeout_secs, 30);
        assert_eq!(s.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert!(!s.single_run && !s.performance);
        assert!(service.admin_token.is_none());
        let creds = s.cablecast.credentials.expect("credentials");
        assert_eq!(creds.user, "station");
    }

    #[test]
    fn the_demo_keeps_to_its_own_station_database_and_pace() {
        let mut vars = STATION.to_vec();
        vars.extend([
            ("ARCHIVIST_DB", "/srv/real.db"),
            ("ARCHIVIST_INTERVAL", "600"),
            ("ARCHIVIST_CATALOG_INTERVAL", "86400"),
        ]);
        let command = parsed(&["demo"], &vars);
        assert_eq!(command.db, PathBuf::from(DEMO_DB));
        let Action::Demo(service, _) = command.action else {
            panic!("not the demo");
        };
        assert_eq!(service.settings.interval, Duration::from_secs(10));
        assert_eq!(service.settings.catalog_interval, Duration::from_secs(300));
        assert!(service.settings.cablecast.credentials.is_none());
        let command = parsed(&["demo", "--db", "x.db", "--interval", "2"], &vars);
        assert_eq!(command.db, PathBuf::from("x.db"));
        let Action::Demo(service, _) = command.action else {
            panic!("not the demo");
        };
        assert_eq!(service.settings.interval, Duration::from_secs(2));
    }

    #[test]
    fn shared_options_go_anywhere_and_values_keep_their_dashes() {
        let command = parsed(&["init", "--db", "-odd.db", "--log-level=debug"], &[]);
        assert_eq!(command.db, PathBuf::from("-odd.db"));
        assert_eq!(command.log_level, LevelFilter::Debug);
        assert!(matches!(command.action, Action::Init));
        let command = parsed(
            &[
                "transcriptions",
                "add",
                "--video",
                "/v/-a.mp4",
                "--error",
                "-x-",
            ],
            &[],
        );
        let Action::Transcriptions(TranscriptionsAction::Add(report)) = command.action else {
            panic!("not add");
        };
        assert_eq!(report.video, "/v/-a.mp4");
        assert_eq!(report.error.as_deref(), Some("-x-"));
        assert_eq!(report.status, "completed");
        let e = refused(&["--frobnicate", "status"], &[]);
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--frobnicate"), "{e}");
    }

    #[test]
    fn usage_errors() {
        for (words, named) in [
            (&["frobnicate"][..], "frobnicate"),
            (&["init", "extra"], "extra"),
            (&["status", "--jsn"], "--jsn"),
            (&["backup"], "backup DEST"),
            (&["backup", "a", "b"], "backup DEST"),
            (&["restore", "--force", "a"], "--force"),
            (&["export"], "vods, shows or transcriptions"),
            (&["export", "tables"], "tables"),
            (&["export", "vods", "--format", "xml"], "xml"),
            (&["export", "shows", "--state", "error"], "--state"),
            (&["export", "vods", "--state", "eror"], "eror"),
            (&["export", "transcriptions", "--state", "done"], "done"),
            (&["transcriptions"], "scan, add, link, list"),
            (&["transcriptions", "frob"], "frob"),
            (&["transcriptions", "scan"], "DIR"),
            (&["transcriptions", "add"], "--video"),
            (&["transcriptions", "list", "--all"], "--all"),
            (&["transcriptions", "link", "--show", "5"], "together"),
            (
                &["transcriptions", "link", "--show", "x", "--video", "/v"],
                "\"x\"",
            ),
            (&["bench", "--vods", "0"], "--vods"),
            (&["bench", "--runs", "101"], "--runs"),
            (&["loadtest", "--users", "1025"], "--users"),
            (&["loadtest", "--duration", "3601"], "--duration"),
            (&["loadtest", "--requests", "0"], "--requests"),
            (&["loadtest", "--url", "https://127.0.0.1"], "--url"),
            (&["demo-station", "--shows", "0"], "--shows"),
            (&["demo-station", "--listen", "x"], "--listen"),
            (&["serve", "--interval", "0"], "--interval"),
            (&["--db"], "--db"),
            (&["help", "frobnicate"], "frobnicate"),
        ] {
            let e = refused(words, &[]);
            assert_eq!(e.exit_code(), 2, "{words:?}: {e}");
            assert!(
                e.to_string().contains(named),
                "{words:?}: {named} not in {e}"
            );
        }
    }

    #[test]
    fn commands_parse_into_their_settings() {
        let command = parsed(
            &["export", "vods", "--format", "jsonl", "--state", "error"],
            &[],
        );
        let Action::Export(request) = command.action else {
            panic!("not export");
        };
        assert_eq!(request.table, ExportTable::Vods);
        assert_eq!(request.format, ExportFormat::JsonLines);
        assert_eq!(request.state.as_deref(), Some("error"));
        let command = parsed(&["loadtest", "--requests", "7", "--json"], &[]);
        let Action::Loadtest { settings, json } = command.action else {
            panic!("not loadtest");
        };
        assert!(json);
        assert_eq!(settings.max_requests, Some(7));
        assert_eq!((settings.users, settings.duration.as_secs()), (10, 60));
        assert_eq!(settings.target.port, 8080);
        let command = parsed(&["bench", "--db", "/x.db"], &[("TMPDIR", "/scratch")]);
        let Action::Bench { settings, json } = command.action else {
            panic!("not bench");
        };
        assert!(!json);
        assert_eq!(settings.db, Some(PathBuf::from("/x.db")));
        assert_eq!((settings.vods, settings.runs), (100_000, 5));
        assert_eq!(settings.scratch_dir, PathBuf::from("/scratch"));
        let command = parsed(&["backup", "/b.db", "--force"], &[]);
        assert!(matches!(command.action, Action::Backup { force: true, .. }));
        let command = parsed(&["demo-station"], &[]);
        let Action::DemoStation(options) = command.action else {
            panic!("not demo-station");
        };
        assert_eq!(options.shows, 300);
        assert_eq!(options.listen.port(), 8090);
        let command = parsed(&["transcriptions", "list", "--needs-captions"], &[]);
        assert!(matches!(
            command.action,
            Action::Transcriptions(TranscriptionsAction::List(TranscriptionList::NeedsCaptions))
        ));
        let command = parsed(&["serve"], &[("ARCHIVIST_ADMIN_TOKEN", "0123456789abcdef")]);
        let Action::Serve(web, _) = command.action else {
            panic!("not serve");
        };
        assert!(web.admin_token.is_some());
        assert!(matches!(
            parsed(&["--version"], &[]).action,
            Action::Version
        ));
        assert!(matches!(parsed(&[], &[]).action, Action::Help(_)));
    }

    #[test]
    fn exit_codes_come_from_the_error_kind() {
        let resolve = CliError::Load(loadtest::LoadError::Resolve("no such host".into()));
        assert_eq!(resolve.exit_code(), 1);
        assert!(!resolve.to_string().contains("archivist help"));
        let remote = CliError::Load(loadtest::LoadError::Remote("example.org".into()));
        assert_eq!(remote.exit_code(), 2);
        assert_eq!(CliError::NothingAnswered { requests: 3 }.exit_code(), 1);
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
    }

    /// A sample value every flag of the spec accepts.
    fn sample(opt: &spec::Opt) -> &'static str {
        match opt.flag {
            "listen" => "127.0.0.1:0",
            "url" => "http://127.0.0.1:8080",
            "format" => "csv",
            "state" => "error",
            "status" => "completed",
            "video" | "output" => "/v/a.mp4",
            "show" => "5",
            "error" => "",
            _ => "7",
        }
    }

    #[test]
    fn every_command_answers_help_and_takes_every_flag_its_help_lists() {
        for command in spec::COMMANDS {
            let mut words: Vec<&str> = command.name.split(' ').collect();
            words.push("--help");
            let Action::Help(text) = parsed(&words, &[]).action else {
                panic!("{} --help is not help", command.name);
            };
            assert!(text.contains(command.about), "{}", command.name);
            let Action::Help(text2) =
                parsed(&[&["help"][..], &words[..words.len() - 1]].concat(), &[]).action
            else {
                panic!("help {} is not help", command.name);
            };
            assert_eq!(text, text2);
            if command.name == "help" {
                continue;
            }
            for opt in command.opts.iter().flat_map(|g| g.iter()) {
                if opt.flag.is_empty() {
                    assert!(text.contains(opt.env), "{}: {}", command.name, opt.env);
                    continue;
                }
                assert!(
                    text.contains(&format!("--{}", opt.flag)),
                    "{}",
                    command.name
                );
                let mut words: Vec<&str> = command.name.split(' ').collect();
                let flag = format!("--{}", opt.flag);
                words.push(&flag);
                if !opt.value.is_empty() {
                    words.push(sample(opt));
                }
                // Refused or not for other reasons (a missing operand or
                // URL), a listed flag is never an unknown one.
                if let Err(e) = parse(args(&words), &env(STATION)) {
                    assert!(!e.to_string().contains("takes no option"), "{words:?}: {e}");
                }
            }
        }
    }

    #[test]
    fn the_readme_documents_every_command_and_variable_the_help_lists() {
        let readme = include_str!("../../README.md");
        for command in spec::COMMANDS {
            assert!(
                readme.contains(&format!("`archivist {}", command.name)),
                "README misses `archivist {}`",
                command.name
            );
            for opt in command.opts.iter().flat_map(|g| g.iter()) {
                // Ours; systemd's and TMPDIR are the system's own.
                if opt.env.starts_with("ARCHIVIST_") || opt.env.starts_with("CABLECAST_") {
                    assert!(readme.contains(opt.env), "README misses {}", opt.env);
                }
                if !opt.flag.is_empty() {
                    assert!(
                        readme.contains(&format!("--{}", opt.flag)),
                        "README misses --{} of {}",
                        opt.flag,
                        command.name
                    );
                }
            }
        }
        // And the help says what the README says the admin token does:
        // every write endpoint it opens.
        let help = spec::command("monitor").expect("monitor").help();
        let endpoints = "POST /api/sync-now, POST /api/transcriptions, POST /api/alerts/silence and POST /api/alerts/ack";
        assert!(help.contains(endpoints), "{help}");
        assert!(readme.contains(
            "`POST /api/sync-now`, `POST /api/transcriptions`, `POST /api/alerts/silence` and `POST /api/alerts/ack`"
        ));
    }

    #[test]
    fn the_demo_help_shows_the_pace_the_demo_uses() {
        let Action::Help(help) = parsed(&["demo", "--help"], &[]).action else {
            panic!("not help");
        };
        let Action::Demo(service, _) = parsed(&["demo"], &[]).action else {
            panic!("not the demo");
        };
        let interval = service.settings.interval.as_secs();
        let catalog = service.settings.catalog_interval.as_secs();
        assert_eq!((interval, catalog), (10, 300));
        for (flag, secs) in [("--interval", interval), ("--catalog-interval", catalog)] {
            let line = help
                .lines()
                .find(|l| l.trim_start().starts_with(flag))
                .unwrap_or_else(|| panic!("{flag} not in {help}"));
            assert!(line.contains(&format!("default {secs}]")), "{line}");
        }
    }

    #[test]
    fn every_command_of_the_spec_has_its_own_name() {
        for (i, a) in spec::COMMANDS.iter().enumerate() {
            for b in &spec::COMMANDS[i + 1..] {
                assert_ne!(a.id, b.id, "{} and {} share a name", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn systemd_and_scratch_settings_are_read_through_the_spec() {
        let systemd = [
            ("NOTIFY_SOCKET", "/run/systemd/notify"),
            ("WATCHDOG_USEC", "30000000"),
            ("WATCHDOG_PID", "42"),
        ];
        let mut vars = STATION.to_vec();
        vars.extend(systemd);
        for words in [&["monitor"][..], &["demo"]] {
            let (Action::Monitor(service) | Action::Demo(service, _)) = parsed(words, &vars).action
            else {
                panic!("not a service");
            };
            assert_eq!(
                service.systemd.notify_socket.as_deref(),
                Some("/run/systemd/notify")
            );
            assert_eq!(service.systemd.watchdog_usec.as_deref(), Some("30000000"));
            assert_eq!(service.systemd.watchdog_pid.as_deref(), Some("42"));
        }
        let Action::Bench { settings, .. } = parsed(&["bench"], &[]).action else {
            panic!("not bench");
        };
        assert_eq!(settings.scratch_dir, PathBuf::from(SCRATCH_DIR));
        let command = parsed(
            &["init"],
            &[
                ("ARCHIVIST_DB", "/srv/a.db"),
                ("ARCHIVIST_LOG_LEVEL", "warn"),
            ],
        );
        assert_eq!(command.db, PathBuf::from("/srv/a.db"));
        assert_eq!(command.log_level, LevelFilter::Warn);
    }

    #[test]
    fn the_station_zone_is_named_or_the_boxs_as_tz_gives_it() {
        let chicago = [("ARCHIVIST_TIMEZONE", "America/Chicago"), ("TZ", "UTC")];
        for words in [
            &["status"][..],
            &["alerts", "list"],
            &["transcriptions", "list"],
            &["serve"],
            &["demo"],
        ] {
            assert_eq!(parsed(words, &chicago).zone.name(), "America/Chicago");
            assert_eq!(
                parsed(words, &[("TZ", "America/Denver")]).zone.name(),
                "America/Denver",
                "{words:?}"
            );
            let bad = parse(args(words), &env(&[("ARCHIVIST_TIMEZONE", "Mars/Olympus")]));
            assert!(
                matches!(&bad, Err(CliError::Config(e)) if e.to_string().contains("ARCHIVIST_TIMEZONE")),
                "{words:?}: {bad:?}"
            );
        }
        let Action::Serve(settings, _) = parsed(&["serve"], &chicago).action else {
            panic!("serve parses to serve")
        };
        assert_eq!(settings.zone.name(), "America/Chicago");
        let monitor = parsed(
            &["monitor"],
            &[
                ("CABLECAST_API_URL", "http://cc.example.org/CablecastAPI/v1"),
                ("ARCHIVIST_TIMEZONE", "America/Chicago"),
            ],
        );
        let Action::Monitor(service) = monitor.action else {
            panic!("monitor parses to monitor")
        };
        assert_eq!(
            service.settings.cablecast.time_zone.name(),
            "America/Chicago"
        );
        // A command that shows no time ignores a bad zone it does not read.
        assert!(parse(
            args(&["init"]),
            &env(&[("ARCHIVIST_TIMEZONE", "Mars/Olympus")])
        )
        .is_ok());
    }
}
