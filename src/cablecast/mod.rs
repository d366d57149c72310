//! The Cablecast HTTP client: every request to the station's Cablecast,
//! through the one door for outbound requests (`outbound`).
//!
//! It speaks the slice of Cablecast API v1 that Archivist needs (see the API
//! contract in the README): the connection check, paged shows and VODs,
//! VODs and shows by id in groups (`ids[]`, with VODs sideloaded on shows),
//! the saved show search for recent changes, and single VODs. Every request
//! authenticates with HTTP Basic when credentials are set, asks for JSON,
//! has a timeout, and is retried with backoff on timeouts and 5xx answers
//! only, and only while a retry (judged by what the failed attempt took)
//! can end before the monitor's next cycle is due, or costs little. Error
//! answers are counted, so the monitor tells a flaky server from a down
//! one. Answers are read with a size cap and decoded leniently into domain
//! types; Cablecast's JSON shapes never leave this module.
//!
//! Connections: minreq 3 (behind `outbound`) has no connection pool and no keep-alive reuse, so
//! every request opens its own TCP connection (and, on HTTPS, does a full
//! TLS handshake), and a request with a timeout runs on a thread of its own
//! (minreq's `enforce_timeout`, because name resolution cannot time out
//! otherwise). Those costs are per request; what cuts them is asking for up
//! to [`MAX_IDS_PER_REQUEST`] items per request instead of one.

mod error;
mod probe;
mod wire;

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::de::DeserializeOwned;

pub use error::CablecastError;

use crate::clock::{self, StationZone};
use crate::config::CablecastSettings;
use crate::outbound::{self, Request};
use crate::vod::{Show, Vod};

/// Requests per call at most: the first try and two retries.
const MAX_ATTEMPTS: u32 = 3;

/// Pause before the first retry; doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// A retry costing at most this (its backoff and what the failed attempt
/// took) is made even when the next cycle is due: cheaper than reading the
/// page again next cycle.
const QUICK_RETRY: Duration = Duration::from_millis(400);

/// Largest answer read. A page of 100 shows with every property is about
/// 200 KiB; anything near this cap is a misbehaving server.
const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// Page size for catalogue listings.
pub const PAGE_SIZE: usize = 100;

/// Ids asked for in one `ids[]` request at most: Cablecast's largest page,
/// so one page answers them all.
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// Longest `ids[]` part of a query string: IIS, which Cablecast runs on,
/// refuses query strings over 2,048 characters by default; this leaves room
/// for the path and the other parameters.
const MAX_IDS_QUERY_CHARS: usize = 1_800;

/// `ids[]=`, percent-encoded as a query string carries it.
const IDS_PARAM: &str = "ids%5B%5D=";

/// `ids` cut into groups for `ids[]` requests: at most
/// [`MAX_IDS_PER_REQUEST`] each, and a query string under 1,800
/// characters.
pub fn id_groups(ids: &[i64]) -> Vec<&[i64]> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < ids.len() {
        let mut end = start;
        let mut chars = 0;
        while end < ids.len() && end - start < MAX_IDS_PER_REQUEST {
            let more = IDS_PARAM.len() + ids[end].to_string().len() + 1;
            if end > start && chars + more > MAX_IDS_QUERY_CHARS {
                break;
            }
            chars += more;
            end += 1;
        }
        groups.push(&ids[start..end]);
        start = end;
    }
    groups
}

