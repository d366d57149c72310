//! The SQL `archivist bench` measures: a realistic station database filled
//! in one transaction, the stats forms Archivist does not use (separate
//! counts, `SUM(CASE ...)`, the aggregate without its index) beside the one
//! it does, query plans, and probes for pooled and fresh connections.
//!
//! Nothing here runs in the monitor or the status server; it exists so the
//! figures `bench` prints come from the same SQL and the same connections the
//! product uses.

use rusqlite::params;

use super::catalog::{vod_from_row, VOD_COLUMNS};
use super::stats::{DAY_SECS, SYNC_STATS_SQL};
use super::{lock, open_reader, Store, StoreError, READER_CACHE_KIB};
use crate::clock;
use crate::vod::{Vod, VodState};

/// How a station's VODs spread over the states, in hundredths, as on the
/// demo station: mostly published, some moving, a few failed.
const STATE_MIX: [(&str, u64); 9] = [
    ("complete", 80),
    ("processing", 6),
    ("queued", 4),
    ("waiting", 2),
    ("partial", 1),
    ("error", 3),
    ("permanentFailure", 1),
    ("disabled", 1),
    ("unknown", 2),
];

/// Meeting bodies for believable titles (commas and quotes included, as real
/// titles have them).
const BODIES: [&str; 6] = [
    "City Council Regular meeting",
    "Planning Commission, Special Meeting",
    "School Board",
    "Parks & Recreation \"Summer Series\"",
    "Zoning Board of Appeals",
    "High School Football",
];

/// What [`Store::fill_station`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StationSize {
    pub vods: u64,
    pub shows: u64,
    pub transcriptions: u64,
}

/// The ways of computing the sync figures that `bench` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsForm {
    /// One `count(*)` per state, plus shows and transcriptions: 14 statements.
    SeparateCounts,
    /// One `SUM(CASE ...)` pass, as the planner runs it.
    SumCase,
    /// One `SUM(CASE ...)` pass over the table rows (`NOT INDEXED`).
    SumCaseOverTable,
    /// The product's aggregate (`Store::sync_stats`'s statement).
    Aggregate,
    /// The same aggregate kept off `idx_vod_state` (`NOT INDEXED`).
    AggregateWithoutIndex,
    /// Only the aggregate's VOD part: `GROUP BY vod_state` over the index.
    VodStates,
    /// Only the VOD part, kept off the index.
    VodStatesWithoutIndex,
    /// Only the VOD part of `SUM(CASE ...)`, over the table.
    VodStatesSumCaseOverTable,
}

/// Separate counts: one per state and one per other figure.
const COUNT_STATE_SQL: &str = "SELECT count(*) FROM cablecast_vod WHERE vod_state = ?1";
const COUNT_UNRECOGNISED_SQL: &str = "SELECT count(*) FROM cablecast_vod WHERE vod_state NOT IN \
     ('complete', 'processing', 'queued', 'waiting', 'partial', 'error', 'permanentFailure', \
      'disabled', 'unknown')";
/// The figures besides VOD states, each on its own; `?1` is the start of the
/// 24-hour window. (The unlinked count is total minus linked.)
const COUNT_OTHERS_SQL: [&str; 5] = [
    "SELECT count(*) FROM cablecast_show",
    "SELECT count(*) FROM transcription_result WHERE removed_at IS NULL",
    "SELECT count(*) FROM transcription_result \
     WHERE completed_at >= ?1 AND status = 'completed' AND removed_at IS NULL",
    "SELECT count(*) FROM transcription_result WHERE show_id IS NOT NULL AND removed_at IS NULL",
    "SELECT count(*) FROM transcription_result WHERE status = 'failed' AND removed_at IS NULL",
];

/// How many statements the separate-counts form runs.
pub const SEPARATE_COUNT_STATEMENTS: usize = VodState::KNOWN.len() + 1 + COUNT_OTHERS_SQL.len();

/// The VOD part of the full-table form the aggregate replaced: one
/// `SUM(CASE ...)` per state over every row.
const SUM_CASE_VODS: &str = "count(*),
    sum(CASE WHEN vod_state = 'complete' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state = 'processing' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state = 'queued' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state = 'waiting' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state = 'partial' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state = 'error' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state = 'permanentFailure' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state = 'disabled' THEN 1 ELSE 0 END),
    sum(CASE WHEN vod_state NOT IN ('complete', 'processing', 'queued', 'waiting', 'partial',
        'error', 'permanentFailure', 'disabled') THEN 1 ELSE 0 END)";

