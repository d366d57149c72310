//! The bench's figures, as a table for people and as JSON for machines.

use std::fmt::Write as _;

use serde::Serialize;

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub sqlite: String,
    pub archivist: String,
}

impl Machine {
    pub fn this_one() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|line| line.strip_prefix("model name"))
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            sqlite: crate::store::sqlite_version().to_string(),
            archivist: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The database the figures were measured on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StationFigures {
    /// `generated`, or `copy of PATH`.
    pub source: String,
    pub vods: u64,
    pub shows: u64,
    pub transcriptions: u64,
    pub in_flight: u64,
    pub build_ms: f64,
    pub file_kb: u64,
}

/// One timed operation: the median wall time of one call, and the mean
/// time on a CPU per call when the runs were long enough to tell.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figure {
    pub name: String,
    pub median_us: f64,
    pub cpu_us: Option<f64>,
}

impl Figure {
    pub fn micros(name: &str, timing: super::Timing) -> Figure {
        Figure {
            name: name.to_string(),
            median_us: timing.wall_us,
            cpu_us: timing.cpu_us,
        }
    }
}

/// VOD state writes: the median rate of one way of writing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WriteFigure {
    pub synchronous: String,
    pub mode: String,
    pub rows: usize,
    /// Median over runs, by the wall clock.
    pub rows_per_s: f64,
    /// Rows per second of the writing thread's CPU time (fsync waits and
    /// other processes' load excluded), when measurable.
    pub cpu_rows_per_s: Option<f64>,
}

impl WriteFigure {
    pub fn new(
        synchronous: &str,
        mode: &str,
        rows: usize,
        rows_per_s: f64,
        cpu_rows_per_s: Option<f64>,
    ) -> WriteFigure {
        WriteFigure {
            synchronous: synchronous.to_string(),
            mode: mode.to_string(),
            rows,
            rows_per_s,
            cpu_rows_per_s,
        }
    }
}

/// Steady-state monitoring cycles against the demo station (medians).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CycleFigures {
    pub vods: u64,
    pub in_flight: f64,
    pub sql_statements_besides_batch_writes: f64,
    pub batch_write_statements: f64,
    pub http_calls: f64,
    pub wall_ms: f64,
    /// The process's peak RSS; over the steady-state cycles alone when
    /// `peak_rss_is_cycles_only`, else over the whole bench.
    pub peak_rss_kb: Option<i64>,
    pub peak_rss_is_cycles_only: bool,
}

/// One steady cycle refreshing in-flight VODs from a slow server: read by
/// id in groups, and one VOD per request as from an older server.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RefreshFigures {
    pub vods: usize,
    pub changed: usize,
    pub latency_ms: u64,
    pub concurrency: usize,
    /// The whole cycle, reads by id.
    pub wall_ms: f64,
    pub http_calls: i64,
    /// The same cycle against an older server: one GET per VOD.
    pub single_wall_ms: f64,
    pub single_http_calls: i64,
    /// Both ways left the same in-flight rows, every VOD moved.
    pub same_database: bool,
    /// vods x latency / concurrency: the least it can take.
    pub floor_ms: f64,
}

/// The incremental catalogue against a full pass on a large station.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangesFigures {
    pub vods: u64,
    /// Shows edited upstream since the last cycle.
    pub shows_edited: usize,
    /// Shows the look saved: those, and the few in its safety margin that
    /// it had not saved yet.
    pub shows_saved: usize,
    pub latency_ms: u64,
    /// The cycle with the look for changes, at `latency_ms` per request.
    pub look_requests: i64,
    pub look_wall_ms: f64,
    /// The full pass, on loopback without added latency.
    pub pass_requests: i64,
    pub pass_wall_ms: f64,
    /// The full pass's requests at `latency_ms` each (computed, not run).
    pub pass_ms_at_latency: f64,
}

/// What the monitor costs a station's Cablecast as it changes: quiet looks,
/// a bulk edit, a VOD added without its show moving, an outage, a flaky
/// server. Requests are counted at the demo station.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CitizenFigures {
    pub shows: usize,
    pub in_flight: usize,
    /// Requests of each steady cycle (the look, the probe, the refresh).
    pub steady_requests: Vec<i64>,
    /// The steady cycles' looks: searches sent and shows read.
    pub quiet_searches: usize,
    pub quiet_reads: usize,
    /// Shows stamped with one `lastModified` at once.
    pub bulk_shows: usize,
    /// The look that named them: its requests, and whether it left them to
    /// a full pass.
    pub bulk_look_requests: i64,
    pub bulk_left_to_a_pass: bool,
    pub bulk_pass_requests: i64,
    /// The two cycles after, requests each and shows read.
    pub after_bulk_requests: Vec<i64>,
    pub after_bulk_reads: usize,
    /// Cycles until a VOD added without its show's `lastModified` moving
    /// was in the database (`None`: not within 5), and the most requests a
    /// cycle spent above a steady one meanwhile.
    pub new_vod_cycles: Option<usize>,
    pub new_vod_extra_requests: i64,
    /// The cycle after a one-cycle outage: requests, and whether it ran a
    /// full pass.
    pub after_outage_requests: i64,
    pub after_outage_full_pass: bool,
    /// 10 cycles at a 1 s interval with one answer in 50 a 500, a full pass
    /// due every cycle: cycles recorded as reaching Cablecast, passes
    /// completed, answers that were 500s.
    pub flaky_cycles: usize,
    pub flaky_reaching: usize,
    pub flaky_passes: usize,
    pub flaky_errors: u64,
}

