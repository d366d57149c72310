//! Transcription state: caption files found on the station's storage or
//! reported by transcription jobs, and their links to Cablecast shows.
//!
//! - [`scan()`] walks storage mounts for caption files (`.scc`, `.vtt`, `.srt`).
//! - [`record`] stores one result a job reports (`transcriptions add`, and
//!   `POST /api/transcriptions` through the HTTP layer), after validation.
//! - [`link()`] matches results to shows by name, date and duration, and links
//!   by hand.
//! - [`report`] renders what these did for a terminal.
//!
//! A result's `id` is `fnv1a128:` and 32 hex digits: the 128-bit FNV-1a hash
//! of the UTF-8 bytes of its `output_path`, or of its `video_path` when a job
//! reported no output. The path is taken exactly as stored (absolute, as
//! reached, not resolved through symlinks), so the same file always gets the
//! same id on every run and every machine, and a scan and a report of the same
//! caption file meet in one row.
//!
//! What this module is not: it speaks no SQL (the store does) and no HTTP.

pub mod link;
mod names;
pub mod report;
pub mod scan;

use std::fmt;

use serde::Deserialize;

use crate::store::{ReportedTranscription, Store, StoreError};

pub use link::{link, link_by_hand, LinkError, LinkReport, ManualLink};
pub use names::title_words;
pub use scan::{scan, ScanError, ScanReport};

/// The longest path accepted from a report: far beyond any real mount.
pub const MAX_PATH_BYTES: usize = 4096;
/// The longest error text kept from a report: enough for a job's last lines.
pub const MAX_ERROR_BYTES: usize = 4000;

/// The stable id of a result stored under `path` (see the module docs).
pub fn result_id(path: &str) -> String {
    const OFFSET_BASIS: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let hash = path.bytes().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u128::from(byte)).wrapping_mul(PRIME)
    });
    format!("fnv1a128:{hash:032x}")
}

/// How a transcription job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptionStatus {
    Completed,
    Failed,
}

impl TranscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptionStatus::Completed => "completed",
            TranscriptionStatus::Failed => "failed",
        }
    }

    /// Reads `completed` or `failed`.
    pub fn parse(text: &str) -> Option<TranscriptionStatus> {
        match text.trim() {
            "completed" => Some(TranscriptionStatus::Completed),
            "failed" => Some(TranscriptionStatus::Failed),
            _ => None,
        }
    }
}

fn completed() -> String {
    TranscriptionStatus::Completed.as_str().to_string()
}

/// One result as a job reports it: the JSON body of
/// `POST /api/transcriptions` (`{"video", "output"?, "status", "error"?}`,
/// `status` defaulting to `completed`), and `transcriptions add`. Nothing in
/// it is trusted before [`record`] validates it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TranscriptionReport {
    pub video: String,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default = "completed")]
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
}

/// Why a reported result was refused, or could not be stored.
#[derive(Debug)]
pub enum RecordError {
    /// `video` is empty.
    MissingVideo,
    /// A path is not absolute; `field` is `video` or `output`.
    RelativePath { field: &'static str, path: String },
    /// A path is longer than [`MAX_PATH_BYTES`] or holds a control character.
    BadPath { field: &'static str },
    /// `status` is neither `completed` nor `failed`.
    UnknownStatus(String),
    /// A `failed` result came without an error text.
    FailedWithoutError,
    /// A `completed` result came with an error text.
    ErrorOnCompleted,
    /// The error text is longer than [`MAX_ERROR_BYTES`].
    ErrorTooLong,
    /// The database failed.
    Store(StoreError),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::MissingVideo => f.write_str("the video path is missing."),
            RecordError::RelativePath { field, path } => {
                write!(f, "the {field} path {path:?} is not absolute.")
            }
            RecordError::BadPath { field } => write!(
                f,
                "the {field} path is longer than {MAX_PATH_BYTES} bytes or holds control characters."
            ),
            RecordError::UnknownStatus(status) => write!(
                f,
                "the status {status:?} is neither \"completed\" nor \"failed\"."
            ),
            RecordError::FailedWithoutError => {
                f.write_str("a failed transcription needs its error text.")
            }
            RecordError::ErrorOnCompleted => {
                f.write_str("a completed transcription cannot carry an error text.")
            }
            RecordError::ErrorTooLong => {
                write!(f, "the error text is longer than {MAX_ERROR_BYTES} bytes.")
            }
            RecordError::Store(e) => write!(f, "saving the transcription: {e}"),
        }
    }
}

impl std::error::Error for RecordError {}

impl RecordError {
    /// `true` when the report itself was at fault (HTTP 400), `false` when
    /// the database failed (HTTP 500 or 503).
    pub fn is_invalid_report(&self) -> bool {
        !matches!(self, RecordError::Store(_))
    }
}

impl From<StoreError> for RecordError {
    fn from(e: StoreError) -> Self {
        RecordError::Store(e)
    }
}

fn checked_path(field: &'static str, path: &str) -> Result<String, RecordError> {
    if path.len() > MAX_PATH_BYTES || path.chars().any(char::is_control) {
        return Err(RecordError::BadPath { field });
    }
    if !path.starts_with('/') {
        return Err(RecordError::RelativePath {
            field,
            path: path.to_string(),
        });
    }
    Ok(path.to_string())
}

/// Validates one reported result and stores it; returns its id. Reporting
/// the same output (or, without output, the same video) again replaces the
/// earlier report and keeps any link to a show. A failed result keeps its
/// error and counts as failed, not as missing. A caller that holds a
/// `StatusBoard` calls its `invalidate` afterwards, as after any write.
pub fn record(store: &Store, report: &TranscriptionReport) -> Result<String, RecordError> {
    let video = report.video.trim();
    if video.is_empty() {
        return Err(RecordError::MissingVideo);
    }
    let video = checked_path("video", video)?;
    let output = match report.output.as_deref().map(str::trim) {
        Some(output) if !output.is_empty() => Some(checked_path("output", output)?),
        _ => None,
    };
    let status = TranscriptionStatus::parse(&report.status)
        .ok_or_else(|| RecordError::UnknownStatus(report.status.clone()))?;
    let error = report
        .error
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    match (status, error) {
        (TranscriptionStatus::Failed, None) => return Err(RecordError::FailedWithoutError),
        (TranscriptionStatus::Completed, Some(_)) => return Err(RecordError::ErrorOnCompleted),
        (_, Some(e)) if e.len() > MAX_ERROR_BYTES => return Err(RecordError::ErrorTooLong),
        _ => {}
    }
    let id = result_id(output.as_deref().unwrap_or(&video));
    store.save_reported_transcription(&ReportedTranscription {
        id: id.clone(),
        video_path: video,
        output_path: output,
        status: status.as_str().to_string(),
        error: error.map(str::to_string),
    })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        // Pinned: changing the hash would orphan every stored row.
        assert_eq!(result_id(""), "fnv1a128:6c62272e07bb014262b821756295c58d");
        let a = result_id("/mnt/vod/Council 2026-08-24.scc");
        assert_eq!(a, result_id("/mnt/vod/Council 2026-08-24.scc"));
        assert_ne!(a, result_id("/mnt/vod/Council 2026-08-24.vtt"));
        assert_eq!(a.len(), "fnv1a128:".len() + 32);
    }
}
