//! The VOD lists the status page and the JSON API show: in-flight VODs
//! oldest first, failed VODs newest first, and the paged VOD listing
//! (streamed row by row from the cursor, never collected whole).

use rusqlite::{params, Row};

use super::{Store, StoreError};
use crate::vod::VodState;

/// One VOD as the page and the API list it, with its show's title.
#[derive(Debug, Clone, PartialEq)]
pub struct VodEntry {
    pub id: i64,
    pub show_cablecast_id: Option<i64>,
    /// The show's public title, else its internal one.
    pub show_title: Option<String>,
    /// As Cablecast sent it.
    pub state: String,
    pub percent_complete: Option<f64>,
    pub error_message: Option<String>,
    /// Cablecast's reason for the current state.
    pub status_message: Option<String>,
    pub url: Option<String>,
    pub length: Option<i64>,
    pub state_changed_at: Option<String>,
    pub updated_at: String,
    /// 'cablecast' (its stateChange) or 'observed' (the first cycle that
    /// saw the state: the VOD has been in it at least that long).
    pub state_changed_source: Option<String>,
}

pub(super) const ENTRY_SELECT: &str = "
SELECT v.id, v.show_cablecast_id, coalesce(s.cg_title, s.title), v.vod_state,
    v.percent_complete, v.error_message, v.url, v.length, v.state_changed_at, v.updated_at,
    v.state_changed_source, v.status_message
FROM cablecast_vod v LEFT JOIN cablecast_show s ON s.id = v.show_id";

/// Oldest first: the VOD stuck longest is the one staff need to see. A VOD
/// without a state change time sorts last.
///
/// "Not one of the four terminal states" written as the five ranges of
/// `idx_vod_state` between them (binary order: complete < disabled < error <
/// permanentFailure), so SQLite searches the index for the few VODs in
/// flight instead of scanning every VOD (3 ms instead of 30 ms at 100,000).
/// States Cablecast adds later fall in a range too, as they must.
pub(super) const IN_FLIGHT_WHERE: &str = "
WHERE v.vod_state < 'complete'
    OR (v.vod_state > 'complete' AND v.vod_state < 'disabled')
    OR (v.vod_state > 'disabled' AND v.vod_state < 'error')
    OR (v.vod_state > 'error' AND v.vod_state < 'permanentFailure')
    OR v.vod_state > 'permanentFailure'";

const IN_FLIGHT_ORDER: &str =
    " ORDER BY v.state_changed_at IS NULL, v.state_changed_at, v.id LIMIT ?1";

/// Newest failure first.
const FAILED_SQL: &str = "
WHERE v.vod_state IN ('error', 'permanentFailure')
ORDER BY v.state_changed_at IS NULL, v.state_changed_at DESC, v.id DESC LIMIT ?1";

const PAGE_ALL_SQL: &str = " ORDER BY v.id LIMIT ?1 OFFSET ?2";
const PAGE_STATE_SQL: &str = " WHERE v.vod_state = ?3 ORDER BY v.id LIMIT ?1 OFFSET ?2";

const COUNT_ALL_SQL: &str = "SELECT count(*) FROM cablecast_vod";
const COUNT_STATE_SQL: &str = "SELECT count(*) FROM cablecast_vod WHERE vod_state = ?1";

pub(super) fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<VodEntry> {
    Ok(VodEntry {
        id: row.get(0)?,
        show_cablecast_id: row.get(1)?,
        show_title: row.get(2)?,
        state: row.get(3)?,
        percent_complete: row.get(4)?,
        error_message: row.get(5)?,
        url: row.get(6)?,
        length: row.get(7)?,
        state_changed_at: row.get(8)?,
        updated_at: row.get(9)?,
        state_changed_source: row.get(10)?,
        status_message: row.get(11)?,
    })
}

impl Store {
    /// Up to `limit` in-flight VODs, oldest state change first.
    pub fn in_flight_entries(&self, limit: usize) -> Result<Vec<VodEntry>, StoreError> {
        let tail = format!("{IN_FLIGHT_WHERE}{IN_FLIGHT_ORDER}");
        self.entries("listing in-flight VODs for the page", &tail, limit)
    }

    /// Up to `limit` failed VODs, newest failure first.
    pub fn failed_entries(&self, limit: usize) -> Result<Vec<VodEntry>, StoreError> {
        self.entries("listing failed VODs for the page", FAILED_SQL, limit)
    }

    fn entries(&self, what: &str, tail: &str, limit: usize) -> Result<Vec<VodEntry>, StoreError> {
        let sql = format!("{ENTRY_SELECT} {tail}");
        self.read(what, |conn| {
            let mut select = conn.prepare_cached(&sql)?;
            let rows = select.query_map(params![limit as i64], entry_from_row)?;
            rows.collect()
        })
    }

    /// How many VODs are stored, in `state` when given (as stored, exactly).
    pub fn count_vods(&self, state: Option<&VodState>) -> Result<u64, StoreError> {
        self.read("counting VODs", |conn| {
            let n: i64 = match state {
                Some(state) => conn
                    .prepare_cached(COUNT_STATE_SQL)?
                    .query_row([state.as_str()], |row| row.get(0))?,
                None => conn
                    .prepare_cached(COUNT_ALL_SQL)?
                    .query_row([], |row| row.get(0))?,
            };
            Ok(n.max(0) as u64)
        })
    }

    /// Hands one page of VODs by id (in `state` when given) to `each`, row
    /// by row as the cursor reads them.
    pub fn each_vod(
        &self,
        state: Option<&VodState>,
        limit: usize,
        offset: u64,
        mut each: impl FnMut(&VodEntry),
    ) -> Result<(), StoreError> {
        self.read("listing VODs", |conn| {
            let limit = limit as i64;
            let offset = offset.min(i64::MAX as u64) as i64;
            let mut select;
            let mut rows = match state {
                Some(state) => {
                    select = conn.prepare_cached(&format!("{ENTRY_SELECT}{PAGE_STATE_SQL}"))?;
                    select.query(params![limit, offset, state.as_str()])?
                }
                None => {
                    select = conn.prepare_cached(&format!("{ENTRY_SELECT}{PAGE_ALL_SQL}"))?;
                    select.query(params![limit, offset])?
                }
            };
            while let Some(row) = rows.next()? {
                each(&entry_from_row(row)?);
            }
            Ok(())
        })
    }
}
