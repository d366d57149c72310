//! One row per monitoring cycle: what it did, what it cost, and the sync
//! figures it ended with. `status` reads the newest row, so a monitor's
//! performance counters are visible from another process.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// What a finished cycle reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleRecord {
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: i64,
    pub cablecast_reachable: bool,
    /// Why Cablecast failed, when it did (never holds credentials).
    pub cablecast_error: Option<String>,
    pub catalog_synced: bool,
    pub vods_refreshed: i64,
    pub vods_changed: i64,
    pub http_calls: i64,
    pub sql_statements: i64,
    pub cache_hits: i64,
    pub cache_misses: i64,
    pub total_queries: i64,
    pub total_query_ms: f64,
    pub rss_kb: Option<i64>,
    pub total_vods: i64,
    pub completed_vods: i64,
    pub sync_percentage: f64,
}

/// The newest cycle as `status` shows it.
pub type LastCycle = CycleRecord;

const CYCLE_COLUMNS: &str = "started_at, finished_at, duration_ms, cablecast_reachable, \
     cablecast_error, catalog_synced, vods_refreshed, vods_changed, http_calls, sql_statements, \
     cache_hits, cache_misses, total_queries, total_query_ms, rss_kb, total_vods, \
     completed_vods, sync_percentage";

impl Store {
    /// The start times of the newest `n` cycles, newest first.
    pub fn recent_cycle_starts(&self, n: usize) -> Result<Vec<String>, StoreError> {
        self.read("reading recent cycles", |conn| {
            let mut select = conn
                .prepare_cached("SELECT started_at FROM monitor_cycle ORDER BY id DESC LIMIT ?1")?;
            let rows = select.query_map([n as i64], |row| row.get(0))?;
            rows.collect()
        })
    }

    /// Records a finished cycle (one statement).
    pub fn record_cycle(&self, cycle: &CycleRecord) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO monitor_cycle ({CYCLE_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
        );
        let writer_statement = |conn: &rusqlite::Connection| {
            conn.prepare_cached(&sql)?.execute(params![
                cycle.started_at,
                cycle.finished_at,
                cycle.duration_ms,
                cycle.cablecast_reachable,
                cycle.cablecast_error,
                cycle.catalog_synced,
                cycle.vods_refreshed,
                cycle.vods_changed,
                cycle.http_calls,
                cycle.sql_statements,
                cycle.cache_hits,
                cycle.cache_misses,
                cycle.total_queries,
                cycle.total_query_ms,
                cycle.rss_kb,
                cycle.total_vods,
                cycle.completed_vods,
                cycle.sync_percentage,
            ])
        };
        self.write_single("recording a monitoring cycle", writer_statement)
            .map(|_| ())
    }

    /// The newest recorded cycle, if any.
    pub fn last_cycle(&self) -> Result<Option<LastCycle>, StoreError> {
        let sql = format!("SELECT {CYCLE_COLUMNS} FROM monitor_cycle ORDER BY id DESC LIMIT 1");
        self.read("reading the last cycle", |conn| {
            conn.prepare_cached(&sql)?
                .query_row([], |row| {
                    Ok(CycleRecord {
                        started_at: row.get(0)?,
                        finished_at: row.get(1)?,
                        duration_ms: row.get(2)?,
                        cablecast_reachable: row.get(3)?,
                        cablecast_error: row.get(4)?,
                        catalog_synced: row.get(5)?,
                        vods_refreshed: row.get(6)?,
                        vods_changed: row.get(7)?,
                        http_calls: row.get(8)?,
                        sql_statements: row.get(9)?,
                        cache_hits: row.get(10)?,
                        cache_misses: row.get(11)?,
                        total_queries: row.get(12)?,
                        total_query_ms: row.get(13)?,
                        rss_kb: row.get(14)?,
                        total_vods: row.get(15)?,
                        completed_vods: row.get(16)?,
                        sync_percentage: row.get(17)?,
                    })
                })
                .optional()
        })
    }
}
