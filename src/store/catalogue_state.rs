//! How far the catalogue is known, kept in `archivist_meta` so every process
//! (and every restart) tells the same story: whether a complete catalogue
//! pass has ever finished on this database, the running pass's progress, and
//! the warning of a location filter that matches no show.
//!
//! What this module is not: it does not decide when a pass is complete (the
//! monitor's catalogue pass does) and it holds no figures.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::clock;

const COMPLETE_AT: &str = "catalogue_complete_at";
const PROGRESS: &str = "catalogue_progress";
const LOCATION_WARNING: &str = "location_warning";
const CHANGE_LOOK: &str = "change_look";

/// A catalogue pass as it goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogueProgress {
    /// What is being listed: `shows` or `VODs`.
    pub phase: String,
    pub pages_done: u64,
    /// From the server's `count`, when it gives one.
    pub pages_total: Option<u64>,
    pub listed: u64,
    pub total: Option<u64>,
    /// Unix seconds the pass, and its current phase, started.
    pub started_unix: i64,
    pub phase_started_unix: i64,
    /// Unix seconds of this note.
    pub noted_unix: i64,
}

impl CatalogueProgress {
    /// Seconds left in the current phase at the pace so far, once there is
    /// a pace to go by.
    pub fn seconds_left(&self) -> Option<i64> {
        let total = self.pages_total?;
        if self.pages_done == 0 {
            return None;
        }
        let spent = (self.noted_unix - self.phase_started_unix).max(0) as f64;
        let left = total.saturating_sub(self.pages_done) as f64;
        Some((spent / self.pages_done as f64 * left).round() as i64)
    }

    /// `VODs: page 12 of 33, about 2 min left`.
    pub fn describe(&self) -> String {
        let pages = match self.pages_total {
            Some(total) => format!("page {} of {total}", self.pages_done),
            None => format!("page {}", self.pages_done),
        };
        let left = match self.seconds_left() {
            Some(secs) if secs >= 60 => format!(", about {} left", clock::humanize_secs(secs)),
            Some(_) => ", less than a minute left".to_string(),
            None => String::new(),
        };
        format!("{}: {pages}{left}", self.phase)
    }
}

/// What `archivist_meta` says about the catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogueState {
    /// When the last complete pass finished; `None`: none ever has, so the
    /// figures cover only part of the station.
    pub complete_at: Option<String>,
    /// The pass under way (or the one a kill interrupted).
    pub progress: Option<CatalogueProgress>,
    /// A location filter that matched no show while the server has some.
    pub location_warning: Option<String>,
    /// How the monitor looks for changes on this server, in a few words.
    pub change_look: Option<String>,
}

impl Store {
    /// Notes how far the running pass is (one small write).
    pub fn note_catalogue_progress(&self, progress: &CatalogueProgress) -> Result<(), StoreError> {
        let value = serde_json::to_string(progress).unwrap_or_default();
        self.write("noting catalogue progress", |conn| {
            conn.prepare_cached(
                "INSERT INTO archivist_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![PROGRESS, value])
            .map(|_| ())
        })
    }

    /// Notes how the monitor looks for changes on this server (one small
    /// write, made when it changes).
    pub fn note_change_look(&self, way: &str) -> Result<(), StoreError> {
        self.write("noting how changes are looked for", |conn| {
            conn.prepare_cached(
                "INSERT INTO archivist_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![CHANGE_LOOK, way])
            .map(|_| ())
        })
    }

    /// Ends a pass: a complete one marks the catalogue complete; either way
    /// the progress note goes, and the location warning is set or cleared.
    pub fn finish_catalogue_pass(
        &self,
        complete: bool,
        location_warning: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = clock::now();
        self.write("finishing a catalogue pass", |conn| {
            let mut set = conn.prepare_cached(
                "INSERT INTO archivist_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?;
            if complete {
                set.execute(params![COMPLETE_AT, now])?;
            }
            match location_warning {
                Some(warning) => set.execute(params![LOCATION_WARNING, warning])?,
                None => conn
                    .prepare_cached("DELETE FROM archivist_meta WHERE key = ?1")?
                    .execute([LOCATION_WARNING])?,
            };
            conn.prepare_cached("DELETE FROM archivist_meta WHERE key = ?1")?
                .execute([PROGRESS])
                .map(|_| ())
        })
    }

    /// The catalogue's state, as the last pass left it.
    pub fn catalogue_state(&self) -> Result<CatalogueState, StoreError> {
        self.read("reading the catalogue's state", |conn| {
            let mut select =
                conn.prepare_cached("SELECT value FROM archivist_meta WHERE key = ?1")?;
            let mut get = |key: &str| {
                select
                    .query_row([key], |row| row.get::<_, String>(0))
                    .optional()
            };
            Ok(CatalogueState {
                complete_at: get(COMPLETE_AT)?,
                progress: get(PROGRESS)?.and_then(|text| serde_json::from_str(&text).ok()),
                location_warning: get(LOCATION_WARNING)?,
                change_look: get(CHANGE_LOOK)?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Access;

    #[test]
    fn a_pass_is_partial_until_one_completes() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("c.db"), Access::ReadWrite).expect("opens");
        assert_eq!(
            store.catalogue_state().expect("state"),
            CatalogueState::default()
        );
        let progress = CatalogueProgress {
            phase: "VODs".into(),
            pages_done: 12,
            pages_total: Some(33),
            listed: 1200,
            total: Some(3300),
            started_unix: 1000,
            phase_started_unix: 1000,
            noted_unix: 1120,
        };
        assert_eq!(progress.seconds_left(), Some(210));
        assert_eq!(progress.describe(), "VODs: page 12 of 33, about 3 min left");
        store.note_catalogue_progress(&progress).expect("noted");
        let state = store.catalogue_state().expect("state");
        assert_eq!(state.progress, Some(progress));
        assert_eq!(state.complete_at, None);
        // An incomplete pass leaves the catalogue partial.
        store
            .finish_catalogue_pass(false, Some("no show"))
            .expect("finished");
        let state = store.catalogue_state().expect("state");
        assert!(state.complete_at.is_none() && state.progress.is_none());
        assert_eq!(state.location_warning.as_deref(), Some("no show"));
        store.finish_catalogue_pass(true, None).expect("finished");
        let state = store.catalogue_state().expect("state");
        assert!(state.complete_at.is_some());
        assert_eq!(state.location_warning, None);
        store.note_change_look("saved show search").expect("noted");
        let state = store.catalogue_state().expect("state");
        assert_eq!(state.change_look.as_deref(), Some("saved show search"));
    }
}
