//! The measuring commands: `bench`, `loadtest` and `export`.

use std::path::Path;
use std::process::ExitCode;

use super::{print_report, CliError, ExportRequest};
use crate::bench::{self, BenchReport, BenchSettings};
use crate::export;
use crate::loadtest::{self, LoadReport, LoadSettings};
use crate::store::{Access, Store};

pub(super) fn run_export(db: &Path, request: ExportRequest) -> Result<ExitCode, CliError> {
    let store = Store::open(db, Access::ReadOnly)?;
    let stdout = std::io::stdout();
    export::export(
        &store,
        request.table,
        request.format,
        request.state.as_deref(),
        stdout.lock(),
    )
    .map_err(CliError::Export)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_bench(settings: &BenchSettings, json: bool) -> Result<ExitCode, CliError> {
    let report =
        bench::run(settings, |step| eprintln!("bench: {step} ...")).map_err(CliError::Bench)?;
    print_report(&report, json, BenchReport::to_text)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the figures, then fails when nothing answered: a load test of a
/// server that is not there measured nothing.
pub(super) fn run_loadtest(settings: &LoadSettings, json: bool) -> Result<ExitCode, CliError> {
    let report = loadtest::run(settings)?;
    print_report(&report, json, LoadReport::to_text)?;
    if report.overall.ok == 0 {
        return Err(CliError::NothingAnswered {
            requests: report.requests,
        });
    }
    Ok(ExitCode::SUCCESS)
}
