//! The incremental catalogue: between full catalogue passes, finds the shows
//! changed since the newest change known and the VODs and shows added since
//! the highest ids known, and saves them. New meetings, edited shows and new
//! recordings appear within a cycle instead of at the next full pass, at a
//! cost that follows what changed, not the station's size.
//!
//! The look for changed shows decides what to read before reading: each
//! look asks for the shows modified strictly after the newest change known
//! (the cursor), by the first way the server answers: the show listing's
//! `since` filter (its answer carries each show's `lastModified` and VODs,
//! and writes nothing on the server), else the saved show search (ids only;
//! the shows it names are read by id). A second look, reaching back
//! [`MARGIN_SECS`] before the cursor, catches a change saved with an earlier
//! time than one already seen (a transaction committing late, a change in
//! the cursor's own second); it runs in the look after one that saved
//! changes and at most every [`MARGIN_RECHECK`] while that window is young,
//! and reads only what is not already known as it is. A quiet station costs
//! the look and no read; a bulk edit stamping thousands of shows with one
//! `lastModified` is read once (or, past a few groups, left to a full pass)
//! and never again. A server whose saved searches come back with growing
//! ids keeps each one: it is searched at most every
//! [`STORED_SEARCH_EVERY`].
//!
//! VODs have no `lastModified`, and Cablecast may not move a show's when a
//! VOD is added to it. So each cycle also asks for the ids just above the
//! highest VOD known (`ids[]`, a window of [`PROBE_WINDOW`], extended while
//! it finds VODs): one small request, whatever the station's size. Shows
//! those VODs belong to that are not stored are read with them. Without a
//! search, the same probe finds new shows.
//!
//! It never removes anything: removals are the full pass's. A server without
//! the search, or one that ignores `ids[]` or `include` on shows, is logged
//! once and left to full passes (and the probes) until the next full pass
//! tries again.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::cablecast::{id_groups, CablecastClient, MAX_IDS_PER_REQUEST};
use crate::clock;
use crate::store::Store;
use crate::vod::{Show, Vod};

use super::catalog::PassEnd;
use super::CycleError;

/// How far before the newest change known the margin search starts.
/// Cablecast's `lastModified` has milliseconds the store drops, and a show
/// saved in a transaction that commits after a search ran can carry an
/// earlier time than shows that search found; searching this far back
/// catches both.
pub const MARGIN_SECS: i64 = 600;

/// The margin search runs at most this often, and in the look after one
/// that saved changes: a late commit is found within this (and a cycle)
/// while the window is young.
pub const MARGIN_RECHECK: Duration = Duration::from_secs(300);

/// More shows named by a look than this many groups: a full pass reads them
/// for less than reading them by id.
const FULL_PASS_AFTER_GROUPS: usize = 5;

/// Ids asked for above the highest known, per probe request: wide enough to
/// cross a gap left by deleted records.
pub const PROBE_WINDOW: i64 = 100;

/// Probe requests per cycle at most, however many new records keep coming.
const MAX_PROBES: usize = 10;

/// When the server keeps every search it is asked (its ids grow), looks run
/// no more often than this.
pub const STORED_SEARCH_EVERY: Duration = Duration::from_secs(15 * 60);

/// Searches whose ids grew one after another before the server is taken to
/// keep each search.
const GROWING_IDS: usize = 3;

/// What one look for changes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangesSummary {
    /// Searches sent (a `since` listing counts as one).
    pub searches: usize,
    /// Shows read (with their VODs): by id after a search, or brought by a
    /// `since` listing and not already known as they are.
    pub read: usize,
    /// Shows saved.
    pub shows: usize,
    /// Their VODs saved.
    pub vods: usize,
    /// The look named more shows than it reads by id: a full pass is due.
    pub full_pass_wanted: bool,
}

/// What the probe for new records did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeSummary {
    /// Requests sent.
    pub requests: usize,
    /// New VODs found and saved.
    pub vods: usize,
    /// New shows found and saved.
    pub shows: usize,
}

/// How this server is asked for changed shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Way {
    /// Not known yet: the `since` filter is tried first.
    #[default]
    Untried,
    /// `GET /shows?since=...&include=vod`: writes nothing on the server.
    Since,
    /// The saved show search, `POST /shows/search/advanced`.
    Search,
}

