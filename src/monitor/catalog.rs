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
//! A pass stopped by a failed page (an error answer, an outage) is kept
//! ([`Pass`]): the next cycle goes on from that page, with the same overlap
//! check, so a pass of a large catalogue on a flaky server still ends.
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

/// Where a listing is: how many items it has saved, the ids of its last
/// page (the next page starts with the last of them), and whether nothing
/// moved under it so far. A listing stopped by a failed page goes on from
/// here.
#[derive(Debug, Clone, Default)]
struct Listing {
    listed: usize,
    previous_ids: Vec<i64>,
    moved: bool,
    /// The highest id listed.
    highest: Option<i64>,
}

/// A catalogue pass between cycles. A page that fails (a server answering
/// an error now and then, an outage) stops the pass where it is; the next
/// cycle goes on from that page instead of starting over, so a pass of a
/// large catalogue on a flaky server still ends.
#[derive(Debug, Default)]
pub struct Pass {
    /// The pass's number in the store, once begun.
    number: Option<i64>,
    first: bool,
    started: Option<Instant>,
    shows: Listing,
    /// The shows listing is over: its outcome.
    shows_done: Option<bool>,
    vods: Listing,
    location_warning: Option<String>,
    summary: CatalogSummary,
    /// Every show listed, with its `lastModified` (Unix seconds): what the
    /// next looks for changes already know.
    modified: Vec<(i64, i64)>,
}

/// What a pass that ended hands to the look for changes.
#[derive(Debug, Clone, Default)]
pub struct PassEnd {
    pub summary: CatalogSummary,
    /// Every show listed, with its `lastModified` (Unix seconds).
    pub modified: Vec<(i64, i64)>,
    pub highest_show: Option<i64>,
    pub highest_vod: Option<i64>,
}

impl Pass {
    /// A pass was begun and has not ended: the next cycle goes on with it.
    pub fn in_progress(&self) -> bool {
        self.number.is_some()
    }

