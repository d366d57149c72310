//! `archivist transcriptions scan|add|link|list`.

use super::*;

/// A path argument made absolute (never resolved through symlinks), as text.
fn absolute_arg(flag: &str, value: OsString) -> Result<String, CliError> {
    let path = std::path::absolute(PathBuf::from(&value))
        .map_err(|e| CliError::Usage(format!("{flag} {:?}: {e}", value.to_string_lossy())))?;
    path.into_os_string()
        .into_string()
        .map_err(|p| CliError::Usage(format!("{flag} {p:?} is not valid UTF-8")))
}

/// `archivist transcriptions scan|add|link|list`.
pub(super) fn run_transcriptions(
    db: &std::path::Path,
    rest: Vec<OsString>,
) -> Result<ExitCode, CliError> {
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
