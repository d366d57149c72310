//! `archivist bench`: measures, in one run, each optimisation Archivist
//! relies on against the thing it replaced, on a generated station database
//! and a demo station on loopback, and prints medians over repeated runs.
//!
//! The figures come from the product's own code paths (the store's
//! statements and connections, the status board's cache, the monitor's
//! cycle); only the "before" forms are extra SQL, kept in `store::bench`.
//! What this is not: a test. It asserts nothing; the targets it speaks to
//! are stated beside the figures.

mod report;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use report::{
    BenchReport, CitizenFigures, CycleFigures, Figure, Machine, StationFigures, WriteFigure,
};

use crate::alert::{AlertSettings, AlertWatch, CycleOutcome};
use crate::cablecast::{CablecastClient, CablecastError};
use crate::cache::Expiring;
use crate::config::CablecastSettings;
use crate::config::MonitorSettings;
use crate::demo::{DemoStation, Fault, StationOptions};
use crate::memory;
use crate::monitor::{Monitor, CONNECTION_CHECK_TTL};
use crate::status::StatusBoard;
use crate::store::bench::{StatsForm, SEPARATE_COUNT_STATEMENTS};
use crate::store::{counters, Access, RefreshOutcome, Store, StoreError, VodFilter};
use crate::stuck::StuckAfter;
use crate::vod::Vod;

/// How long one measured run of a fast operation lasts: long enough that
/// timer resolution does not matter, short enough for many runs.
const RUN_TARGET: Duration = Duration::from_millis(100);
/// Ceiling on repetitions inside one run.
const MAX_ITERATIONS: u64 = 5_000_000;
/// How long the calls that size a run take.
const CALIBRATION: Duration = Duration::from_millis(10);
/// Per-row writes at `synchronous=FULL` cost an fsync each: enough rows to
/// time, not so many that the bench takes minutes on an SD card.
const PER_ROW_WRITES: usize = 300;
/// Rows written in batches per run.
const BATCHED_WRITES: usize = 20_000;
/// The monitor's default batch size, and a larger one for comparison.
const BATCH_SIZES: [usize; 2] = [50, 1_000];
/// Shows on the demo station the steady-state cycle runs against.
const CYCLE_SHOWS: usize = 1_000;
/// The refresh target: this many in-flight VODs ...
const REFRESH_VODS: usize = 1_000;
/// ... from a server answering each request this slowly ...
const REFRESH_LATENCY: Duration = Duration::from_millis(50);
/// ... with the monitor's default concurrency.
const REFRESH_CONCURRENCY: usize = 4;
/// The incremental catalogue target: this many shows changed since the
/// last cycle ...
const CHANGED_SHOWS: usize = 20;
/// ... on a server answering each request this slowly.
const CHANGES_LATENCY: Duration = Duration::from_millis(200);
/// The station requests are counted on as it changes: this many shows at
/// most ...
const CITIZEN_SHOWS: usize = 2_500;
/// ... this many VODs in flight at most ...
const CITIZEN_IN_FLIGHT: usize = 1_000;
/// ... and this many shows stamped with one `lastModified` at most.
const BULK_SHOWS: usize = 2_000;
/// Cycles against the flaky server.
const FLAKY_CYCLES: usize = 10;
/// One answer in this many is a 500 on the flaky server (2 %).
const FLAKY_ONE_IN: u64 = 50;
/// VODs per show on the demo station (every tenth show has two).
const VODS_PER_SHOW: f64 = 1.1;
const SEED: u64 = 2026;
/// Less CPU time than this is not reported (the fallback clock ticks every
/// 10 ms).
const MIN_CPU_SPAN: Duration = Duration::from_millis(20);

/// What to measure, validated by `cli`.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    pub vods: u64,
    /// Benchmark a copy of this database instead of a generated one.
    pub db: Option<PathBuf>,
    pub runs: usize,
    /// Where the temporary files go.
    pub scratch_dir: PathBuf,
}

