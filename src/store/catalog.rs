//! Shows and VODs: catalogue upserts, removal after a complete pass, and the
//! in-flight refresh's reads and batched writes.

use rusqlite::{params, Connection, Row};

use super::vod_events::{self, VodEvent};
use super::{Store, StoreError};
use crate::clock;
use crate::vod::{Show, Vod, VodState};

/// What one refreshed VOD does to the database.
// Most outcomes are `Changed`, and a batch lives for one write: boxing each
// VOD would only add an allocation per VOD.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// Cablecast answered: store the VOD as it now is.
    Changed(Vod),
    /// Cablecast says the VOD no longer exists (HTTP 404): remove it.
    Gone(i64),
}

/// The VOD columns read back as a [`Vod`], in this order (a macro, so the
/// queries below can be built from it at compile time).
macro_rules! vod_columns {
    () => {
        "id, show_cablecast_id, vod_state, percent_complete, error_message, url, \
         length, quality, file_name, state_changed_at, is_watchable, disabled, status_message"
    };
}

pub(super) const VOD_COLUMNS: &str = vod_columns!();

/// Terminal states; every other state, including ones Cablecast adds later,
/// is re-checked each cycle. The WHERE clause is word for word that of
/// `idx_vod_in_flight` in schema.sql, so SQLite uses that index.
pub(super) const IN_FLIGHT_SQL: &str = concat!(
    "SELECT ",
    vod_columns!(),
    " FROM cablecast_vod \
     WHERE vod_state NOT IN ('complete', 'error', 'permanentFailure', 'disabled') ORDER BY id"
);

pub(super) fn vod_from_row(row: &Row<'_>) -> rusqlite::Result<Vod> {
    let state: String = row.get(2)?;
    Ok(Vod {
        id: row.get(0)?,
        show_cablecast_id: row.get(1)?,
        state: VodState::from_cablecast(&state),
        percent_complete: row.get(3)?,
        error_message: row.get(4)?,
        url: row.get(5)?,
        length: row.get(6)?,
        quality: row.get(7)?,
        file_name: row.get(8)?,
        state_changed_at: row.get(9)?,
        is_watchable: row.get(10)?,
        disabled: row.get(11)?,
        status_message: row.get(12)?,
    })
}

/// Inserts or updates one VOD. `updated_at` moves only when something
/// changed; `state_changed_at` takes Cablecast's `stateChange` when sent, and
/// otherwise the moment Archivist saw the state change, and
/// `state_changed_source` says which ('cablecast' or 'observed'). With
/// `pass` set, the row is marked as listed by that catalogue pass. With
/// `only_known_shows`, a VOD whose show is not in the catalogue is skipped
/// (location filter). A change of state also writes a `vod_event` row (the
/// `cablecast_vod_state_event` trigger, in this same statement).
const UPSERT_VOD: &str = "
INSERT INTO cablecast_vod (id, show_id, show_cablecast_id, vod_state, percent_complete,
    error_message, url, length, quality, file_name, state_changed_at, is_watchable, disabled,
    seen_pass, created_at, updated_at, state_changed_source, status_message)
SELECT ?1, s.id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, coalesce(?10, ?13), ?11, ?12, coalesce(?14, 0), ?13, ?13,
    CASE WHEN ?10 IS NULL THEN 'observed' ELSE 'cablecast' END, ?16
FROM (SELECT 1) LEFT JOIN cablecast_show s ON s.cablecast_id = ?2
WHERE ?15 = 0 OR s.id IS NOT NULL
ON CONFLICT(id) DO UPDATE SET
    show_id = excluded.show_id,
    show_cablecast_id = excluded.show_cablecast_id,
    state_changed_at = coalesce(?10,
        CASE WHEN vod_state IS excluded.vod_state THEN state_changed_at ELSE ?13 END),
    state_changed_source = CASE WHEN ?10 IS NOT NULL THEN 'cablecast'
        WHEN vod_state IS excluded.vod_state THEN state_changed_source ELSE 'observed' END,
    status_message = excluded.status_message,
    updated_at = CASE WHEN vod_state IS excluded.vod_state
            AND percent_complete IS excluded.percent_complete
            AND error_message IS excluded.error_message AND url IS excluded.url
            AND length IS excluded.length AND quality IS excluded.quality
            AND file_name IS excluded.file_name AND is_watchable IS excluded.is_watchable
            AND disabled IS excluded.disabled AND show_id IS excluded.show_id
            AND status_message IS excluded.status_message
        THEN updated_at ELSE ?13 END,
    vod_state = excluded.vod_state,
    percent_complete = excluded.percent_complete,
    error_message = excluded.error_message,
    url = excluded.url,
    length = excluded.length,
    quality = excluded.quality,
    file_name = excluded.file_name,
    is_watchable = excluded.is_watchable,
    disabled = excluded.disabled,
    status_message = excluded.status_message,
    seen_pass = coalesce(?14, seen_pass)";

