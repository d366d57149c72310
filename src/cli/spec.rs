//! The one definition of every command, flag and environment setting: the
//! parser accepts exactly the flags listed here, reads each setting's
//! variable from here, and `help` (and every command's `--help`) is
//! rendered from here, so the help cannot drift from the code.
//!
//! What this is not: validation. [`Given`] holds raw text; `parse` turns it
//! into the typed settings of `config`.

use std::collections::HashMap;
use std::ffi::OsString;

use lexopt::prelude::*;

use super::{CliError, Env};

/// One setting: a flag, an environment variable, or both (the flag wins).
#[derive(Debug)]
pub struct Opt {
    /// The long flag without its dashes; empty for an environment-only
    /// setting.
    pub flag: &'static str,
    /// The value's placeholder (`SECONDS`); empty for a switch.
    pub value: &'static str,
    /// The environment variable; empty when there is none.
    pub env: &'static str,
    /// The default as the help shows it; empty when there is none.
    pub default: &'static str,
    pub help: &'static str,
}

/// Which command a [`CommandSpec`] is, for `parse`'s exhaustive dispatch: a
/// command added here without an arm there does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    Demo,
    Monitor,
    Status,
    Serve,
    Init,
    Export,
    Bench,
    Loadtest,
    TranscriptionsScan,
    TranscriptionsAdd,
    TranscriptionsLink,
    AlertsList,
    AlertsSilence,
    AlertsAck,
    AlertsTest,
    TranscriptionsList,
    Backup,
    Restore,
    DemoStation,
    Help,
}

/// One command (`status`) or one action of a command group
/// (`transcriptions scan`).
#[derive(Debug)]
pub struct CommandSpec {
    pub id: CommandName,
    pub name: &'static str,
    /// Positional arguments as the usage line shows them.
    pub operands: &'static str,
    pub about: &'static str,
    /// Groups of settings, shared groups first.
    pub opts: &'static [&'static [Opt]],
}

const fn flag(
    flag: &'static str,
    value: &'static str,
    env: &'static str,
    default: &'static str,
    help: &'static str,
) -> Opt {
    Opt {
        flag,
        value,
        env,
        default,
        help,
    }
}

const fn switch(name: &'static str, help: &'static str) -> Opt {
    flag(name, "", "", "", help)
}

const fn var(env: &'static str, help: &'static str) -> Opt {
    flag("", "", env, "", help)
}

/// Options every command takes, before or after the command's name.
pub const GLOBAL: &[Opt] = &[
    flag(
        "db",
        "PATH",
        "ARCHIVIST_DB",
        "./archivist.db",
        "Database file",
    ),
    flag(
        "log-level",
        "LEVEL",
        "ARCHIVIST_LOG_LEVEL",
        "info",
        "error|warn|info|debug|trace",
    ),
];

const LISTEN: Opt = flag(
    "listen",
    "ADDR",
    "ARCHIVIST_LISTEN",
    "127.0.0.1:8080",
    "Status server address",
);

const ADMIN: &[Opt] = &[var(
    "ARCHIVIST_ADMIN_TOKEN",
    "Enables the write endpoints POST /api/sync-now, POST /api/transcriptions, POST /api/alerts/silence and POST /api/alerts/ack for `Authorization: Bearer TOKEN` (at least 16 characters; unset: no write endpoints)",
)];

const CABLECAST: &[Opt] = &[
    var(
        "CABLECAST_API_URL",
        "API root, e.g. https://cablecast.example.org/CablecastAPI/v1 (required)",
    ),
    var(
        "CABLECAST_USER_ID",
        "Frontdoor user for HTTP Basic auth (optional)",
    ),
    var(
        "CABLECAST_PASSWORD",
        "Its password (optional; never pass it as an argument)",
    ),
    var(
        "CABLECAST_LOCATION_ID",
        "Keep only shows of this location (optional)",
    ),
];

/// The station's time zone: every time shown to people is in it.
const ZONE: &[Opt] = &[var(
    "ARCHIVIST_TIMEZONE",
    "The station's time zone, an IANA name such as America/Chicago: times people read (page, status, alerts, transcriptions), the VOD list's day filters, and Cablecast's times without an offset are in it; JSON, /metrics and the database stay UTC (optional; default the box's zone: TZ, /etc/localtime)",
)];

