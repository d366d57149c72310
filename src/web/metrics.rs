//! `/metrics`: the Prometheus text exposition (format 0.0.4).
//!
//! The metric names are fixed: station dashboards query them. Cycle figures
//! come from the monitor's last recorded cycle and are left out until one
//! exists; `archivist_cablecast_up` is 0 then.

use std::fmt::Write;

use crate::status::StatusReport;
use crate::vod::VodState;

/// Renders every metric. `last_success_unix` is when a cycle last reached
/// Cablecast.
pub fn render(report: &StatusReport, last_success_unix: Option<i64>) -> String {
    let mut out = String::with_capacity(2048);
    header(
        &mut out,
        "archivist_vods",
        "gauge",
        "VODs by Cablecast vodState (unrecognised states count as unknown).",
    );
    for state in VodState::KNOWN {
        let n = report.by_state.get(state.as_str()).copied().unwrap_or(0);
        let _ = writeln!(out, "archivist_vods{{state=\"{}\"}} {n}", state.as_str());
    }
    let cycle = report.last_cycle.as_ref();
    let now = crate::clock::unix_now();
    let samples: [(&str, &str, &str, Option<f64>); 13] = [
        (
            "archivist_sync_percentage",
            "gauge",
            "Complete VODs as a percentage of all VODs not disabled.",
            Some(report.sync_percentage),
        ),
        (
            "archivist_vods_stuck",
            "gauge",
            "VODs in flight longer than their state's threshold (ARCHIVIST_STUCK_AFTER).",
            Some(report.stuck_vods as f64),
        ),
        (
            "archivist_oldest_in_flight_seconds",
            "gauge",
            "Time the VOD longest in flight has been in its state (0 when none is).",
            Some(
                report
                    .oldest_in_flight_since
                    .as_deref()
                    .and_then(crate::clock::parse_stored)
                    .map_or(0.0, |at| (now - at).max(0) as f64),
            ),
        ),
        (
            "archivist_catalogue_complete",
            "gauge",
            "1 once a complete catalogue pass has finished on this database, else 0 (figures partial).",
            Some(if report.catalogue_complete { 1.0 } else { 0.0 }),
        ),
        (
            "archivist_shows",
            "gauge",
            "Shows in the catalogue.",
            Some(report.total_shows as f64),
        ),
        (
            "archivist_transcriptions",
            "gauge",
            "Transcriptions recorded.",
            Some(report.transcriptions.total as f64),
        ),
        (
            "archivist_cycle_duration_seconds",
            "gauge",
            "Wall time of the last monitoring cycle.",
            cycle.map(|c| c.duration_ms as f64 / 1000.0),
        ),
        (
            "archivist_cycle_http_calls",
            "gauge",
            "HTTP calls to Cablecast in the last monitoring cycle.",
            cycle.map(|c| c.http_calls as f64),
        ),
        (
            "archivist_cycle_sql_statements",
            "gauge",
            "SQL statements of the last monitoring cycle.",
            cycle.map(|c| c.sql_statements as f64),
        ),
        (
            "archivist_cache_hits_total",
            "counter",
            "Cache hits of the monitor since it started.",
            Some(report.performance.cache_hits as f64),
        ),
        (
            "archivist_cache_misses_total",
            "counter",
            "Cache misses of the monitor since it started.",
            Some(report.performance.cache_misses as f64),
        ),
        (
            "archivist_cablecast_up",
            "gauge",
            "1 if the last monitoring cycle reached Cablecast, else 0.",
            Some(if cycle.is_some_and(|c| c.cablecast_reachable) {
                1.0
            } else {
                0.0
            }),
        ),
        (
            "archivist_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last monitoring cycle that reached Cablecast.",
            last_success_unix.map(|t| t as f64),
        ),
    ];
    for (name, kind, help, value) in samples {
        if let Some(value) = value {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}
