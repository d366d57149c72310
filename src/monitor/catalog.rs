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
    /// False when a listing ended short of what the server said it holds:
    /// nothing was removed then.
    pub complete: bool,
}

/// Runs one pass.
pub fn sync(client: &CablecastClient, store: &Store) -> Result<CatalogSummary, CycleError> {
    let pass = store.begin_catalog_pass()?;
    let mut summary = CatalogSummary::default();

    let (shows_listed, shows_complete) = list_all(
        |offset| client.shows_page(offset, PAGE_SIZE),
        |page| store.upsert_shows(&page.items, pass).map(|_| ()),
        "shows",
    )?;
    summary.shows_listed = shows_listed;
    if shows_complete {
        summary.shows_removed = store.remove_unlisted_shows(pass)?;
    }

    let only_known_shows = client.settings().location_id.is_some();
    let (vods_listed, vods_complete) = list_all(
        |offset| client.vods_page(offset, PAGE_SIZE),
        |page| {
            store
                .upsert_vods(&page.items, pass, only_known_shows)
                .map(|_| ())
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
/// items were listed and whether the listing was complete (it reached the
/// server's `count`, or a short page when the server gives no count).
fn list_all<T: PartialEq>(
    mut fetch: impl FnMut(usize) -> Result<Page<T>, crate::cablecast::CablecastError>,
    mut save: impl FnMut(&Page<T>) -> Result<(), crate::store::StoreError>,
    noun: &str,
) -> Result<(usize, bool), CycleError> {
    let mut listed = 0;
    let mut previous: Option<Vec<T>> = None;
    loop {
        let page = fetch(listed)?;
        let returned = page.items.len();
        if returned > 0 && previous.as_ref() == Some(&page.items) {
            // A server (or proxy) that ignores `offset` sends the first page
            // forever; its count would keep the pass going for hours.
            log::warn!(
                "Cablecast sent the same page of {noun} for offset {listed} as for the one before; it ignores paging, so this pass stops at {listed} {noun} and removes nothing"
            );
            return Ok((listed, false));
        }
        save(&page)?;
        listed += returned;
        let reached_count = page.total.is_some_and(|total| listed as i64 >= total);
        if reached_count {
            return Ok((listed, true));
        }
        if returned == 0 || (page.total.is_none() && returned < PAGE_SIZE) {
            let complete = page.total.is_none();
            if !complete {
                log::warn!(
                    "Cablecast said it has {} {noun} but listed only {listed}; keeping {noun} it did not list until a complete pass",
                    page.total.unwrap_or_default()
                );
            }
            return Ok((listed, complete));
        }
        previous = Some(page.items);
        if listed >= MAX_LISTED {
            log::warn!("stopped listing {noun} after {listed}: the server keeps sending pages");
            return Ok((listed, false));
        }
    }
}