/// Where systemd tells a service to report; read only to talk to it.
const SYSTEMD: &[Opt] = &[
    var(
        "NOTIFY_SOCKET",
        "Set by systemd: readiness and status go there",
    ),
    var("WATCHDOG_USEC", "Set by systemd: the watchdog period"),
    var(
        "WATCHDOG_PID",
        "Set by systemd: the process the watchdog is for",
    ),
];

/// Between cycle starts.
const fn interval(default: &'static str) -> Opt {
    flag(
        "interval",
        "SECONDS",
        "ARCHIVIST_INTERVAL",
        default,
        "Between cycle starts",
    )
}

/// Between full catalogue passes.
const fn catalog_interval(default: &'static str) -> Opt {
    flag(
        "catalog-interval",
        "SECONDS",
        "ARCHIVIST_CATALOG_INTERVAL",
        default,
        "Between full catalogue passes, which also find removals",
    )
}

/// The station's pace.
const PACE: &[Opt] = &[interval("300"), catalog_interval("86400")];

/// The demo's pace: quick enough to watch states move, and to see its
/// station's retired shows go within minutes, not a day.
const DEMO_PACE: &[Opt] = &[interval("10"), catalog_interval("300")];

/// The rest of the cycle's settings.
const CYCLE: &[Opt] = &[
    flag(
        "changes-interval",
        "SECONDS",
        "ARCHIVIST_CHANGES_INTERVAL",
        "",
        "Between looks for changed shows (saved show search) between full passes [default every cycle]",
    ),
    switch(
        "single-run",
        "Run one cycle and exit: 0 current, 1 Cablecast failed, 2 config error",
    ),
    switch(
        "performance",
        "Also log each cycle's phase timings and query figures",
    ),
    flag(
        "batch-size",
        "N",
        "ARCHIVIST_BATCH_SIZE",
        "50",
        "Refresh results per transaction",
    ),
    flag(
        "http-concurrency",
        "N",
        "ARCHIVIST_HTTP_CONCURRENCY",
        "4",
        "Refresh requests at once",
    ),
    flag(
        "http-timeout",
        "SECONDS",
        "ARCHIVIST_HTTP_TIMEOUT",
        "30",
        "Per Cablecast request",
    ),
    LISTEN,
];

const SERVE: &[Opt] = &[
    LISTEN,
    flag(
        "interval",
        "SECONDS",
        "ARCHIVIST_INTERVAL",
        "300",
        "The monitor's interval, for /healthz",
    ),
];

const JSON: Opt = switch("json", "Print JSON for machines");

/// When a VOD in flight counts as stuck: the same on every surface.
const STUCK: &[Opt] = &[var(
    "ARCHIVIST_STUCK_AFTER",
    "When a VOD in flight counts as stuck: 6h (every state) or per state, e.g. queued=2h,processing=6h,partial=6h,waiting=24h,unknown=6h (the defaults)",
)];

/// Where alerts go and when they fire (`alert::settings`).
const ALERTING: &[Opt] = &[
    var(
        "ARCHIVIST_NOTIFY_URLS",
        "Where alerts go, separated by spaces or commas, as Apprise writes them: https://... or jsons://... (generic JSON), ntfys://host/topic, slack://TokenA/TokenB/TokenC, discord://WebhookID/WebhookToken, workflows://host:port/Workflow/Signature, msteams://team/TokenA/TokenB/TokenC, mailtos://user:pass@domain?to=a@b, smtp://user:pass@host:587/?to=a@b&from=c@d, smtps://...; ?kinds=a,b routes alert kinds, ?fingerprint=SHA256 pins a certificate, tls=none mails a LAN relay (secrets: never shown)",
    ),
    var(
        "ARCHIVIST_HEARTBEAT_URL",
        "Pinged after each cycle (URL/fail when it failed), e.g. a Healthchecks check",
    ),
    var(
        "ARCHIVIST_STATION_NAME",
        "Names the station in every message [default Archivist]",
    ),
    var(
        "ARCHIVIST_PUBLIC_URL",
        "The status page's address, linked from every message",
    ),
    var(
        "ARCHIVIST_ALERTS_OFF",
        "Kinds never raised, e.g. vod_stuck,transcription_failed",
    ),
    var(
        "ARCHIVIST_ALERT_FIRE_AFTER",
        "Failing cycles before cablecast_down or database fires [default 2]",
    ),
    var(
        "ARCHIVIST_ALERT_HOLD",
        "How long a VOD or transcription failure must hold before it fires: 2m, or per kind vod_failed=2m,transcription_failed=0 [default those]",
    ),
    var(
        "ARCHIVIST_ALERT_RESOLVE_AFTER",
        "Good cycles before they resolve [default 1]",
    ),
    var(
        "ARCHIVIST_ALERT_REMINDER",
        "Repeat a firing alert this often, e.g. 4h [default off]",
    ),
    var(
        "ARCHIVIST_ALERT_RESOLVED",
        "on|off: send resolved messages [default on]",
    ),
    var(
        "ARCHIVIST_VOD_MISSING_AFTER",
        "How long after a series show's event vod_missing fires when it has no VOD, e.g. 6h [default 6h]",
    ),
    var(
        "ARCHIVIST_VOD_MISSING_LOOKBACK",
        "How far back vod_missing looks at shows with no VOD, e.g. 14d (at most 60d) [default 14d]",
    ),
];

