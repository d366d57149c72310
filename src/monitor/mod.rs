//! The monitoring cycle, and the loop that runs it every `--interval`.
//!
//! Each cycle: (1) the connection check, cached for a minute; (2) on the
//! process's first cycle and then every `--catalog-interval` (daily by
//! default), a full catalogue pass, and otherwise (every cycle, or every
//! `--changes-interval`) a look for shows changed since the last one; (3) a
//! refresh of every in-flight VOD, by id in groups of up to 100; (4) the
//! sync figures (one statement, cached until the next write); (5) one row in
//! `monitor_cycle` and one log line.
//!
//! Cablecast failures never stop the loop: they are logged once per change of
//! state, recorded on the cycle, and the next cycle tries again. Nothing is
//! written from an answer that could not be read.

mod catalog;
mod changes;
mod refresh;

use std::fmt;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use catalog::CatalogSummary;
pub use changes::ChangesSummary;
pub use refresh::RefreshSummary;

use crate::alert::{AlertWatch, CycleOutcome};
use crate::cablecast::{CablecastClient, CablecastError};
use crate::cache::{self, Expiring};
use crate::clock;
use crate::config::MonitorSettings;
use crate::memory;
use crate::shutdown;
use crate::status::StatusBoard;
use crate::store::{counters, CycleRecord, Store, StoreError, SyncStats};

/// How long a successful connection check is trusted.
pub const CONNECTION_CHECK_TTL: Duration = Duration::from_secs(60);

/// Logs each recorded change of a VOD's state, one `info` line each, so the
/// journal answers "when did this fail".
pub(crate) fn log_changes(changes: &[crate::store::VodEvent]) {
    for change in changes {
        log::info!(target: crate::logging::VOD_CHANGES, "{}", change.log_line());
    }
}

/// What stops a cycle early.
#[derive(Debug)]
pub enum CycleError {
    Cablecast(CablecastError),
    Store(StoreError),
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CycleError::Cablecast(e) => e.fmt(f),
            CycleError::Store(e) => e.fmt(f),
        }
    }
}

impl From<CablecastError> for CycleError {
    fn from(e: CablecastError) -> Self {
        CycleError::Cablecast(e)
    }
}

impl From<StoreError> for CycleError {
    fn from(e: StoreError) -> Self {
        CycleError::Store(e)
    }
}

/// What one cycle did.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub record: CycleRecord,
    /// The first Cablecast failure of the cycle, if any.
    pub cablecast_error: Option<CablecastError>,
    /// A database failure that stopped part of the cycle, if any.
    pub store_error: Option<StoreError>,
    pub catalog: Option<CatalogSummary>,
    /// The look for changed shows, when one ran and the server could
    /// answer it.
    pub changes: Option<ChangesSummary>,
    pub refresh: RefreshSummary,
    pub stats: Option<Arc<SyncStats>>,
    /// SQL statements of the cycle outside batch writes.
    pub reads_and_records: u64,
    /// SQL statements inside batch write transactions.
    pub batch_write_statements: u64,
    /// The service began stopping during the cycle: its remaining requests
    /// were not sent, and it is neither recorded nor logged.
    pub stopped: bool,
}

impl CycleReport {
    /// Cablecast answered everything and everything was written.
    pub fn is_current(&self) -> bool {
        self.cablecast_error.is_none() && self.store_error.is_none() && self.refresh.failed == 0
    }
}

/// A request to run a cycle now instead of waiting for the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncNow;

/// Cablecast's health as last logged, so the log says each change once.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Health {
    Unknown,
    Up,
    Down(String),
}

/// The monitor: owns the cycle's state between cycles.
pub struct Monitor {
    client: CablecastClient,
    board: Arc<StatusBoard>,
    settings: MonitorSettings,
    checks: Expiring,
    last_catalog: Option<Instant>,
    /// The incremental catalogue between full passes.
    changes: changes::Changes,
    last_changes: Option<Instant>,
    health: Health,
    /// The database failure last logged, so a full disk or a read-only file
    /// is said once, not every cycle.
    database_trouble: Option<String>,
    /// Evaluated after each cycle, when alerts are set up.
    alerts: Option<AlertWatch>,
}

