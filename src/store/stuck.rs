//! Stuck VODs: in flight for longer than their state's threshold
//! ([`crate::stuck::StuckAfter`]), counted and listed from
//! `idx_vod_state_since` without reading any other VOD.
//!
//! A VOD's time in its state runs from `state_changed_at`: Cablecast's
//! `stateChange` when it sends one, else the first cycle that saw the VOD in
//! that state. A VOD without that time is never counted as stuck.

use rusqlite::{params_from_iter, Connection};

use super::vod_lists::{entry_from_row, ENTRY_SELECT, IN_FLIGHT_WHERE};
use super::{Store, StoreError, VodEntry};
use crate::clock;
use crate::stuck::StuckAfter;

/// The known states in SQLite's binary text order. The gaps between them
/// are the states Cablecast may add later, which count as `unknown`.
const KNOWN_IN_ORDER: [&str; 9] = [
    "complete",
    "disabled",
    "error",
    "partial",
    "permanentFailure",
    "processing",
    "queued",
    "unknown",
    "waiting",
];

/// `WHERE` for stuck VODs: `?1`..`?5` are the cutoffs of queued, processing,
/// partial, waiting and unknown (`stuck::STATES` order). Each term is one
/// range of `idx_vod_state_since`, so SQLite unions a few index ranges; the
/// unrecognised states are the gaps between the known names.
pub(super) fn stuck_where() -> String {
    let mut terms = vec![
        "(v.vod_state = 'queued' AND v.state_changed_at < ?1)".to_string(),
        "(v.vod_state = 'processing' AND v.state_changed_at < ?2)".to_string(),
        "(v.vod_state = 'partial' AND v.state_changed_at < ?3)".to_string(),
        "(v.vod_state = 'waiting' AND v.state_changed_at < ?4)".to_string(),
        "(v.vod_state = 'unknown' AND v.state_changed_at < ?5)".to_string(),
    ];
    terms.push(format!(
        "(v.vod_state < '{}' AND v.state_changed_at < ?5)",
        KNOWN_IN_ORDER[0]
    ));
    for pair in KNOWN_IN_ORDER.windows(2) {
        terms.push(format!(
            "(v.vod_state > '{}' AND v.vod_state < '{}' AND v.state_changed_at < ?5)",
            pair[0], pair[1]
        ));
    }
    terms.push(format!(
        "(v.vod_state > '{}' AND v.state_changed_at < ?5)",
        KNOWN_IN_ORDER[KNOWN_IN_ORDER.len() - 1]
    ));
    format!("WHERE {}", terms.join("\n    OR "))
}

/// The stored timestamps before which a VOD in each state is stuck, `?1`..`?5`.
pub(super) fn cutoffs(thresholds: &StuckAfter, now_unix: i64) -> Vec<String> {
    thresholds
        .per_state()
        .iter()
        .map(|(_, threshold)| clock::format_unix(now_unix - threshold.as_secs() as i64))
        .collect()
}

impl Store {
    /// How many VODs are stuck at `now_unix`.
    pub fn count_stuck(&self, thresholds: &StuckAfter, now_unix: i64) -> Result<u64, StoreError> {
        let sql = format!("SELECT count(*) FROM cablecast_vod v {}", stuck_where());
        let cutoffs = cutoffs(thresholds, now_unix);
        self.read("counting stuck VODs", |conn| {
            let n: i64 = conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(&cutoffs), |row| row.get(0))?;
            Ok(n.max(0) as u64)
        })
    }

    /// Up to `limit` stuck VODs, longest in their state first.
    pub fn stuck_entries(
        &self,
        thresholds: &StuckAfter,
        now_unix: i64,
        limit: usize,
    ) -> Result<Vec<VodEntry>, StoreError> {
        let sql = format!(
            "{ENTRY_SELECT} {} ORDER BY v.state_changed_at, v.id LIMIT {limit}",
            stuck_where()
        );
        let cutoffs = cutoffs(thresholds, now_unix);
        self.read("listing stuck VODs", |conn| {
            let mut select = conn.prepare_cached(&sql)?;
            let rows = select.query_map(params_from_iter(&cutoffs), entry_from_row)?;
            rows.collect()
        })
    }

    /// When the VOD longest in flight entered its state (stored form), if
    /// any VOD is in flight.
    pub fn oldest_in_flight_since(&self) -> Result<Option<String>, StoreError> {
        self.read("finding the oldest VOD in flight", oldest_in_flight_since)
    }
}