/// Links from the status page into Cablecast.
const WEB_URL: Opt = var(
    "CABLECAST_WEB_URL",
    "A show's page in your Cablecast, with {show} for its id (optional; default: the show's record in the API); links from the status page",
);

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        id: CommandName::Demo,
        name: "demo",
        operands: "",
        about: "Run the monitor against a built-in demo station (no Cablecast needed): its own database ./archivist-demo.db unless --db, a cycle every 10 s unless --interval, a full pass every 300 s unless --catalog-interval",
        opts: &[DEMO_PACE, CYCLE, ADMIN, STUCK, ALERTING, SYSTEMD, ZONE],
    },
    CommandSpec {
        id: CommandName::Monitor,
        name: "monitor",
        operands: "",
        about: "Poll Cablecast every --interval and keep the database current",
        opts: &[
            PACE,
            CYCLE,
            ADMIN,
            CABLECAST,
            ZONE,
            &[WEB_URL],
            STUCK,
            ALERTING,
            SYSTEMD,
        ],
    },
    CommandSpec {
        id: CommandName::Status,
        name: "status",
        operands: "",
        about: "Print the sync figures from the database alone (--stuck, --failed: those VODs, one a line)",
        opts: &[
            &[
                JSON,
                switch("stuck", "List the stuck VODs, longest in their state first"),
                switch("failed", "List the failed VODs, newest failure first"),
            ],
            STUCK,
            ZONE,
        ],
    },
    CommandSpec {
        id: CommandName::Serve,
        name: "serve",
        operands: "",
        about: "Serve the status page and API from the database, without polling Cablecast",
        opts: &[
            SERVE,
            ADMIN,
            &[
                var(
                    "CABLECAST_API_URL",
                    "The Cablecast API root, for links from the page (optional)",
                ),
                WEB_URL,
            ],
            STUCK,
            ZONE,
        ],
    },
    CommandSpec {
        id: CommandName::Init,
        name: "init",
        operands: "",
        about: "Create or migrate the database, then exit",
        opts: &[],
    },
    CommandSpec {
        id: CommandName::Export,
        name: "export",
        operands: "vods|shows|transcriptions",
        about: "Stream rows to stdout straight from the database (memory stays flat)",
        opts: &[&[
            flag(
                "format",
                "csv|jsonl",
                "",
                "csv",
                "CSV with a header row (RFC 4180), or one JSON object per line",
            ),
            flag(
                "state",
                "S",
                "",
                "",
                "Only VODs in this vodState (transcriptions: this status)",
            ),
        ]],
    },
    CommandSpec {
        id: CommandName::Bench,
        name: "bench",
        operands: "",
        about: "Measure each optimisation on a generated station database (with --db, on a copy of that one)",
        opts: &[&[
            flag("vods", "N", "", "100000", "VODs in the generated database"),
            flag("runs", "R", "", "5", "Repetitions; figures are medians"),
            JSON,
            var("TMPDIR", "Where the generated database goes [default /tmp]"),
        ]],
    },
    CommandSpec {
        id: CommandName::Loadtest,
        name: "loadtest",
        operands: "",
        about: "Load the status server over keep-alive connections",
        opts: &[&[
            flag("url", "URL", "", "http://127.0.0.1:8080", "Status server"),
            flag(
                "users",
                "N",
                "",
                "10",
                "Concurrent keep-alive connections (at most 1024)",
            ),
            flag(
                "duration",
                "SECONDS",
                "",
                "60",
                "How long to run (at most 3600)",
            ),
            flag("requests", "N", "", "", "Stop after N requests in all, if sooner"),
            switch("allow-remote", "Allow a target that is not this machine"),
            JSON,
        ]],
    },
    CommandSpec {
        id: CommandName::TranscriptionsScan,
        name: "transcriptions scan",
        operands: "DIR...",
        about: "Record the caption files (.scc, .vtt, .srt) under DIRs",
        opts: &[],
    },
    CommandSpec {
        id: CommandName::TranscriptionsAdd,
        name: "transcriptions add",
        operands: "",
        about: "Record one transcription a job reports (as POST /api/transcriptions)",
        opts: &[&[
            flag("video", "V", "", "", "The video file (required)"),
            flag("output", "O", "", "", "The caption file written"),
            flag("status", "completed|failed", "", "completed", "How the job ended"),
            flag("error", "E", "", "", "Why it failed"),
        ]],
    },
    CommandSpec {
        id: CommandName::TranscriptionsLink,
        name: "transcriptions link",
        operands: "",
        about: "Link results to shows automatically, or this one by hand (--show with --video)",
        opts: &[&[
            flag("show", "CABLECAST_ID", "", "", "The show to link by hand"),
            flag("video", "V", "", "", "The video whose results to link"),
        ]],
    },
    CommandSpec {
        id: CommandName::AlertsList,
        name: "alerts list",
        operands: "",
        about: "Firing alerts, silences and recent alerts",
        opts: &[&[JSON], ZONE],
    },
    CommandSpec {
        id: CommandName::AlertsSilence,
        name: "alerts silence",
        operands: "",
        about: "Record alerts but send nothing for a while (planned maintenance)",
        opts: &[&[
            flag("for", "DURATION", "", "", "How long, e.g. 2h (this or --end)"),
            switch("end", "End the running silences now (those of --kind only, when given)"),
            flag("kind", "KIND", "", "", "Only this kind of alert [default every kind]"),
        ], ZONE],
    },
    CommandSpec {
        id: CommandName::AlertsAck,
        name: "alerts ack",
        operands: "VOD_ID",
        about: "Acknowledge a failed VOD: it stops counting against /health/publishing and stops reminders, and stays listed as acknowledged",
        opts: &[&[
            flag("note", "TEXT", "", "", "Why (shown with it)"),
            flag("by", "NAME", "", "", "Who [default the command line]"),
        ]],
    },
    CommandSpec {
        id: CommandName::AlertsTest,
        name: "alerts test",
        operands: "",
        about: "Send a test message to every destination; exit 0 only if all got it",
        opts: &[ALERTING, STUCK],
    },
    CommandSpec {
        id: CommandName::TranscriptionsList,
        name: "transcriptions list",
        operands: "",
        about: "List results (or the shows that still need captions)",
        opts: &[&[
            switch("failed", "Only failed results"),
            switch("unlinked", "Only results linked to no show"),
            switch(
                "needs-captions",
                "The shows with a complete VOD but no caption",
            ),
        ], ZONE],
    },
    CommandSpec {
        id: CommandName::Backup,
        name: "backup",
        operands: "DEST",
        about: "Write a checked copy of the database to DEST while the service runs",
        opts: &[&[switch("force", "Replace an existing DEST")]],
    },
    CommandSpec {
        id: CommandName::Restore,
        name: "restore",
        operands: "SRC",
        about: "Replace the database with a checked copy of SRC (stop the service first); the replaced file is kept as DB.before-restore",
        opts: &[],
    },
    CommandSpec {
        id: CommandName::DemoStation,
        name: "demo-station",
        operands: "",
        about: "Serve only the demo Cablecast until stopped, and print its CABLECAST_API_URL",
        opts: &[&[
            flag("listen", "ADDR", "", "127.0.0.1:8090", "Where it listens"),
            flag("shows", "N", "", "300", "Shows in its catalogue"),
        ]],
    },
    CommandSpec {
        id: CommandName::Help,
        name: "help",
        operands: "[COMMAND]",
        about: "Print this help, or one command's (also: COMMAND --help; --version: version, commit, target and SQLite)",
        opts: &[],
    },
];

