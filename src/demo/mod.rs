//! The built-in demo station: a small Cablecast-compatible API on a loopback
//! port, serving a generated catalogue whose VOD states move over time.
//!
//! `archivist demo` runs the real monitor against it; the tests, the
//! benchmark and the load test use it as the Cablecast they talk to. Its
//! answers have the shape of a real server's (envelopes, paging `meta`, nulls,
//! properties Archivist ignores), and it can be told to misbehave the way
//! real servers do (see [`Fault`]). It is not a Cablecast emulator beyond the
//! endpoints Archivist calls.

mod catalogue;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Only `GET /vods/{id}` answers with this status; listings stay healthy.
    VodStatus(u16),
    /// Staff delete the first VOD while a catalogue pass pages through the
    /// VODs: once, just before the listing's second page is answered.
    DeleteWhileListing,
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
}

impl Default for StationOptions {
    fn default() -> Self {
        StationOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            shows: 300,
            seed: 2026,
            credentials: None,
            latency: Duration::ZERO,
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
}

/// A running demo station. Stops when dropped.
pub struct DemoStation {
    addr: SocketAddr,
    server: Arc<Server>,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
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
        });
        let workers = (0..WORKERS)
            .map(|_| {
                let server = Arc::clone(&server);
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        shared.requests.fetch_add(1, Ordering::Relaxed);
                        answer(&shared, request);
                    }
                })
            })
            .collect();
        Ok(DemoStation {
            addr,
            server,
            shared,
            workers,
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
}

impl Drop for DemoStation {
    fn drop(&mut self) {
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
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

fn answer(shared: &Shared, request: Request) {
    let (fault, latency) = {
        let behaviour = lock(&shared.behaviour);
        (behaviour.fault.clone(), behaviour.latency)
    };
    if !latency.is_zero() {
        thread::sleep(latency);
    }
    let (status, body) = route(shared, &request, &fault);
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

fn route(shared: &Shared, request: &Request, fault: &Fault) -> (u16, String) {
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
    if *request.method() != Method::Get {
        return (
            405,
            json!({"message": "The requested resource does not support this method."}).to_string(),
        );
    }
    let url = request.url();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path = path.to_ascii_lowercase();
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
                .collect();
            let page: Vec<Value> = shows
                .iter()
                .skip(offset)
                .take(page_size)
                .map(|s| show_json(s))
                .collect();
            listing("shows", page, offset, page_size, shows.len(), fault)
        }
        "/vods" => {
            let page: Vec<Value> = catalogue
                .vods
                .iter()
                .skip(offset)
                .take(page_size)
                .map(vod_json)
                .collect();
            listing("vods", page, offset, page_size, catalogue.vods.len(), fault)
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
                    Some(show) => json!({"meta": null, "show": show_json(show)}),
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

fn listing(
    name: &str,
    page: Vec<Value>,
    offset: usize,
    page_size: usize,
    count: usize,
    fault: &Fault,
) -> Value {
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

fn show_json(show: &DemoShow) -> Value {
    json!({
        "id": show.id,
        "location": show.location,
        "title": show.title,
        "cgTitle": show.cg_title,
        "eventDate": cablecast_time(show.event_at),
        "lastModified": cablecast_time(show.event_at + 3 * 86_400),
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
        "customFields": [{"id": show.id * 3, "fieldName": "Tags", "value": null}]
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
        "statusMessage": null,
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