fn oldest_in_flight_since(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(&format!(
        "SELECT min(v.state_changed_at) FROM cablecast_vod v {IN_FLIGHT_WHERE}"
    ))?
    .query_row([], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Access;

    const NOW: i64 = 1_790_000_000;
    const HOUR: i64 = 3600;

    /// A store holding one VOD per (id, state, hours in that state).
    fn store_with(vods: &[(i64, &str, Option<i64>)]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("stuck.db"), Access::ReadWrite).expect("opens");
        store
            .write("adding VODs", |conn| {
                for (id, state, hours) in vods {
                    let since = hours.map(|h| clock::format_unix(NOW - h * HOUR));
                    conn.execute(
                        "INSERT INTO cablecast_vod (id, vod_state, state_changed_at) VALUES (?1, ?2, ?3)",
                        rusqlite::params![id, state, since],
                    )?;
                }
                Ok(())
            })
            .expect("written");
        (dir, store)
    }

    #[test]
    fn a_vod_is_stuck_past_its_states_threshold_only() {
        let (_dir, store) = store_with(&[
            (1, "queued", Some(3)),      // > 2 h: stuck
            (2, "queued", Some(1)),      // not yet
            (3, "processing", Some(7)),  // > 6 h: stuck
            (4, "processing", Some(5)),  // not yet
            (5, "waiting", Some(23)),    // < 24 h
            (6, "waiting", Some(30)),    // stuck
            (7, "transcoding", Some(8)), // unrecognised: as unknown, > 6 h
            (8, "error", Some(500)),     // failed, never stuck
            (9, "complete", Some(500)),  // finished
            (10, "disabled", Some(500)), // switched off
            (11, "processing", None),    // no time known: never stuck
            (12, "zzz", Some(7)),        // unrecognised, after every known name
            (13, "Complete", Some(7)),   // unrecognised, before every known name
        ]);
        let thresholds = StuckAfter::default();
        assert_eq!(store.count_stuck(&thresholds, NOW).expect("count"), 6);
        let ids: Vec<i64> = store
            .stuck_entries(&thresholds, NOW, 10)
            .expect("list")
            .iter()
            .map(|e| e.id)
            .collect();
        // Longest in its state first.
        assert_eq!(ids, vec![6, 7, 3, 12, 13, 1]);
        assert_eq!(
            store
                .stuck_entries(&thresholds, NOW, 2)
                .expect("list")
                .len(),
            2
        );
        assert_eq!(
            store.oldest_in_flight_since().expect("oldest"),
            Some(clock::format_unix(NOW - 30 * HOUR))
        );
        let strict = StuckAfter::parse("1h").expect("valid");
        assert_eq!(store.count_stuck(&strict, NOW).expect("count"), 8);
    }

    #[test]
    fn stuck_vods_are_found_from_the_index_alone() {
        let (_dir, store) = store_with(&[]);
        for sql in [
            format!("SELECT count(*) FROM cablecast_vod v {}", stuck_where()),
            format!("SELECT min(v.state_changed_at) FROM cablecast_vod v {IN_FLIGHT_WHERE}"),
        ] {
            let plan = store.query_plan(&sql).expect("plan").join("\n");
            assert!(plan.contains("idx_vod_state_since"), "{sql}\n{plan}");
            assert!(!plan.contains("SCAN v"), "scans the VODs:\n{plan}");
        }
    }

    #[test]
    fn the_known_states_are_in_binary_order_and_complete() {
        let mut sorted = KNOWN_IN_ORDER;
        sorted.sort_unstable();
        assert_eq!(sorted, KNOWN_IN_ORDER);
        for state in crate::vod::VodState::KNOWN {
            assert!(KNOWN_IN_ORDER.contains(&state.as_str()), "{state}");
        }
    }
}