/// What stops the bench.
#[derive(Debug)]
pub enum BenchError {
    Store(StoreError),
    Cablecast(CablecastError),
    /// The scratch directory or the demo station could not be set up.
    Setup(String),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Store(e) => e.fmt(f),
            BenchError::Cablecast(e) => write!(f, "benchmark against the demo station: {e}"),
            BenchError::Setup(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<StoreError> for BenchError {
    fn from(e: StoreError) -> Self {
        BenchError::Store(e)
    }
}

impl From<CablecastError> for BenchError {
    fn from(e: CablecastError) -> Self {
        BenchError::Cablecast(e)
    }
}

/// A directory of its own for the bench's files, removed when done.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: &Path) -> Result<Scratch, BenchError> {
        let dir = parent.join(format!(
            "archivist-bench-{}-{}",
            std::process::id(),
            crate::clock::unix_now()
        ));
        fs::create_dir_all(&dir).map_err(|e| {
            BenchError::Setup(format!(
                "creating the bench directory {}: {e}",
                dir.display()
            ))
        })?;
        Ok(Scratch(dir))
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs every measurement and returns the figures.
pub fn run(settings: &BenchSettings, progress: impl Fn(&str)) -> Result<BenchReport, BenchError> {
    let runs = settings.runs.max(1);
    let scratch = Scratch::new(&settings.scratch_dir)?;
    let db = scratch.file("station.db");

    // The cycles run first, while the process is small, so their peak RSS
    // is theirs and not the bench's. They are sized by the station measured
    // below: a given database's VOD count, else --vods.
    let vods = match &settings.db {
        Some(path) => {
            Store::open(path, Access::ReadOnly)?
                .sync_stats()?
                .total_vods
        }
        None => settings.vods,
    };
    progress("steady-state monitoring cycles");
    let shows = CYCLE_SHOWS.min(vods.max(10) as usize);
    let cycle = measure_cycles(&scratch.file("cycle.db"), shows, runs)?;

    progress("refresh of in-flight VODs from a slow server");
    // Scaled down with the station, so a small bench stays quick.
    let refresh_vods = REFRESH_VODS.min((vods / 10).max(1) as usize);
    let refresh = measure_refresh(&scratch, refresh_vods)?;

    progress("incremental catalogue against a full pass");
    let changes = measure_changes(&scratch.file("changes.db"), vods as usize)?;

    progress("requests to Cablecast as it changes");
    let citizen = measure_citizen(&scratch, vods as usize)?;

    progress("building the station database");
    let started = Instant::now();
    let source = match &settings.db {
        Some(path) => {
            // The bench writes: it works on a checked copy, never the file.
            Store::open(path, Access::ReadOnly)?.backup_to(&db, false)?;
            format!("copy of {}", path.display())
        }
        None => {
            Store::open(&db, Access::ReadWrite)?.fill_station(settings.vods, SEED)?;
            "generated".to_string()
        }
    };
    let store = Arc::new(Store::open(&db, Access::ReadWrite)?);
    let build_ms = ms(started.elapsed());
    let board = StatusBoard::new(Arc::clone(&store));
    let counts = board.sync_stats()?;
    let station = StationFigures {
        source,
        vods: counts.total_vods,
        shows: counts.total_shows,
        transcriptions: counts.transcriptions.total,
        in_flight: counts.pending_vods,
        build_ms,
        // The WAL holds recent writes until a checkpoint: count both.
        file_kb: [db.clone(), scratch.file("station.db-wal")]
            .iter()
            .filter_map(|file| fs::metadata(file).ok())
            .map(|m| m.len() / 1024)
            .sum(),
    };

    progress("stats forms");
    let mut stats = Vec::new();
    let separate = format!("separate count queries ({SEPARATE_COUNT_STATEMENTS} statements)");
    for (name, form) in [
        (separate.as_str(), StatsForm::SeparateCounts),
        ("SUM(CASE ...), as the planner runs it", StatsForm::SumCase),
        ("SUM(CASE ...) over the table", StatsForm::SumCaseOverTable),
        (
            "one aggregate statement (Store::sync_stats)",
            StatsForm::Aggregate,
        ),
    ] {
        let micros = median_micros(runs, || store.stats_in_form(form).map(|_| ()))?;
        stats.push(Figure::micros(name, micros));
    }
    let cached = median_micros(runs, || board.sync_stats().map(|_| ()))?;
    stats.push(Figure::micros(
        "cached read (StatusBoard::sync_stats)",
        cached,
    ));

    progress("the aggregate with and without its index");
    let mut index = Vec::new();
    for (name, form) in [
        ("whole aggregate using idx_vod_state", StatsForm::Aggregate),
        (
            "whole aggregate, VOD pass NOT INDEXED",
            StatsForm::AggregateWithoutIndex,
        ),
        (
            "VOD states: GROUP BY over idx_vod_state",
            StatsForm::VodStates,
        ),
        (
            "VOD states: GROUP BY NOT INDEXED",
            StatsForm::VodStatesWithoutIndex,
        ),
        (
            "VOD states: SUM(CASE ...) over the table",
            StatsForm::VodStatesSumCaseOverTable,
        ),
    ] {
        let timing = median_micros(runs, || store.stats_in_form(form).map(|_| ()))?;
        index.push(Figure::micros(name, timing));
    }
    let aggregate_plan = store.sync_stats_plan()?;
    let in_flight_plan = store.in_flight_plan()?;
    let in_flight = vec![
        Figure::micros(
            "in-flight selection using idx_vod_in_flight",
            median_micros(runs, || store.in_flight_vods().map(|_| ()))?,
        ),
        Figure::micros(
            "in-flight selection scanning the table (before)",
            median_micros(runs, || store.in_flight_without_index().map(|_| ()))?,
        ),
    ];

    progress("VOD state writes");
    let writes = measure_writes(&store, runs)?;
    store.set_synchronous(false)?;

    progress("connection checks against the demo station");
    let demo = DemoStation::start(StationOptions {
        shows: 10,
        ..StationOptions::default()
    })
    .map_err(|e| BenchError::Setup(format!("starting the demo station: {e}")))?;
    let client = CablecastClient::new(demo_settings(&demo));
    let uncached = median_micros(runs, || client.check_connection())?;
    let checks = Expiring::default();
    let cached_check = median_micros(runs, || {
        if !checks.holds() {
            client.check_connection()?;
            checks.confirm(CONNECTION_CHECK_TTL);
        }
        Ok::<(), CablecastError>(())
    })?;
    drop(demo);
    let connection_check = vec![
        Figure::micros("uncached (one GET /shows?page_size=1)", uncached),
        Figure::micros("cached for 60 s", cached_check),
    ];

    progress("pooled and fresh connections");
    let pooled = median_micros(runs, || store.probe_pooled().map(|_| ()))?;
    let fresh = median_micros(runs, || store.probe_fresh().map(|_| ()))?;
    let connections = vec![
        Figure::micros("pooled connection, one small read", pooled),
        Figure::micros("fresh connection, same read", fresh),
    ];

    progress("the VOD list's filters");
    let vod_list = measure_vod_list(&store, runs)?;
    progress("alert evaluation");
    let alerts = measure_alerts(&store, runs)?;

    Ok(BenchReport {
        machine: Machine::this_one(),
        runs,
        station,
        stats,
        index,
        aggregate_plan,
        in_flight_plan,
        in_flight,
        writes,
        connection_check,
        connections,
        vod_list,
        alerts,
        cycle,
        refresh,
        changes,
        citizen,
    })
}

/// The VOD list's filters, each a page of 50 and its count, as a request
/// that misses the cache builds it; then the cost of a cached answer (the
/// data-version check that keys it).
fn measure_vod_list(store: &Store, runs: usize) -> Result<Vec<Figure>, BenchError> {
    let now = crate::clock::unix_now();
    let thresholds = StuckAfter::default();
    let week_ago = crate::clock::format_unix(now - 7 * 86_400);
    let filters = [
        ("every VOD, page 1", VodFilter::default(), 0),
        ("every VOD, page 200", VodFilter::default(), 199 * 50),
        (
            "state=error",
            VodFilter {
                state: Some("error".into()),
                ..VodFilter::default()
            },
            0,
        ),
        (
            "stuck",
            VodFilter {
                stuck: true,
                ..VodFilter::default()
            },
            0,
        ),
        (
            "show title words \"council work\" (reads the titles)",
            VodFilter {
                words: vec!["council".into(), "work".into()],
                ..VodFilter::default()
            },
            0,
        ),
        (
            "state changed in the last 7 days",
            VodFilter {
                changed_from: Some(week_ago),
                ..VodFilter::default()
            },
            0,
        ),
    ];
    let mut figures = Vec::new();
    for (name, filter, offset) in filters {
        let timing = median_micros(runs, || {
            store
                .search_vods(&filter, &thresholds, now, 50, offset)
                .map(|_| ())
        })?;
        figures.push(Figure::micros(name, timing));
    }
    let probe = store.version_probe()?;
    figures.push(Figure::micros(
        "cached answer: the data-version check",
        median_micros(runs, || probe.data_version().map(|_| ()))?,
    ));
    Ok(figures)
}

/// Alert evaluation on the station database: after a cycle with nothing
/// new (the steady state), and after one in which 1,000 VODs failed. Each
/// figure's name carries the statements one evaluation ran.
fn measure_alerts(store: &Arc<Store>, runs: usize) -> Result<Vec<Figure>, BenchError> {
    let mut watch = AlertWatch::new(Arc::clone(store), AlertSettings::default(), None);
    let outcome = CycleOutcome {
        current: true,
        catalog_listed: true,
        ..CycleOutcome::default()
    };
    // The first evaluation loads the firing alerts and starts alerts on
    // the database.
    watch.after_cycle(&outcome);
    let before = counters::this_thread();
    watch.after_cycle(&outcome);
    let statements = counters::this_thread().since(before).total();
    let quiet = median_micros(runs, || {
        watch.after_cycle(&outcome);
        Ok::<(), StoreError>(())
    })?;
    let failed = store.fail_vods_for_bench(1_000)?;
    let started = Instant::now();
    let before = counters::this_thread();
    watch.after_cycle(&outcome);
    let burst = counters::this_thread().since(before).total();
    let burst_us = started.elapsed().as_secs_f64() * 1e6;
    Ok(vec![
        Figure::micros(&format!("nothing new ({statements} statements)"), quiet),
        Figure::micros(
            &format!("{failed} VODs newly failed, one grouped message ({burst} statements)"),
            Timing {
                wall_us: burst_us,
                cpu_us: None,
            },
        ),
    ])
}

/// Median wall time of `work` in microseconds: each run repeats it until
/// about [`RUN_TARGET`] has passed, after one untimed warm-up. Also the mean
/// time this thread spent on a CPU per call, over all runs: on a busy
/// machine that figure moves far less than wall time.
fn median_micros<E>(runs: usize, mut work: impl FnMut() -> Result<(), E>) -> Result<Timing, E> {
    // Warm-up, then a short calibration (the first call can be far slower
    // than the rest: a connection opened, a cache filled).
    work()?;
    let calibration = Instant::now();
    let mut calls: u32 = 0;
    while calibration.elapsed() < CALIBRATION && u64::from(calls) < MAX_ITERATIONS {
        work()?;
        calls += 1;
    }
    let per_call = (calibration.elapsed() / calls.max(1)).max(Duration::from_nanos(1));
    let iterations =
        (RUN_TARGET.as_nanos() / per_call.as_nanos()).clamp(1, u128::from(MAX_ITERATIONS));
    let mut samples = Vec::with_capacity(runs);
    let cpu_before = thread_cpu();
    for _ in 0..runs {
        let started = Instant::now();
        for _ in 0..iterations {
            work()?;
        }
        samples.push(started.elapsed().as_secs_f64() * 1e6 / iterations as f64);
    }
    let calls = runs as f64 * iterations as f64;
    Ok(Timing {
        wall_us: median(&mut samples),
        cpu_us: cpu_since(cpu_before).map(|cpu| cpu.as_secs_f64() * 1e6 / calls),
    })
}

/// What `median_micros` measured.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub wall_us: f64,
    pub cpu_us: Option<f64>,
}

/// Kernel clock ticks per second for `/proc` times (fixed at 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time this thread has used: nanoseconds from
/// `/proc/thread-self/schedstat`, else user and system ticks (10 ms
/// resolution) from `/proc/thread-self/stat`.
fn thread_cpu() -> Option<Duration> {
    // The kernel brings a running thread's total up to date when it next
    // schedules; yielding makes that happen now.
    std::thread::yield_now();
    if let Some(nanos) = fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .filter(|nanos| *nanos > 0)
    {
        return Some(Duration::from_nanos(nanos));
    }
    let stat = fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are the 12th and 13th of them.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(Duration::from_secs_f64(ticks / TICKS_PER_SECOND))
}

/// CPU time used since `before`, when it is long enough to mean something.
fn cpu_since(before: Option<Duration>) -> Option<Duration> {
    let used = thread_cpu()?.checked_sub(before?)?;
    (used >= MIN_CPU_SPAN).then_some(used)
}

fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}

