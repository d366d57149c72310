//! The catalogue pass: pages through every show and VOD Cablecast lists,
//! upserts each page in one transaction, and removes what Cablecast no longer
//! lists once (and only once) a pass has seen everything.
//!
//! "Everything" needs the server's total (`meta.count`): a pass removes rows
//! only when it listed as many items as the server says it holds. Without a
//! total a short page proves nothing (servers cap pages below the size asked
//! for), so such a listing is read until a page brings nothing new, every
//! row is kept, and nothing is removed.
//!
//! A pass says how far it is: in the log (at most every
//! [`PROGRESS_LOG_EVERY`]) and in the database (`Store::note_catalogue_progress`,
//! read by the page and `status`), and when it ends, whether the catalogue is
//! now complete and whether the location filter matched nothing.

use std::time::{Duration, Instant};

use crate::cablecast::{CablecastClient, Page, PAGE_SIZE};
use crate::clock;
use crate::store::{CatalogueProgress, Store};

use super::CycleError;

/// A ceiling on one listing, far above any station's catalogue, so a server
/// whose `count` lies cannot keep the pass paging forever.
const MAX_LISTED: usize = 5_000_000;

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogSummary {
    pub shows_listed: usize,
    pub vods_listed: usize,
    pub shows_removed: usize,
    pub vods_removed: usize,
    /// False when a listing ended short of what the server said it holds, or
    /// changed while it was read: nothing was removed then.
    pub complete: bool,
}

/// At most one progress line in the log this often: a pass of a few seconds
/// says nothing, a pass of minutes says how far it is.
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);
/// At most one progress note in the database this often (each is a small
/// write, and moves the data version the page is cached by).
const PROGRESS_NOTE_EVERY: Duration = Duration::from_secs(2);

/// How far a pass is, said in the log and noted in the database.
struct Progress<'a> {
    store: &'a Store,
    note: CatalogueProgress,
    /// No complete pass has finished on this database yet.
    first: bool,
    started: Instant,
    logged: Option<Instant>,
    noted: Option<Instant>,
}

impl Progress<'_> {
    fn phase(&mut self, phase: &str) {
        self.note = CatalogueProgress {
            phase: phase.to_string(),
            started_unix: self.note.started_unix,
            phase_started_unix: clock::unix_now(),
            ..CatalogueProgress::default()
        };
        self.noted = None;
    }

    fn page(&mut self, listed: usize, total: Option<i64>) {
        let note = &mut self.note;
        note.pages_done += 1;
        note.listed = listed as u64;
        note.total = total.map(|t| t.max(0) as u64);
        note.pages_total = note.total.map(|t| t.div_ceil(PAGE_SIZE as u64).max(1));
        note.noted_unix = clock::unix_now();
        let now = Instant::now();
        // The first page of each phase is noted, so the page shows the pass
        // at once; later ones every few seconds.
        if self.noted.is_none_or(|at| now - at >= PROGRESS_NOTE_EVERY) {
            self.noted = Some(now);
            if let Err(e) = self.store.note_catalogue_progress(&self.note) {
                log::debug!("{e}");
            }
        }
        let since = self.logged.unwrap_or(self.started);
        if now - since >= PROGRESS_LOG_EVERY {
            self.logged = Some(now);
            log::info!(
                "{}catalogue pass: {} ({} of {} listed)",
                if self.first { "first " } else { "" },
                self.note.describe(),
                self.note.listed,
                self.note
                    .total
                    .map_or_else(|| "?".to_string(), |t| t.to_string())
            );
        }
    }
}

/// Runs one pass.
pub fn sync(client: &CablecastClient, store: &Store) -> Result<CatalogSummary, CycleError> {
    let first = store.catalogue_state()?.complete_at.is_none();
    if first {
        log::info!(
            "first catalogue pass on this database: listing every show and VOD; the figures are partial until it completes"
        );
    }
    let pass = store.begin_catalog_pass()?;
    let mut summary = CatalogSummary::default();
    let mut progress = Progress {
        store,
        note: CatalogueProgress {
            started_unix: clock::unix_now(),
            ..CatalogueProgress::default()
        },
        first,
        started: Instant::now(),
        logged: None,
        noted: None,
    };

    progress.phase("shows");
    let (shows_listed, shows_complete) = list_all(
        |offset, size| client.shows_page(offset, size),
        |show| show.cablecast_id,
        |shows| store.upsert_shows(shows, pass).map(|_| ()),
        |listed, total| progress.page(listed, total),
        "shows",
    )?;
    summary.shows_listed = shows_listed;
    if shows_complete {
        summary.shows_removed = store.remove_unlisted_shows(pass)?;
    }
    let location_warning = location_warning(client, shows_listed)?;
    if let Some(warning) = &location_warning {
        log::warn!("{warning}");
    }

    let only_known_shows = client.settings().location_id.is_some();
    progress.phase("VODs");
    let (vods_listed, vods_complete) = list_all(
        |offset, size| client.vods_page(offset, size),
        |vod| vod.id,
        |vods| {
            store
                .upsert_vods(vods, pass, only_known_shows)
                .map(|changes| super::log_changes(&changes))
        },
        |listed, total| progress.page(listed, total),
        "VODs",
    )?;
    summary.vods_listed = vods_listed;
    if vods_complete {
        summary.vods_removed = store.remove_unlisted_vods(pass)?;
    }
    summary.complete = shows_complete && vods_complete;
    store.finish_catalogue_pass(summary.complete, location_warning.as_deref())?;
    if first && summary.complete {
        log::info!(
            "first catalogue pass complete: {shows_listed} shows, {vods_listed} VODs in {}",
            clock::humanize_secs(progress.started.elapsed().as_secs() as i64)
        );
    }
    Ok(summary)
}