/// The whole `SUM(CASE ...)` statement, the other figures as subqueries;
/// with `over_table`, the VOD pass is kept off every index.
fn sum_case_sql(over_table: bool) -> String {
    let others: Vec<String> = COUNT_OTHERS_SQL
        .iter()
        .map(|sql| format!("({sql})"))
        .collect();
    let hint = if over_table { " NOT INDEXED" } else { "" };
    format!(
        "SELECT {SUM_CASE_VODS}, {} FROM cablecast_vod{hint}",
        others.join(", ")
    )
}

/// The aggregate's VOD part alone, taken from the aggregate itself.
fn vod_states_sql() -> String {
    let line = SYNC_STATS_SQL
        .lines()
        .find(|line| line.contains("GROUP BY vod_state"))
        .unwrap_or("SELECT 0, vod_state, count(*) FROM cablecast_vod GROUP BY vod_state");
    line.trim_start_matches("UNION ALL ").to_string()
}

/// The product's aggregate with its VOD pass kept off `idx_vod_state`.
fn aggregate_without_index() -> String {
    SYNC_STATS_SQL.replace(
        "FROM cablecast_vod GROUP BY",
        "FROM cablecast_vod NOT INDEXED GROUP BY",
    )
}

/// A small read, the kind a status request makes, for the connection probe.
const PROBE_SQL: &str = "SELECT count(*) FROM monitor_cycle";

const INSERT_SHOW: &str = "
INSERT INTO cablecast_show (cablecast_id, location_id, title, cg_title, event_date,
    last_modified, total_run_time, created_at, updated_at)
VALUES (?1, 1, ?2, ?3, ?4, ?4, ?5, ?6, ?6)";

const INSERT_VOD: &str = "
INSERT INTO cablecast_vod (id, show_id, show_cablecast_id, vod_state, percent_complete,
    error_message, url, length, quality, is_watchable, disabled, state_changed_at,
    created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?12)";

const INSERT_TRANSCRIPTION: &str = "
INSERT INTO transcription_result (id, video_path, output_path, status, completed_at, show_id,
    created_at, updated_at)
VALUES (?1, ?2, ?3, ?6, ?4, ?5, ?4, ?4)";

/// First Cablecast ids, as on the demo station.
const FIRST_SHOW_ID: i64 = 800;
const FIRST_VOD_ID: i64 = 1200;

impl Store {
    /// Moves `n` complete VODs to `error`, as one cycle's worth of
    /// failures for the alert bench; returns how many moved.
    pub fn fail_vods_for_bench(&self, n: usize) -> Result<usize, StoreError> {
        self.write("failing VODs for the bench", |conn| {
            conn.execute(
                "UPDATE cablecast_vod SET vod_state = 'error', error_message = 'bench'
                     WHERE id IN (SELECT id FROM cablecast_vod WHERE vod_state = 'complete' LIMIT ?1)",
                [n as i64],
            )
        })
    }