fn ms(took: Duration) -> f64 {
    took.as_secs_f64() * 1000.0
}

/// Per-row and batched VOD state writes at both `synchronous` levels,
/// through `Store::apply_refresh` (the refresh's own write).
fn measure_writes(store: &Store, runs: usize) -> Result<Vec<WriteFigure>, BenchError> {
    let vods = store.first_vods(BATCHED_WRITES)?;
    let per_row = &vods[..PER_ROW_WRITES.min(vods.len())];
    let mut figures = Vec::new();
    let mut round = 0u32;
    let mut next_round = |rows: &[Vod]| {
        round += 1;
        moved(rows, round)
    };
    for full in [false, true] {
        store.set_synchronous(full)?;
        let level = if full { "FULL" } else { "NORMAL" };
        let (rate, cpu_rate) = median_rate(
            runs,
            || next_round(per_row),
            |changed| {
                for outcome in changed {
                    store.apply_refresh(std::slice::from_ref(outcome))?;
                }
                Ok(())
            },
        )?;
        figures.push(WriteFigure::new(
            level,
            "one transaction per row",
            per_row.len(),
            rate,
            cpu_rate,
        ));
        for batch in BATCH_SIZES {
            let (rate, cpu_rate) = median_rate(
                runs,
                || next_round(&vods),
                |changed| {
                    for chunk in changed.chunks(batch) {
                        store.apply_refresh(chunk)?;
                    }
                    Ok(())
                },
            )?;
            figures.push(WriteFigure::new(
                level,
                &format!("batches of {batch} per transaction"),
                vods.len(),
                rate,
                cpu_rate,
            ));
        }
    }
    Ok(figures)
}