fn global(flag: &str) -> &'static Opt {
    // reason: a name GLOBAL does not list is a bug in the parser, which
    // its unit tests reach.
    GLOBAL
        .iter()
        .find(|o| o.flag == flag)
        .unwrap_or_else(|| panic!("no option --{flag} for every command"))
}

/// A shared option's variable.
pub fn global_variable_name(flag: &str) -> &'static str {
    global(flag).env
}

/// A shared option's variable and its value, when set.
pub fn global_variable(flag: &str, env: &Env) -> Option<(&'static str, String)> {
    let opt = global(flag);
    env.get(opt.env).map(|value| (opt.env, value.clone()))
}

/// A shared option's default, as the help shows it.
pub fn global_default(flag: &str) -> &'static str {
    global(flag).default
}

/// The spec of `name` (`"transcriptions scan"` for an action).
pub fn command(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Whether `name` is a group of actions (`transcriptions`).
pub fn is_group(name: &str) -> bool {
    COMMANDS.iter().any(|c| {
        c.name
            .split_once(' ')
            .is_some_and(|(group, _)| group == name)
    })
}

/// Most single-letter edits between a mistyped name and the one meant:
/// `--stuk` is `--stuck`, `--json` is not `--jobs`.
const MAX_TYPO_EDITS: usize = 2;

/// The candidate closest to `typed`, when a typo away from it (and `typed`
/// is longer than the typo): for "did you mean" hints.
pub fn nearest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = MAX_TYPO_EDITS.min(typed.chars().count().saturating_sub(1) / 2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(typed, c), c))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance: insertions, deletions and substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The actions of a group, for its error message and help.
pub fn actions(group: &str) -> Vec<&'static str> {
    COMMANDS
        .iter()
        .filter_map(|c| c.name.strip_prefix(group)?.strip_prefix(' '))
        .collect()
}

