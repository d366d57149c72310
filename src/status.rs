//! The sync figures as everyone reads them: cached, never stale, and the
//! status report (`archivist status`, `/api/status`) built on them.
//!
//! The figures come from one aggregate statement and are kept in the
//! process's one answer cache ([`cache::Answers`], which the status server
//! shares through [`StatusBoard::answers`]) for up to [`STATS_TTL`]. A write
//! by this process clears it at once ([`StatusBoard::invalidate`]); a write
//! by any other process (a second Archivist, the sqlite3 CLI) changes the
//! store's data version, which every cached read compares, one cheap
//! `PRAGMA` per read.
//!
//! It also holds [`SyncNow`], the wake-up the status server sends the
//! monitor.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::alert::Pulse;
use crate::cache::{self, Answers, Key, Weigh};
use crate::clock::{self, StationZone};
use crate::store::alerts::AlertKind;
use crate::store::{
    counters, CatalogueState, CycleRecord, Outage, Store, StoreError, SyncStats, TranscriptionRow,
};
use crate::stuck::StuckAfter;
use crate::vod::VodState;

/// How long cached figures may live without any write (the 24-hour
/// transcription window moves with the clock, so they cannot live forever).
pub const STATS_TTL: Duration = Duration::from_secs(300);

/// Results listed under `transcriptions.recent`.
pub const RECENT_TRANSCRIPTIONS: u32 = 10;

/// Cache keys of the figures and the report.
const SYNC_STATS: &str = "sync-stats";
const REPORT: &str = "status-report";

/// A request to the monitor to run a cycle now instead of waiting for the
/// interval (`POST /api/sync-now` sends it; so does a stop, to end the
/// wait). It lives with the board both sides share, so the status server
/// never names the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncNow;

/// The cached sync figures of one database, and the answer cache they live
/// in.
pub struct StatusBoard {
    store: Arc<Store>,
    answers: Answers,
    /// When a VOD in flight counts as stuck.
    stuck_after: StuckAfter,
}

impl Weigh for SyncStats {
    fn bytes(&self) -> usize {
        std::mem::size_of::<SyncStats>()
    }
}

impl Weigh for StatusReport {
    fn bytes(&self) -> usize {
        // The recent results hold paths; the rest is small and fixed.
        std::mem::size_of::<StatusReport>()
            + self
                .transcriptions
                .recent
                .iter()
                .map(|r| 256 + r.video_path.len() + r.output_path.as_ref().map_or(0, String::len))
                .sum::<usize>()
            + self.warnings.iter().map(String::len).sum::<usize>()
    }
}

impl StatusBoard {
    pub fn new(store: Arc<Store>) -> StatusBoard {
        StatusBoard {
            store,
            answers: Answers::default(),
            stuck_after: StuckAfter::default(),
        }
    }