/// The state of the incremental catalogue between cycles.
#[derive(Debug, Default)]
pub struct Changes {
    /// How the server is asked.
    way: Way,
    /// The newest show `lastModified` known (Unix seconds), once known.
    cursor: Option<i64>,
    /// Shows read (by a look or a pass) with the `lastModified` read, while
    /// it is within the margin of the cursor: the margin search does not
    /// read them again.
    known: HashMap<i64, i64>,
    /// When the margin search (or a pass, which covers it) last ran.
    margin_checked: Option<Instant>,
    /// The last look saved changes: the next one searches the margin too,
    /// for changes saved within the second of the newest.
    saved_lately: bool,
    /// The highest VOD and show ids known.
    highest_vod: Option<i64>,
    highest_show: Option<i64>,
    /// Set when the server cannot answer a look: no look until the next
    /// full pass.
    unsupported: bool,
    /// Whether that was logged: once per process, not after every pass.
    told: bool,
    /// A look named too many shows to read by id: a full pass is wanted.
    full_pass_wanted: bool,
    /// The ids of the last searches, while they grow.
    search_ids: Vec<i64>,
    /// The server keeps each search: looks are spaced out.
    searches_kept: bool,
    /// VODs the last look saved, so the probe does not write them again.
    saved_by_look: HashSet<i64>,
}

impl Changes {
    /// A full pass ended: it is the moment to try the search again on a
    /// server that lacked it. When the pass ended without error, every show
    /// it listed was saved as listed: the cursor is the newest change among
    /// them and the shows within the margin are known, so the next look
    /// reads nothing unchanged. Otherwise the next look reads the cursor
    /// from the database.
    pub fn after_full_pass(&mut self, end: Option<&PassEnd>) {
        self.unsupported = false;
        self.full_pass_wanted = false;
        self.known.clear();
        self.cursor = None;
        let Some(end) = end else {
            return;
        };
        self.cursor = end.modified.iter().map(|(_, at)| *at).max();
        if let Some(cursor) = self.cursor {
            self.known = end
                .modified
                .iter()
                .filter(|(_, at)| *at > cursor - MARGIN_SECS)
                .copied()
                .collect();
        }
        self.margin_checked = Some(Instant::now());
        self.saved_lately = false;
        self.highest_vod = self.highest_vod.max(end.highest_vod);
        self.highest_show = self.highest_show.max(end.highest_show);
    }

    /// Whether looks are possible on this server.
    pub fn supported(&self) -> bool {
        !self.unsupported
    }

    /// A look named more shows than it reads by id: the next cycle runs a
    /// full pass.
    pub fn full_pass_wanted(&self) -> bool {
        self.full_pass_wanted
    }

    /// The least time between looks: the configured one, or
    /// [`STORED_SEARCH_EVERY`] on a server that keeps every search.
    pub fn spacing(&self, configured: Duration) -> Duration {
        if self.searches_kept {
            configured.max(STORED_SEARCH_EVERY)
        } else {
            configured
        }
    }

