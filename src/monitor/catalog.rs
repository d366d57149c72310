//! The catalogue pass: pages through every show and VOD Cablecast lists,
//! upserts each page in one transaction, and removes what Cablecast no longer
//! lists once (and only once) a pass has seen everything.

use crate::cablecast::{CablecastClient, Page, PAGE_SIZE};
use crate::store::Store;

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

/// Runs one pass.
pub fn sync(client: &CablecastClient, store: &Store) -> Result<CatalogSummary, CycleError> {
    let pass = store.begin_catalog_pass()?;
    let mut summary = CatalogSummary::default();

    let (shows_listed, shows_complete) = list_all(
        |offset, size| client.shows_page(offset, size),
        |show| show.cablecast_id,
        |shows| store.upsert_shows(shows, pass).map(|_| ()),
        "shows",
    )?;
    summary.shows_listed = shows_listed;
    if shows_complete {
        summary.shows_removed = store.remove_unlisted_shows(pass)?;
    }

    let only_known_shows = client.settings().location_id.is_some();
    let (vods_listed, vods_complete) = list_all(
        |offset, size| client.vods_page(offset, size),
        |vod| vod.id,
        |vods| {
            store
                .upsert_vods(vods, pass, only_known_shows)
                .map(|changes| super::log_changes(&changes))
        },
        "VODs",
    )?;
    summary.vods_listed = vods_listed;
    if vods_complete {
        summary.vods_removed = store.remove_unlisted_vods(pass)?;
    }
    summary.complete = shows_complete && vods_complete;
    Ok(summary)
}

/// Pages through one listing, saving each page as it comes. Returns how many
/// items were listed and whether the listing was complete: it reached the
/// server's `count` (or a short page when the server gives no count), and
/// nothing moved under it while it paged.
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
        let returned = page.items.len();
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
        let reached_count = page.total.is_some_and(|total| listed as i64 >= total);
        if reached_count {
            return Ok((listed, settled));
        }
        // The end: nothing new came back (at most the overlap), or a short
        // page from a server that gives no count.
        if items.is_empty() || (page.total.is_none() && returned < asked) {
            let complete = page.total.is_none();
            if !complete {
                log::warn!(
                    "Cablecast said it has {} {noun} but listed only {listed}; keeping {noun} it did not list until a complete pass",
                    page.total.unwrap_or_default()
                );
            }
            return Ok((listed, complete && settled));
        }
        previous_ids = ids;
        if listed >= MAX_LISTED {
            log::warn!("stopped listing {noun} after {listed}: the server keeps sending pages");
            return Ok((listed, false));
        }
    }
}
