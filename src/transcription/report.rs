//! What `transcriptions scan`, `link` and `list` print: plain lines a station
//! engineer reads in a terminal or a cron mail. Rendering only; the figures
//! come from `scan`, `link` and the store; times in the station's zone.

use std::fmt::Write;

use super::link::{Candidate, LinkReport};
use super::scan::ScanReport;
use crate::clock::{self, StationZone};
use crate::store::{ShowNeedingCaptions, TranscriptionRow};

/// Seconds as `0.000 s` and the rate per second of `count` in them.
fn rate(count: u64, secs: f64) -> String {
    if secs > 0.0 {
        format!("{secs:.3} s, {:.0} entries/s", count as f64 / secs)
    } else {
        format!("{secs:.3} s")
    }
}

/// The scan's summary, then every skipped entry (listed ones only).
pub fn scan_text(report: &ScanReport, elapsed_secs: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Scanned {} entries ({}): {} caption files, {} new, {} changed, {} unchanged, {} marked removed, {} skipped",
        report.entries,
        rate(report.entries, elapsed_secs),
        report.captions,
        report.counts.added,
        report.counts.updated,
        report.counts.unchanged,
        report.removed,
        report.skipped_total
    );
    for root in &report.failed_roots {
        let _ = writeln!(
            out,
            "  not scanned: {}: {} (its files were not marked removed)",
            root.path, root.reason
        );
    }
    for skipped in &report.skipped {
        let _ = writeln!(out, "  skipped: {}: {}", skipped.path, skipped.reason);
    }
    if report.skipped_total > report.skipped.len() {
        let _ = writeln!(
            out,
            "  ... and {} more skipped",
            report.skipped_total - report.skipped.len()
        );
    }
    out
}

fn candidate(c: &Candidate) -> String {
    format!(
        "show {} \"{}\" (score {:.2})",
        c.cablecast_id, c.title, c.score
    )
}

/// The link run's summary, then each link, ambiguity and conflict.
pub fn link_text(report: &LinkReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Linked {} videos ({} more captions followed their video's link); {} ambiguous, {} conflicts, {} without a match",
        report.linked.len(),
        report.followed_video,
        report.ambiguous.len(),
        report.conflicts.len(),
        report.unmatched.len()
    );
    for link in &report.linked {
        let _ = writeln!(out, "  linked: {} -> {}", link.video, candidate(&link.show));
    }
    for ambiguous in &report.ambiguous {
        let _ = writeln!(out, "  ambiguous: {}", ambiguous.video);
        for c in &ambiguous.candidates {
            let _ = writeln!(out, "    candidate: {}", candidate(c));
        }
    }
    for conflict in &report.conflicts {
        let _ = writeln!(
            out,
            "  conflict: {} matches {}, which also matches {}{}; not linked (link by hand with --show --video)",
            conflict.video,
            candidate(&conflict.show),
            conflict.other_videos.join(", "),
            match conflict.others.saturating_sub(conflict.other_videos.len()) {
                0 => String::new(),
                more => format!(" and {more} more"),
            }
        );
    }
    out
}

/// One line per stored result.
pub fn rows_text(rows: &[TranscriptionRow], zone: &StationZone) -> String {
    let mut out = String::new();
    for row in rows {
        let show = match (row.show_cablecast_id, &row.show_title) {
            (Some(id), Some(title)) => format!(
                "show {id} \"{title}\" ({})",
                row.linked_by.as_deref().unwrap_or("auto")
            ),
            _ => "no show".into(),
        };
        let _ = writeln!(
            out,
            "{}  {}  {}  {}  {}{}{}",
            row.completed_at
                .as_deref()
                .map_or_else(|| "-".into(), |at| clock::stored_to_local(at, zone)),
            row.status,
            row.output_path.as_deref().unwrap_or(&row.video_path),
            row.id,
            show,
            row.error
                .as_deref()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default(),
            row.removed_at
                .as_deref()
                .map(|at| format!("  removed {}", clock::stored_to_local(at, zone)))
                .unwrap_or_default()
        );
    }
    out
}

/// One line per show that needs captions.
pub fn needs_captions_text(shows: &[ShowNeedingCaptions], zone: &StationZone) -> String {
    let mut out = String::new();
    for show in shows {
        let _ = writeln!(
            out,
            "{}  show {}  {}",
            show.event_date
                .as_deref()
                .map_or_else(|| "-".into(), |at| clock::stored_to_local(at, zone)),
            show.cablecast_id,
            show.title
        );
    }
    out
}