    /// Fills an empty database with `vods` VODs, about one show per 1.1 VODs
    /// and one transcription per two shows, in one transaction.
    pub fn fill_station(&self, vods: u64, seed: u64) -> Result<StationSize, StoreError> {
        let now = clock::unix_now();
        self.write("filling the benchmark station", |conn| {
            let mut rng = seed | 1;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let mut insert_show = conn.prepare(INSERT_SHOW)?;
            let mut insert_vod = conn.prepare(INSERT_VOD)?;
            let mut insert_tx = conn.prepare(INSERT_TRANSCRIPTION)?;
            let mut size = StationSize {
                vods: 0,
                shows: 0,
                transcriptions: 0,
            };
            let mut show_row = 0i64;
            let mut show_id = FIRST_SHOW_ID - 1;
            while size.vods < vods {
                show_id += 1;
                let aired = now - (vods - size.vods) as i64 * 3_600;
                let body = BODIES[(next() % BODIES.len() as u64) as usize];
                let date = clock::format_unix(aired);
                let run_time = 1_800 + (next() % 9_000) as i64;
                insert_show.execute(params![
                    show_id,
                    format!("{body} - {}", &date[..10]),
                    format!("{body} {}", &date[..10]),
                    date,
                    run_time,
                    clock::format_unix(aired + 3 * 86_400),
                ])?;
                show_row = conn.last_insert_rowid().max(show_row);
                size.shows += 1;
                // Every tenth show has a second VOD.
                let per_show = if show_id % 10 == 0 { 2 } else { 1 };
                for _ in 0..per_show {
                    if size.vods == vods {
                        break;
                    }
                    let vod_id = FIRST_VOD_ID + size.vods as i64;
                    let state = pick_state(next() % 100);
                    let complete = state == "complete";
                    insert_vod.execute(params![
                        vod_id,
                        show_row,
                        show_id,
                        state,
                        if complete { 1.0 } else { 0.0 },
                        matches!(state, "error" | "permanentFailure")
                            .then_some("Transcode failed: source file is truncated"),
                        complete.then(|| format!(
                            "https://vod.example.org/store-3/{show_id}-v1/vod.mp4"
                        )),
                        run_time,
                        complete.then_some(2),
                        complete,
                        state == "disabled",
                        clock::format_unix(aired + 7_200),
                    ])?;
                    size.vods += 1;
                }
                if show_id % 2 == 0 {
                    insert_tx.execute(params![
                        format!("tx-{show_id}"),
                        format!("/srv/video/{show_id}.mp4"),
                        format!("/srv/captions/{show_id}.vtt"),
                        clock::format_unix(aired + 10_800),
                        show_row,
                        // One caption job in twenty fails.
                        if show_id % 40 == 0 {
                            "failed"
                        } else {
                            "completed"
                        },
                    ])?;
                    size.transcriptions += 1;
                }
            }
            Ok(size)
        })
    }

    /// Runs one form of the sync figures and returns the VOD total it saw.
    pub fn stats_in_form(&self, form: StatsForm) -> Result<u64, StoreError> {
        let since = clock::format_unix(clock::unix_now() - DAY_SECS);
        self.watch("computing sync stats for the benchmark", |conn| {
            let total: i64 = match form {
                StatsForm::SeparateCounts => {
                    let mut total = 0;
                    let mut by_state = conn.prepare_cached(COUNT_STATE_SQL)?;
                    for state in VodState::KNOWN {
                        let n: i64 = by_state.query_row([state.as_str()], |row| row.get(0))?;
                        total += n;
                    }
                    let unrecognised: i64 = conn
                        .prepare_cached(COUNT_UNRECOGNISED_SQL)?
                        .query_row([], |row| row.get(0))?;
                    total += unrecognised;
                    for sql in COUNT_OTHERS_SQL {
                        let mut select = conn.prepare_cached(sql)?;
                        if sql.contains("?1") {
                            select.query_row([&since], |row| row.get::<_, i64>(0))?;
                        } else {
                            select.query_row([], |row| row.get::<_, i64>(0))?;
                        }
                    }
                    total
                }
                StatsForm::SumCase | StatsForm::SumCaseOverTable => conn
                    .prepare_cached(&sum_case_sql(form == StatsForm::SumCaseOverTable))?
                    .query_row([&since], |row| row.get(0))?,
                StatsForm::VodStatesSumCaseOverTable => conn
                    .prepare_cached(&format!(
                        "SELECT {SUM_CASE_VODS} FROM cablecast_vod NOT INDEXED"
                    ))?
                    .query_row([], |row| row.get(0))?,
                StatsForm::Aggregate
                | StatsForm::AggregateWithoutIndex
                | StatsForm::VodStates
                | StatsForm::VodStatesWithoutIndex => {
                    let sql = match form {
                        StatsForm::Aggregate => SYNC_STATS_SQL.to_string(),
                        StatsForm::AggregateWithoutIndex => aggregate_without_index(),
                        StatsForm::VodStates => vod_states_sql(),
                        _ => vod_states_sql().replace(
                            "FROM cablecast_vod GROUP BY",
                            "FROM cablecast_vod NOT INDEXED GROUP BY",
                        ),
                    };
                    let mut select = conn.prepare_cached(&sql)?;
                    let mut rows = if sql.contains("?1") {
                        select.query([&since])?
                    } else {
                        select.query([])?
                    };
                    let mut total = 0;
                    while let Some(row) = rows.next()? {
                        if row.get::<_, i64>(0)? == 0 {
                            total += row.get::<_, i64>(2)?;
                        }
                    }
                    total
                }
            };
            Ok(total.max(0) as u64)
        })
    }

