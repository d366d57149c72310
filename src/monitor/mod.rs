//! The monitoring cycle, and the loop that runs it every `--interval`.
//!
//! Each cycle: (1) the connection check, cached for a minute; (2) on the
//! process's first cycle, every `--catalog-interval` (daily by default),
//! after a long outage, or while one is unfinished, a full catalogue pass
//! (going on from the page where a failure stopped it), and otherwise
//! (every cycle, or every `--changes-interval`) a look for shows changed
//! since the newest change known, then the probe for VODs and shows added
//! above the highest ids known; (3) a refresh of every in-flight VOD, by id
//! in groups of up to 100, and of one such group of the failed VODs whose
//! alert fires (in turn, so one deleted in Cablecast resolves); (4) the sync figures (one statement, cached until
//! the next write); (5) one row in `monitor_cycle` and one log line. Each
//! step is a method of its own on [`Monitor`].
//!
//! Cablecast failures never stop the loop: they are logged once per change of
//! state, recorded on the cycle, and the next cycle tries again. Nothing is
//! written from an answer that could not be read. An outage (no connection,
//! no answer, credentials refused, garbage) is told from a flaky server
//! (error answers to some requests): only an outage marks the cycle as not
//! reaching Cablecast, and only it is `cablecast_down`'s concern.

mod catalog;
mod changes;
mod refresh;

use std::fmt;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use catalog::CatalogSummary;
pub use changes::{ChangesSummary, ProbeSummary};
pub use refresh::RefreshSummary;

use crate::alert::{AlertWatch, CycleOutcome};
use crate::cablecast::{id_groups, CablecastClient, CablecastError, MAX_IDS_PER_REQUEST};
use crate::cache::{self, Expiring};
use crate::clock;
use crate::config::MonitorSettings;
use crate::memory;
use crate::shutdown;
use crate::status::{StatusBoard, SyncNow};
use crate::store::{counters, CycleRecord, Store, StoreError, SyncStats};
use crate::vod::Vod;

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
    /// The first failure that says Cablecast cannot be used (no connection,
    /// no answer, credentials refused, garbage), if any: what
    /// `cablecast_down` is about.
    pub cablecast_error: Option<CablecastError>,
    /// The first error status Cablecast answered to one request, when it
    /// answered the others: a flaky server, not a down one.
    pub answered_error: Option<CablecastError>,
    /// Requests answered with an error status this cycle (retries
    /// included).
    pub answered_errors: u64,
    /// A database failure that stopped part of the cycle, if any.
    pub store_error: Option<StoreError>,
    pub catalog: Option<CatalogSummary>,
    /// The look for changed shows, when one ran and the server could
    /// answer it.
    pub changes: Option<ChangesSummary>,
    /// The probe for VODs and shows added above the highest ids known.
    pub probe: ProbeSummary,
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
    fn new() -> CycleReport {
        CycleReport {
            record: CycleRecord::default(),
            cablecast_error: None,
            answered_error: None,
            answered_errors: 0,
            store_error: None,
            catalog: None,
            changes: None,
            probe: ProbeSummary::default(),
            refresh: RefreshSummary::default(),
            stats: None,
            reads_and_records: 0,
            batch_write_statements: 0,
            stopped: false,
        }
    }

    /// Cablecast answered everything and everything was written.
    pub fn is_current(&self) -> bool {
        self.cablecast_error.is_none()
            && self.answered_error.is_none()
            && self.store_error.is_none()
            && self.refresh.failed == 0
    }

    /// Files a failure where it belongs: an outage, one answered error, or
    /// the database's.
    fn note(&mut self, e: CycleError) {
        match e {
            CycleError::Cablecast(e) => self.note_cablecast(e),
            CycleError::Store(e) => {
                self.store_error.get_or_insert(e);
            }
        }
    }

    fn note_cablecast(&mut self, e: CablecastError) {
        if e.is_outage() {
            self.cablecast_error.get_or_insert(e);
        } else {
            self.answered_error.get_or_insert(e);
        }
    }

    /// Nothing stops the rest of the cycle: Cablecast is there and the
    /// database takes writes.
    fn may_go_on(&self) -> bool {
        self.cablecast_error.is_none() && self.store_error.is_none()
    }

    /// What the cycle record says of Cablecast's errors: the outage, or
    /// how many requests of how many were answered with an error.
    fn error_text(&self, requests: u64) -> Option<String> {
        if let Some(e) = &self.cablecast_error {
            return Some(e.to_string());
        }
        self.answered_error.as_ref().map(|e| {
            format!(
                "answered errors on {} of {requests} requests (first: {e})",
                self.answered_errors.max(1)
            )
        })
    }
}