/// Median rows per second of `write` over rows from `prepare` (made outside
/// the timing), and rows per second of this thread's CPU time over all runs.
fn median_rate(
    runs: usize,
    mut prepare: impl FnMut() -> Vec<RefreshOutcome>,
    mut write: impl FnMut(&[RefreshOutcome]) -> Result<(), StoreError>,
) -> Result<(f64, Option<f64>), StoreError> {
    let mut samples = Vec::with_capacity(runs);
    let mut cpu = Duration::ZERO;
    let mut cpu_known = true;
    let mut rows = 0;
    for _ in 0..runs {
        let changed = prepare();
        let cpu_before = thread_cpu();
        let started = Instant::now();
        write(&changed)?;
        samples.push(changed.len() as f64 / started.elapsed().as_secs_f64().max(1e-9));
        match (cpu_before, thread_cpu()) {
            (Some(before), Some(after)) => cpu += after.saturating_sub(before),
            _ => cpu_known = false,
        }
        rows += changed.len();
    }
    let cpu_rate =
        (cpu_known && cpu >= Duration::from_millis(100)).then(|| rows as f64 / cpu.as_secs_f64());
    Ok((median(&mut samples), cpu_rate))
}

/// The VODs with their progress moved, so every write really changes a row.
fn moved(vods: &[Vod], round: u32) -> Vec<RefreshOutcome> {
    let percent = f64::from(round % 100) / 100.0;
    vods.iter()
        .map(|vod| {
            RefreshOutcome::Changed(Vod {
                percent_complete: Some(percent),
                ..vod.clone()
            })
        })
        .collect()
}

