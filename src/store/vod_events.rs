//! Each VOD's history: the state changes the `cablecast_vod_state_event`
//! trigger records in `vod_event` (schema.sql), inside the very statement
//! that writes the VOD, and their retention (the `vod_event_retention`
//! trigger: at most 20 per VOD, 400 days, 200,000 in all).
//!
//! What this module is not: it decides nothing about what a change is (the
//! trigger does: the stored state differs from the one written) and it does
//! not log (the monitor logs each change the batch writes hand back).

use rusqlite::{params, Connection, Row};
use serde::Serialize;

use super::{Store, StoreError};

/// Newest events kept per VOD (the trigger's `OFFSET 20`).
pub const EVENTS_PER_VOD: usize = 20;
/// Days an event is kept (the trigger's `-400 days`).
pub const EVENT_DAYS: i64 = 400;
/// Events kept in all (the trigger's `NEW.id - 200000`).
pub const EVENTS_IN_ALL: i64 = 200_000;

/// One observed change of a VOD's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VodEvent {
    #[serde(skip)]
    pub id: i64,
    pub vod_id: i64,
    /// The state before; stored text, as Cablecast sent it.
    pub from: Option<String>,
    pub to: String,
    /// When the VOD entered `to` (UTC stored form).
    pub at: Option<String>,
    /// 'cablecast' (its stateChange) or 'observed' (the cycle that saw it).
    pub at_source: Option<String>,
    /// When Archivist wrote the change.
    pub observed_at: String,
    pub percent: Option<f64>,
    pub error_message: Option<String>,
    pub status_message: Option<String>,
}

impl VodEvent {
    /// The one log line of a change: `VOD 1247 processing -> error: Upload
    /// to store-3 timed out`.
    pub fn log_line(&self) -> String {
        let reason = self
            .error_message
            .as_deref()
            .or(self.status_message.as_deref())
            .filter(|r| !r.trim().is_empty());
        format!(
            "VOD {} {} -> {}{}",
            self.vod_id,
            self.from.as_deref().unwrap_or("(none)"),
            self.to,
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        )
    }
}

const EVENT_COLUMNS: &str = "id, vod_id, from_state, to_state, at, at_source, observed_at, \
     percent, error_message, status_message";

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<VodEvent> {
    Ok(VodEvent {
        id: row.get(0)?,
        vod_id: row.get(1)?,
        from: row.get(2)?,
        to: row.get(3)?,
        at: row.get(4)?,
        at_source: row.get(5)?,
        observed_at: row.get(6)?,
        percent: row.get(7)?,
        error_message: row.get(8)?,
        status_message: row.get(9)?,
    })
}

/// The newest event id, before a batch writes (inside its transaction).
pub(super) fn last_event_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM vod_event")?
        .query_row([], |row| row.get(0))
}

/// The events written after `after` (inside the batch's transaction): the
/// changes that batch made, oldest first.
pub(super) fn events_after(conn: &Connection, after: i64) -> rusqlite::Result<Vec<VodEvent>> {
    let mut select = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM vod_event WHERE id > ?1 ORDER BY id"
    ))?;
    let rows = select.query_map(params![after], event_from_row)?;
    rows.collect()
}

