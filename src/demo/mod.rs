//! The built-in demo station: a small Cablecast-compatible API on a loopback
//! port, serving a generated catalogue whose VOD states move over time.
//!
//! `archivist demo` runs the real monitor against it; the tests, the
//! benchmark and the load test use it as the Cablecast they talk to. Its
//! answers have the shape of a real server's (envelopes, paging `meta`, nulls,
//! properties Archivist ignores), and it can be told to misbehave the way
//! real servers do (see [`Fault`]). It serves listings, reads by id
//! (`ids[]`, with `include=vod` sideloading on shows), single shows and
//! VODs, the `since` filter on show listings (station-local time), and the
//! saved show search (`POST /shows/search/advanced`, filters
//! `lastModified greaterThan` and `location equals`; it keeps no record
//! unless told to, [`Fault::KeepsSearches`]). Its catalogue can add a VOD to
//! a show without moving the show's `lastModified`
//! ([`Catalogue::vods_leave_shows_alone`]), and it can answer a share of
//! requests with 500s ([`Fault::ErrorEvery`]). It is not a Cablecast
//! emulator beyond the endpoints Archivist calls.

mod catalogue;

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

pub use catalogue::{Catalogue, DemoShow, DemoVod};

use crate::clock;

/// The API root path, as many stations spell it.
pub const API_PATH: &str = "/CablecastAPI/v1";

/// Worker threads answering requests: enough for the monitor's parallel
/// refresh plus a benchmark's.
const WORKERS: usize = 8;

/// How the demo station misbehaves, for tests of Archivist's defences.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answers as a healthy server does.
    #[default]
    None,
    /// Every request answers this HTTP status with an HTML page.
    Status(u16),
    /// Every answer is cut off in the middle of its JSON.
    TruncatedJson,
    /// Every answer is not JSON at all.
    NotJson,
    /// Every answer is JSON of the wrong shape.
    WrongShape,
    /// Listings claim more items than they return.
    CountTooLarge,
    /// Reads of VODs by id (`GET /vods/{id}`, and `GET /vods?ids[]=...`)
    /// answer with this status; listings stay healthy.
    VodStatus(u16),
    /// An older Cablecast (or a proxy in front of one): `ids[]` and
    /// `include` are ignored, so a read by id answers a plain page of the
    /// listing, and there is no saved show search.
    OlderServer,
    /// This VOD is left out of every `ids[]` answer, as a server whose
    /// batched read lags its single reads might; `GET /vods/{id}` still
    /// answers it.
    OmittedFromIds(i64),
    /// Staff delete the first VOD while a catalogue pass pages through the
    /// VODs: once, just before the listing's second page is answered.
    DeleteWhileListing,
    /// Listings carry no `meta` (so no total) and hold at most this many
    /// items, whatever `page_size` asks: a server capping its pages.
    CappedPagesWithoutMeta(usize),
    /// One request in this many (every request whose number is a multiple
    /// of it) answers HTTP 500, the rest answer as usual: a flaky server.
    /// `ErrorEvery(50)` is 2 % of answers.
    ErrorEvery(u64),
    /// Show listings ignore the `since` filter, as a server without it
    /// does; the saved show search answers.
    IgnoresSince,
    /// A server without the saved show search (404) nor the `since`
    /// filter on show listings, answering everything else.
    NoSearch,
    /// Pages of the VOD listing from this offset on answer HTTP 500, the
    /// rest answer as usual: a catalogue pass stops part-way.
    VodPagesFailFrom(usize),
    /// The saved show search keeps a record of every search, and its answer
    /// carries the record's id, one more each time; show listings ignore
    /// `since`, so the search is what a look can use. Without this fault
    /// the search keeps nothing and answers id 0.
    KeepsSearches,
}