fn demo_settings(demo: &DemoStation) -> CablecastSettings {
    CablecastSettings {
        api_url: demo.api_url(),
        credentials: None,
        location_id: None,
        timeout_secs: 10,
        time_zone: crate::clock::StationZone::utc(),
    }
}

fn monitor_settings(demo: &DemoStation) -> MonitorSettings {
    MonitorSettings {
        cablecast: demo_settings(demo),
        interval: Duration::from_secs(300),
        // Steady state: only the first cycle runs a catalogue pass.
        catalog_interval: Duration::from_secs(86_400),
        changes_interval: Duration::ZERO,
        single_run: false,
        performance: false,
        batch_size: BATCH_SIZES[0],
        http_concurrency: REFRESH_CONCURRENCY,
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    }
}

/// A first cycle (catalogue pass), then `runs` steady-state cycles with the
/// station's day moving on between them.
fn measure_cycles(db: &Path, shows: usize, runs: usize) -> Result<CycleFigures, BenchError> {
    let demo = DemoStation::start(StationOptions {
        shows,
        ..StationOptions::default()
    })
    .map_err(|e| BenchError::Setup(format!("starting the demo station: {e}")))?;
    let store = Arc::new(Store::open(db, Access::ReadWrite)?);
    let board = Arc::new(StatusBoard::new(Arc::clone(&store)));
    // The cycle as a station runs it: alerts evaluated after each (recorded,
    // with no destination to send to).
    let alerts = AlertWatch::new(Arc::clone(&store), AlertSettings::default(), None);
    let mut monitor = Monitor::new(monitor_settings(&demo), Arc::clone(&board)).with_alerts(alerts);
    let first = monitor.cycle();
    if let Some(e) = first.cablecast_error {
        return Err(BenchError::Cablecast(e));
    }
    let peak_reset = memory::reset_peak_rss();
    let mut statements = Vec::new();
    let mut batch_writes = Vec::new();
    let mut http = Vec::new();
    let mut wall = Vec::new();
    let mut in_flight = Vec::new();
    for _ in 0..runs {
        demo.catalogue().advance();
        let started = Instant::now();
        let report = monitor.cycle();
        wall.push(ms(started.elapsed()));
        if let Some(e) = report.cablecast_error {
            return Err(BenchError::Cablecast(e));
        }
        statements.push(report.reads_and_records as f64);
        batch_writes.push(report.batch_write_statements as f64);
        http.push(report.record.http_calls as f64);
        in_flight.push((report.refresh.checked - report.refresh.failed_checked) as f64);
    }
    Ok(CycleFigures {
        vods: first.stats.as_ref().map_or(0, |s| s.total_vods),
        in_flight: median(&mut in_flight),
        sql_statements_besides_batch_writes: median(&mut statements),
        batch_write_statements: median(&mut batch_writes),
        http_calls: median(&mut http),
        wall_ms: median(&mut wall),
        peak_rss_kb: memory::peak_rss_kb(),
        peak_rss_is_cycles_only: peak_reset,
    })
}