    /// Uses `thresholds` (`ARCHIVIST_STUCK_AFTER`) for stuck VODs.
    pub fn with_stuck_after(mut self, thresholds: StuckAfter) -> StatusBoard {
        self.stuck_after = thresholds;
        self
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The process's answer cache (the status server keeps its rendered
    /// answers here too).
    pub fn answers(&self) -> &Answers {
        &self.answers
    }

    pub fn stuck_after(&self) -> &StuckAfter {
        &self.stuck_after
    }

    /// The sync figures: from the cache while the database is unchanged,
    /// otherwise freshly computed (one statement).
    pub fn sync_stats(&self) -> Result<Arc<SyncStats>, StoreError> {
        // The figures record the version they were read at, so a miss (as
        // after every write by the monitor) is the aggregate alone.
        self.answers.get_current(
            Key::new(SYNC_STATS, ""),
            || self.store.data_version(),
            STATS_TTL,
            || self.store.sync_stats(),
            |stats| stats.data_version,
        )
    }

    /// Drops every cached answer: call after every write.
    pub fn invalidate(&self) {
        self.answers.clear();
    }

    /// The full status report: while the database is unchanged, one
    /// data-version check; otherwise the aggregate and three small reads.
    pub fn report(&self) -> Result<StatusReport, StoreError> {
        let stats = self.sync_stats()?;
        let report =
            self.answers
                .get(Key::new(REPORT, ""), stats.data_version, STATS_TTL, || {
                    let last_cycle = self.store.last_cycle()?;
                    let mut report = StatusReport::new(&stats, last_cycle.as_ref());
                    // What staff need to act comes on top of the figures: a part that
                    // cannot be read (a damaged page) is said, and never hides the rest.
                    let mut unreadable = Vec::new();
                    let mut or_say = |result: Result<(), StoreError>| {
                        if let Err(e) = result {
                            unreadable.push(e.to_string());
                        }
                    };
                    let now = clock::unix_now();
                    report.stuck_after = self.stuck_after.to_string();
                    or_say((|| {
                        report.stuck_vods = self.store.count_stuck(&self.stuck_after, now)?;
                        report.oldest_in_flight_since = self.store.oldest_in_flight_since()?;
                        Ok(())
                    })());
                    or_say((|| {
                        report.catalogue = CatalogueReport::from(self.store.catalogue_state()?);
                        report.catalogue_complete = report.catalogue.complete_at.is_some();
                        Ok(())
                    })());
                    if report
                        .last_cycle
                        .as_ref()
                        .is_some_and(|c| !c.cablecast_reachable)
                    {
                        or_say((|| {
                            report.outage = Some(OutageReport::from(self.store.outage()?));
                            Ok(())
                        })());
                    }
                    or_say((|| {
                        report.vod_missing = missing_shows(&self.store)?;
                        Ok(())
                    })());
                    report.warnings = report.collect_warnings();
                    report.warnings.extend(unreadable);
                    let captions = self.store.caption_counts()?;
                    report.transcriptions.needs_captions = captions.needs_captions;
                    report.transcriptions.captioned_by_cablecast = captions.captioned_by_cablecast;
                    report.transcriptions.captioned_by_transcriptions =
                        captions.captioned_by_transcriptions;
                    report.transcriptions.recent = self
                        .store
                        .recent_transcriptions(RECENT_TRANSCRIPTIONS)?
                        .into_iter()
                        .map(RecentTranscription::from)
                        .collect();
                    Ok::<_, StoreError>(report)
                })?;
        Ok(StatusReport::clone(&report))
    }
}

/// `archivist status --json` and `/api/status`. These keys are stable.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusReport {
    pub total_vods: u64,
    pub total_shows: u64,
    /// All nine vodStates, zeros included.
    pub by_state: std::collections::BTreeMap<String, u64>,
    pub completed_vods: u64,
    pub pending_vods: u64,
    pub failed_vods: u64,
    /// Switched off in Cablecast; left out of `sync_percentage`.
    pub disabled_vods: u64,
    /// complete out of all VODs not disabled.
    pub sync_percentage: f64,
    /// VODs in flight longer than their state's threshold (`stuck_after`).
    pub stuck_vods: u64,
    /// The thresholds, in `ARCHIVIST_STUCK_AFTER`'s form.
    pub stuck_after: String,
    /// When the VOD longest in flight entered its state.
    pub oldest_in_flight_since: Option<String>,
    /// False until a complete catalogue pass has finished on this database:
    /// until then the figures cover only part of the station.
    pub catalogue_complete: bool,
    pub catalogue: CatalogueReport,
    /// Set while the last cycle could not reach Cablecast: the figures are
    /// those of the last good cycle.
    pub outage: Option<OutageReport>,
    /// What staff should know before trusting the figures, one sentence each.
    pub warnings: Vec<String>,
    pub transcriptions: TranscriptionSummary,
    /// Series shows that aired with no VOD: the firing `vod_missing` alerts.
    pub vod_missing: Vec<MissingShow>,
    pub last_cycle: Option<LastCycleSummary>,
    /// Whether the monitor runs (`None`: not judged: a command run beside
    /// it judges by the rhythm of its cycles, and needs two of them).
    pub monitor: Option<MonitorReport>,
    pub performance: PerformanceSummary,
}

/// `monitor` in the report: whether the monitor's cycles keep coming, by
/// [`Pulse`], the rule every surface uses.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonitorReport {
    /// False when no cycle ran within two intervals and a minute: the
    /// figures are as of `last_cycle` and no alert is raised.
    pub running: bool,
    /// When its last cycle finished (`None`: no cycle recorded).
    pub last_cycle: Option<String>,
}

/// One show under `vod_missing`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MissingShow {
    /// The show's Cablecast id.
    pub show: i64,
    pub title: String,
    pub detail: Option<String>,
    /// When the alert fired.
    pub since: String,
}