const UPSERT_SHOW: &str = "
INSERT INTO cablecast_show (cablecast_id, location_id, title, cg_title, event_date,
    last_modified, total_run_time, seen_pass, created_at, updated_at, has_captions,
    caption_provider)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, 0), ?9, ?9, ?10, ?11)
ON CONFLICT(cablecast_id) DO UPDATE SET
    updated_at = CASE WHEN location_id IS excluded.location_id AND title IS excluded.title
            AND cg_title IS excluded.cg_title AND event_date IS excluded.event_date
            AND last_modified IS excluded.last_modified
            AND total_run_time IS excluded.total_run_time
            AND has_captions IS excluded.has_captions
            AND caption_provider IS excluded.caption_provider
        THEN updated_at ELSE ?9 END,
    location_id = excluded.location_id,
    title = excluded.title,
    cg_title = excluded.cg_title,
    event_date = excluded.event_date,
    last_modified = excluded.last_modified,
    total_run_time = excluded.total_run_time,
    has_captions = excluded.has_captions,
    caption_provider = excluded.caption_provider,
    seen_pass = coalesce(?8, seen_pass)";

/// Inserts or updates one show. With `pass` set, the row is marked as listed
/// by that catalogue pass; without, its mark stays.
fn upsert_show(
    conn: &Connection,
    show: &Show,
    pass: Option<i64>,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(UPSERT_SHOW)?.execute(params![
        show.cablecast_id,
        show.location_id,
        show.title,
        show.cg_title,
        show.event_date,
        show.last_modified,
        show.total_run_time,
        pass,
        now,
        show.has_captions,
        show.caption_provider,
    ])
}

fn upsert_vod(
    conn: &Connection,
    vod: &Vod,
    pass: Option<i64>,
    only_known_shows: bool,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(UPSERT_VOD)?.execute(params![
        vod.id,
        vod.show_cablecast_id,
        vod.state.as_str(),
        vod.percent_complete,
        vod.error_message,
        vod.url,
        vod.length,
        vod.quality,
        vod.file_name,
        vod.state_changed_at,
        vod.is_watchable,
        vod.disabled,
        now,
        pass,
        only_known_shows,
        vod.status_message,
    ])
}

impl Store {
    /// Starts a catalogue pass and returns its number. Rows a complete pass
    /// did not list are removed by [`Store::remove_unlisted_shows`] and
    /// [`Store::remove_unlisted_vods`].
    pub fn begin_catalog_pass(&self) -> Result<i64, StoreError> {
        self.write("starting a catalogue pass", |conn| {
            conn.execute(
                "INSERT INTO archivist_meta (key, value) VALUES ('catalog_pass', '1')
                 ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                [],
            )?;
            conn.query_row(
                "SELECT CAST(value AS INTEGER) FROM archivist_meta WHERE key = 'catalog_pass'",
                [],
                |row| row.get(0),
            )
        })
    }

    /// Upserts one page of shows in one transaction.
    pub fn upsert_shows(&self, shows: &[Show], pass: i64) -> Result<(), StoreError> {
        let now = clock::now();
        self.write("saving a page of shows", |conn| {
            for show in shows {
                upsert_show(conn, show, Some(pass), &now)?;
            }
            Ok(())
        })
    }

    /// Upserts one page of VODs in one transaction. With `only_known_shows`,
    /// VODs of shows outside the catalogue are skipped; returns the state
    /// changes the page recorded.
    pub fn upsert_vods(
        &self,
        vods: &[Vod],
        pass: i64,
        only_known_shows: bool,
    ) -> Result<Vec<VodEvent>, StoreError> {
        let now = clock::now();
        self.write("saving a page of VODs", |conn| {
            let before = vod_events::last_event_id(conn)?;
            for vod in vods {
                upsert_vod(conn, vod, Some(pass), only_known_shows, &now)?;
            }
            vod_events::events_after(conn, before)
        })
    }