/// A steady cycle refreshing `vods` in-flight VODs from a server that takes
/// [`REFRESH_LATENCY`] per answer, read by id in groups, and the same from
/// an older server read one VOD per request; with their request counts and
/// whether both databases end the same.
fn measure_refresh(scratch: &Scratch, vods: usize) -> Result<report::RefreshFigures, BenchError> {
    let (batched, batched_vods) = refresh_cycle(&scratch.file("refresh.db"), vods, Fault::None)?;
    let (single, single_vods) =
        refresh_cycle(&scratch.file("refresh-single.db"), vods, Fault::OlderServer)?;
    Ok(report::RefreshFigures {
        vods: batched.refresh.checked,
        changed: batched.refresh.changed,
        latency_ms: REFRESH_LATENCY.as_millis() as u64,
        concurrency: REFRESH_CONCURRENCY,
        wall_ms: batched.record.duration_ms as f64,
        http_calls: batched.record.http_calls,
        single_wall_ms: single.record.duration_ms as f64,
        single_http_calls: single.record.http_calls,
        same_database: batched_vods == single_vods && single.refresh.changed == vods,
        floor_ms: (batched.refresh.checked as f64 * ms(REFRESH_LATENCY))
            / REFRESH_CONCURRENCY as f64,
    })
}

/// A first cycle (catalogue pass) and a second (the server's abilities
/// learnt), then the measured steady cycle after every in-flight VOD moved,
/// at [`REFRESH_LATENCY`]; returns it and the in-flight rows it left.
fn refresh_cycle(
    db: &Path,
    vods: usize,
    fault: Fault,
) -> Result<(crate::monitor::CycleReport, Vec<Vod>), BenchError> {
    let demo = DemoStation::start(StationOptions {
        shows: vods,
        ..StationOptions::default()
    })
    .map_err(|e| BenchError::Setup(format!("starting the demo station: {e}")))?;
    demo.set_fault(fault);
    {
        let mut catalogue = demo.catalogue();
        for (n, vod) in catalogue.vods.iter_mut().enumerate() {
            vod.state = if n < vods { "processing" } else { "complete" }.into();
            vod.percent = 0.1;
        }
    }
    let store = Arc::new(Store::open(db, Access::ReadWrite)?);
    let board = Arc::new(StatusBoard::new(Arc::clone(&store)));
    let mut monitor = Monitor::new(monitor_settings(&demo), board);
    for _ in 0..2 {
        if let Some(e) = monitor.cycle().cablecast_error {
            return Err(BenchError::Cablecast(e));
        }
    }
    {
        let mut catalogue = demo.catalogue();
        for vod in catalogue.vods.iter_mut().take(vods) {
            vod.percent = 0.6;
        }
    }
    demo.set_latency(REFRESH_LATENCY);
    let report = monitor.cycle();
    if let Some(e) = report.cablecast_error {
        return Err(BenchError::Cablecast(e));
    }
    // When Archivist first saw a state is its own clock's, not the server's.
    let rows = store
        .in_flight_vods()?
        .into_iter()
        .map(|vod| Vod {
            state_changed_at: None,
            ..vod
        })
        .collect();
    Ok((report, rows))
}