/// The firing `vod_missing` alerts, oldest first (the firing alerts'
/// partial index).
fn missing_shows(store: &Store) -> Result<Vec<MissingShow>, StoreError> {
    let mut shows: Vec<MissingShow> = store
        .firing_alerts()?
        .into_iter()
        .filter(|a| a.kind == AlertKind::VodMissing)
        .filter_map(|a| {
            Some(MissingShow {
                show: a.subject.parse().ok()?,
                title: a.title,
                detail: a.detail,
                since: a.fired_at,
            })
        })
        .collect();
    shows.sort_by(|a, b| (&a.since, a.show).cmp(&(&b.since, b.show)));
    Ok(shows)
}

/// `catalogue` in the report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CatalogueReport {
    /// When the last complete pass finished.
    pub complete_at: Option<String>,
    /// The pass under way (or the one a stop interrupted).
    pub progress: Option<CatalogueProgressReport>,
    /// A location filter that matched no show while the server has some.
    pub location_warning: Option<String>,
    /// How the monitor looks for changes on this server.
    pub change_look: Option<String>,
}

/// A catalogue pass's progress.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CatalogueProgressReport {
    /// `shows` or `VODs`.
    pub phase: String,
    pub pages_done: u64,
    pub pages_total: Option<u64>,
    pub listed: u64,
    pub total: Option<u64>,
    pub seconds_left: Option<i64>,
    /// When this progress was noted.
    pub at: String,
    /// `VODs: page 12 of 33, about 2 min left`.
    pub text: String,
}

impl From<CatalogueState> for CatalogueReport {
    fn from(state: CatalogueState) -> Self {
        CatalogueReport {
            complete_at: state.complete_at,
            progress: state.progress.map(|p| CatalogueProgressReport {
                text: p.describe(),
                seconds_left: p.seconds_left(),
                at: clock::format_unix(p.noted_unix),
                phase: p.phase,
                pages_done: p.pages_done,
                pages_total: p.pages_total,
                listed: p.listed,
                total: p.total,
            }),
            location_warning: state.location_warning,
            change_look: state.change_look,
        }
    }
}

/// `outage` in the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutageReport {
    /// The first failed cycle of this outage (`None`: before the cycles
    /// kept, 48 hours).
    pub unreachable_since: Option<String>,
    /// The last cycle that reached Cablecast: the figures are as of then.
    pub figures_as_of: Option<String>,
}