    /// How this box looks for changes on this server, in a few words.
    /// `None` until a look has found out.
    pub fn way(&self) -> Option<&'static str> {
        Some(match (self.unsupported, self.way, self.searches_kept) {
            (true, _, _) => "full catalogue passes only (no look for changed shows)",
            (false, Way::Untried, _) => return None,
            (false, Way::Since, _) => "GET /shows?since (writes nothing on the server)",
            (false, Way::Search, true) => {
                "saved show search every 15 min (the server keeps each search)"
            }
            (false, Way::Search, false) => "saved show search (POST /shows/search/advanced)",
        })
    }

    /// Looks for shows changed since the newest change known and saves
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
        let mut summary = ChangesSummary::default();
        self.saved_by_look.clear();
        if self.way != Way::Search {
            if self.look_since(client, store, cursor, &mut summary)? {
                self.way = Way::Since;
                return Ok(Some(summary));
            }
            log::info!(
                "Cablecast does not filter show listings by since=: looking for changed shows with the saved show search"
            );
            self.way = Way::Search;
            summary = ChangesSummary::default();
        }
        // Whole seconds: a show changed within the cursor's second was
        // read with it, or is the margin search's.
        let Some(named) = self.search(client, cursor + 1, &mut summary)? else {
            self.give_up(
                "it has no saved show search (POST /shows/search/advanced)",
                full_pass_every,
            );
            return Ok(None);
        };
        let mut wanted: Vec<i64> = named;
        if self.margin_due(cursor) {
            let Some(margin) = self.search(client, cursor - MARGIN_SECS, &mut summary)? else {
                return Ok(Some(summary));
            };
            self.margin_checked = Some(Instant::now());
            self.saved_lately = false;
            let already: HashSet<i64> = wanted.iter().copied().collect();
            wanted.extend(
                margin
                    .into_iter()
                    .filter(|id| !already.contains(id) && !self.known.contains_key(id)),
            );
        }
        if wanted.len() > FULL_PASS_AFTER_GROUPS * MAX_IDS_PER_REQUEST {
            self.leave_to_a_full_pass(wanted.len(), &mut summary);
            return Ok(Some(summary));
        }
        let Some(read) = self.read_and_save(client, store, &wanted, &mut summary)? else {
            self.give_up(
                "it does not answer shows by id (ids[]) with their VODs (include=vod)",
                full_pass_every,
            );
            return Ok(Some(summary));
        };
        self.remember(&read);
        Ok(Some(summary))
    }

    /// The look through the show listing's `since` filter: its answers
    /// carry each show's `lastModified` and VODs, so nothing is read by id,
    /// and a show the margin listing names again is written only if its
    /// `lastModified` moved. `false` when the server does not honour the
    /// filter.
    fn look_since(
        &mut self,
        client: &CablecastClient,
        store: &Store,
        cursor: i64,
        summary: &mut ChangesSummary,
    ) -> Result<bool, CycleError> {
        summary.searches += 1;
        let Some(mut changed) = client.shows_changed_since(cursor + 1, FULL_PASS_AFTER_GROUPS)?
        else {
            return Ok(false);
        };
        if self.margin_due(cursor) {
            summary.searches += 1;
            let Some(margin) =
                client.shows_changed_since(cursor - MARGIN_SECS, FULL_PASS_AFTER_GROUPS)?
            else {
                return Ok(false);
            };
            self.margin_checked = Some(Instant::now());
            self.saved_lately = false;
            let already: HashSet<i64> = changed.shows.iter().map(|s| s.cablecast_id).collect();
            changed.more |= margin.more;
            changed.vods.extend(
                margin
                    .vods
                    .into_iter()
                    .filter(|v| !v.show_cablecast_id.is_some_and(|s| already.contains(&s))),
            );
            changed.shows.extend(
                margin
                    .shows
                    .into_iter()
                    .filter(|s| !already.contains(&s.cablecast_id)),
            );
        }
        if changed.more {
            self.leave_to_a_full_pass(FULL_PASS_AFTER_GROUPS * MAX_IDS_PER_REQUEST, summary);
            return Ok(true);
        }
        // The listing is the search's cost; what it brought that is not
        // already known as it is counts as read.
        let (shows, vods) = self.unsaved(changed.shows, changed.vods);
        summary.read += shows.len();
        if !shows.is_empty() {
            let only_known_shows = client.settings().location_id.is_some();
            summary.vods += store.save_changed_shows(&shows, &vods, only_known_shows)?;
            summary.shows += shows.len();
            self.saved_by_look.extend(vods.iter().map(|v| v.id));
        }
        self.remember(&shows);
        Ok(true)
    }

    /// A look named more shows than a few groups: the next cycle runs a
    /// full pass instead, said once.
    fn leave_to_a_full_pass(&mut self, named: usize, summary: &mut ChangesSummary) {
        log::info!(
            "Cablecast lists {named}{} shows changed since the last look, more than {} groups read by id: a full catalogue pass reads them next cycle",
            if named >= FULL_PASS_AFTER_GROUPS * MAX_IDS_PER_REQUEST { " or more" } else { "" },
            FULL_PASS_AFTER_GROUPS
        );
        self.full_pass_wanted = true;
        summary.full_pass_wanted = true;
    }

    /// Asks for the VODs (and, without a search, the shows) numbered just
    /// above the highest known, and saves what it finds with the shows they
    /// belong to. Costs one request a cycle when nothing is new.
    pub fn probe(
        &mut self,
        client: &CablecastClient,
        store: &Store,
    ) -> Result<ProbeSummary, CycleError> {
        let mut summary = ProbeSummary::default();
        // A server that ignores `ids[]` on VODs ignores it on shows too:
        // neither probe is sent to it.
        if !client.reads_vods_by_ids() {
            return Ok(summary);
        }
        if let Some(highest) = self.highest_vod {
            self.probe_vods(client, store, highest, &mut summary)?;
        }
        if self.unsupported && client.reads_vods_by_ids() {
            if let Some(highest) = self.highest_show {
                self.probe_shows(client, store, highest, &mut summary)?;
            }
        }
        Ok(summary)
    }

    fn probe_vods(
        &mut self,
        client: &CablecastClient,
        store: &Store,
        mut highest: i64,
        summary: &mut ProbeSummary,
    ) -> Result<(), CycleError> {
        for _ in 0..MAX_PROBES {
            let ids: Vec<i64> = (highest + 1..=highest + PROBE_WINDOW).collect();
            summary.requests += 1;
            let Some(vods) = client.vods_by_ids(&ids)? else {
                return Ok(());
            };
            let Some(top) = vods.iter().map(|v| v.id).max() else {
                return Ok(());
            };
            highest = top;
            self.highest_vod = Some(top);
            let vods: Vec<Vod> = vods
                .into_iter()
                .filter(|v| !self.saved_by_look.contains(&v.id))
                .collect();
            if vods.is_empty() {
                continue;
            }
            // Shows not stored yet come with their VODs, so each VOD is
            // kept with its show.
            let shows: Vec<i64> = vods
                .iter()
                .filter_map(|v| v.show_cablecast_id)
                .filter(|show| !self.known.contains_key(show))
                .collect();
            let unknown = if shows.is_empty() {
                Vec::new()
            } else {
                store.shows_not_stored(&shows)?
            };
            let mut new_shows = Vec::new();
            if !unknown.is_empty() {
                summary.requests += 1;
                if let Some((shows, _)) = client.shows_with_vods(&unknown)? {
                    new_shows = self.of_location(client, shows);
                }
            }
            let only_known_shows = client.settings().location_id.is_some();
            summary.vods += store.save_changed_shows(&new_shows, &vods, only_known_shows)?;
            summary.shows += new_shows.len();
            self.remember(&new_shows);
        }
        Ok(())
    }

    fn probe_shows(
        &mut self,
        client: &CablecastClient,
        store: &Store,
        mut highest: i64,
        summary: &mut ProbeSummary,
    ) -> Result<(), CycleError> {
        for _ in 0..MAX_PROBES {
            let ids: Vec<i64> = (highest + 1..=highest + PROBE_WINDOW).collect();
            summary.requests += 1;
            let Some((shows, vods)) = client.shows_with_vods(&ids)? else {
                return Ok(());
            };
            let Some(top) = shows.iter().map(|s| s.cablecast_id).max() else {
                return Ok(());
            };
            let shows = self.of_location(client, shows);
            let only_known_shows = client.settings().location_id.is_some();
            summary.vods += store.save_changed_shows(&shows, &vods, only_known_shows)?;
            summary.shows += shows.len();
            self.remember(&shows);
            highest = top;
            self.highest_show = Some(top);
        }
        Ok(())
    }

    /// The shows of the configured location, if any.
    fn of_location(&self, client: &CablecastClient, shows: Vec<Show>) -> Vec<Show> {
        match client.settings().location_id {
            Some(location) => shows
                .into_iter()
                .filter(|s| s.location_id == Some(location))
                .collect(),
            None => shows,
        }
    }

    /// One search for shows modified after `since`; `None` when the server
    /// has none. Notes the search's id, to tell a server that keeps each.
    fn search(
        &mut self,
        client: &CablecastClient,
        since: i64,
        summary: &mut ChangesSummary,
    ) -> Result<Option<Vec<i64>>, CycleError> {
        summary.searches += 1;
        let Some(answer) = client.shows_modified_since(since)? else {
            return Ok(None);
        };
        self.note_search_id(answer.search_id);
        Ok(Some(answer.ids))
    }

    /// Tells, once, a server whose search ids grow call after call: it
    /// keeps a record of every search, so looks are spaced out.
    fn note_search_id(&mut self, id: Option<i64>) {
        let Some(id) = id.filter(|id| *id > 0) else {
            self.search_ids.clear();
            return;
        };
        log::debug!("Cablecast's saved show search answered as search {id}");
        if self.search_ids.last().is_some_and(|last| id <= *last) {
            self.search_ids.clear();
        }
        self.search_ids.push(id);
        if self.search_ids.len() >= GROWING_IDS && !self.searches_kept {
            self.searches_kept = true;
            log::warn!(
                "Cablecast keeps a saved search for every search Archivist sends (ids {}): looking for changed shows every {} from now on; new VODs are still found every cycle; see the README (looking for changes) for what the station can do",
                self.search_ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                clock::humanize_secs(STORED_SEARCH_EVERY.as_secs() as i64)
            );
        }
    }

    /// The margin search is due: not run for [`MARGIN_RECHECK`], while a
    /// change within the margin could still be committed.
    fn margin_due(&self, cursor: i64) -> bool {
        let young = clock::unix_now() < cursor + 2 * MARGIN_SECS;
        young
            && (self.saved_lately
                || self
                    .margin_checked
                    .is_none_or(|at| at.elapsed() >= MARGIN_RECHECK))
    }

    /// Reads `ids` with their VODs, by `ids[]` in groups, and saves each
    /// group in one transaction. The shows read; `None` when the server
    /// cannot answer shows by id.
    fn read_and_save(
        &mut self,
        client: &CablecastClient,
        store: &Store,
        ids: &[i64],
        summary: &mut ChangesSummary,
    ) -> Result<Option<Vec<Show>>, CycleError> {
        let only_known_shows = client.settings().location_id.is_some();
        let mut read = Vec::new();
        for group in id_groups(ids) {
            let Some((shows, vods)) = client.shows_with_vods(group)? else {
                return Ok(None);
            };
            summary.read += shows.len();
            let (shows, vods) = self.unsaved(shows, vods);
            if !shows.is_empty() {
                summary.vods += store.save_changed_shows(&shows, &vods, only_known_shows)?;
                summary.shows += shows.len();
                self.saved_by_look.extend(vods.iter().map(|v| v.id));
            }
            read.extend(shows);
        }
        Ok(Some(read))
    }

    /// Moves the cursor, the known shows and the highest ids on past
    /// `shows`, just saved.
    fn remember(&mut self, shows: &[Show]) {
        for show in shows {
            if let Some(at) = modified(show) {
                self.known.insert(show.cablecast_id, at);
                self.cursor = self.cursor.max(Some(at));
            }
            self.highest_show = self.highest_show.max(Some(show.cablecast_id));
        }
        self.saved_lately |= !shows.is_empty();
        if let Some(cursor) = self.cursor {
            self.known.retain(|_, at| *at > cursor - MARGIN_SECS);
        }
    }

    /// The shows (and their VODs) not already known as they are: a show
    /// the margin search names again is written only if it changed.
    fn unsaved(&self, shows: Vec<Show>, vods: Vec<Vod>) -> (Vec<Show>, Vec<Vod>) {
        let (known, shows): (Vec<Show>, Vec<Show>) = shows.into_iter().partition(|show| {
            modified(show).is_some_and(|at| self.known.get(&show.cablecast_id) == Some(&at))
        });
        if known.is_empty() {
            return (shows, vods);
        }
        let known: HashSet<i64> = known.iter().map(|s| s.cablecast_id).collect();
        let vods = vods
            .into_iter()
            .filter(|vod| !vod.show_cablecast_id.is_some_and(|s| known.contains(&s)))
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
            "Cablecast cannot list changed shows: {why}; changed shows appear with the full catalogue pass every {}, new VODs and shows within a cycle where the server answers reads by id",
            clock::humanize_secs(full_pass_every.as_secs() as i64)
        );
    }
}

/// A show's `lastModified`, Unix seconds.
fn modified(show: &Show) -> Option<i64> {
    show.last_modified.as_deref().and_then(clock::parse_stored)
}