/// A station of `vods` VODs: a full catalogue pass (requests counted, time
/// measured on loopback without latency), then [`CHANGED_SHOWS`] shows
/// edited upstream and the next cycle's look for changes at
/// [`CHANGES_LATENCY`] per request. Every VOD is complete, so the cycles'
/// requests are the catalogue's alone.
fn measure_changes(db: &Path, vods: usize) -> Result<report::ChangesFigures, BenchError> {
    let shows = ((vods as f64 / VODS_PER_SHOW).round() as usize).max(CHANGED_SHOWS);
    let demo = DemoStation::start(StationOptions {
        shows,
        ..StationOptions::default()
    })
    .map_err(|e| BenchError::Setup(format!("starting the demo station: {e}")))?;
    for vod in demo.catalogue().vods.iter_mut() {
        vod.state = "complete".into();
        vod.percent = 1.0;
    }
    let store = Arc::new(Store::open(db, Access::ReadWrite)?);
    let board = Arc::new(StatusBoard::new(Arc::clone(&store)));
    let mut monitor = Monitor::new(monitor_settings(&demo), board);
    let pass = monitor.cycle();
    if let Some(e) = pass.cablecast_error {
        return Err(BenchError::Cablecast(e));
    }
    {
        let mut catalogue = demo.catalogue();
        let step = (catalogue.shows.len() / CHANGED_SHOWS).max(1);
        let edited: Vec<i64> = catalogue
            .shows
            .iter()
            .step_by(step)
            .take(CHANGED_SHOWS)
            .map(|s| s.id)
            .collect();
        for id in edited {
            catalogue.touch_show(id);
            if let Some(show) = catalogue.shows.iter_mut().find(|s| s.id == id) {
                show.title.push_str(" (edited)");
            }
        }
    }
    demo.set_latency(CHANGES_LATENCY);
    let look = monitor.cycle();
    if let Some(e) = look.cablecast_error {
        return Err(BenchError::Cablecast(e));
    }
    let changes = look.changes.unwrap_or_default();
    // The pass's requests, less its connection check.
    let pass_requests = pass.record.http_calls.saturating_sub(1);
    Ok(report::ChangesFigures {
        vods: pass.stats.as_ref().map_or(0, |s| s.total_vods),
        shows_edited: CHANGED_SHOWS,
        shows_saved: changes.shows,
        latency_ms: CHANGES_LATENCY.as_millis() as u64,
        look_requests: look.record.http_calls,
        look_wall_ms: look.record.duration_ms as f64,
        pass_requests,
        pass_wall_ms: pass.record.duration_ms as f64,
        pass_ms_at_latency: pass_requests as f64 * ms(CHANGES_LATENCY),
    })
}

/// Starts a demo station of `shows` shows whose first `in_flight` VODs are
/// processing and the rest complete.
fn station_in_flight(shows: usize, in_flight: usize) -> Result<DemoStation, BenchError> {
    let demo = DemoStation::start(StationOptions {
        shows,
        ..StationOptions::default()
    })
    .map_err(|e| BenchError::Setup(format!("starting the demo station: {e}")))?;
    for (n, vod) in demo.catalogue().vods.iter_mut().enumerate() {
        let moving = n < in_flight;
        vod.state = if moving { "processing" } else { "complete" }.into();
        vod.percent = if moving { 0.1 } else { 1.0 };
    }
    Ok(demo)
}

/// One cycle, which must reach Cablecast.
fn reaching(monitor: &mut Monitor) -> Result<crate::monitor::CycleReport, BenchError> {
    let report = monitor.cycle();
    match report.cablecast_error.clone() {
        Some(e) => Err(BenchError::Cablecast(e)),
        None => Ok(report),
    }
}

