//! Shows that aired and have no VOD: the rows behind the `vod_missing`
//! alert (`alert::watch`).
//!
//! Every read here is a range of `idx_show_event_date` (the shows whose
//! event falls in a window), or shows by id; whether a show has a VOD is one
//! probe of `idx_vod_show` per show. None reads the catalogue: a station
//! airing 20 shows a day reads about 280 index entries for a 14-day window.

use rusqlite::params;

use super::{Store, StoreError};

/// A show as the `vod_missing` alert sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiredShow {
    /// The show's id in Cablecast (the alert's subject).
    pub cablecast_id: i64,
    pub title: String,
    pub cg_title: Option<String>,
    /// UTC, as stored.
    pub event_date: String,
    /// Any VOD of the show, whatever its state (a failed or stuck one is
    /// another alert's business).
    pub has_vod: bool,
}

/// The shows of a window that have no VOD (see [`Store::aired_without_vod`]).
const WITHOUT_VOD: &str = "SELECT s.cablecast_id, s.title, s.cg_title, s.event_date,
    EXISTS (SELECT 1 FROM cablecast_vod v WHERE v.show_id = s.id)
 FROM cablecast_show s INDEXED BY idx_show_event_date
 WHERE s.event_date >= ?1 AND s.event_date <= ?2
    AND NOT EXISTS (SELECT 1 FROM cablecast_vod v WHERE v.show_id = s.id)
 ORDER BY s.event_date, s.cablecast_id LIMIT ?3";

const COLUMNS: &str = "s.cablecast_id, s.title, s.cg_title, s.event_date,
    EXISTS (SELECT 1 FROM cablecast_vod v WHERE v.show_id = s.id)";

fn aired_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AiredShow> {
    Ok(AiredShow {
        cablecast_id: row.get(0)?,
        title: row.get(1)?,
        cg_title: row.get(2)?,
        event_date: row.get(3)?,
        has_vod: row.get(4)?,
    })
}

impl Store {
    /// Up to `limit` shows whose event is in `from..=until` (stored UTC
    /// times) and that have no VOD, oldest event first. Cost: the window's
    /// range of `idx_show_event_date`, one `idx_vod_show` probe per show in
    /// it.
    pub fn aired_without_vod(
        &self,
        from: &str,
        until: &str,
        limit: usize,
    ) -> Result<Vec<AiredShow>, StoreError> {
        self.read("reading shows that aired with no VOD", |conn| {
            let mut select = conn.prepare_cached(WITHOUT_VOD)?;
            let rows = select.query_map(params![from, until, limit as i64], aired_from_row)?;
            rows.collect()
        })
    }

    /// Up to `limit` shows whose event is in `from..until`, newest first,
    /// with whether each has a VOD: the earlier episodes a series is judged
    /// on. Cost: the window's range of `idx_show_event_date`.
    pub fn aired_between(
        &self,
        from: &str,
        until: &str,
        limit: usize,
    ) -> Result<Vec<AiredShow>, StoreError> {
        self.read("reading earlier episodes", |conn| {
            let mut select = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM cablecast_show s INDEXED BY idx_show_event_date
                 WHERE s.event_date >= ?1 AND s.event_date < ?2
                 ORDER BY s.event_date DESC, s.cablecast_id DESC LIMIT ?3"
            ))?;
            let rows = select.query_map(params![from, until, limit as i64], aired_from_row)?;
            rows.collect()
        })
    }

    /// These shows (by Cablecast id) as they are now; a show gone is not
    /// listed. Cost: one `idx_show_cablecast_id` probe each.
    pub fn aired_shows(&self, cablecast_ids: &[i64]) -> Result<Vec<AiredShow>, StoreError> {
        let ids = serde_json::Value::from(cablecast_ids).to_string();
        self.read("reading shows by id", |conn| {
            let mut select = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM cablecast_show s
                 WHERE s.cablecast_id IN (SELECT value FROM json_each(?1))
                    AND s.event_date IS NOT NULL"
            ))?;
            let rows = select.query_map([ids], aired_from_row)?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::WITHOUT_VOD;
    use crate::store::{Access, Store};

    #[test]
    fn the_window_is_read_from_the_event_date_index_not_the_catalogue() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("missing.db"), Access::ReadWrite).expect("opens");
        store
            .write_rows_for_tests(
                "INSERT INTO cablecast_show (id, cablecast_id, title, event_date) VALUES
                    (1, 11, 'Council - 12/1/2026', '2026-12-01T23:30:00Z'),
                    (2, 12, 'Council - 12/3/2026', '2026-12-03T23:30:00Z'),
                    (3, 13, 'Council - 11/1/2026', '2026-11-01T23:30:00Z');
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (5, 1, 'complete');",
            )
            .expect("written");
        let missing = store
            .aired_without_vod("2026-11-20T00:00:00Z", "2026-12-05T00:00:00Z", 10)
            .expect("reads");
        assert_eq!(
            missing.iter().map(|s| s.cablecast_id).collect::<Vec<_>>(),
            [12]
        );
        let before = store
            .aired_between("2026-10-01T00:00:00Z", "2026-12-03T23:30:00Z", 10)
            .expect("reads");
        assert_eq!(
            before
                .iter()
                .map(|s| (s.cablecast_id, s.has_vod))
                .collect::<Vec<_>>(),
            [(11, true), (13, false)]
        );
        // The statement itself: a range of the event-date index, and a
        // covering probe of the VOD index per show; no scan of either table.
        let plan = store.query_plan(WITHOUT_VOD).expect("explained").join("\n");
        assert!(
            plan.contains(
                "SEARCH s USING INDEX idx_show_event_date (event_date>? AND event_date<?)"
            ),
            "{plan}"
        );
        assert!(plan.contains("idx_vod_show"), "{plan}");
        assert!(!plan.contains("SCAN"), "{plan}");
    }
}
