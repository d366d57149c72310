//! The measuring commands' arguments: `bench`, `loadtest` and `export`.

use super::*;

/// `archivist export`'s arguments.
pub(super) struct ExportRequest {
    pub(super) table: ExportTable,
    pub(super) format: ExportFormat,
    pub(super) state: Option<String>,
}

pub(super) fn export_flags(rest: Vec<OsString>) -> Result<ExportRequest, CliError> {
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

pub(super) fn bench_settings(
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

pub(super) fn load_settings(rest: Vec<OsString>) -> Result<(LoadSettings, bool), CliError> {
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