/// The warning for a location filter that matched no show while the server
/// has shows: without it, a wrong `CABLECAST_LOCATION_ID` is an empty
/// database and nothing else.
fn location_warning(
    client: &CablecastClient,
    shows_listed: usize,
) -> Result<Option<String>, CycleError> {
    let Some(location) = client.settings().location_id else {
        return Ok(None);
    };
    if shows_listed > 0 {
        return Ok(None);
    }
    Ok(match client.count_all_shows()? {
        Some(all) if all > 0 => Some(format!(
            "CABLECAST_LOCATION_ID {location} matches none of the {all} shows on the Cablecast server, so no show or VOD is kept; check the location's id in Cablecast"
        )),
        _ => None,
    })
}

/// Pages through one listing, saving each page as it comes. Returns how many
/// items were listed and whether the listing was complete: it reached the
/// server's `count`, and nothing moved under it while it paged. A listing
/// without a count is never complete: it is read to its first page that
/// brings nothing new, whatever size the pages are.
///
/// Cablecast pages by offset. If an item before the current offset is
/// deleted while a pass pages, everything after it shifts down one place and
/// the item at the page boundary would be skipped, then removed as "no
/// longer listed". So every page after the first asks for one more item,
/// starting at the previous page's last one: when that first item is not the
/// one expected, the listing moved, and this pass removes nothing.
fn list_all<T>(
    mut fetch: impl FnMut(usize, usize) -> Result<Page<T>, crate::cablecast::CablecastError>,
    id_of: impl Fn(&T) -> i64,
    mut save: impl FnMut(&[T]) -> Result<(), crate::store::StoreError>,
    mut on_page: impl FnMut(usize, Option<i64>),
    noun: &str,
) -> Result<(usize, bool), CycleError> {
    let mut listed = 0;
    let mut settled = true;
    let mut previous_ids: Vec<i64> = Vec::new();
    loop {
        let overlap = usize::from(!previous_ids.is_empty());
        let asked = PAGE_SIZE + overlap;
        let page = fetch(listed - overlap, asked)?;
        let ids: Vec<i64> = page.items.iter().map(&id_of).collect();
        if !ids.is_empty() && ids == previous_ids {
            // A server (or proxy) that ignores `offset` sends the first page
            // forever; its count would keep the pass going for hours.
            log::warn!(
                "Cablecast sent the same page of {noun} for offset {listed} as for the one before; it ignores paging, so this pass stops at {listed} {noun} and removes nothing"
            );
            return Ok((listed, false));
        }
        let mut items = page.items;
        if overlap == 1 && !items.is_empty() {
            if ids.first() == previous_ids.last() {
                items.remove(0);
            } else if settled {
                settled = false;
                log::info!(
                    "Cablecast's list of {noun} changed while it was being read; {noun} it did not list are kept until the next complete pass"
                );
            }
        }
        save(&items)?;
        listed += items.len();
        on_page(listed, page.total);
        let reached_count = page.total.is_some_and(|total| listed as i64 >= total);
        if reached_count {
            return Ok((listed, settled));
        }
        // The end: nothing new came back (at most the overlap). A short
        // page is no end: servers cap page sizes below what is asked.
        if items.is_empty() {
            match page.total {
                Some(total) => log::warn!(
                    "Cablecast said it has {total} {noun} but listed only {listed}; keeping {noun} it did not list until a complete pass"
                ),
                None => crate::logging::warn_once(&format!("no total for {noun}"), || {
                    format!(
                        "Cablecast's listing of {noun} gives no total (meta.count): every page is read, and {noun} it no longer lists are kept, never removed"
                    )
                }),
            }
            return Ok((listed, false));
        }
        previous_ids = ids;
        if listed >= MAX_LISTED {
            log::warn!("stopped listing {noun} after {listed}: the server keeps sending pages");
            return Ok((listed, false));
        }
    }
}