fn ids_query(ids: &[i64]) -> String {
    ids.iter()
        .map(|id| format!("{IDS_PARAM}{id}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Why an answer to an `ids[]` request is not an answer to the ids asked
/// (the server or a proxy ignored the filter), if it is not.
fn not_only_asked(asked: &[i64], answered: &[i64], count: Option<i64>) -> Option<String> {
    if answered.len() > asked.len() {
        return Some(format!(
            "{} items answered for {} ids asked",
            answered.len(),
            asked.len()
        ));
    }
    let asked: HashSet<i64> = asked.iter().copied().collect();
    let mut seen = HashSet::new();
    for id in answered {
        if !asked.contains(id) {
            return Some(format!("id {id} answered, not asked"));
        }
        if !seen.insert(*id) {
            return Some(format!("id {id} answered twice"));
        }
    }
    match count {
        Some(count) if count > asked.len() as i64 => Some(format!(
            "{count} items said to match {} ids asked",
            asked.len()
        )),
        _ => None,
    }
}

/// A refusal of the `ids[]` form itself (bad request, query too long),
/// which is the server not supporting it rather than a failure.
fn refuses_ids(e: &CablecastError) -> bool {
    matches!(
        e,
        CablecastError::Status {
            code: 400 | 414,
            ..
        }
    )
}

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// What the server says it holds in all (`meta.count`), if it says.
    pub total: Option<i64>,
}

/// The answer to a search for changed shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowSearch {
    /// The shows that match, oldest change first.
    pub ids: Vec<i64>,
    /// The id the server gave the search record, when it kept one: ids
    /// that grow call after call mean every search is stored.
    pub search_id: Option<i64>,
}

/// Shows changed after a time, with their VODs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangedShows {
    pub shows: Vec<Show>,
    pub vods: Vec<Vod>,
    /// More pages were left unread.
    pub more: bool,
}

/// The station-local wall time (no offset) a search for changes after
/// `since` (Unix seconds) starts at, `now` being the present.
///
/// It is written at `offset` (the offset the newest `lastModified` carried,
/// the server's own word), else in the station's zone. In autumn an hour of wall time repeats: a show changed in the second
/// 1:30 carries a wall time earlier than a change in the first 1:45. So when
/// the zone's offset at `since` is ahead of its offset now, the search
/// starts that much earlier, and no change in the repeated hour is missed.
pub fn search_time(since: i64, offset: Option<i64>, zone: &StationZone, now: i64) -> String {
    let zone_offset = |at: i64| {
        clock::parse_stored(&format!("{}Z", clock::station_local(at, None, zone)))
            .map(|local| local - at)
    };
    let repeated = match (zone_offset(since), zone_offset(now)) {
        (Some(then), Some(now)) => (then - now).max(0),
        _ => 0,
    };
    clock::station_local(since - repeated, offset, zone)
}

/// Requests begun by every client in the process: the service watchdog's
/// sign that a long cycle is still moving (see `systemd`).
static REQUESTS_BEGUN: AtomicU64 = AtomicU64::new(0);

/// Cablecast requests begun so far by this process.
pub fn requests_begun() -> u64 {
    REQUESTS_BEGUN.load(Ordering::Relaxed)
}

/// The client. Cheap to share between threads by reference.
pub struct CablecastClient {
    settings: CablecastSettings,
    /// `Basic ...`, built once; never printed.
    authorization: Option<String>,
    http_calls: AtomicU64,
    /// Requests answered with an error status.
    answered_errors: AtomicU64,
    /// The server has answered a connection check: no more plain-HTTP
    /// probes.
    tls_answered: AtomicBool,
    /// No retry starts that could not finish by then (the monitor's next
    /// cycle), so backoff never stretches the time between cycles.
    retry_deadline: Mutex<Option<Instant>>,
    /// Set once this server was seen to ignore `ids[]` on VODs: from then
    /// on in-flight VODs are read one request each.
    vod_ids_ignored: AtomicBool,
    /// The newest show `lastModified` decoded, as Unix seconds and the
    /// UTC offset it carried, if any: the offset a search for changes
    /// writes its station-local time with.
    newest_modified: Mutex<Option<(i64, Option<i64>)>>,
}

impl fmt::Debug for CablecastClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CablecastClient")
            .field("api_url", &self.settings.api_url)
            .field("user", &self.user())
            .finish_non_exhaustive()
    }
}

