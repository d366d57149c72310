//! Inline SVG history charts: the sync percentage as a line over a
//! reachability strip (green: every cycle reached Cablecast, amber: some
//! did, red: none did, grey: no cycles recorded), drawn on the server so the
//! page needs no JavaScript.

use std::fmt::Write;

use super::html::escape;
use crate::clock;
use crate::store::History;

const WIDTH: f64 = 600.0;
/// Height of the sync-percentage plot.
const PLOT: f64 = 96.0;
/// Gap between plot and strip, and the strip's height.
const GAP: f64 = 8.0;
const STRIP: f64 = 16.0;

/// One chart for `history`, ending at `now` (Unix seconds).
pub fn render(history: &History, now: i64) -> String {
    let range = history.range;
    let start = clock::parse_stored(&history.since).unwrap_or(now - range.span_secs());
    let span = (now - start).max(1) as f64;
    let x_of = |t: i64| ((t - start) as f64 / span * WIDTH).clamp(0.0, WIDTH);
    let bucket_width = (range.bucket_secs() as f64 / span * WIDTH).max(1.0);

    let lowest = history
        .samples
        .iter()
        .map(|s| s.sync_min)
        .fold(100.0_f64, f64::min);
    // Show the interesting band: from the lowest figure's tens down, so a
    // move from 98 % to 99 % is visible.
    let floor = ((lowest / 10.0).floor() * 10.0).clamp(0.0, 90.0);
    let y_of = |p: f64| PLOT - (p.clamp(floor, 100.0) - floor) / (100.0 - floor) * PLOT;

    let total_height = PLOT + GAP + STRIP;
    let mut svg = String::with_capacity(4096 + history.samples.len() * 64);
    let _ = write!(
        svg,
        r##"<svg class="chart" viewBox="0 0 {WIDTH} {total_height}" preserveAspectRatio="none" role="img" aria-label="Sync percentage and Cablecast reachability, last {range}"><title>Sync percentage and Cablecast reachability, last {range}</title>"##,
        range = range.as_str()
    );
    let _ = write!(
        svg,
        r##"<rect width="{WIDTH}" height="{PLOT}" fill="#f7f9fb"/><rect y="{strip_y}" width="{WIDTH}" height="{STRIP}" fill="#e3e6ea"/>"##,
        strip_y = PLOT + GAP
    );
    for p in [25.0, 50.0, 75.0] {
        let y = y_of(floor + (100.0 - floor) * p / 100.0);
        let _ = write!(
            svg,
            r##"<line x1="0" x2="{WIDTH}" y1="{y:.1}" y2="{y:.1}" stroke="#dde2e7" stroke-width="1"/>"##
        );
    }
    // Runs of the sync line: a gap of more than two buckets without cycles
    // starts a new run.
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut last_end: Option<i64> = None;
    for sample in &history.samples {
        let Some(at) = clock::parse_stored(&sample.at) else {
            continue;
        };
        let x = x_of(at);
        let colour = if sample.reachable_cycles >= sample.cycles {
            "#2e9e44"
        } else if sample.reachable_cycles == 0 {
            "#d0452f"
        } else {
            "#e0a31b"
        };
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y}" width="{bucket_width:.1}" height="{STRIP}" fill="{colour}"><title>{at}: {up} of {cycles} cycles reached Cablecast</title></rect>"##,
            y = PLOT + GAP,
            at = escape(&sample.at),
            up = sample.reachable_cycles,
            cycles = sample.cycles,
        );
        let point = (x_of(at + range.bucket_secs() / 2), y_of(sample.sync_avg));
        match runs.last_mut() {
            Some(run) if last_end.is_some_and(|end| at - end <= 2 * range.bucket_secs()) => {
                run.push(point)
            }
            _ => runs.push(vec![point]),
        }
        last_end = Some(at + range.bucket_secs());
    }
    for run in &runs {
        match run.as_slice() {
            [(x, y)] => {
                let _ = write!(
                    svg,
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="#1f6fb2"/>"##
                );
            }
            points => {
                let d: Vec<String> = points
                    .iter()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect();
                let _ = write!(
                    svg,
                    r##"<polyline points="{}" fill="none" stroke="#1f6fb2" stroke-width="2" vector-effect="non-scaling-stroke" stroke-linejoin="round"/>"##,
                    d.join(" ")
                );
            }
        }
    }
    let _ = write!(
        svg,
        r##"<text x="4" y="11" class="axis">100 %</text><text x="4" y="{y}" class="axis">{floor:.0} %</text></svg>"##,
        y = PLOT - 3.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{HistoryRange, HistorySample};

    #[test]
    fn draws_a_line_and_a_strip() {
        let now = 1_800_000_000;
        let sample = |secs_ago: i64, up: i64| HistorySample {
            at: clock::format_unix((now - secs_ago) / 300 * 300),
            cycles: 2,
            reachable_cycles: up,
            sync_avg: 97.5,
            sync_min: 97.0,
            sync_max: 98.0,
        };
        let history = History {
            range: HistoryRange::Day,
            since: clock::format_unix(now - 86_400),
            samples: vec![sample(3_600, 2), sample(3_300, 1), sample(600, 0)],
        };
        let svg = render(&history, now);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert!(svg.contains("#e0a31b") && svg.contains("#d0452f"));
        // Two runs of the line: the last sample is far from the others.
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains(">90 %<"));
    }
}