/// Cablecast's health as last logged, so the log says each change once.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Health {
    Unknown,
    Up,
    Down(String),
}

/// What a cycle counts from its start: the counters' values then, and the
/// time each phase took.
struct Tally {
    started: Instant,
    started_at: String,
    statements: counters::ThreadStatements,
    calls: u64,
    answered_errors: u64,
    /// Requests the connection check sent.
    checks: u64,
    phases: Vec<(&'static str, Duration)>,
}

impl Tally {
    fn phase(&mut self, name: &'static str, since: Instant) {
        self.phases.push((name, since.elapsed()));
    }
}

/// The monitor: owns the cycle's state between cycles.
pub struct Monitor {
    client: CablecastClient,
    board: Arc<StatusBoard>,
    settings: MonitorSettings,
    checks: Expiring,
    last_catalog: Option<Instant>,
    /// The catalogue pass under way, or the one a failed page stopped.
    pass: catalog::Pass,
    /// The incremental catalogue between full passes.
    changes: changes::Changes,
    last_changes: Option<Instant>,
    health: Health,
    /// When Cablecast became unreachable, while it is.
    down_since: Option<Instant>,
    /// A full pass is due after an outage too long for a look.
    pass_after_outage: bool,
    /// When the last pass after an outage began.
    last_outage_pass: Option<Instant>,
    /// How long the outage that ended this cycle lasted.
    outage_ended: Option<Duration>,
    /// The way of looking for changes last noted in the store.
    way_noted: Option<&'static str>,
    /// The database failure last logged, so a full disk or a read-only file
    /// is said once, not every cycle.
    database_trouble: Option<String>,
    /// Evaluated after each cycle, when alerts are set up.
    alerts: Option<AlertWatch>,
    /// The highest id of the failed VODs checked last cycle (0: start from
    /// the lowest).
    failed_checked_after: i64,
}

/// Failed VODs checked per cycle on a server that ignores `ids[]` (one
/// request each); a server reading by id gets one group in one request.
const FAILED_CHECKED_ALONE: usize = 2;

/// The failed VODs to check this cycle: the first group of `firing` (sorted
/// ids, at most `limit`) above `after`, or from the lowest again once past
/// the highest.
fn next_failed_group(firing: &[i64], after: i64, limit: usize) -> Vec<i64> {
    let above = firing.partition_point(|id| *id <= after);
    let from = if above < firing.len() {
        &firing[above..]
    } else {
        firing
    };
    id_groups(from)
        .first()
        .map(|group| group.iter().take(limit).copied().collect())
        .unwrap_or_default()
}

/// An outage at least this long is followed by a full catalogue pass: the
/// server may have been restored from a backup or reorganised, which a look
/// for changes cannot see. A shorter one (a restart, a blip) is covered by
/// the look, which reaches back to the newest change known however long ago.
pub const LONG_OUTAGE: Duration = Duration::from_secs(3600);

impl Monitor {
    pub fn new(settings: MonitorSettings, board: Arc<StatusBoard>) -> Monitor {
        Monitor {
            client: CablecastClient::new(settings.cablecast.clone()),
            board,
            settings,
            checks: Expiring::default(),
            last_catalog: None,
            pass: catalog::Pass::default(),
            changes: changes::Changes::default(),
            last_changes: None,
            health: Health::Unknown,
            down_since: None,
            pass_after_outage: false,
            last_outage_pass: None,
            outage_ended: None,
            way_noted: None,
            database_trouble: None,
            alerts: None,
            failed_checked_after: 0,
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
        let mut tally = Tally {
            started: Instant::now(),
            started_at: clock::now(),
            statements: counters::this_thread(),
            calls: self.client.http_calls(),
            answered_errors: self.client.answered_errors(),
            checks: 0,
            phases: Vec::new(),
        };
        let mut report = CycleReport::new();
        // A running monitor's slow retries end before its next cycle is
        // due; a single run has no next cycle and retries fully.
        self.client.retry_until(
            (!self.settings.single_run).then(|| tally.started + self.settings.interval),
        );
        if self.connect(&mut report, &mut tally) {
            self.follow_catalogue(&mut report, &mut tally);
            if report.may_go_on() {
                self.refresh_in_flight(&mut report, &mut tally);
            }
        }
        if shutdown::requested() {
            // What was committed stays; the rest is for the next start.
            report.stopped = true;
            return report;
        }
        self.weigh_answered_errors(&mut report, &tally);
        if report.cablecast_error.is_some() {
            // Whatever failed, the next cycle checks the connection afresh.
            self.checks.forget();
        }
        self.gather_stats(&mut report, &mut tally);
        self.evaluate_alerts(&report);
        self.record(&mut report, &tally);
        // Logged once the cycle is recorded, so what a log line says is
        // already what the database and the page say.
        self.note_health(&report);
        self.note_database(&report);
        self.log_cycle(&report, &tally.phases);
        report
    }

    /// The connection check; notes an outage's start and, at its end,
    /// whether it lasted long enough to want a full pass.
    fn connect(&mut self, report: &mut CycleReport, tally: &mut Tally) -> bool {
        let phase = Instant::now();
        let calls = self.client.http_calls();
        let checked = self.check_connection();
        tally.checks = self.client.http_calls() - calls;
        tally.phase("check", phase);
        match checked {
            Ok(()) => {
                if let Some(since) = self.down_since.take() {
                    self.pass_after_outage = self.outage_wants_pass(since.elapsed());
                    self.outage_ended = Some(since.elapsed());
                }
                true
            }
            Err(e) => {
                self.down_since.get_or_insert_with(Instant::now);
                report.cablecast_error = Some(e);
                false
            }
        }
    }

    /// Whether an outage that lasted `outage` is followed by a full pass:
    /// when it was long (see [`LONG_OUTAGE`]), or when this server has no
    /// look for changes to cover even a short one, unless a pass after an
    /// outage ran within [`LONG_OUTAGE`]: back-to-back blips never cost a
    /// pass each.
    fn outage_wants_pass(&self, outage: Duration) -> bool {
        let long = outage >= LONG_OUTAGE;
        let recent = self
            .last_outage_pass
            .is_some_and(|at| at.elapsed() < LONG_OUTAGE);
        let wanted = long || (!self.changes.supported() && !recent);
        if wanted {
            log::info!(
                "Cablecast was unreachable for {}: a full catalogue pass follows",
                clock::humanize_secs(outage.as_secs() as i64)
            );
        }
        wanted
    }

    /// A full catalogue pass (or the rest of one a failed page stopped)
    /// when one is due, else the look for changed shows when due; then the
    /// probe for records added above the highest ids known.
    fn follow_catalogue(&mut self, report: &mut CycleReport, tally: &mut Tally) {
        let phase = Instant::now();
        if self.pass_due() {
            if std::mem::take(&mut self.pass_after_outage) {
                self.last_outage_pass = Some(Instant::now());
            }
            self.run_pass(report);
            // Whatever pages were saved, the figures moved.
            self.board.invalidate();
            tally.phase("catalog", phase);
            self.note_way();
            return;
        }
        if self.changes_due() {
            let every = self.settings.catalog_interval;
            match self.changes.look(&self.client, self.board.store(), every) {
                Ok(summary) => report.changes = summary,
                Err(e) => report.note(e),
            }
            self.last_changes = Some(Instant::now());
            if report.changes.is_some_and(|c| c.shows > 0) {
                self.board.invalidate();
            }
            // The look just found it cannot run: the outage that ended is
            // weighed again, as for a server without one.
            if let Some(outage) = self.outage_ended.filter(|_| !self.changes.supported()) {
                self.pass_after_outage = self.outage_wants_pass(outage);
            }
            tally.phase("changes", phase);
        }
        self.outage_ended = None;
        if report.may_go_on() {
            let phase = Instant::now();
            match self.changes.probe(&self.client, self.board.store()) {
                Ok(probe) => report.probe = probe,
                Err(e) => report.note(e),
            }
            if report.probe.vods + report.probe.shows > 0 {
                self.board.invalidate();
            }
            tally.phase("probe", phase);
        }
        self.note_way();
    }

    fn run_pass(&mut self, report: &mut CycleReport) {
        match self.pass.run(&self.client, self.board.store()) {
            Ok(end) => {
                self.last_catalog = Some(Instant::now());
                report.catalog = Some(end.summary);
                // A pass is a look for changes and more.
                self.changes.after_full_pass(Some(&end));
            }
            Err(e) => {
                report.note(e);
                if !self.pass.in_progress() {
                    self.changes.after_full_pass(None);
                }
            }
        }
        self.last_changes = Some(Instant::now());
    }

    /// Notes in the store how this box looks for changes on this server,
    /// when that changed: the page and `status` show it.
    fn note_way(&mut self) {
        let Some(way) = self.changes.way() else {
            return;
        };
        if self.way_noted == Some(way) {
            return;
        }
        match self.store().note_change_look(way) {
            Ok(()) => self.way_noted = Some(way),
            Err(e) => log::debug!("{e}"),
        }
    }

    /// Re-reads every in-flight VOD, then one group of the failed VODs
    /// whose alert fires.
    fn refresh_in_flight(&mut self, report: &mut CycleReport, tally: &mut Tally) {
        let phase = Instant::now();
        match self.store().in_flight_vods() {
            Ok(in_flight) => self.refresh_vods(&in_flight, report),
            Err(e) => report.store_error = Some(e),
        }
        if report.may_go_on() {
            self.check_failed(report);
        }
        tally.phase("refresh", phase);
    }

    /// Failed VODs are not in flight, so the refresh never reads them: one
    /// deleted in Cablecast would keep its alert firing until the next full
    /// pass. Each cycle reads the next group of those whose `vod_failed`
    /// alert fires (one request by `ids[]`, a few alone on a server that
    /// ignores `ids[]`); one gone is removed on its own 404, as in the
    /// refresh, and its alert resolves as removed.
    fn check_failed(&mut self, report: &mut CycleReport) {
        let Some(alerts) = &self.alerts else {
            return;
        };
        let limit = if self.client.reads_vods_by_ids() {
            MAX_IDS_PER_REQUEST
        } else {
            FAILED_CHECKED_ALONE
        };
        let ids = next_failed_group(
            &alerts.failed_vods_firing(),
            self.failed_checked_after,
            limit,
        );
        self.failed_checked_after = ids.last().copied().unwrap_or(0);
        if ids.is_empty() {
            return;
        }
        match self.store().vods_with_ids(&ids) {
            Ok(failed) => {
                report.refresh.failed_checked += failed.len();
                self.refresh_vods(&failed, report);
            }
            Err(e) => {
                report.store_error.get_or_insert(e);
            }
        }
    }

    /// Re-reads `vods` (as stored now, sorted by id) and adds what it did to
    /// the cycle's refresh.
    fn refresh_vods(&mut self, vods: &[Vod], report: &mut CycleReport) {
        let summary = refresh::refresh(
            &self.client,
            self.store(),
            vods,
            self.settings.http_concurrency,
            self.settings.batch_size,
        );
        if summary.changed > 0 {
            self.board.invalidate();
        }
        if let Some(e) = summary.cablecast_error.clone() {
            report.note_cablecast(e);
        }
        if let Some(e) = summary.answered_error.clone() {
            report.answered_error.get_or_insert(e);
        }
        if let Some(e) = summary.store_error.clone() {
            report.store_error.get_or_insert(e);
        }
        report.refresh.absorb(summary);
    }

    /// Counts the requests answered with an error. When they are every
    /// request after the connection check, nothing was read: Cablecast is
    /// as good as down, and said so. A single run has no next cycle to read
    /// again what failed: any error answer fails it.
    fn weigh_answered_errors(&self, report: &mut CycleReport, tally: &Tally) {
        report.answered_errors = self.client.answered_errors() - tally.answered_errors;
        let reads = (self.client.http_calls() - tally.calls).saturating_sub(tally.checks);
        let nothing_read = reads > 0 && report.answered_errors >= reads;
        if report.cablecast_error.is_none() && (nothing_read || self.settings.single_run) {
            report.cablecast_error = report.answered_error.take();
        }
    }

    fn gather_stats(&mut self, report: &mut CycleReport, tally: &mut Tally) {
        let phase = Instant::now();
        match self.board.sync_stats() {
            Ok(stats) => report.stats = Some(stats),
            Err(e) => {
                report.store_error.get_or_insert(e);
            }
        }
        tally.phase("stats", phase);
    }

    /// The alerts' view of the cycle: `cablecast_error` only for an
    /// outage, not for a few answered errors.
    fn evaluate_alerts(&mut self, report: &CycleReport) {
        if let Some(alerts) = &mut self.alerts {
            alerts.after_cycle(&CycleOutcome {
                cablecast_error: report.cablecast_error.clone(),
                store_error: report.store_error.clone(),
                current: report.is_current(),
                catalog_listed: report.catalog.is_some(),
            });
        }
    }

    /// Writes the cycle's row in `monitor_cycle`.
    fn record(&mut self, report: &mut CycleReport, tally: &Tally) {
        let statements = counters::this_thread().since(tally.statements);
        let cache_counts = cache::counters();
        let queries = counters::totals();
        let stats = report.stats.clone();
        let requests = self.client.http_calls() - tally.calls;
        report.record = CycleRecord {
            started_at: tally.started_at.clone(),
            finished_at: clock::now(),
            duration_ms: tally.started.elapsed().as_millis() as i64,
            cablecast_reachable: report.cablecast_error.is_none(),
            cablecast_error: report.error_text(requests),
            catalog_synced: report.catalog.is_some_and(|c| c.complete),
            vods_refreshed: report.refresh.checked as i64,
            vods_changed: report.refresh.changed as i64,
            http_calls: requests as i64,
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
        let spacing = self.changes.spacing(self.settings.changes_interval);
        self.changes.supported() && self.last_changes.is_none_or(|at| at.elapsed() >= spacing)
    }

    /// A full pass is due: the first of the process, the daily one, one a
    /// failed page stopped, one a look asked for, or one after a long
    /// outage.
    fn pass_due(&self) -> bool {
        self.pass.in_progress()
            || self.pass_after_outage
            || self.changes.full_pass_wanted()
            || self
                .last_catalog
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
            Some(c) => format!(
                ", changed shows: {} search{}, read {}, saved {} ({} VODs)",
                c.searches,
                if c.searches == 1 { "" } else { "es" },
                c.read,
                c.shows,
                c.vods
            ),
            None => String::new(),
        };
        let probe = match report.probe {
            ProbeSummary { requests: 0, .. } => String::new(),
            p => format!(
                ", new records: {} read, saved {} VODs {} shows",
                p.requests, p.vods, p.shows
            ),
        };
        let answered = match &report.answered_error {
            Some(_) => format!(", {} answered with an error", report.answered_errors.max(1)),
            None => String::new(),
        };
        let hit_rate = cache::counters().hit_rate() * 100.0;
        log::info!(
            "cycle {} ms: {counts}{catalog}{changes}{probe}; refreshed {} changed {} failed {}; {} HTTP calls{answered}, {} SQL statements ({} in batch writes), cache hit rate {hit_rate:.1} %",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_vods_are_checked_a_group_at_a_time_in_turn() {
        let firing: Vec<i64> = (1..=250).collect();
        let first = next_failed_group(&firing, 0, MAX_IDS_PER_REQUEST);
        assert_eq!((first[0], first.len()), (1, 100));
        let second = next_failed_group(&firing, 100, MAX_IDS_PER_REQUEST);
        assert_eq!((second[0], second.len()), (101, 100));
        let third = next_failed_group(&firing, 200, MAX_IDS_PER_REQUEST);
        assert_eq!((third[0], third.len()), (201, 50));
        // Past the highest, from the lowest again.
        assert_eq!(next_failed_group(&firing, 250, 2), vec![1, 2]);
        assert_eq!(next_failed_group(&[7], 7, 100), vec![7]);
        assert!(next_failed_group(&[], 0, 100).is_empty());
    }
}