impl CablecastClient {
    pub fn new(settings: CablecastSettings) -> CablecastClient {
        let authorization = settings.credentials.as_ref().map(|c| {
            let pair = format!("{}:{}", c.user, c.password.reveal());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        CablecastClient {
            settings,
            authorization,
            http_calls: AtomicU64::new(0),
            answered_errors: AtomicU64::new(0),
            tls_answered: AtomicBool::new(false),
            retry_deadline: Mutex::new(None),
            vod_ids_ignored: AtomicBool::new(false),
            newest_modified: Mutex::new(None),
        }
    }

    /// Retries only while a retry (its backoff and as long as the failed
    /// attempt took) can end by `deadline`; `None` retries up to the usual
    /// limit. A request not retried now is tried again next cycle.
    pub fn retry_until(&self, deadline: Option<Instant>) {
        *self
            .retry_deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = deadline;
    }

    /// Whether a retry after `backoff` fits, judged by what the failed
    /// attempt took (`took`): a 500 answered in milliseconds is retried in
    /// milliseconds, a timeout takes the full timeout again. A retry of a
    /// quick answer that costs at most [`QUICK_RETRY`] is always allowed: a
    /// cycle running late is late anyway, and restarting the page next
    /// cycle costs more.
    fn may_retry(&self, backoff: Duration, took: Duration) -> bool {
        let deadline = *self
            .retry_deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let cost = backoff + took.min(Duration::from_secs(self.settings.timeout_secs));
        cost <= QUICK_RETRY || deadline.is_none_or(|deadline| Instant::now() + cost <= deadline)
    }

    /// Requests answered with an error status (5xx, or any other than 404
    /// and 401), retries included: a server answering errors to some
    /// requests is flaky, not down.
    pub fn answered_errors(&self) -> u64 {
        self.answered_errors.load(Ordering::Relaxed)
    }

    pub fn settings(&self) -> &CablecastSettings {
        &self.settings
    }

    /// HTTP requests sent so far (retries included).
    pub fn http_calls(&self) -> u64 {
        self.http_calls.load(Ordering::Relaxed)
    }

    /// The connection check: one cheap authenticated listing. Until an
    /// `https://` server has answered once, it is first probed for plain
    /// HTTP, which would otherwise surface only as a timeout.
    pub fn check_connection(&self) -> Result<(), CablecastError> {
        let what = "checking the Cablecast connection";
        let api_url = &self.settings.api_url;
        if api_url.starts_with("https://")
            && !self.tls_answered.load(Ordering::Relaxed)
            && probe::answers_plain_http(api_url, self.settings.timeout_secs)
        {
            return Err(CablecastError::PlainHttp { what: what.into() });
        }
        match self.get::<wire::ShowsEnvelope>("/shows?page_size=1", what) {
            Ok(_) => {
                self.tls_answered.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(CablecastError::NotFound { what }) => Err(CablecastError::WrongApiRoot {
                what,
                api_url: api_url.clone(),
                suggestion: error::api_root_suggestion(api_url),
            }),
            Err(e) => Err(e),
        }
    }

    /// How many shows the server has in all, whatever the location filter
    /// (its listing's `count`), to tell a location that matches nothing from
    /// an empty server.
    pub fn count_all_shows(&self) -> Result<Option<i64>, CablecastError> {
        let envelope: wire::ShowsEnvelope = self.get(
            "/shows?page_size=1",
            "counting the shows on the Cablecast server",
        )?;
        Ok(envelope
            .meta
            .and_then(|m| m.count)
            .or(Some(envelope.shows.len() as i64)))
    }

    /// One page of shows (of the configured location, if any).
    pub fn shows_page(
        &self,
        offset: usize,
        page_size: usize,
    ) -> Result<Page<Show>, CablecastError> {
        let location = self
            .settings
            .location_id
            .map(|l| format!("&location={l}"))
            .unwrap_or_default();
        let path = format!("/shows?offset={offset}&page_size={page_size}{location}");
        let what = format!("listing shows from Cablecast (offset {offset})");
        let envelope: wire::ShowsEnvelope = self.get(&path, &what)?;
        self.note_modified(&envelope.shows);
        Ok(Page {
            total: envelope.meta.and_then(|m| m.count),
            items: envelope
                .shows
                .into_iter()
                .map(|dto| dto.into_show(&self.settings.time_zone))
                .collect(),
        })
    }

    /// One page of VODs.
    pub fn vods_page(&self, offset: usize, page_size: usize) -> Result<Page<Vod>, CablecastError> {
        let path = format!("/vods?offset={offset}&page_size={page_size}");
        let what = format!("listing VODs from Cablecast (offset {offset})");
        let envelope: wire::VodsEnvelope = self.get(&path, &what)?;
        Ok(Page {
            total: envelope.meta.and_then(|m| m.count),
            items: envelope
                .vods
                .into_iter()
                .map(|dto| dto.into_vod(&self.settings.time_zone))
                .collect(),
        })
    }

    /// One VOD's current state; `Ok(None)` when Cablecast says it is gone.
    pub fn vod(&self, id: i64) -> Result<Option<Vod>, CablecastError> {
        let what = format!("reading VOD {id} from Cablecast");
        match self.get::<wire::VodEnvelope>(&format!("/vods/{id}"), &what) {
            Ok(envelope) => {
                let vod = envelope.vod.into_vod(&self.settings.time_zone);
                if vod.id != id {
                    return Err(CablecastError::Malformed {
                        what,
                        detail: format!("asked for VOD {id}, got VOD {}", vod.id),
                    });
                }
                Ok(Some(vod))
            }
            Err(CablecastError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether VODs are worth asking for by `ids[]`: false once this server
    /// was seen to ignore the filter.
    pub fn reads_vods_by_ids(&self) -> bool {
        !self.vod_ids_ignored.load(Ordering::Relaxed)
    }

    /// The VODs among `ids` that Cablecast has, in one request
    /// (`GET /vods?ids[]=...`; at most one group of [`id_groups`]). A VOD
    /// asked for and not answered may still exist: confirm it with
    /// [`CablecastClient::vod`] before taking it as gone.
    ///
    /// `Ok(None)` when the server does not honour the filter (it answered
    /// other VODs or more than asked, or refused the form): logged once, and
    /// [`CablecastClient::reads_vods_by_ids`] is false from then on.
    pub fn vods_by_ids(&self, ids: &[i64]) -> Result<Option<Vec<Vod>>, CablecastError> {
        let path = format!("/vods?{}&page_size={}", ids_query(ids), ids.len());
        let what = format!("reading {} VODs by id from Cablecast", ids.len());
        let envelope: wire::VodsEnvelope = match self.get(&path, &what) {
            Err(e) if refuses_ids(&e) => {
                self.vod_ids_ignored_because(&e.to_string());
                return Ok(None);
            }
            other => other?,
        };
        let answered: Vec<i64> = envelope.vods.iter().map(|v| v.id()).collect();
        if let Some(why) = not_only_asked(ids, &answered, envelope.meta.and_then(|m| m.count)) {
            self.vod_ids_ignored_because(&why);
            return Ok(None);
        }
        let zone = &self.settings.time_zone;
        Ok(Some(
            envelope
                .vods
                .into_iter()
                .map(|dto| dto.into_vod(zone))
                .collect(),
        ))
    }

    fn vod_ids_ignored_because(&self, why: &str) {
        if !self.vod_ids_ignored.swap(true, Ordering::Relaxed) {
            log::warn!(
                "Cablecast does not honour ids[] when asked for VODs by id ({why}); reading in-flight VODs one request each from now on"
            );
        }
    }

    /// The shows among `ids` that Cablecast has, with their VODs sideloaded
    /// (`GET /shows?ids[]=...&include=vod`), in one request (at most one
    /// group of [`id_groups`]). VODs of shows not answered are dropped.
    /// `Ok(None)` when the server does not honour `ids[]` or `include`.
    #[allow(clippy::type_complexity)]
    pub fn shows_with_vods(
        &self,
        ids: &[i64],
    ) -> Result<Option<(Vec<Show>, Vec<Vod>)>, CablecastError> {
        let path = format!(
            "/shows?{}&page_size={}&include=vod",
            ids_query(ids),
            ids.len()
        );
        let what = format!("reading {} changed shows from Cablecast", ids.len());
        let envelope: wire::ShowsWithVodsEnvelope = match self.get(&path, &what) {
            Err(e) if refuses_ids(&e) => {
                log::debug!("{e}");
                return Ok(None);
            }
            other => other?,
        };
        let answered: Vec<i64> = envelope.shows.iter().map(|s| s.id()).collect();
        if let Some(why) = not_only_asked(ids, &answered, envelope.meta.and_then(|m| m.count)) {
            log::debug!("{what}: the answer is not the shows asked for: {why}");
            return Ok(None);
        }
        let Some(vods) = envelope.vods else {
            log::debug!("{what}: no VODs sideloaded (include=vod ignored)");
            return Ok(None);
        };
        self.note_modified(&envelope.shows);
        let zone = &self.settings.time_zone;
        let shows: HashSet<i64> = answered.into_iter().collect();
        let vods = vods
            .into_iter()
            .filter(|v| v.show().is_some_and(|show| shows.contains(&show)))
            .map(|dto| dto.into_vod(zone))
            .collect();
        Ok(Some((
            envelope
                .shows
                .into_iter()
                .map(|dto| dto.into_show(zone))
                .collect(),
            vods,
        )))
    }

    /// The ids of the shows (of the configured location, if any) modified
    /// after `since` (Unix seconds), from the saved show search
    /// (`POST /shows/search/advanced`), with the id the server gave the
    /// search. `Ok(None)` when the server has no such search (404 or 405).
    ///
    /// Cablecast compares station-local wall times: see [`search_time`].
    pub fn shows_modified_since(&self, since: i64) -> Result<Option<ShowSearch>, CablecastError> {
        let offset = self
            .newest_modified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .and_then(|(_, offset)| offset);
        let local = search_time(since, offset, &self.settings.time_zone, clock::unix_now());
        let body = wire::modified_since_search(&local, self.settings.location_id);
        let what = format!("searching Cablecast for shows modified after {local}");
        match self.post::<wire::SavedShowSearchEnvelope>("/shows/search/advanced", &body, &what) {
            Ok(answer) => Ok(Some(ShowSearch {
                ids: answer.saved_show_search.results,
                search_id: answer.saved_show_search.id,
            })),
            Err(CablecastError::NotFound { .. } | CablecastError::Status { code: 405, .. }) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The shows (of the configured location, if any) changed after
    /// `since` (Unix seconds), with their VODs, from the listing's `since`
    /// filter (`GET /shows?since=...&include=vod`, paged): a read that
    /// writes nothing on the server. At most `max_pages` pages are read;
    /// `more` says the listing went on.
    ///
    /// `Ok(None)` when the server does not honour the filter (a show
    /// answered was not changed after `since`: servers ignore unknown
    /// filters) or `include`, or refuses the form.
    pub fn shows_changed_since(
        &self,
        since: i64,
        max_pages: usize,
    ) -> Result<Option<ChangedShows>, CablecastError> {
        let offset = self
            .newest_modified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .and_then(|(_, offset)| offset);
        let local = search_time(since, offset, &self.settings.time_zone, clock::unix_now());
        let zone = &self.settings.time_zone;
        let location = self
            .settings
            .location_id
            .map(|l| format!("&location={l}"))
            .unwrap_or_default();
        let mut changed = ChangedShows::default();
        for page in 0..max_pages {
            let path = format!(
                "/shows?since={local}&include=vod&offset={}&page_size={PAGE_SIZE}{location}",
                page * PAGE_SIZE
            );
            let what = format!("listing Cablecast's shows changed after {local}");
            let envelope: wire::ShowsWithVodsEnvelope = match self.get(&path, &what) {
                Err(e) if refuses_ids(&e) => return Ok(None),
                other => other?,
            };
            let Some(vods) = envelope.vods else {
                log::debug!("{what}: no VODs sideloaded (include=vod ignored)");
                return Ok(None);
            };
            self.note_modified(&envelope.shows);
            let shows: Vec<Show> = envelope
                .shows
                .into_iter()
                .map(|dto| dto.into_show(zone))
                .collect();
            // The time is written up to an hour early across the autumn
            // change; a show changed well before it is the filter ignored.
            let earliest = since - 2 * 3600;
            if shows.iter().any(|show| {
                show.last_modified
                    .as_deref()
                    .and_then(clock::parse_stored)
                    .is_none_or(|at| at < earliest)
            }) {
                log::debug!("{what}: shows changed before it answered (since ignored)");
                return Ok(None);
            }
            let listed: HashSet<i64> = shows.iter().map(|s| s.cablecast_id).collect();
            changed.vods.extend(
                vods.into_iter()
                    .filter(|v| v.show().is_some_and(|show| listed.contains(&show)))
                    .map(|dto| dto.into_vod(zone)),
            );
            let count = shows.len();
            changed.shows.extend(shows);
            let total = envelope.meta.and_then(|m| m.count);
            let done = count == 0 || total.is_some_and(|t| changed.shows.len() as i64 >= t);
            if done {
                return Ok(Some(changed));
            }
        }
        changed.more = true;
        Ok(Some(changed))
    }

    /// The newest show `lastModified` decoded so far (Unix seconds).
    pub fn newest_show_change(&self) -> Option<i64> {
        self.newest_modified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .map(|(unix, _)| unix)
    }

    /// Keeps the newest `lastModified` among `shows`, with its offset.
    fn note_modified(&self, shows: &[wire::ShowDto]) {
        let newest = shows
            .iter()
            .filter_map(|s| {
                s.last_modified()
                    .and_then(|text| clock::cablecast_instant(text, &self.settings.time_zone))
            })
            .max_by_key(|(unix, _)| *unix);
        if let Some(newest) = newest {
            let mut known = self
                .newest_modified
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if known.is_none_or(|(unix, _)| newest.0 >= unix) {
                *known = Some(newest);
            }
        }
    }

    fn user(&self) -> Option<String> {
        self.settings.credentials.as_ref().map(|c| c.user.clone())
    }

    /// GET with retries on transient failures, then decode.
    fn get<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, CablecastError> {
        self.with_retries(what, || self.send_once(self.request(path, None), what))
    }

    /// POST a JSON body (a query: sending it twice does no harm), with
    /// retries on transient failures, then decode.
    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
        what: &str,
    ) -> Result<T, CablecastError> {
        let body = body.to_string();
        self.with_retries(what, || {
            self.send_once(self.request(path, Some(body.as_str())), what)
        })
    }

    /// Every request to Cablecast is built here: a GET of `path` under the
    /// API root, or a POST of the JSON `body`, asking for JSON, with the
    /// timeout, no redirects followed, and the credentials when set.
    fn request(&self, path: &str, body: Option<&str>) -> Request {
        let url = format!("{}{path}", self.settings.api_url);
        let request = match body {
            None => Request::get(&url),
            Some(body) => Request::post(&url)
                .with_header("Content-Type", "application/json")
                .with_body(body),
        };
        // The door adds the User-Agent and never follows a redirect: the
        // Authorization header goes to the configured origin only.
        let request = request
            .with_header("Accept", "application/json")
            .with_timeout(self.settings.timeout_secs)
            .with_max_headers_size(64 * 1024)
            .with_max_status_line_length(1024);
        match &self.authorization {
            Some(authorization) => request.with_header("Authorization", authorization.as_str()),
            None => request,
        }
    }

    fn with_retries<T>(
        &self,
        what: &str,
        mut send: impl FnMut() -> Result<T, CablecastError>,
    ) -> Result<T, CablecastError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            // A stopping service sends nothing new: the cycle ends at once.
            if crate::shutdown::requested() {
                return Err(CablecastError::Stopped {
                    what: what.to_string(),
                });
            }
            let sent = Instant::now();
            match send() {
                Err(e)
                    if e.is_transient()
                        && attempt < MAX_ATTEMPTS
                        && self.may_retry(backoff, sent.elapsed()) =>
                {
                    // A silent server is a wait a person should hear about.
                    let level = match e {
                        CablecastError::Timeout { .. } => log::Level::Warn,
                        _ => log::Level::Debug,
                    };
                    log::log!(
                        level,
                        "{e}; trying again (attempt {} of {MAX_ATTEMPTS})",
                        attempt + 1
                    );
                    thread::sleep(backoff);
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn send_once<T: DeserializeOwned>(
        &self,
        request: Request,
        what: &str,
    ) -> Result<T, CablecastError> {
        self.http_calls.fetch_add(1, Ordering::Relaxed);
        REQUESTS_BEGUN.fetch_add(1, Ordering::Relaxed);
        let response = request.send().map_err(|e| self.transport_error(what, e))?;
        let code = response.status_code;
        match code {
            200..=299 => {}
            300..=399 => {
                return Err(CablecastError::Redirected {
                    what: what.to_string(),
                    code,
                    location: shown_location(response.header("location")),
                })
            }
            401 => {
                return Err(CablecastError::Unauthorized {
                    what: what.to_string(),
                    user: self.user(),
                })
            }
            404 => {
                return Err(CablecastError::NotFound {
                    what: what.to_string(),
                })
            }
            _ => {
                self.answered_errors.fetch_add(1, Ordering::Relaxed);
                return Err(CablecastError::Status {
                    what: what.to_string(),
                    code,
                });
            }
        }
        let mut body = Vec::new();
        response
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                self.transport_error(
                    what,
                    outbound::Error::from_io(&e, self.settings.timeout_secs),
                )
            })?;
        if body.len() as u64 > MAX_BODY_BYTES {
            return Err(CablecastError::Malformed {
                what: what.to_string(),
                detail: format!("answer larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024)),
            });
        }
        serde_json::from_slice(&body).map_err(|e| {
            let text = String::from_utf8_lossy(&body);
            // XML (the API's other language) is not a page.
            let opening = text.chars().take(1024).collect::<String>().to_lowercase();
            if opening.contains("<html") || opening.contains("<!doctype html") {
                return CablecastError::HtmlPage {
                    what: what.to_string(),
                    title: error::html_title(&text),
                };
            }
            CablecastError::Malformed {
                what: what.to_string(),
                detail: e.to_string(),
            }
        })
    }

    fn transport_error(&self, what: &str, e: outbound::Error) -> CablecastError {
        match e {
            outbound::Error::Timeout { .. } => {
                return CablecastError::Timeout {
                    what: what.to_string(),
                    secs: self.settings.timeout_secs,
                }
            }
            outbound::Error::Closed => {
                return CablecastError::Closed {
                    what: what.to_string(),
                }
            }
            _ => {}
        }
        CablecastError::Unreachable {
            what: what.to_string(),
            detail: e.to_string(),
        }
    }
}

/// A redirect's target as it may be shown: at most 200 characters, printable,
/// without user information (`user:password@`) or a query string.
fn shown_location(location: Option<&str>) -> String {
    let Some(location) = location else {
        return "no location".to_string();
    };
    let mut shown: &str = location.split(['?', '#']).next().unwrap_or_default();
    let owned;
    if let Some((scheme, rest)) = shown.split_once("://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        owned = format!("{scheme}://{host}{path}");
        shown = &owned;
    }
    shown
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::StationZone;
    use crate::config::{Credentials, Password};

    #[test]
    fn a_shown_redirect_target_carries_no_credentials_or_query() {
        let shown = |l: &str| shown_location(Some(l));
        assert_eq!(
            shown("https://user:secret@cablecast.example.org/CablecastAPI/v1/shows?page_size=1"),
            "https://cablecast.example.org/CablecastAPI/v1/shows"
        );
        assert_eq!(shown("/CablecastAPI/v1/shows"), "/CablecastAPI/v1/shows");
        assert_eq!(shown("http://h\r\nX: y/"), "http://hX: y/");
        assert_eq!(shown_location(None), "no location");
    }

    #[test]
    fn id_groups_hold_at_most_a_page_and_a_bounded_query() {
        let ids: Vec<i64> = (1..=250).collect();
        let groups = id_groups(&ids);
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        assert_eq!(groups.concat(), ids);
        // Long ids: the query string bound cuts groups shorter.
        let long: Vec<i64> = (0..300).map(|n| 9_000_000_000_000 + n).collect();
        let groups = id_groups(&long);
        assert!(groups.len() > 3, "{}", groups.len());
        for group in &groups {
            assert!(ids_query(group).len() <= MAX_IDS_QUERY_CHARS);
        }
        assert_eq!(groups.concat(), long);
        assert!(id_groups(&[]).is_empty());
        assert_eq!(ids_query(&[7, 9]), "ids%5B%5D=7&ids%5B%5D=9");
    }

    #[test]
    fn answers_to_other_ids_are_told_apart() {
        assert_eq!(not_only_asked(&[1, 2, 3], &[3, 1], Some(2)), None);
        assert_eq!(not_only_asked(&[1, 2, 3], &[], None), None);
        assert!(not_only_asked(&[1, 2], &[1, 2, 3], None).is_some());
        assert!(not_only_asked(&[1, 2], &[1, 5], None).is_some());
        assert!(not_only_asked(&[1, 2], &[1, 1], None).is_some());
        // The first page of everything, which happens to be the ids asked.
        assert!(not_only_asked(&[1, 2], &[1, 2], Some(40_000)).is_some());
    }

    #[test]
    fn a_search_across_the_autumn_change_reaches_back_over_the_repeated_hour() {
        let zone = StationZone::named("America/Chicago").expect("zone");
        // 2026-11-01: 2:00 CDT falls back to 1:00 CST. The first 1:45
        // (CDT) is 06:45 UTC; a show changed later, in the second 1:30
        // (CST, 07:30 UTC), carries the wall time 1:30.
        let first_quarter_to_two = 1_793_515_500;
        let after_the_change = first_quarter_to_two + 2 * 3600;
        let since = search_time(
            first_quarter_to_two,
            Some(-5 * 3600),
            &zone,
            after_the_change,
        );
        assert_eq!(since, "2026-11-01T00:45:00");
        assert!(since.as_str() < "2026-11-01T01:30:00");
        // Away from the change, the wall time is the instant's own.
        let summer = 1_783_000_000;
        assert_eq!(
            search_time(summer, Some(-5 * 3600), &zone, summer + 600),
            clock::station_local(summer, Some(-5 * 3600), &zone)
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let client = CablecastClient::new(CablecastSettings {
            api_url: "http://127.0.0.1:9/cablecastapi/v1".into(),
            credentials: Some(Credentials {
                user: "station".into(),
                password: Password::new("hunter2-secret".into()),
            }),
            location_id: None,
            timeout_secs: 1,
            time_zone: StationZone::utc(),
        });
        let shown = format!("{client:?} {:?}", client.settings());
        assert!(!shown.contains("hunter2"), "{shown}");
        // base64 of "station:hunter2-secret" starts with this
        assert!(!shown.contains("c3RhdGlvbjpodW50ZXIy"), "{shown}");
    }
}