impl Monitor {
    pub fn new(settings: MonitorSettings, board: Arc<StatusBoard>) -> Monitor {
        Monitor {
            client: CablecastClient::new(settings.cablecast.clone()),
            board,
            settings,
            checks: Expiring::default(),
            last_catalog: None,
            changes: changes::Changes::default(),
            last_changes: None,
            health: Health::Unknown,
            database_trouble: None,
            alerts: None,
        }
    }

    /// Evaluates `alerts` after every cycle (counted in the cycle's figures).
    pub fn with_alerts(mut self, alerts: AlertWatch) -> Monitor {
        self.alerts = Some(alerts);
        self
    }

    fn store(&self) -> &Store {
        self.board.store()
    }

    /// Runs cycles until `wake` is disconnected or the service is stopping
    /// (see `shutdown`; send a `SyncNow` then, to end the wait), starting
    /// each `interval` after the previous one started; a `SyncNow` on `wake`
    /// starts the next cycle at once.
    pub fn run(&mut self, wake: Receiver<SyncNow>, mut after_cycle: impl FnMut(&CycleReport)) {
        while !shutdown::requested() {
            let started = Instant::now();
            let report = self.cycle();
            if report.stopped {
                return;
            }
            after_cycle(&report);
            let next = started + self.settings.interval;
            let wait = next.saturating_duration_since(Instant::now());
            match wake.recv_timeout(wait) {
                Ok(SyncNow) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Runs one cycle. Never panics on Cablecast or database failures: they
    /// are in the report.
    pub fn cycle(&mut self) -> CycleReport {
        let started = Instant::now();
        let started_at = clock::now();
        let statements_before = counters::this_thread();
        let calls_before = self.client.http_calls();
        let mut phases: Vec<(&str, Duration)> = Vec::new();
        let mut report = CycleReport {
            record: CycleRecord::default(),
            cablecast_error: None,
            store_error: None,
            catalog: None,
            changes: None,
            refresh: RefreshSummary::default(),
            stats: None,
            reads_and_records: 0,
            batch_write_statements: 0,
            stopped: false,
        };

        // A running monitor's retries end before its next cycle is due; a
        // single run has no next cycle and retries fully.
        self.client
            .retry_until((!self.settings.single_run).then(|| started + self.settings.interval));
        let phase = Instant::now();
        let reachable = match self.check_connection() {
            Ok(()) => true,
            Err(e) => {
                report.cablecast_error = Some(e);
                false
            }
        };
        phases.push(("check", phase.elapsed()));

        if reachable {
            let phase = Instant::now();
            // After an outage the server may have changed in any way
            // (restored, reorganised), so the first cycle that reaches it
            // again lists everything, to end equal to it.
            let was_down = matches!(self.health, Health::Down(_));
            if self.catalog_due() || was_down {
                let mut newest = None;
                match catalog::sync(&self.client, self.store()) {
                    Ok(summary) => {
                        self.last_catalog = Some(Instant::now());
                        report.catalog = Some(summary);
                        newest = self.client.newest_show_change();
                    }
                    Err(CycleError::Cablecast(e)) => report.cablecast_error = Some(e),
                    Err(CycleError::Store(e)) => report.store_error = Some(e),
                }
                // A pass is a look for changes and more.
                self.changes.after_full_pass(newest);
                self.last_changes = Some(Instant::now());
                // Whatever pages were saved, the figures moved.
                self.board.invalidate();
                phases.push(("catalog", phase.elapsed()));
            } else if self.changes_due() {
                let every = self.settings.catalog_interval;
                match self.changes.look(&self.client, self.board.store(), every) {
                    Ok(summary) => report.changes = summary,
                    Err(CycleError::Cablecast(e)) => report.cablecast_error = Some(e),
                    Err(CycleError::Store(e)) => report.store_error = Some(e),
                }
                self.last_changes = Some(Instant::now());
                if report.changes.is_some_and(|c| c.shows > 0) {
                    self.board.invalidate();
                }
                phases.push(("changes", phase.elapsed()));
            }
        }

        if reachable && report.cablecast_error.is_none() && report.store_error.is_none() {
            let phase = Instant::now();
            match self.store().in_flight_vods() {
                Ok(in_flight) => {
                    report.refresh = refresh::refresh(
                        &self.client,
                        self.store(),
                        &in_flight,
                        self.settings.http_concurrency,
                        self.settings.batch_size,
                    );
                    if report.refresh.changed > 0 {
                        self.board.invalidate();
                    }
                    report.cablecast_error = report.refresh.cablecast_error.clone();
                    report.store_error = report.refresh.store_error.clone();
                }
                Err(e) => report.store_error = Some(e),
            }
            phases.push(("refresh", phase.elapsed()));
        }
        if shutdown::requested() {
            // What was committed stays; the rest is for the next start.
            report.stopped = true;
            return report;
        }
        if report.cablecast_error.is_some() {
            // Whatever failed, the next cycle checks the connection afresh.
            self.checks.forget();
        }

        let phase = Instant::now();
        match self.board.sync_stats() {
            Ok(stats) => report.stats = Some(stats),
            Err(e) => {
                report.store_error.get_or_insert(e);
            }
        }
        phases.push(("stats", phase.elapsed()));

        if let Some(alerts) = &mut self.alerts {
            alerts.after_cycle(&CycleOutcome {
                cablecast_error: report.cablecast_error.as_ref().map(|e| e.to_string()),
                store_error: report.store_error.as_ref().map(|e| e.to_string()),
                current: report.is_current(),
                catalog_complete: report.catalog.is_some_and(|c| c.complete),
            });
        }
        let statements = counters::this_thread().since(statements_before);
        let cache_counts = cache::counters();
        let queries = counters::totals();
        let stats = report.stats.clone();
        report.record = CycleRecord {
            started_at,
            finished_at: clock::now(),
            duration_ms: started.elapsed().as_millis() as i64,
            cablecast_reachable: report.cablecast_error.is_none(),
            cablecast_error: report.cablecast_error.as_ref().map(|e| e.to_string()),
            catalog_synced: report.catalog.is_some_and(|c| c.complete),
            vods_refreshed: report.refresh.checked as i64,
            vods_changed: report.refresh.changed as i64,
            http_calls: (self.client.http_calls() - calls_before) as i64,
            // The record itself is the cycle's last statement.
            sql_statements: statements.total() as i64 + 1,
            cache_hits: cache_counts.hits as i64,
            cache_misses: cache_counts.misses as i64,
            total_queries: queries.statements as i64 + 1,
            total_query_ms: queries.total_ms,
            rss_kb: memory::rss_kb(),
            total_vods: stats.as_ref().map_or(0, |s| s.total_vods as i64),
            completed_vods: stats.as_ref().map_or(0, |s| s.completed_vods as i64),
            sync_percentage: stats.as_ref().map_or(0.0, |s| s.sync_percentage()),
        };
        report.batch_write_statements = statements.writes;
        report.reads_and_records = statements.reads + 1;
        if let Err(e) = self.store().record_cycle(&report.record) {
            report.store_error.get_or_insert(e);
        }
        // The record is a write, so the cached figures go, as after every
        // write: its data version moved anyway, and dropping them now saves
        // the next cycle a version check bound to fail.
        self.board.invalidate();
        // Logged once the cycle is recorded, so what a log line says is
        // already what the database and the page say.
        self.note_health(&report);
        self.note_database(&report);
        self.log_cycle(&report, &phases);
        report
    }

    fn check_connection(&mut self) -> Result<(), CablecastError> {
        if self.checks.holds() {
            return Ok(());
        }
        // Only success is cached: a failed check is repeated next cycle, so
        // recovery is noticed within one interval.
        self.client.check_connection()?;
        self.checks.confirm(CONNECTION_CHECK_TTL);
        Ok(())
    }

    fn changes_due(&self) -> bool {
        self.changes.supported()
            && self
                .last_changes
                .is_none_or(|at| at.elapsed() >= self.settings.changes_interval)
    }

    fn catalog_due(&self) -> bool {
        self.last_catalog
            .is_none_or(|at| at.elapsed() >= self.settings.catalog_interval)
    }

    /// Logs Cablecast going down, changing how it fails, or coming back, once.
    fn note_health(&mut self, report: &CycleReport) {
        let health = match &report.cablecast_error {
            None => Health::Up,
            Some(e) => Health::Down(e.kind().to_string()),
        };
        if health == self.health {
            return;
        }
        match (&self.health, &health, &report.cablecast_error) {
            (_, Health::Down(_), Some(e)) if self.settings.single_run => {
                log::error!("{e}; keeping the last known state")
            }
            (_, Health::Down(_), Some(e)) => {
                log::error!("{e}; keeping the last known state and retrying every cycle")
            }
            (Health::Down(_), Health::Up, _) => log::info!("Cablecast is reachable again"),
            _ => {}
        }
        self.health = health;
    }

    /// Logs a database failure (full disk, read-only file, lock held too
    /// long), a change to another one, or its end, once each.
    fn note_database(&mut self, report: &CycleReport) {
        let trouble = report.store_error.as_ref().map(ToString::to_string);
        if trouble == self.database_trouble {
            return;
        }
        match &report.store_error {
            Some(e) => log::error!(
                "{e}; keeping what is committed, VODs not saved stay in flight and are read again every cycle"
            ),
            None => log::info!("database writes work again"),
        }
        self.database_trouble = trouble;
    }

    fn log_cycle(&self, report: &CycleReport, phases: &[(&str, Duration)]) {
        let record = &report.record;
        let counts = match &report.stats {
            Some(s) => format!(
                "{} VODs ({} complete {:.2} %, {} in flight, {} failed), {} shows",
                s.total_vods,
                s.completed_vods,
                s.sync_percentage(),
                s.pending_vods,
                s.failed_vods,
                s.total_shows
            ),
            None => "figures unavailable".into(),
        };
        let catalog = match report.catalog {
            Some(c) => format!(
                ", catalogue {} shows {} VODs{}",
                c.shows_listed,
                c.vods_listed,
                if c.complete { "" } else { " (partial)" }
            ),
            None => String::new(),
        };
        let changes = match report.changes {
            Some(c) => format!(", changed shows {} ({} VODs)", c.shows, c.vods),
            None => String::new(),
        };
        let hit_rate = cache::counters().hit_rate() * 100.0;
        log::info!(
            "cycle {} ms: {counts}{catalog}{changes}; refreshed {} changed {} failed {}; {} HTTP calls, {} SQL statements ({} in batch writes), cache hit rate {hit_rate:.1} %",
            record.duration_ms,
            report.refresh.checked,
            report.refresh.changed,
            report.refresh.failed,
            record.http_calls,
            record.sql_statements,
            report.batch_write_statements,
        );
        if self.settings.performance {
            let timings: Vec<String> = phases
                .iter()
                .map(|(name, took)| format!("{name} {:.1} ms", took.as_secs_f64() * 1000.0))
                .collect();
            let queries = counters::totals();
            log::info!(
                "performance: {}; {} queries in all, {:.3} ms average; RSS {} KiB",
                timings.join(", "),
                queries.statements,
                queries.avg_ms(),
                record.rss_kb.unwrap_or(0)
            );
        }
    }
}
