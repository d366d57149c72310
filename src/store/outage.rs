//! Since when Cablecast has been unreachable, and the last cycle that
//! reached it (what the figures are "as of"), from the recorded cycles.

use super::{Store, StoreError};

/// An outage as the recorded cycles tell it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outage {
    /// The first failed cycle after the last good one (within the 48 hours
    /// of raw cycles kept; `None` when the outage began before them).
    pub since: Option<String>,
    /// When a cycle last reached Cablecast (within the daily rollup's 400
    /// days), if one ever did.
    pub last_good: Option<String>,
}

/// Walks back from the newest cycle (rowid order) to the last good one;
/// also says whether there is one among the raw cycles.
const FIRST_FAILED_SQL: &str = "
WITH good AS (SELECT id FROM monitor_cycle WHERE cablecast_reachable = 1 ORDER BY id DESC LIMIT 1)
SELECT (SELECT min(finished_at) FROM monitor_cycle
        WHERE id > coalesce((SELECT id FROM good), 0)),
    EXISTS (SELECT 1 FROM good)";

impl Store {
    /// The current outage's start and the last good cycle.
    pub fn outage(&self) -> Result<Outage, StoreError> {
        let (first_failed, good_in_raw) =
            self.read("reading when Cablecast became unreachable", |conn| {
                conn.prepare_cached(FIRST_FAILED_SQL)?.query_row([], |row| {
                    Ok((row.get::<_, Option<String>>(0)?, row.get::<_, bool>(1)?))
                })
            })?;
        let last_good = self.last_success_at()?;
        // With no good cycle among the raw ones, the first raw cycle is only
        // where the record starts, not where the outage did (unless no cycle
        // ever reached Cablecast).
        let since = if good_in_raw || last_good.is_none() {
            first_failed
        } else {
            None
        };
        Ok(Outage { since, last_good })
    }
}