impl From<Outage> for OutageReport {
    fn from(outage: Outage) -> Self {
        OutageReport {
            unreachable_since: outage.since,
            figures_as_of: outage.last_good,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TranscriptionSummary {
    pub total: u64,
    pub last_24h: u64,
    pub linked_to_show: u64,
    pub failed: u64,
    pub unlinked: u64,
    /// Shows with a `complete` VOD but no captions, in Cablecast or linked.
    pub needs_captions: u64,
    /// Shows Cablecast says are captioned (`hasCaptions`).
    pub captioned_by_cablecast: u64,
    /// Shows with a current, completed transcription of the station's
    /// linked (a show can also be captioned by Cablecast).
    pub captioned_by_transcriptions: u64,
    /// The most recent results, newest first (filled by [`StatusBoard::report`]).
    pub recent: Vec<RecentTranscription>,
}

/// One result under `transcriptions.recent`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecentTranscription {
    pub id: String,
    pub video_path: String,
    pub output_path: Option<String>,
    pub status: String,
    pub completed_at: Option<String>,
    pub error: Option<String>,
    pub show_cablecast_id: Option<i64>,
    pub show_title: Option<String>,
}

impl From<TranscriptionRow> for RecentTranscription {
    fn from(row: TranscriptionRow) -> Self {
        RecentTranscription {
            id: row.id,
            video_path: row.video_path,
            output_path: row.output_path,
            status: row.status,
            completed_at: row.completed_at,
            error: row.error,
            show_cablecast_id: row.show_cablecast_id,
            show_title: row.show_title,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LastCycleSummary {
    pub at: String,
    pub cablecast_reachable: bool,
    pub http_calls: i64,
    pub sql_statements: i64,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// The monitor's own counters, from its last recorded cycle (when a monitor
/// has run), else this process's.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PerformanceSummary {
    pub cache_hits: i64,
    pub cache_misses: i64,
    pub cache_hit_rate: f64,
    pub total_queries: i64,
    pub avg_query_ms: f64,
    pub rss_kb: Option<i64>,
}

impl StatusReport {
    pub fn new(stats: &SyncStats, last_cycle: Option<&CycleRecord>) -> StatusReport {
        let performance = match last_cycle {
            Some(cycle) => PerformanceSummary::from_counts(
                cycle.cache_hits,
                cycle.cache_misses,
                cycle.total_queries,
                cycle.total_query_ms,
                cycle.rss_kb,
            ),
            None => {
                let cache = cache::counters();
                let queries = counters::totals();
                PerformanceSummary::from_counts(
                    cache.hits as i64,
                    cache.misses as i64,
                    queries.statements as i64,
                    queries.total_ms,
                    crate::memory::rss_kb(),
                )
            }
        };
        StatusReport {
            total_vods: stats.total_vods,
            total_shows: stats.total_shows,
            by_state: stats
                .by_state
                .iter()
                .map(|(state, n)| (state.as_str().to_string(), *n))
                .collect(),
            completed_vods: stats.completed_vods,
            pending_vods: stats.pending_vods,
            failed_vods: stats.failed_vods,
            disabled_vods: stats.disabled_vods,
            sync_percentage: stats.sync_percentage(),
            // Filled in by `StatusBoard::report`.
            stuck_vods: 0,
            stuck_after: String::new(),
            oldest_in_flight_since: None,
            catalogue_complete: false,
            catalogue: CatalogueReport::default(),
            outage: None,
            warnings: Vec::new(),
            transcriptions: TranscriptionSummary {
                total: stats.transcriptions.total,
                last_24h: stats.transcriptions.last_24h,
                linked_to_show: stats.transcriptions.linked_to_show,
                failed: stats.transcriptions.failed,
                unlinked: stats.transcriptions.unlinked,
                // Filled in by `StatusBoard::report`.
                needs_captions: 0,
                captioned_by_cablecast: 0,
                captioned_by_transcriptions: 0,
                recent: Vec::new(),
            },
            // Filled in by `StatusBoard::report`.
            vod_missing: Vec::new(),
            last_cycle: last_cycle.map(|cycle| LastCycleSummary {
                at: cycle.finished_at.clone(),
                cablecast_reachable: cycle.cablecast_reachable,
                http_calls: cycle.http_calls,
                sql_statements: cycle.sql_statements,
                duration_ms: cycle.duration_ms,
                error: cycle.cablecast_error.clone(),
            }),
            monitor: None,
            performance,
        }
    }

    /// Says whether the monitor runs, judged by `pulse`; when it does not,
    /// the first warning says so and since when. Called on every read (the
    /// report itself is cached, and a stop changes nothing in the database).
    pub fn note_pulse(&mut self, pulse: &Pulse) {
        self.monitor = Some(MonitorReport {
            running: *pulse == Pulse::Running,
            last_cycle: self.last_cycle.as_ref().map(|c| c.at.clone()),
        });
        if let Some(stopped) = pulse.sentence() {
            self.warnings.insert(
                0,
                format!("the monitor is not running: {stopped}; the figures are as of then, and no alert is raised"),
            );
        }
    }

    /// The sentences staff must read before trusting the figures: a partial
    /// catalogue, an outage, a location filter that matches nothing.
    fn collect_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.catalogue_complete {
            let how_far = match &self.catalogue.progress {
                Some(p) => format!(" (first catalogue pass: {}, as of {})", p.text, p.at),
                None => String::new(),
            };
            warnings.push(format!(
                "no complete catalogue pass has finished on this database yet: the figures cover only part of the station{how_far}"
            ));
        }
        if let Some(outage) = &self.outage {
            warnings.push(format!(
                "Cablecast unreachable since {}; the figures are as of the last good cycle ({})",
                outage
                    .unreachable_since
                    .as_deref()
                    .unwrap_or("more than 48 hours ago"),
                outage.figures_as_of.as_deref().unwrap_or("never")
            ));
        }
        if let Some(warning) = &self.catalogue.location_warning {
            warnings.push(warning.clone());
        }
        warnings
    }

    /// The report as people read it in a terminal.
    pub fn to_text(&self, zone: &StationZone) -> String {
        let local = |at: &str| clock::stored_to_local(at, zone);
        let mut out = String::new();
        for warning in &self.warnings {
            out.push_str(&format!(
                "WARNING: {}\n",
                clock::stored_times_to_local(warning, zone)
            ));
        }
        out.push_str(&format!(
            "VODs: {} total, {} complete ({:.2} % of the {} not disabled), {} in flight, {} failed, {} disabled\n",
            self.total_vods,
            self.completed_vods,
            self.sync_percentage,
            self.total_vods.saturating_sub(self.disabled_vods),
            self.pending_vods,
            self.failed_vods,
            self.disabled_vods
        ));
        out.push_str(&format!(
            "Stuck: {} in flight longer than their state's threshold ({}){}\n",
            crate::vod::count_vods(self.stuck_vods),
            self.stuck_after,
            self.oldest_in_flight_since
                .as_deref()
                .map(|at| format!("; oldest in flight since {}", local(at)))
                .unwrap_or_default()
        ));
        out.push_str(&format!("Shows: {}\n", self.total_shows));
        out.push_str("By state:");
        for state in VodState::KNOWN {
            let n = self.by_state.get(state.as_str()).copied().unwrap_or(0);
            out.push_str(&format!(" {}={n}", state.as_str()));
        }
        out.push('\n');
        out.push_str(&format!(
            "Transcriptions: {} total, {} in the last 24 h, {} linked to a show, {} unlinked, {} failed; {} shows need captions\n",
            self.transcriptions.total,
            self.transcriptions.last_24h,
            self.transcriptions.linked_to_show,
            self.transcriptions.unlinked,
            self.transcriptions.failed,
            self.transcriptions.needs_captions
        ));
        out.push_str(&format!(
            "Captioned shows: {} by Cablecast, {} by the station's own transcriptions\n",
            self.transcriptions.captioned_by_cablecast,
            self.transcriptions.captioned_by_transcriptions
        ));
        for recent in &self.transcriptions.recent {
            out.push_str(&format!(
                "  {}  {}  {}{}\n",
                recent
                    .completed_at
                    .as_deref()
                    .map_or_else(|| "-".into(), local),
                recent.status,
                recent.output_path.as_deref().unwrap_or(&recent.video_path),
                recent
                    .show_cablecast_id
                    .map(|id| format!("  (show {id})"))
                    .unwrap_or_default()
            ));
        }
        if !self.vod_missing.is_empty() {
            out.push_str(&format!(
                "Aired with no VOD (vod_missing): {}\n",
                self.vod_missing.len()
            ));
            for show in &self.vod_missing {
                out.push_str(&format!(
                    "  {}{}  (since {})\n",
                    show.title,
                    show.detail
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default(),
                    local(&show.since)
                ));
            }
        }
        match &self.last_cycle {
            Some(cycle) => out.push_str(&format!(
                "Last cycle: {} ({} ms), Cablecast {}, {} HTTP calls, {} SQL statements{}\n",
                local(&cycle.at),
                cycle.duration_ms,
                if cycle.cablecast_reachable {
                    "reachable"
                } else {
                    "NOT reachable"
                },
                cycle.http_calls,
                cycle.sql_statements,
                cycle
                    .error
                    .as_deref()
                    .map(|e| format!("\n  error: {e}"))
                    .unwrap_or_default()
            )),
            None => {
                out.push_str("Last cycle: none yet (the monitor has not run on this database)\n")
            }
        }
        out.push_str(&format!(
            "Performance: cache hit rate {:.1} % ({} hits, {} misses), {} queries, {:.3} ms average\n",
            self.performance.cache_hit_rate * 100.0,
            self.performance.cache_hits,
            self.performance.cache_misses,
            self.performance.total_queries,
            self.performance.avg_query_ms
        ));
        out
    }
}

impl PerformanceSummary {
    fn from_counts(
        hits: i64,
        misses: i64,
        queries: i64,
        query_ms: f64,
        rss_kb: Option<i64>,
    ) -> Self {
        let lookups = hits + misses;
        PerformanceSummary {
            cache_hits: hits,
            cache_misses: misses,
            cache_hit_rate: if lookups > 0 {
                (hits as f64 / lookups as f64 * 10_000.0).round() / 10_000.0
            } else {
                0.0
            },
            total_queries: queries,
            avg_query_ms: if queries > 0 {
                (query_ms / queries as f64 * 1000.0).round() / 1000.0
            } else {
                0.0
            },
            rss_kb,
        }
    }
}