impl Store {
    /// A VOD's recorded changes, oldest first (one range of
    /// `idx_vod_event_vod`).
    pub fn vod_events(&self, vod_id: i64) -> Result<Vec<VodEvent>, StoreError> {
        self.read("reading a VOD's history", |conn| {
            let mut select = conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM vod_event WHERE vod_id = ?1 ORDER BY id"
            ))?;
            let rows = select.query_map(params![vod_id], event_from_row)?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::store::{Access, RefreshOutcome};
    use crate::vod::{Vod, VodState};

    fn vod(id: i64, state: VodState) -> Vod {
        Vod {
            id,
            show_cablecast_id: None,
            state,
            percent_complete: Some(0.5),
            error_message: None,
            url: None,
            length: None,
            quality: None,
            file_name: None,
            state_changed_at: None,
            is_watchable: false,
            disabled: false,
            status_message: None,
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("events.db"), Access::ReadWrite).expect("opens");
        (dir, store)
    }

    #[test]
    fn a_change_of_state_is_recorded_with_its_reason_and_first_sight_is_not() {
        let (_dir, store) = store();
        let first = store
            .apply_refresh(&[RefreshOutcome::Changed(vod(7, VodState::Processing))])
            .expect("written");
        assert!(first.is_empty(), "first sight is not a change: {first:?}");
        // Progress within a state is not a change either.
        let mut moved = vod(7, VodState::Processing);
        moved.percent_complete = Some(0.9);
        assert!(store
            .apply_refresh(&[RefreshOutcome::Changed(moved)])
            .expect("written")
            .is_empty());
        let mut failed = vod(7, VodState::Error);
        failed.error_message = Some("Upload to store-3 timed out".into());
        failed.state_changed_at = Some("2026-11-30T10:42:00Z".into());
        let changes = store
            .apply_refresh(&[RefreshOutcome::Changed(failed)])
            .expect("written");
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].log_line(),
            "VOD 7 processing -> error: Upload to store-3 timed out"
        );
        assert_eq!(changes[0].at.as_deref(), Some("2026-11-30T10:42:00Z"));
        assert_eq!(changes[0].at_source.as_deref(), Some("cablecast"));
        assert_eq!(store.vod_events(7).expect("history"), changes);
    }

    #[test]
    fn retention_bounds_each_vod_the_age_and_the_whole_log() {
        let (_dir, store) = store();
        // One VOD flipping 30 times keeps its newest 20 changes.
        store
            .apply_refresh(&[RefreshOutcome::Changed(vod(1, VodState::Queued))])
            .expect("written");
        for n in 0..30 {
            let state = if n % 2 == 0 {
                VodState::Processing
            } else {
                VodState::Queued
            };
            store
                .apply_refresh(&[RefreshOutcome::Changed(vod(1, state))])
                .expect("written");
        }
        let kept = store.vod_events(1).expect("history");
        assert_eq!(kept.len(), EVENTS_PER_VOD);
        assert_eq!(kept.last().map(|e| e.to.as_str()), Some("queued"));
        let count = |store: &Store| {
            store
                .read("counting", |c| {
                    c.query_row("SELECT count(*) FROM vod_event", [], |r| r.get::<_, i64>(0))
                })
                .expect("count")
        };
        // An event 401 days after the others ages them all out.
        store
            .write("a late event", |c| {
                c.execute(
                    "INSERT INTO vod_event (vod_id, to_state, observed_at) VALUES (2, 'error', '2099-01-01T00:00:00Z')",
                    [],
                )
            })
            .expect("written");
        assert_eq!(count(&store), 1);
        // The whole log is an id window: an event EVENTS_IN_ALL ids later
        // drops everything before the window.
        store
            .write("a much later event", |c| {
                c.execute(
                    "INSERT INTO vod_event (id, vod_id, to_state, observed_at) VALUES (?1, 3, 'error', '2099-01-02T00:00:00Z')",
                    [EVENTS_IN_ALL + 100],
                )
            })
            .expect("written");
        assert_eq!(count(&store), 1);
    }

    /// A year of a 100,000-VOD station, every VOD changing state five
    /// times (500,000 changes, far more than a station sees): the log ends
    /// at its bound, and the newest changes are the ones kept.
    #[test]
    fn a_year_of_a_large_station_stays_within_the_bound() {
        const VODS: i64 = 100_000;
        let (_dir, store) = store();
        store
            .write("adding a station", |conn| {
                conn.execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                     INSERT INTO cablecast_vod (id, vod_state, updated_at)
                     SELECT i, 'queued', '2026-01-01T00:00:00Z' FROM n",
                    [VODS],
                )
            })
            .expect("written");
        let start = clock::parse_stored("2026-01-01T00:00:00Z").expect("date");
        for round in 1..=5_i64 {
            // Every VOD changes state once in each fifth of the year, on
            // days spread through it.
            let at = clock::format_unix(start + round * 73 * 86_400);
            store
                .write("a fifth of a year", |conn| {
                    conn.execute(
                        "UPDATE cablecast_vod SET updated_at = ?1,
                            vod_state = CASE vod_state WHEN 'queued' THEN 'processing' ELSE 'queued' END",
                        [&at],
                    )
                })
                .expect("written");
        }
        let (count, oldest, newest_round): (i64, String, String) = store
            .read("measuring the log", |c| {
                c.query_row(
                    "SELECT count(*), min(observed_at), max(observed_at) FROM vod_event",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .expect("measured");
        assert!(count <= EVENTS_IN_ALL, "{count} events");
        assert_eq!(count, EVENTS_IN_ALL);
        assert_eq!(newest_round, clock::format_unix(start + 5 * 73 * 86_400));
        // The window kept the last two rounds: the oldest kept is round 4.
        assert_eq!(oldest, clock::format_unix(start + 4 * 73 * 86_400));
        assert!(store.vod_events(1).expect("history").len() <= EVENTS_PER_VOD);
    }

    #[test]
    fn pruning_and_history_use_indexes() {
        let (_dir, store) = store();
        for sql in [
            "SELECT id FROM vod_event WHERE vod_id = 1 ORDER BY id DESC LIMIT 1 OFFSET 20",
            "DELETE FROM vod_event WHERE observed_at < '2026-01-01T00:00:00Z'",
            "DELETE FROM vod_event WHERE id <= 5",
            "SELECT * FROM vod_event WHERE vod_id = 1 ORDER BY id",
        ] {
            let plan = store.query_plan(sql).expect("plan").join("\n");
            assert!(!plan.contains("SCAN vod_event"), "{sql}\n{plan}");
        }
    }
}