    /// Runs the pass, from where it stopped if it was interrupted, to its
    /// end. On an error the position is kept for the next call.
    pub fn run(&mut self, client: &CablecastClient, store: &Store) -> Result<PassEnd, CycleError> {
        let pass = match self.number {
            Some(pass) => {
                log::info!(
                    "catalogue pass: going on from {} shows and {} VODs listed",
                    self.shows.listed,
                    self.vods.listed
                );
                pass
            }
            None => self.begin(store)?,
        };
        let mut progress = Progress {
            store,
            note: CatalogueProgress {
                started_unix: clock::unix_now(),
                ..CatalogueProgress::default()
            },
            first: self.first,
            started: self.started.unwrap_or_else(Instant::now),
            logged: None,
            noted: None,
        };
        if self.shows_done.is_none() {
            progress.phase("shows");
            let modified = &mut self.modified;
            let complete = list_all(
                &mut self.shows,
                |offset, size| client.shows_page(offset, size),
                |show| show.cablecast_id,
                |shows| {
                    modified.extend(shows.iter().filter_map(|show| {
                        let at = show
                            .last_modified
                            .as_deref()
                            .and_then(clock::parse_stored)?;
                        Some((show.cablecast_id, at))
                    }));
                    store.upsert_shows(shows, pass).map(|_| ())
                },
                |listed, total| progress.page(listed, total),
                "shows",
            )?;
            self.summary.shows_listed = self.shows.listed;
            if complete {
                self.summary.shows_removed = store.remove_unlisted_shows(pass)?;
            }
            self.location_warning = location_warning(client, self.shows.listed)?;
            if let Some(warning) = &self.location_warning {
                log::warn!("{warning}");
            }
            self.shows_done = Some(complete);
        }

        let only_known_shows = client.settings().location_id.is_some();
        progress.phase("VODs");
        let vods_complete = list_all(
            &mut self.vods,
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
        self.summary.vods_listed = self.vods.listed;
        if vods_complete {
            self.summary.vods_removed = store.remove_unlisted_vods(pass)?;
        }
        let pass = std::mem::take(self);
        let mut summary = pass.summary;
        summary.complete = pass.shows_done == Some(true) && vods_complete;
        store.finish_catalogue_pass(summary.complete, pass.location_warning.as_deref())?;
        if pass.first && summary.complete {
            log::info!(
                "first catalogue pass complete: {} shows, {} VODs in {}",
                summary.shows_listed,
                summary.vods_listed,
                clock::humanize_secs(progress.started.elapsed().as_secs() as i64)
            );
        }
        Ok(PassEnd {
            summary,
            modified: pass.modified,
            highest_show: pass.shows.highest,
            highest_vod: pass.vods.highest,
        })
    }

    fn begin(&mut self, store: &Store) -> Result<i64, CycleError> {
        let first = store.catalogue_state()?.complete_at.is_none();
        if first {
            log::info!(
                "first catalogue pass on this database: listing every show and VOD; the figures are partial until it completes"
            );
        }
        let number = store.begin_catalog_pass()?;
        *self = Pass {
            number: Some(number),
            first,
            started: Some(Instant::now()),
            ..Pass::default()
        };
        Ok(number)
    }
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

/// Pages through one listing from where `listing` is, saving each page as
/// it comes, and moving `listing` on after each page saved. Returns whether
/// the listing was complete: it reached the server's `count`, and nothing
/// moved under it while it paged. A listing without a count is never
/// complete: it is read to its first page that brings nothing new, whatever
/// size the pages are.
///
/// Cablecast pages by offset. If an item before the current offset is
/// deleted while a pass pages, everything after it shifts down one place and
/// the item at the page boundary would be skipped, then removed as "no
/// longer listed". So every page after the first asks for one more item,
/// starting at the previous page's last one: when that first item is not the
/// one expected, the listing moved, and this pass removes nothing. The same
/// check holds when a pass goes on from a page where it stopped.
fn list_all<T>(
    listing: &mut Listing,
    mut fetch: impl FnMut(usize, usize) -> Result<Page<T>, crate::cablecast::CablecastError>,
    id_of: impl Fn(&T) -> i64,
    mut save: impl FnMut(&[T]) -> Result<(), crate::store::StoreError>,
    mut on_page: impl FnMut(usize, Option<i64>),
    noun: &str,
) -> Result<bool, CycleError> {
    loop {
        let listed = listing.listed;
        let overlap = usize::from(!listing.previous_ids.is_empty());
        let asked = PAGE_SIZE + overlap;
        let page = fetch(listed - overlap, asked)?;
        let ids: Vec<i64> = page.items.iter().map(&id_of).collect();
        if !ids.is_empty() && ids == listing.previous_ids {
            // A server (or proxy) that ignores `offset` sends the first page
            // forever; its count would keep the pass going for hours.
            log::warn!(
                "Cablecast sent the same page of {noun} for offset {listed} as for the one before; it ignores paging, so this pass stops at {listed} {noun} and removes nothing"
            );
            return Ok(false);
        }
        let mut items = page.items;
        if overlap == 1 && !items.is_empty() {
            if ids.first() == listing.previous_ids.last() {
                items.remove(0);
            } else if !listing.moved {
                listing.moved = true;
                log::info!(
                    "Cablecast's list of {noun} changed while it was being read; {noun} it did not list are kept until the next complete pass"
                );
            }
        }
        save(&items)?;
        listing.listed += items.len();
        listing.highest = listing.highest.max(ids.iter().copied().max());
        let listed = listing.listed;
        on_page(listed, page.total);
        let reached_count = page.total.is_some_and(|total| listed as i64 >= total);
        if reached_count {
            return Ok(!listing.moved);
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
            return Ok(false);
        }
        listing.previous_ids = ids;
        if listed >= MAX_LISTED {
            log::warn!("stopped listing {noun} after {listed}: the server keeps sending pages");
            return Ok(false);
        }
    }
}