    /// Saves changed shows and their VODs (read between catalogue passes)
    /// in one transaction, leaving every row's catalogue pass mark as it
    /// was. With `only_known_shows`, VODs of shows outside the catalogue are
    /// skipped. Returns how many VODs were stored.
    pub fn save_changed_shows(
        &self,
        shows: &[Show],
        vods: &[Vod],
        only_known_shows: bool,
    ) -> Result<usize, StoreError> {
        let now = clock::now();
        self.write("saving changed shows", |conn| {
            for show in shows {
                upsert_show(conn, show, None, &now)?;
            }
            let mut stored = 0;
            for vod in vods {
                stored += upsert_vod(conn, vod, None, only_known_shows, &now)?;
            }
            Ok(stored)
        })
    }

    /// The newest `last_modified` of any stored show: where a look for
    /// changes starts.
    pub fn newest_show_change(&self) -> Result<Option<String>, StoreError> {
        self.read("finding the newest show change", |conn| {
            conn.query_row("SELECT max(last_modified) FROM cablecast_show", [], |row| {
                row.get(0)
            })
        })
    }

    /// The ids among `ids` of no stored show.
    pub fn shows_not_stored(&self, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        self.read("finding shows not stored", |conn| {
            let mut select =
                conn.prepare_cached("SELECT 1 FROM cablecast_show WHERE cablecast_id = ?1")?;
            let mut missing = Vec::new();
            for id in ids {
                if !select.exists([id])? {
                    missing.push(id);
                }
            }
            Ok(missing)
        })
    }

    /// Removes the shows a complete pass did not list; returns how many.
    pub fn remove_unlisted_shows(&self, pass: i64) -> Result<usize, StoreError> {
        self.write("removing shows Cablecast no longer lists", |conn| {
            conn.execute("DELETE FROM cablecast_show WHERE seen_pass <> ?1", [pass])
        })
    }

    /// Removes the VODs a complete pass did not list; returns how many.
    pub fn remove_unlisted_vods(&self, pass: i64) -> Result<usize, StoreError> {
        self.write("removing VODs Cablecast no longer lists", |conn| {
            conn.execute("DELETE FROM cablecast_vod WHERE seen_pass <> ?1", [pass])
        })
    }

    /// Every VOD whose state is not terminal, as stored now (so the monitor
    /// writes only what really changed).
    pub fn in_flight_vods(&self) -> Result<Vec<Vod>, StoreError> {
        self.read("listing in-flight VODs", |conn| {
            let mut select = conn.prepare_cached(IN_FLIGHT_SQL)?;
            let rows = select.query_map([], vod_from_row)?;
            rows.collect()
        })
    }

    /// The stored VODs among `ids`, by id (the failed VODs the monitor
    /// checks are still there).
    pub fn vods_with_ids(&self, ids: &[i64]) -> Result<Vec<Vod>, StoreError> {
        let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        self.read("reading VODs by id", |conn| {
            let mut select = conn.prepare_cached(concat!(
                "SELECT ",
                vod_columns!(),
                " FROM cablecast_vod WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id"
            ))?;
            let rows = select.query_map([ids], vod_from_row)?;
            rows.collect()
        })
    }

    /// Writes one batch of refresh results in one transaction; returns the
    /// state changes it recorded.
    pub fn apply_refresh(&self, batch: &[RefreshOutcome]) -> Result<Vec<VodEvent>, StoreError> {
        let now = clock::now();
        self.write("saving refreshed VOD states", |conn| {
            let before = vod_events::last_event_id(conn)?;
            for outcome in batch {
                match outcome {
                    RefreshOutcome::Changed(vod) => {
                        upsert_vod(conn, vod, None, false, &now)?;
                    }
                    RefreshOutcome::Gone(id) => {
                        conn.prepare_cached("DELETE FROM cablecast_vod WHERE id = ?1")?
                            .execute([id])?;
                    }
                }
            }
            vod_events::events_after(conn, before)
        })
    }
}