/// The requests a station's Cablecast sees as it changes: steady cycles
/// with up to [`CITIZEN_IN_FLIGHT`] VODs in flight, a bulk edit of up to
/// [`BULK_SHOWS`] shows with one `lastModified`, a VOD added without its
/// show's `lastModified` moving, a one-cycle outage, and a server answering
/// one request in [`FLAKY_ONE_IN`] with a 500.
fn measure_citizen(scratch: &Scratch, vods: usize) -> Result<CitizenFigures, BenchError> {
    let shows = CITIZEN_SHOWS.min(vods.max(100));
    let in_flight = CITIZEN_IN_FLIGHT.min(shows / 2);
    let bulk = BULK_SHOWS.min(shows * 4 / 5);
    let demo = station_in_flight(shows, in_flight)?;
    let store = Arc::new(Store::open(&scratch.file("citizen.db"), Access::ReadWrite)?);
    let board = Arc::new(StatusBoard::new(Arc::clone(&store)));
    let mut monitor = Monitor::new(monitor_settings(&demo), board);
    reaching(&mut monitor)?;
    let mut steady_requests = Vec::new();
    let mut quiet = crate::monitor::ChangesSummary::default();
    for _ in 0..2 {
        let report = reaching(&mut monitor)?;
        steady_requests.push(report.record.http_calls);
        quiet = report.changes.unwrap_or_default();
    }
    let steady = steady_requests.iter().copied().max().unwrap_or(0);

    {
        let mut catalogue = demo.catalogue();
        let ids: Vec<i64> = catalogue.shows.iter().take(bulk).map(|s| s.id).collect();
        for id in ids {
            catalogue.touch_show(id);
        }
    }
    let look = reaching(&mut monitor)?;
    let pass = match look.changes.is_some_and(|c| c.full_pass_wanted) {
        true => reaching(&mut monitor)?.record.http_calls,
        false => 0,
    };
    let mut after_bulk_requests = Vec::new();
    let mut after_bulk_reads = 0;
    for _ in 0..2 {
        let report = reaching(&mut monitor)?;
        after_bulk_requests.push(report.record.http_calls);
        after_bulk_reads += report.changes.map_or(0, |c| c.read);
    }

    demo.catalogue().vods_leave_shows_alone(true);
    let show = demo.catalogue().shows[shows / 2].id;
    let added = demo.catalogue().add_vod(show, "complete");
    let mut new_vod_cycles = None;
    let mut new_vod_extra_requests = 0;
    for cycle in 1..=5 {
        let report = reaching(&mut monitor)?;
        new_vod_extra_requests = new_vod_extra_requests.max(report.record.http_calls - steady);
        if added.is_some_and(|id| store.vod_entry(id).ok().flatten().is_some()) {
            new_vod_cycles = Some(cycle);
            break;
        }
    }

    demo.set_fault(Fault::Status(503));
    let _down = monitor.cycle();
    demo.set_fault(Fault::None);
    let back = reaching(&mut monitor)?;

    let flaky = measure_flaky(&scratch.file("flaky.db"), shows)?;
    Ok(CitizenFigures {
        shows,
        in_flight,
        steady_requests,
        quiet_searches: quiet.searches,
        quiet_reads: quiet.read,
        bulk_shows: bulk,
        bulk_look_requests: look.record.http_calls,
        bulk_left_to_a_pass: look.changes.is_some_and(|c| c.full_pass_wanted),
        bulk_pass_requests: pass,
        after_bulk_requests,
        after_bulk_reads,
        new_vod_cycles,
        new_vod_extra_requests,
        after_outage_requests: back.record.http_calls,
        after_outage_full_pass: back.catalog.is_some(),
        ..flaky
    })
}

/// [`FLAKY_CYCLES`] cycles at a 1 s interval against a station of `shows`
/// shows answering one request in [`FLAKY_ONE_IN`] with a 500, a full pass
/// due every cycle (the figures' other fields are left empty).
fn measure_flaky(db: &Path, shows: usize) -> Result<CitizenFigures, BenchError> {
    let demo = station_in_flight(shows, 0)?;
    demo.set_fault(Fault::ErrorEvery(FLAKY_ONE_IN));
    let store = Arc::new(Store::open(db, Access::ReadWrite)?);
    let board = Arc::new(StatusBoard::new(store));
    let settings = MonitorSettings {
        interval: Duration::from_secs(1),
        catalog_interval: Duration::ZERO,
        ..monitor_settings(&demo)
    };
    let mut monitor = Monitor::new(settings, board);
    let cycles: Vec<_> = (0..FLAKY_CYCLES).map(|_| monitor.cycle()).collect();
    Ok(CitizenFigures {
        shows,
        in_flight: 0,
        steady_requests: Vec::new(),
        quiet_searches: 0,
        quiet_reads: 0,
        bulk_shows: 0,
        bulk_look_requests: 0,
        bulk_left_to_a_pass: false,
        bulk_pass_requests: 0,
        after_bulk_requests: Vec::new(),
        after_bulk_reads: 0,
        new_vod_cycles: None,
        new_vod_extra_requests: 0,
        after_outage_requests: 0,
        after_outage_full_pass: false,
        flaky_cycles: cycles.len(),
        flaky_reaching: cycles
            .iter()
            .filter(|c| c.record.cablecast_reachable)
            .count(),
        flaky_passes: cycles
            .iter()
            .filter(|c| c.catalog.is_some_and(|p| p.complete))
            .count(),
        flaky_errors: cycles.iter().map(|c| c.answered_errors).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
