//! The incremental catalogue: between full catalogue passes, asks
//! Cablecast's saved show search for the shows modified since the newest
//! change already stored, reads those shows with their VODs sideloaded, by
//! `ids[]` in groups, and saves each group in one transaction. New meetings
//! and edited shows appear within a cycle instead of at the next full pass.
//!
//! It never removes anything: removals, and whatever the search cannot see
//! (a VOD changed without its show's `lastModified` moving), are the full
//! pass's. A server without the search, or one that ignores `ids[]` or
//! `include` on shows, is logged once and left to full passes until the
//! next full pass tries again.

use std::collections::HashMap;
use std::time::Duration;

use crate::cablecast::{id_groups, CablecastClient};
use crate::clock;
use crate::store::Store;
use crate::vod::{Show, Vod};

use super::CycleError;

/// How far before the newest stored change a look starts. Cablecast's
/// `lastModified` has milliseconds the store drops, and a show saved in a
/// transaction that commits after a search ran can carry an earlier time
/// than shows that search found; starting this early catches both, at the
/// cost of reading again the few shows changed in that window.
const MARGIN_SECS: i64 = 600;

/// What one look for changes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangesSummary {
    /// Shows the search named and that were saved.
    pub shows: usize,
    /// Their VODs saved.
    pub vods: usize,
}

/// The state of the incremental catalogue between cycles.
#[derive(Debug, Default)]
pub struct Changes {
    /// The newest show `lastModified` stored (Unix seconds), once known.
    cursor: Option<i64>,
    /// Set when the server cannot answer a look: no look until the next
    /// full pass.
    unsupported: bool,
    /// Whether that was logged: once per process, not after every pass.
    told: bool,
    /// Shows a look saved, with the `lastModified` saved, while it is
    /// within the margin: each look finds them again, and one unchanged
    /// since is not written again.
    saved: HashMap<i64, i64>,
}

impl Changes {
    /// A full pass ran: it is the moment to try the search again on a
    /// server that lacked it. `newest` is the newest show change it stored
    /// when it ended without error (every show it read was then saved), so
    /// the next look needs no read of the database; otherwise that look
    /// reads it.
    pub fn after_full_pass(&mut self, newest: Option<i64>) {
        self.cursor = newest;
        self.unsupported = false;
        self.saved.clear();
    }

    /// Whether looks are possible on this server.
    pub fn supported(&self) -> bool {
        !self.unsupported
    }

    /// Looks for shows changed since the newest stored change and saves
    /// them. `Ok(None)` when the server cannot answer (logged once).
    pub fn look(
        &mut self,
        client: &CablecastClient,
        store: &Store,
        full_pass_every: Duration,
    ) -> Result<Option<ChangesSummary>, CycleError> {
        if self.unsupported {
            return Ok(None);
        }
        let cursor = match self.cursor {
            Some(cursor) => cursor,
            None => {
                let newest = store.newest_show_change()?;
                let cursor = newest.as_deref().and_then(clock::parse_stored).unwrap_or(0);
                self.cursor = Some(cursor);
                cursor
            }
        };
        let Some(ids) = client.shows_modified_since(cursor - MARGIN_SECS)? else {
            self.give_up(
                "it has no saved show search (POST /shows/search/advanced)",
                full_pass_every,
            );
            return Ok(None);
        };
        let only_known_shows = client.settings().location_id.is_some();
        let mut summary = ChangesSummary::default();
        for group in id_groups(&ids) {
            let Some((shows, vods)) = client.shows_with_vods(group)? else {
                self.give_up(
                    "it does not answer shows by id (ids[]) with their VODs (include=vod)",
                    full_pass_every,
                );
                return Ok(Some(summary));
            };
            let modified =
                |show: &Show| show.last_modified.as_deref().and_then(clock::parse_stored);
            let (shows, vods) = self.unsaved(shows, vods, modified);
            if shows.is_empty() {
                continue;
            }
            summary.vods += store.save_changed_shows(&shows, &vods, only_known_shows)?;
            summary.shows += shows.len();
            for show in &shows {
                if let Some(at) = modified(show) {
                    self.saved.insert(show.cablecast_id, at);
                }
            }
            self.cursor = self.cursor.max(shows.iter().filter_map(modified).max());
        }
        if let Some(cursor) = self.cursor {
            self.saved.retain(|_, at| *at >= cursor - MARGIN_SECS);
        }
        Ok(Some(summary))
    }

    /// The shows (and their VODs) not already saved by a look as they are.
    fn unsaved(
        &self,
        shows: Vec<Show>,
        vods: Vec<Vod>,
        modified: impl Fn(&Show) -> Option<i64>,
    ) -> (Vec<Show>, Vec<Vod>) {
        let (known, shows): (Vec<Show>, Vec<Show>) = shows.into_iter().partition(|show| {
            modified(show).is_some_and(|at| self.saved.get(&show.cablecast_id) == Some(&at))
        });
        if known.is_empty() {
            return (shows, vods);
        }
        let vods = vods
            .into_iter()
            .filter(|vod| {
                !known
                    .iter()
                    .any(|show| Some(show.cablecast_id) == vod.show_cablecast_id)
            })
            .collect();
        (shows, vods)
    }

    fn give_up(&mut self, why: &str, full_pass_every: Duration) {
        self.unsupported = true;
        if std::mem::replace(&mut self.told, true) {
            log::debug!("Cablecast cannot list changed shows: {why}");
            return;
        }
        log::info!(
            "Cablecast cannot list changed shows: {why}; new and changed shows appear with the full catalogue pass every {}",
            clock::humanize_secs(full_pass_every.as_secs() as i64)
        );
    }
}