/// Everything `archivist bench` measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BenchReport {
    pub machine: Machine,
    pub runs: usize,
    pub station: StationFigures,
    pub stats: Vec<Figure>,
    pub index: Vec<Figure>,
    pub aggregate_plan: Vec<String>,
    pub in_flight_plan: Vec<String>,
    pub in_flight: Vec<Figure>,
    pub writes: Vec<WriteFigure>,
    pub connection_check: Vec<Figure>,
    pub connections: Vec<Figure>,
    /// The VOD list staff filter (one page of 50 and its count), built
    /// uncached, and what a cached answer costs instead.
    pub vod_list: Vec<Figure>,
    /// Alert evaluation after a cycle, on the station database.
    pub alerts: Vec<Figure>,
    pub cycle: CycleFigures,
    pub refresh: RefreshFigures,
    pub changes: ChangesFigures,
    pub citizen: CitizenFigures,
}

impl BenchReport {
    /// The report as a plain-text table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let s = &self.station;
        let m = &self.machine;
        let _ = writeln!(
            out,
            "archivist bench: {} VODs ({} in flight), {} shows, {} transcriptions; {} database, {} KiB, ready in {:.0} ms",
            s.vods, s.in_flight, s.shows, s.transcriptions, s.source, s.file_kb, s.build_ms
        );
        let _ = writeln!(
            out,
            "{} x {}, SQLite {}, archivist {}; medians of {} runs\n",
            m.cpus, m.cpu_model, m.sqlite, m.archivist, self.runs
        );
        section(
            &mut out,
            "Sync figures (one read of every count)",
            &self.stats,
        );
        section(&mut out, "The aggregate and idx_vod_state", &self.index);
        let _ = writeln!(out, "  plan of the aggregate:");
        for line in &self.aggregate_plan {
            let _ = writeln!(out, "    {line}");
        }
        let _ = writeln!(
            out,
            "  plan of the in-flight selection: {}\n",
            self.in_flight_plan.join("; ")
        );
        section(&mut out, "The in-flight selection", &self.in_flight);
        let _ = writeln!(
            out,
            "VOD state writes (Store::apply_refresh){:>38} {:>12}",
            "rows/s", "per CPU s"
        );
        for w in &self.writes {
            let _ = writeln!(
                out,
                "  {:<60} {:>12.0} {:>12}",
                format!("synchronous={} {} ({} rows)", w.synchronous, w.mode, w.rows),
                w.rows_per_s,
                w.cpu_rows_per_s
                    .map_or("-".to_string(), |rate| format!("{rate:.0}"))
            );
        }
        out.push('\n');
        section(
            &mut out,
            "Connection check against the demo station",
            &self.connection_check,
        );
        section(&mut out, "Database connections", &self.connections);
        section(
            &mut out,
            "The VOD list (a page of 50 and its count; answers are then cached per data version)",
            &self.vod_list,
        );
        section(
            &mut out,
            "Alert evaluation after a cycle (statements counted)",
            &self.alerts,
        );
        let c = &self.cycle;
        let _ = writeln!(
            out,
            "Steady-state monitoring cycle ({} VODs on the demo station, {:.0} in flight)",
            c.vods, c.in_flight
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12}",
            "SQL statements besides batch writes",
            format!("{:.0}", c.sql_statements_besides_batch_writes)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12}",
            "statements in batch writes",
            format!("{:.0}", c.batch_write_statements)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12}",
            "HTTP calls",
            format!("{:.0}", c.http_calls)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12}",
            "wall time",
            format!("{:.1} ms", c.wall_ms)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12}",
            if c.peak_rss_is_cycles_only {
                "peak RSS during the cycles (bench process, its heap included)"
            } else {
                "peak RSS of the whole bench process"
            },
            c.peak_rss_kb
                .map_or("unknown".to_string(), |kb| format!("{kb} KiB"))
        );
        let r = &self.refresh;
        let _ = writeln!(
            out,
            "\nRefresh of {} in-flight VODs, {} ms per answer, {} at once",
            r.vods, r.latency_ms, r.concurrency
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12} {:>10}",
            format!(
                "reads by id, whole cycle (one-by-one floor {:.1} s)",
                r.floor_ms / 1000.0
            ),
            format!("{:.2} s", r.wall_ms / 1000.0),
            format!("{} HTTP", r.http_calls)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12} {:>10}",
            "older server, one GET per VOD",
            format!("{:.2} s", r.single_wall_ms / 1000.0),
            format!("{} HTTP", r.single_http_calls)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12}",
            "same database both ways",
            if r.same_database { "yes" } else { "NO" }
        );
        let c = &self.changes;
        let _ = writeln!(
            out,
            "\nCatalogue on {} VODs, {} shows edited ({} saved), {} ms per request",
            c.vods, c.shows_edited, c.shows_saved, c.latency_ms
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12} {:>10}",
            "look for changes (search, shows with VODs), whole cycle",
            format!("{:.2} s", c.look_wall_ms / 1000.0),
            format!("{} HTTP", c.look_requests)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12} {:>10}",
            format!("full pass at {} ms per request (computed)", c.latency_ms),
            format!("{:.1} s", c.pass_ms_at_latency / 1000.0),
            format!("{} HTTP", c.pass_requests)
        );
        let _ = writeln!(
            out,
            "  {:<60} {:>12}",
            "full pass on loopback, no added latency",
            format!("{:.2} s", c.pass_wall_ms / 1000.0)
        );
        self.citizen_text(&mut out);
        out
    }

    fn citizen_text(&self, out: &mut String) {
        let c = &self.citizen;
        let list = |requests: &[i64]| {
            requests
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "\nRequests to Cablecast as it changes ({} shows, {} VODs in flight)",
            c.shows, c.in_flight
        );
        let mut line = |what: String, value: String| {
            let _ = writeln!(out, "  {what:<60} {value:>12}");
        };
        line(
            "steady cycles (look, probe, refresh)".into(),
            list(&c.steady_requests),
        );
        line(
            "quiet look: searches, shows read".into(),
            format!("{}, {}", c.quiet_searches, c.quiet_reads),
        );
        line(
            format!(
                "{} shows with one lastModified: the look{}",
                c.bulk_shows,
                if c.bulk_left_to_a_pass {
                    " (left to a pass)"
                } else {
                    ""
                }
            ),
            c.bulk_look_requests.to_string(),
        );
        line("  the full pass".into(), c.bulk_pass_requests.to_string());
        line(
            format!("  the 2 cycles after ({} shows read)", c.after_bulk_reads),
            list(&c.after_bulk_requests),
        );
        line(
            "new VOD, show's lastModified unmoved: cycles until saved".into(),
            c.new_vod_cycles
                .map_or("NOT in 5".to_string(), |n| n.to_string()),
        );
        line(
            "  most requests above a steady cycle meanwhile".into(),
            c.new_vod_extra_requests.to_string(),
        );
        line(
            format!(
                "cycle after a one-cycle outage{}",
                if c.after_outage_full_pass {
                    " (ran a FULL PASS)"
                } else {
                    ""
                }
            ),
            c.after_outage_requests.to_string(),
        );
        line(
            "2 % of answers 500, 1 s interval: cycles reaching Cablecast".into(),
            format!("{} of {}", c.flaky_reaching, c.flaky_cycles),
        );
        line(
            "  answers that were 500s".into(),
            c.flaky_errors.to_string(),
        );
        line(
            "  full passes completed (one due every cycle)".into(),
            format!("{} of {}", c.flaky_passes, c.flaky_cycles),
        );
    }
}

/// A titled list of timings, each with its ratio to the fastest.
fn section(out: &mut String, title: &str, figures: &[Figure]) {
    let _ = writeln!(
        out,
        "{title:<62} {:>12} {:>10} {:>12}",
        "median", "ratio", "CPU/call"
    );
    let fastest = figures
        .iter()
        .map(|f| f.median_us)
        .fold(f64::INFINITY, f64::min)
        .max(1e-6);
    for figure in figures {
        let _ = writeln!(
            out,
            "  {:<60} {:>12} {:>10} {:>12}",
            figure.name,
            duration(figure.median_us),
            format!("x{:.1}", figure.median_us / fastest),
            figure.cpu_us.map_or("-".to_string(), duration)
        );
    }
    out.push('\n');
}

/// Microseconds in the unit that reads best.
fn duration(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else if us >= 1.0 {
        format!("{us:.1} us")
    } else {
        format!("{:.0} ns", us * 1_000.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(super::duration(0.25), "250 ns");
        assert_eq!(super::duration(12.34), "12.3 us");
        assert_eq!(super::duration(4_500.0), "4.50 ms");
    }
}
