//! `archivist transcriptions scan|add|link|list`, as validated by `parse`.

use std::path::Path;
use std::process::ExitCode;

use super::{CliError, TranscriptionList, TranscriptionsAction};
use crate::clock::StationZone;
use crate::store::{Access, Store};
use crate::transcription::{self, report as transcription_report, RecordError};

pub(super) fn run_transcriptions(
    db: &Path,
    action: TranscriptionsAction,
    zone: &StationZone,
) -> Result<ExitCode, CliError> {
    match action {
        TranscriptionsAction::Scan(dirs) => {
            let store = Store::open(db, Access::ReadWrite)?;
            let started = std::time::Instant::now();
            let report = transcription::scan(&store, &dirs).map_err(CliError::Scan)?;
            out!(
                "{}",
                transcription_report::scan_text(&report, started.elapsed().as_secs_f64())
            )?;
            Ok(if report.failed_roots.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        TranscriptionsAction::Add(report) => {
            let store = Store::open(db, Access::ReadWrite)?;
            let id = transcription::record(&store, &report).map_err(|e| match e {
                RecordError::Store(e) => CliError::Store(e),
                invalid => CliError::Record(invalid),
            })?;
            outln!("{id}")?;
            Ok(ExitCode::SUCCESS)
        }
        TranscriptionsAction::LinkByHand { show, video } => {
            let store = Store::open(db, Access::ReadWrite)?;
            let linked =
                transcription::link_by_hand(&store, show, &video).map_err(CliError::Link)?;
            outln!(
                "linked {} results of {video} to show {show} \"{}\" by hand",
                linked.rows,
                linked.show_title
            )?;
            if !linked.other_videos.is_empty() {
                eprintln!(
                    "archivist: warning: show {show} is also linked to {}",
                    linked.other_videos.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TranscriptionsAction::Link => {
            let store = Store::open(db, Access::ReadWrite)?;
            let report = transcription::link(&store).map_err(CliError::Link)?;
            out!("{}", transcription_report::link_text(&report))?;
            Ok(ExitCode::SUCCESS)
        }
        TranscriptionsAction::List(list) => {
            let store = Store::open(db, Access::ReadOnly)?;
            let text = match list {
                TranscriptionList::NeedsCaptions => transcription_report::needs_captions_text(
                    &store.shows_needing_captions()?,
                    zone,
                ),
                TranscriptionList::Results(filter) => {
                    transcription_report::rows_text(&store.transcriptions(filter)?, zone)
                }
            };
            out!("{text}")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