/// How to start a demo station.
#[derive(Debug, Clone)]
pub struct StationOptions {
    pub listen: SocketAddr,
    /// Shows to generate (VODs come to about 1.1 per show).
    pub shows: usize,
    pub seed: u64,
    /// When set, every request must carry these (user, password).
    pub credentials: Option<(String, String)>,
    /// Added before every answer, to play a slow server.
    pub latency: Duration,
    /// When set, the station's day moves on ([`Catalogue::advance`]) this
    /// often, for as long as the station runs.
    pub moves_every: Option<Duration>,
}

impl Default for StationOptions {
    fn default() -> Self {
        StationOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            shows: 300,
            seed: 2026,
            credentials: None,
            latency: Duration::ZERO,
            moves_every: None,
        }
    }
}

/// What tests and the demo can change while the station runs.
#[derive(Debug, Default)]
struct Behaviour {
    fault: Fault,
    latency: Duration,
}

struct Shared {
    catalogue: Mutex<Catalogue>,
    behaviour: Mutex<Behaviour>,
    /// `Basic ...` expected, when credentials are required.
    authorization: Option<String>,
    requests: AtomicU64,
    /// Saved searches kept so far (with [`Fault::KeepsSearches`], each gets
    /// an id).
    searches: AtomicU64,
    /// Saved show searches posted, kept or not.
    posted: AtomicU64,
}