impl CommandSpec {
    /// Whether this command takes the setting `name` (a flag, or the
    /// variable of an environment-only setting).
    pub fn takes(&self, name: &str) -> bool {
        self.opts()
            .any(|o| o.flag == name || (o.flag.is_empty() && o.env == name))
    }

    fn opts(&self) -> impl Iterator<Item = &'static Opt> {
        self.opts.iter().flat_map(|group| group.iter())
    }

    fn flag(&self, name: &str) -> Option<&'static Opt> {
        self.opts().find(|o| !o.flag.is_empty() && o.flag == name)
    }

    /// The variable behind flag `name`; empty when it has none.
    pub fn variable(&self, name: &str) -> &'static str {
        self.flag(name).map_or("", |o| o.env)
    }

    /// Reads this command's arguments: flags by this spec (a flag it does
    /// not list is an error), operands in order. `--help` anywhere wins.
    pub fn read(&'static self, args: Vec<OsString>, env: &Env) -> Result<Given, CliError> {
        let mut given = Given {
            spec: self,
            values: HashMap::new(),
            operands: Vec::new(),
            env: env.clone(),
            help: false,
        };
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next()? {
            match arg {
                Long("help") | Short('h') => given.help = true,
                Long(name) => {
                    let opt = self.flag(name).ok_or_else(|| {
                        let flags = self.opts().map(|o| o.flag).filter(|f| !f.is_empty());
                        let hint = nearest(name, flags)
                            .map(|near| format!("; did you mean --{near}?"))
                            .unwrap_or_default();
                        CliError::Usage(format!("{} takes no option --{name}{hint}", self.name))
                    })?;
                    let value = if opt.value.is_empty() {
                        String::new()
                    } else {
                        parser.value()?.string()?
                    };
                    given.values.insert(opt.flag, value);
                }
                Value(value) => given.operands.push(value),
                other => return Err(other.unexpected().into()),
            }
        }
        Ok(given)
    }

    /// `archivist COMMAND --help`.
    pub fn help(&self) -> String {
        let mut text = format!(
            "{}\n\nUsage: archivist [--db PATH] [--log-level LEVEL] {}",
            self.about, self.name
        );
        if self.opts().any(|o| !o.flag.is_empty()) {
            text.push_str(" [OPTIONS]");
        }
        if !self.operands.is_empty() {
            text.push(' ');
            text.push_str(self.operands);
        }
        text.push('\n');
        let (flags, vars): (Vec<&Opt>, Vec<&Opt>) = self.opts().partition(|o| !o.flag.is_empty());
        if !flags.is_empty() {
            text.push_str("\nOptions:\n");
            options_text(&mut text, flags);
        }
        if !vars.is_empty() {
            text.push_str("\nEnvironment:\n");
            options_text(&mut text, vars);
        }
        text.push_str("\nOptions for every command:\n");
        options_text(&mut text, GLOBAL.iter());
        text
    }
}

