//! The monitor's history, as the status page draws it: sync percentage and
//! Cablecast reachability over the last 24 hours, 7 days or 30 days.
//!
//! Samples come from three tables kept by `schema.sql`: raw `monitor_cycle`
//! rows (grouped here into five-minute buckets for the 24-hour view), and the
//! `monitor_hourly` and `monitor_daily` rollups a trigger maintains as each
//! cycle is recorded. The trigger also prunes (raw after 48 h, hourly after
//! 8 days, daily after 400 days), so a year of five-minute cycles holds at
//! most 1,168 history rows. This module only reads.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::clock;

/// Which stretch of history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryRange {
    /// The last 24 hours, in five-minute buckets.
    Day,
    /// The last 7 days, in hourly buckets.
    Week,
    /// The last 30 days, in daily buckets.
    Month,
}

impl HistoryRange {
    pub const ALL: [HistoryRange; 3] = [HistoryRange::Day, HistoryRange::Week, HistoryRange::Month];

    /// Reads the form used in URLs: `24h`, `7d`, `30d`.
    pub fn parse(text: &str) -> Option<HistoryRange> {
        match text {
            "24h" => Some(HistoryRange::Day),
            "7d" => Some(HistoryRange::Week),
            "30d" => Some(HistoryRange::Month),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            HistoryRange::Day => "24h",
            HistoryRange::Week => "7d",
            HistoryRange::Month => "30d",
        }
    }

    /// How far back the range reaches.
    pub fn span_secs(&self) -> i64 {
        match self {
            HistoryRange::Day => 86_400,
            HistoryRange::Week => 7 * 86_400,
            HistoryRange::Month => 30 * 86_400,
        }
    }

    /// The width of one bucket.
    pub fn bucket_secs(&self) -> i64 {
        match self {
            HistoryRange::Day => FIVE_MINUTES,
            HistoryRange::Week => 3_600,
            HistoryRange::Month => 86_400,
        }
    }
}

const FIVE_MINUTES: i64 = 300;

/// The cycles of one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySample {
    /// The bucket's start, stored form (UTC).
    pub at: String,
    pub cycles: i64,
    /// Cycles in which Cablecast answered.
    pub reachable_cycles: i64,
    pub sync_avg: f64,
    pub sync_min: f64,
    pub sync_max: f64,
}

/// The samples of one range, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub range: HistoryRange,
    /// Start of the range, stored form.
    pub since: String,
    pub samples: Vec<HistorySample>,
}

impl History {
    /// Cycles in which Cablecast answered, as a percentage of all cycles in
    /// the range (`None` without cycles), rounded to 2 decimals.
    pub fn uptime_percentage(&self) -> Option<f64> {
        let cycles: i64 = self.samples.iter().map(|s| s.cycles).sum();
        let up: i64 = self.samples.iter().map(|s| s.reachable_cycles).sum();
        (cycles > 0).then(|| (up as f64 * 10_000.0 / cycles as f64).round() / 100.0)
    }
}

/// Raw cycles grouped into five-minute buckets.
const DAY_SQL: &str = "
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', CAST(strftime('%s', finished_at) AS INTEGER) / 300 * 300,
        'unixepoch') AS bucket,
    count(*), sum(cablecast_reachable != 0), avg(sync_percentage), min(sync_percentage),
    max(sync_percentage)
FROM monitor_cycle WHERE finished_at >= ?1 GROUP BY bucket ORDER BY bucket";

const WEEK_SQL: &str = "
SELECT bucket, cycles, reachable_cycles, sync_sum / cycles, sync_min, sync_max
FROM monitor_hourly WHERE bucket >= ?1 ORDER BY bucket";

const MONTH_SQL: &str = "
SELECT bucket, cycles, reachable_cycles, sync_sum / cycles, sync_min, sync_max
FROM monitor_daily WHERE bucket >= ?1 ORDER BY bucket";

/// The daily rollup keeps the newest successful cycle of each day for 400
/// days, so this finds it even after raw cycles are pruned.
const LAST_SUCCESS_SQL: &str = "SELECT max(last_reachable_at) FROM monitor_daily";

impl Store {
    /// The history of `range`, ending now.
    pub fn history(&self, range: HistoryRange) -> Result<History, StoreError> {
        let now = clock::unix_now();
        // Buckets start on their boundary, so the first one may begin before
        // the range does; it is included whole.
        let since_secs = (now - range.span_secs()) / range.bucket_secs() * range.bucket_secs();
        let since = clock::format_unix(since_secs);
        let sql = match range {
            HistoryRange::Day => DAY_SQL,
            HistoryRange::Week => WEEK_SQL,
            HistoryRange::Month => MONTH_SQL,
        };
        let samples = self.read("reading the monitor's history", |conn| {
            let mut select = conn.prepare_cached(sql)?;
            let rows = select.query_map(params![since], |row| {
                Ok(HistorySample {
                    at: row.get(0)?,
                    cycles: row.get(1)?,
                    reachable_cycles: row.get(2)?,
                    sync_avg: row.get(3)?,
                    sync_min: row.get(4)?,
                    sync_max: row.get(5)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(History {
            range,
            since,
            samples,
        })
    }

    /// When a cycle last reached Cablecast, if one ever did (within the
    /// daily rollup's 400 days).
    pub fn last_success_at(&self) -> Result<Option<String>, StoreError> {
        self.read("reading the last successful cycle", |conn| {
            conn.prepare_cached(LAST_SUCCESS_SQL)?
                .query_row([], |row| row.get::<_, Option<String>>(0))
                .optional()
                .map(Option::flatten)
        })
    }
}