/// A running demo station. Stops when dropped.
pub struct DemoStation {
    addr: SocketAddr,
    server: Arc<Server>,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// The thread moving the station's day on, and what stops it.
    mover: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl DemoStation {
    pub fn start(options: StationOptions) -> io::Result<DemoStation> {
        let server = Server::http(options.listen)
            .map_err(|e| io::Error::other(format!("demo station on {}: {e}", options.listen)))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("demo station is not on an IP address"))?;
        let server = Arc::new(server);
        let shared = Arc::new(Shared {
            catalogue: Mutex::new(Catalogue::generate(options.shows, options.seed)),
            behaviour: Mutex::new(Behaviour {
                fault: Fault::None,
                latency: options.latency,
            }),
            authorization: options.credentials.map(|(user, password)| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                )
            }),
            requests: AtomicU64::new(0),
            searches: AtomicU64::new(0),
            posted: AtomicU64::new(0),
        });
        let workers = (0..WORKERS)
            .map(|_| {
                let server = Arc::clone(&server);
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        let number = 1 + shared.requests.fetch_add(1, Ordering::Relaxed);
                        answer(&shared, request, number);
                    }
                })
            })
            .collect();
        let mover = options.moves_every.map(|every| {
            let (stop, stopped) = mpsc::channel::<()>();
            let shared = Arc::clone(&shared);
            let thread = thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    lock(&shared.catalogue).advance();
                }
            });
            (stop, thread)
        });
        Ok(DemoStation {
            addr,
            server,
            shared,
            workers,
            mover,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `CABLECAST_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}{API_PATH}", self.addr)
    }

    /// The catalogue, to read or change (tests move states with it).
    pub fn catalogue(&self) -> MutexGuard<'_, Catalogue> {
        lock(&self.shared.catalogue)
    }

    pub fn set_fault(&self, fault: Fault) {
        lock(&self.shared.behaviour).fault = fault;
    }

    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.behaviour).latency = latency;
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Saved show searches posted so far: each one a record a real server
    /// may keep.
    pub fn searches_posted(&self) -> u64 {
        self.shared.posted.load(Ordering::Relaxed)
    }
}

impl Drop for DemoStation {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.mover.take() {
            drop(stop);
            let _ = thread.join();
        }
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn header(name: &str, value: &str) -> Header {
    // reason: every caller passes constant ASCII names and values.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

fn answer(shared: &Shared, mut request: Request, number: u64) {
    let (fault, latency) = {
        let behaviour = lock(&shared.behaviour);
        (behaviour.fault.clone(), behaviour.latency)
    };
    if !latency.is_zero() {
        thread::sleep(latency);
    }
    let (status, body) = match fault {
        Fault::ErrorEvery(every) if every > 0 && number % every == 0 => (500, error_page(500)),
        _ => route(shared, &mut request, &fault),
    };
    let content_type = if body.starts_with('<') {
        "text/html; charset=utf-8"
    } else {
        "application/json; charset=utf-8"
    };
    let mut response = Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type));
    if status == 401 {
        response = response.with_header(header("WWW-Authenticate", "Basic realm=\"Cablecast\""));
    }
    // The client may have gone away; nothing to do about it here.
    let _ = request.respond(response);
}

fn route(shared: &Shared, request: &mut Request, fault: &Fault) -> (u16, String) {
    if let Some(expected) = &shared.authorization {
        let given = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Authorization"))
            .map(|h| h.value.as_str());
        if given != Some(expected.as_str()) {
            return (
                401,
                json!({"message": "Authorization has been denied for this request."}).to_string(),
            );
        }
    }
    if let Fault::Status(code) = fault {
        return (*code, error_page(*code));
    }
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let path = path.to_ascii_lowercase();
    let search_path = format!("{}/shows/search/advanced", API_PATH.to_ascii_lowercase());
    let has_search = !matches!(fault, Fault::OlderServer | Fault::NoSearch);
    if *request.method() == Method::Post && path == search_path && has_search {
        let mut body = String::new();
        if request
            .as_reader()
            .take(64 * 1024)
            .read_to_string(&mut body)
            .is_err()
        {
            return (400, json!({"message": "unreadable body"}).to_string());
        }
        return search(shared, &body, fault);
    }
    if *request.method() != Method::Get {
        return (
            405,
            json!({"message": "The requested resource does not support this method."}).to_string(),
        );
    }
    let Some(resource) = path.strip_prefix(&API_PATH.to_ascii_lowercase()) else {
        return (
            404,
            json!({"message": "No HTTP resource was found that matches the request URI."})
                .to_string(),
        );
    };
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.parse::<i64>().ok())
    };
    let offset = param("offset").unwrap_or(0).max(0) as usize;
    let page_size = param("page_size").unwrap_or(25).clamp(1, 1000) as usize;
    // An older server knows neither `ids[]` nor `include`.
    let ids = (*fault != Fault::OlderServer)
        .then(|| ids_param(query))
        .flatten();
    let include_vods = *fault != Fault::OlderServer
        && query
            .split('&')
            .any(|pair| pair.eq_ignore_ascii_case("include=vod"));
    if let Fault::VodPagesFailFrom(from) = fault {
        if resource.trim_end_matches('/') == "/vods" && ids.is_none() && offset >= *from {
            return (500, error_page(500));
        }
    }
    // Servers without the filter ignore it, as they ignore every unknown
    // one.
    let honours_since = !matches!(
        fault,
        Fault::OlderServer | Fault::NoSearch | Fault::KeepsSearches | Fault::IgnoresSince
    );
    let since = honours_since.then(|| since_param(query)).flatten();
    let mut catalogue = lock(&shared.catalogue);
    if *fault == Fault::DeleteWhileListing
        && resource.trim_end_matches('/') == "/vods"
        && offset > 0
    {
        if let Some(first) = catalogue.vods.first().map(|v| v.id) {
            catalogue.remove_vod(first);
        }
        lock(&shared.behaviour).fault = Fault::None;
    }
    let body = match resource.trim_end_matches('/') {
        "/shows" => {
            let location = param("location");
            let shows: Vec<&DemoShow> = catalogue
                .shows
                .iter()
                .filter(|s| location.is_none_or(|l| s.location == l))
                .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.id)))
                .filter(|s| since.is_none_or(|since| catalogue.last_modified(s) > since))
                .collect();
            let shown: Vec<&DemoShow> =
                shows.iter().skip(offset).take(page_size).copied().collect();
            let page: Vec<Value> = shown.iter().map(|s| show_json(&catalogue, s)).collect();
            let mut body = listing("shows", page, offset, page_size, shows.len(), fault);
            if include_vods {
                let vods: Vec<Value> = catalogue
                    .vods
                    .iter()
                    .filter(|v| shown.iter().any(|s| s.id == v.show))
                    .map(vod_json)
                    .collect();
                body["vods"] = Value::from(vods);
            }
            body
        }
        "/vods" => {
            if ids.is_some() {
                if let Fault::VodStatus(code) = fault {
                    return (*code, error_page(*code));
                }
            }
            let vods: Vec<&DemoVod> = catalogue
                .vods
                .iter()
                .filter(|v| ids.as_ref().is_none_or(|ids| ids.contains(&v.id)))
                .filter(|v| ids.is_none() || *fault != Fault::OmittedFromIds(v.id))
                .collect();
            let page: Vec<Value> = vods
                .iter()
                .skip(offset)
                .take(page_size)
                .map(|v| vod_json(v))
                .collect();
            listing("vods", page, offset, page_size, vods.len(), fault)
        }
        other => {
            if let Some(id) = other
                .strip_prefix("/vods/")
                .and_then(|id| id.parse::<i64>().ok())
            {
                if let Fault::VodStatus(code) = fault {
                    return (*code, error_page(*code));
                }
                match catalogue.vods.iter().find(|v| v.id == id) {
                    Some(vod) => json!({"vod": vod_json(vod)}),
                    None => {
                        return (
                            404,
                            json!({"message": format!("VOD {id} not found")}).to_string(),
                        )
                    }
                }
            } else if let Some(id) = other
                .strip_prefix("/shows/")
                .and_then(|id| id.parse::<i64>().ok())
            {
                match catalogue.shows.iter().find(|s| s.id == id) {
                    Some(show) => json!({"meta": null, "show": show_json(&catalogue, show)}),
                    None => {
                        return (
                            404,
                            json!({"message": format!("Show {id} not found")}).to_string(),
                        )
                    }
                }
            } else {
                return (
                    404,
                    json!({"message": "No HTTP resource was found that matches the request URI."})
                        .to_string(),
                );
            }
        }
    };
    drop(catalogue);
    (200, misbehave(body, fault))
}

/// The `since=` filter of a show listing, as Unix seconds: a station-local
/// time (the station is at -05:00).
fn since_param(query: &str) -> Option<i64> {
    let value = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.eq_ignore_ascii_case("since"))?
        .1
        .replace("%3A", ":")
        .replace("%3a", ":");
    let local = clock::from_cablecast(&value, &clock::StationZone::utc())?;
    Some(clock::parse_stored(&local)? + 5 * 3600)
}

/// The ids of an `ids[]=` filter (also spelt `ids%5B%5D=`), if the query
/// has one.
fn ids_param(query: &str) -> Option<Vec<i64>> {
    let ids: Vec<i64> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| {
            key.eq_ignore_ascii_case("ids[]") || key.eq_ignore_ascii_case("ids%5B%5D")
        })
        .filter_map(|(_, value)| value.parse().ok())
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// The saved show search: shows matching every filter (`lastModified
/// greaterThan` a station-local time, `location equals`), oldest change
/// first. Any other filter is refused, so a client asking for more than
/// this station knows hears so.
fn search(shared: &Shared, body: &str, fault: &Fault) -> (u16, String) {
    shared.posted.fetch_add(1, Ordering::Relaxed);
    let refuse = |why: &str| (400, json!({"message": why}).to_string());
    let Ok(mut request) = serde_json::from_str::<Value>(body) else {
        return refuse("the body is not JSON");
    };
    let Some(saved) = request.get_mut("savedShowSearch") else {
        return refuse("no savedShowSearch");
    };
    let mut after: Option<i64> = None;
    let mut location: Option<i64> = None;
    let groups = saved["query"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for filter in groups
        .iter()
        .flat_map(|g| g["filters"].as_array().cloned().unwrap_or_default())
    {
        let value = filter["searchValue"].as_str().unwrap_or_default();
        match (filter["field"].as_str(), filter["operator"].as_str()) {
            (Some("lastModified"), Some("greaterThan")) => {
                // Station-local time, no offset: the station is at -05:00.
                let Some(local) = clock::from_cablecast(value, &clock::StationZone::utc())
                    .as_deref()
                    .and_then(clock::parse_stored)
                else {
                    return refuse("lastModified needs a date-time");
                };
                after = Some(local + 5 * 3600);
            }
            (Some("location"), Some("equals")) => match value.parse() {
                Ok(l) => location = Some(l),
                Err(_) => return refuse("location needs a number"),
            },
            _ => return refuse("unsupported filter"),
        }
    }
    let catalogue = lock(&shared.catalogue);
    let mut found: Vec<(i64, i64)> = catalogue
        .shows
        .iter()
        .filter(|s| location.is_none_or(|l| s.location == l))
        .map(|s| (catalogue.last_modified(s), s.id))
        .filter(|(modified, _)| after.is_none_or(|after| *modified > after))
        .collect();
    drop(catalogue);
    found.sort_unstable();
    let id = match fault {
        Fault::KeepsSearches => 1 + shared.searches.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
    saved["id"] = Value::from(id);
    saved["results"] = Value::from(found.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    (200, json!({"savedShowSearch": saved}).to_string())
}

fn listing(
    name: &str,
    page: Vec<Value>,
    offset: usize,
    page_size: usize,
    count: usize,
    fault: &Fault,
) -> Value {
    if let Fault::CappedPagesWithoutMeta(cap) = fault {
        let page: Vec<Value> = page.into_iter().take(*cap).collect();
        return json!({ name: page });
    }
    let count = if *fault == Fault::CountTooLarge {
        count + 50
    } else {
        count
    };
    json!({ name: page, "meta": {"offset": offset, "pageSize": page_size, "count": count}})
}

fn misbehave(body: Value, fault: &Fault) -> String {
    match fault {
        Fault::TruncatedJson => {
            let text = body.to_string();
            text[..text.len() / 2].to_string()
        }
        Fault::NotJson => "Service temporarily in maintenance mode".to_string(),
        Fault::WrongShape => json!({"vods": {"id": "not-a-list"}, "shows": 17}).to_string(),
        _ => body.to_string(),
    }
}

fn error_page(code: u16) -> String {
    format!("<!DOCTYPE html><html><head><title>{code}</title></head><body><h1>Server Error</h1><p>Runtime error {code}.</p></body></html>")
}

/// Cablecast's local date-time form with an offset (the demo station is on
/// US Central daylight time).
fn cablecast_time(unix: i64) -> String {
    let local = clock::format_unix(unix - 5 * 3600);
    format!("{}-05:00", local.trim_end_matches('Z'))
}

fn show_json(catalogue: &Catalogue, show: &DemoShow) -> Value {
    json!({
        "id": show.id,
        "location": show.location,
        "title": show.title,
        "cgTitle": show.cg_title,
        "eventDate": cablecast_time(show.event_at),
        "lastModified": cablecast_time(catalogue.last_modified(show)),
        "vods": show.vods,
        "reels": [show.id + 1],
        "totalRunTime": show.run_time,
        "comments": null,
        "custom1": null,
        "custom2": null,
        "category": 3,
        "producer": 12,
        "project": null,
        "showThumbnails": [],
        "customFields": [{"id": show.id * 3, "fieldName": "Tags", "value": null}],
        "hasCaptions": show.has_captions,
        "captionProvider": show.caption_provider
    })
}

fn vod_json(vod: &DemoVod) -> Value {
    let complete = vod.state == "complete";
    json!({
        "id": vod.id,
        "show": vod.show,
        "vodState": vod.state,
        "percentComplete": vod.percent,
        "errorMessage": vod.error_message,
        "statusMessage": vod.status_message,
        "url": complete.then(|| format!("https://demo.cablecast.invalid/store-3/{}-v1/vod.mp4", vod.show)),
        "embedCode": null,
        "length": vod.length,
        "quality": if complete { json!(2) } else { Value::Null },
        "fileName": null,
        "stateChange": vod.state_change.map(cablecast_time),
        "isWatchable": complete,
        "disabled": vod.state == "disabled",
        "chapters": [],
        "views": 0,
        "vodTranscodeQuality": null
    })
}
