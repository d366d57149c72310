//! The sync figures in one SQL statement: VODs by state, shows, and
//! transcription counts, plus the watch connection's data version so a cached
//! copy can tell cheaply whether it is still current.

use rusqlite::params;

use super::{Store, StoreError};
use crate::clock;
use crate::vod::{StateGroup, VodState};

/// How far the station's VOD sync is.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStats {
    /// VOD count for each of the nine known states, in `VodState::KNOWN`
    /// order; unrecognised states are counted as `unknown`.
    pub by_state: [(VodState, u64); 9],
    pub total_vods: u64,
    pub total_shows: u64,
    /// VODs in state `complete`.
    pub completed_vods: u64,
    /// VODs in an in-flight state.
    pub pending_vods: u64,
    /// VODs in `error` or `permanentFailure`.
    pub failed_vods: u64,
    /// VODs switched off in Cablecast (`disabled`): left out of the sync
    /// percentage, since they are never meant to publish.
    pub disabled_vods: u64,
    pub transcriptions: TranscriptionCounts,
    /// The watch connection's `PRAGMA data_version` these figures were read at.
    pub data_version: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TranscriptionCounts {
    /// Current results (files a scan found gone are not counted).
    pub total: u64,
    /// Completed in the last 24 hours.
    pub last_24h: u64,
    pub linked_to_show: u64,
    /// Results with status `failed`.
    pub failed: u64,
    /// Current results no show is linked to.
    pub unlinked: u64,
}

impl SyncStats {
    /// complete / (total - disabled) * 100, rounded to 2 decimals; 0 when
    /// there are no VODs that are not disabled. Disabled VODs are switched
    /// off on purpose and never publish: counting them would keep the figure
    /// below 100 % forever.
    pub fn sync_percentage(&self) -> f64 {
        let publishable = self.total_vods.saturating_sub(self.disabled_vods);
        if publishable == 0 {
            return 0.0;
        }
        (self.completed_vods as f64 * 10_000.0 / publishable as f64).round() / 100.0
    }

    pub fn count(&self, state: &VodState) -> u64 {
        let state = state.counted_as();
        self.by_state
            .iter()
            .find(|(known, _)| *known == state)
            .map_or(0, |(_, n)| *n)
    }
}

/// Row kinds of the aggregate below.
const KIND_VOD_STATE: i64 = 0;
const KIND_SHOWS: i64 = 1;
const KIND_TX_TOTAL: i64 = 2;
const KIND_TX_RECENT: i64 = 3;
const KIND_TX_LINKED: i64 = 4;
const KIND_DATA_VERSION: i64 = 5;
const KIND_TX_FAILED: i64 = 6;
const KIND_TX_UNLINKED: i64 = 7;

/// One statement for every figure. The VOD part is a GROUP BY over
/// `idx_vod_state` (a covering index scan, no table reads); the data version
/// is read inside the same statement, hence from the same snapshot. The
/// transcription counts share one pass over the results (`tx`, materialised
/// once); the 24-hour count is a range on `idx_transcription_completed`;
/// "needs captions" walks shows through `idx_vod_show` and
/// `idx_transcription_show`.
pub(super) const SYNC_STATS_SQL: &str = "
WITH tx AS MATERIALIZED (
    SELECT count(*) AS total, coalesce(sum(show_id IS NOT NULL), 0) AS linked,
        coalesce(sum(status = 'failed'), 0) AS failed
    FROM transcription_result WHERE removed_at IS NULL)
SELECT 0, vod_state, count(*) FROM cablecast_vod GROUP BY vod_state
UNION ALL SELECT 1, NULL, count(*) FROM cablecast_show
UNION ALL SELECT 2, NULL, total FROM tx
UNION ALL SELECT 3, NULL, count(*) FROM transcription_result
    -- The unary pluses keep the planner on the time range
    -- (idx_transcription_completed) rather than the status index.
    WHERE completed_at >= ?1 AND +status = 'completed' AND +removed_at IS NULL
UNION ALL SELECT 4, NULL, linked FROM tx
UNION ALL SELECT 5, NULL, data_version FROM pragma_data_version
UNION ALL SELECT 6, NULL, failed FROM tx
UNION ALL SELECT 7, NULL, total - linked FROM tx";

pub(super) const DAY_SECS: i64 = 86_400;

impl Store {
    /// Reads the sync figures (uncached: callers go through `status`).
    pub fn sync_stats(&self) -> Result<SyncStats, StoreError> {
        let since = clock::format_unix(clock::unix_now() - DAY_SECS);
        self.watch("computing sync stats", |conn| {
            let mut stats = SyncStats {
                by_state: VodState::KNOWN.map(|state| (state, 0)),
                total_vods: 0,
                total_shows: 0,
                completed_vods: 0,
                pending_vods: 0,
                failed_vods: 0,
                disabled_vods: 0,
                transcriptions: TranscriptionCounts::default(),
                data_version: 0,
            };
            let mut select = conn.prepare_cached(SYNC_STATS_SQL)?;
            let mut rows = select.query(params![since])?;
            while let Some(row) = rows.next()? {
                let kind: i64 = row.get(0)?;
                let n: i64 = row.get(2)?;
                let count = n.max(0) as u64;
                match kind {
                    KIND_VOD_STATE => {
                        let state = VodState::from_cablecast(&row.get::<_, String>(1)?);
                        stats.total_vods += count;
                        match state.group() {
                            StateGroup::Finished => stats.completed_vods += count,
                            StateGroup::InFlight => stats.pending_vods += count,
                            StateGroup::Failed => stats.failed_vods += count,
                            StateGroup::Disabled => stats.disabled_vods += count,
                        }
                        let counted = state.counted_as();
                        if let Some(slot) = stats.by_state.iter_mut().find(|(s, _)| *s == counted) {
                            slot.1 += count;
                        }
                    }
                    KIND_SHOWS => stats.total_shows = count,
                    KIND_TX_TOTAL => stats.transcriptions.total = count,
                    KIND_TX_RECENT => stats.transcriptions.last_24h = count,
                    KIND_TX_LINKED => stats.transcriptions.linked_to_show = count,
                    KIND_DATA_VERSION => stats.data_version = n,
                    KIND_TX_FAILED => stats.transcriptions.failed = count,
                    KIND_TX_UNLINKED => stats.transcriptions.unlinked = count,
                    _ => {}
                }
            }
            Ok(stats)
        })
    }
}