/// `archivist help`: every command, then the shared options.
pub fn overview() -> String {
    let mut text = String::from(
        "archivist: keeps a station's Cablecast VOD state in one SQLite file, and shows it.\n\n\
         Usage: archivist [--db PATH] [--log-level LEVEL] COMMAND [OPTIONS]\n\nCommands:\n",
    );
    for c in COMMANDS {
        let usage = if c.operands.is_empty() {
            c.name.to_string()
        } else {
            format!("{} {}", c.name, c.operands)
        };
        text.push_str(&format!("  {usage:<34} {}\n", c.about));
    }
    text.push_str("\nOptions for every command:\n");
    options_text(&mut text, GLOBAL.iter());
    text.push_str(
        "\nEvery setting is a flag or an environment variable (the flag wins).\n\
         `archivist COMMAND --help` lists a command's options and variables.\n",
    );
    text
}

fn options_text<'a>(text: &mut String, opts: impl IntoIterator<Item = &'a Opt>) {
    for o in opts {
        let name = match (o.flag.is_empty(), o.value.is_empty()) {
            (true, _) => o.env.to_string(),
            (false, true) => format!("--{}", o.flag),
            (false, false) => format!("--{} {}", o.flag, o.value),
        };
        let mut notes = Vec::new();
        if !o.flag.is_empty() && !o.env.is_empty() {
            notes.push(format!("env {}", o.env));
        }
        if !o.default.is_empty() {
            notes.push(format!("default {}", o.default));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", notes.join(", "))
        };
        text.push_str(&format!("  {name:<28} {}{notes}\n", o.help));
    }
}

/// A command's arguments as given, before validation.
#[derive(Debug)]
pub struct Given {
    spec: &'static CommandSpec,
    values: HashMap<&'static str, String>,
    pub operands: Vec<OsString>,
    env: Env,
    /// `--help` was given.
    pub help: bool,
}

impl Given {
    pub fn spec(&self) -> &'static CommandSpec {
        self.spec
    }

    fn opt(&self, flag: &str) -> &'static Opt {
        // reason: a name the spec does not list is a bug in the parser,
        // which the unit tests reach for every command.
        self.spec
            .opts()
            .find(|o| o.flag == flag || (o.flag.is_empty() && o.env == flag))
            .unwrap_or_else(|| panic!("{} has no setting {flag}", self.spec.name))
    }

    /// Whether a switch was given.
    pub fn switch(&self, flag: &str) -> bool {
        self.values.contains_key(self.opt(flag).flag)
    }

    /// A setting's name and text as given: the flag's value, else its
    /// environment variable's (so an error names what the engineer set).
    /// `name` is the flag, or the variable of an environment-only setting.
    pub fn setting(&self, name: &str) -> Option<(String, String)> {
        let opt = self.opt(name);
        if !opt.flag.is_empty() {
            if let Some(value) = self.values.get(opt.flag) {
                return Some((format!("--{}", opt.flag), value.clone()));
            }
        }
        if opt.env.is_empty() {
            return None;
        }
        self.env
            .get(opt.env)
            .map(|value| (opt.env.to_string(), value.clone()))
    }

    /// Like [`Given::setting`], falling back to the default the spec shows.
    pub fn required(&self, name: &str) -> (String, String) {
        let opt = self.opt(name);
        // reason: a setting read this way without a default in the spec is
        // a bug in the parser, which the unit tests reach for every command.
        assert!(!opt.default.is_empty(), "{name} has no default");
        self.setting(name)
            .unwrap_or_else(|| (format!("--{}", opt.flag), opt.default.to_string()))
    }

    /// A setting's text alone, as given.
    pub fn value(&self, name: &str) -> Option<String> {
        self.setting(name).map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_the_name_meant_and_nothing_far_away() {
        let flags = ["stuck", "failed", "json"];
        assert_eq!(nearest("stuk", flags), Some("stuck"));
        assert_eq!(nearest("faild", flags), Some("failed"));
        assert_eq!(nearest("jsom", flags), Some("json"));
        assert_eq!(nearest("colour", flags), None);
        // A name too short to tell a typo from another word.
        assert_eq!(nearest("j", flags), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