    /// `EXPLAIN QUERY PLAN` of the sync aggregate, one line per step.
    pub fn sync_stats_plan(&self) -> Result<Vec<String>, StoreError> {
        self.query_plan(SYNC_STATS_SQL)
    }

    /// `EXPLAIN QUERY PLAN` of the in-flight selection.
    pub fn in_flight_plan(&self) -> Result<Vec<String>, StoreError> {
        self.query_plan(super::catalog::IN_FLIGHT_SQL)
    }

    /// The in-flight selection as it ran before `idx_vod_in_flight` (a scan
    /// of every row); returns how many VODs it found.
    pub fn in_flight_without_index(&self) -> Result<usize, StoreError> {
        let sql = super::catalog::IN_FLIGHT_SQL
            .replace("FROM cablecast_vod", "FROM cablecast_vod NOT INDEXED");
        self.read("listing in-flight VODs without their index", |conn| {
            let mut select = conn.prepare_cached(&sql)?;
            let rows = select.query_map([], vod_from_row)?;
            rows.collect::<rusqlite::Result<Vec<Vod>>>()
                .map(|vods| vods.len())
        })
    }

    /// Up to `limit` VODs as stored, lowest ids first.
    pub fn first_vods(&self, limit: usize) -> Result<Vec<Vod>, StoreError> {
        self.read("reading VODs for the benchmark", |conn| {
            let sql = format!("SELECT {VOD_COLUMNS} FROM cablecast_vod ORDER BY id LIMIT ?1");
            let mut select = conn.prepare(&sql)?;
            let rows = select.query_map([limit as i64], vod_from_row)?;
            rows.collect()
        })
    }

    /// Sets the writer's `synchronous` level: `NORMAL` (the product's) or
    /// `FULL` (an fsync at every commit).
    pub fn set_synchronous(&self, full: bool) -> Result<(), StoreError> {
        let Some(writer) = &self.writer else {
            return Err(self.read_only("setting synchronous"));
        };
        let level = if full { "FULL" } else { "NORMAL" };
        lock(writer)
            .execute_batch(&format!("PRAGMA synchronous = {level}"))
            .map_err(|e| self.error("setting synchronous", &e))
    }

    /// One small read on a pooled connection.
    pub fn probe_pooled(&self) -> Result<i64, StoreError> {
        self.read("probing a pooled connection", |conn| {
            conn.prepare_cached(PROBE_SQL)?
                .query_row([], |row| row.get(0))
        })
    }

    /// The same read on a connection opened (and configured) for it alone.
    pub fn probe_fresh(&self) -> Result<i64, StoreError> {
        let conn = open_reader(&self.path, READER_CACHE_KIB)
            .map_err(|e| self.error("opening a connection", &e))?;
        conn.query_row(PROBE_SQL, [], |row| row.get(0))
            .map_err(|e| self.error("probing a fresh connection", &e))
    }
}

fn pick_state(roll: u64) -> &'static str {
    let mut upto = 0;
    for (state, share) in STATE_MIX {
        upto += share;
        if roll < upto {
            return state;
        }
    }
    "complete"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_mix_covers_every_roll() {
        assert_eq!(STATE_MIX.iter().map(|(_, n)| n).sum::<u64>(), 100);
        assert_eq!(pick_state(0), "complete");
        assert_eq!(pick_state(99), "unknown");
    }

    #[test]
    fn the_unindexed_forms_differ_only_in_the_vod_pass() {
        let sql = aggregate_without_index();
        assert_eq!(sql.matches("NOT INDEXED").count(), 1);
        assert_eq!(sql.replace(" NOT INDEXED", ""), SYNC_STATS_SQL);
        assert_eq!(sum_case_sql(true).matches("NOT INDEXED").count(), 1);
        assert_eq!(
            sum_case_sql(true).replace(" NOT INDEXED", ""),
            sum_case_sql(false)
        );
    }
}
