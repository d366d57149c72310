//! Which path answers what. Every request ends here in one [`Reply`]:
//! handlers return `Result<Reply, WebError>` and [`Site::answer`] turns an
//! error into its status and one-line body.

use std::io::Read;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tiny_http::{Method, Request};

use super::admin::{self, AdminToken};
use super::alerts::{self, AlertsView};
use super::facts::{Facts, FACTS_TTL};
use super::links::CablecastLinks;
use super::page::{self, Moment, Overview};
use super::query::Query;
use super::reply::{self, Body, Reply};
use super::vod_pages::{self, ApiVod, ShowView, VodView};
use super::WebError;
use crate::alert::Pulse;
use crate::alert::{CABLECAST_KINDS, PUBLISHING_KINDS};
use crate::cache::{Key, Weigh};
use crate::clock::{self, StationZone};
use crate::status::{StatusBoard, SyncNow};
use crate::store::StoreError;
use crate::store::{HistoryRange, VersionProbe};
use crate::transcription::{self, RecordError, TranscriptionReport};

/// Largest request body accepted (write endpoints take small JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a rendered page lives without a database change: its "in this
/// state for ..." times move with the clock.
const PAGE_TTL: Duration = Duration::from_secs(15);
/// `/api/vods` says which VODs are stuck, which moves with the clock.
const VODS_TTL: Duration = Duration::from_secs(60);
/// The history's window ends now, so it moves with the clock.
const HISTORY_TTL: Duration = Duration::from_secs(30);
/// `/api/vods` page sizes.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

const READ_METHODS: &str = "GET, HEAD";

/// A GET route whose answer is rendered once per data version and served
/// from the answer cache: registering one is a constant like these and one
/// `match` arm in [`Site::route`].
struct Route {
    /// The cache key's route part.
    key: &'static str,
    /// The query parameters the answer depends on (others are ignored, so
    /// they neither split the cache nor change the answer).
    params: &'static [&'static str],
    ttl: Duration,
    render: fn(&Site, &Query) -> Result<Rendered, WebError>,
}

const PAGE: Route = Route {
    key: "/",
    params: &[],
    ttl: PAGE_TTL,
    render: Site::page,
};
const VODS: Route = Route {
    key: "/api/vods",
    params: &["state", "stuck", "q", "from", "to", "limit", "offset"],
    ttl: VODS_TTL,
    render: Site::vods,
};
const VOD_LIST: Route = Route {
    key: "/vods",
    params: &["state", "stuck", "q", "from", "to", "page"],
    ttl: PAGE_TTL,
    render: Site::vod_list,
};
/// Silences end with the clock, so the alerts answer is short-lived.
const ALERTS: Route = Route {
    key: "/api/alerts",
    params: &[],
    ttl: PAGE_TTL,
    render: Site::alerts,
};
const HISTORY: Route = Route {
    key: "/api/history",
    params: &["range"],
    ttl: HISTORY_TTL,
    render: Site::history,
};

/// A rendered answer as the cache keeps it.
pub struct Rendered {
    content_type: &'static str,
    body: Arc<[u8]>,
}

impl Rendered {
    fn new(content_type: &'static str, body: impl Into<Arc<[u8]>>) -> Rendered {
        Rendered {
            content_type,
            body: body.into(),
        }
    }
}

impl Weigh for Rendered {
    fn bytes(&self) -> usize {
        self.body.len()
    }
}

/// What the workers share: the database, the cached answers, the admin
/// settings and the way to wake the monitor.
pub struct Site {
    board: Arc<StatusBoard>,
    /// Tells whether the file changed, without waiting for the watch
    /// connection (busy for the whole sync-stats aggregate).
    probe: VersionProbe,
    admin_token: Option<AdminToken>,
    sync_now: Option<SyncSender<SyncNow>>,
    /// `/healthz` fails when the last cycle is older than this.
    cycle_deadline: Duration,
    /// Links into Cablecast, when its URL is known.
    links: Option<CablecastLinks>,
    /// The station's time zone, for every time a person reads.
    zone: StationZone,
}

impl Site {
    pub fn new(
        board: Arc<StatusBoard>,
        admin_token: Option<AdminToken>,
        sync_now: Option<SyncSender<SyncNow>>,
        cycle_deadline: Duration,
    ) -> Result<Site, StoreError> {
        Ok(Site {
            probe: board.store().version_probe()?,
            board,
            admin_token,
            sync_now,
            cycle_deadline,
            links: None,
            zone: StationZone::utc(),
        })
    }

    /// Shows times, and reads the day filters, in `zone`.
    pub fn in_zone(mut self, zone: StationZone) -> Site {
        self.zone = zone;
        self
    }

    /// Links VODs and shows into Cablecast with `links`.
    pub fn with_cablecast_links(mut self, links: Option<CablecastLinks>) -> Site {
        self.links = links;
        self
    }

    /// Answers one request; never panics on bad input.
    pub fn answer(&self, request: &mut Request) -> Reply {
        self.route(request)
            .unwrap_or_else(|error| Reply::error(&error))
    }

    fn route(&self, request: &mut Request) -> Result<Reply, WebError> {
        let url = request.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let method = request.method().clone();
        let read = || match method {
            Method::Get | Method::Head => Ok(()),
            _ => Err(WebError::MethodNotAllowed(READ_METHODS)),
        };
        let read_only = |reply: fn(&Site, &Query) -> Result<Reply, WebError>| {
            read()?;
            reply(self, &Query::parse(query)?)
        };
        let cached = |route: &Route| {
            read()?;
            self.cached(route, &Query::parse(query)?)
        };
        let id_after = |prefix: &str| {
            path.strip_prefix(prefix)
                .and_then(|id| id.trim_end_matches('/').parse::<i64>().ok())
        };
        if let Some((id, json)) = id_after("/vods/")
            .map(|id| (id, false))
            .or_else(|| id_after("/api/vods/").map(|id| (id, true)))
        {
            read()?;
            return self.vod(id, json);
        }
        if let Some(id) = id_after("/shows/") {
            read()?;
            return self.show(id);
        }
        match path {
            "/" | "/index.html" => cached(&PAGE),
            "/api/status" => read_only(Site::status),
            "/api/vods" => cached(&VODS),
            "/vods" => cached(&VOD_LIST),
            "/vods.csv" => read_only(Site::vod_csv),
            "/api/history" => cached(&HISTORY),
            "/healthz" => read_only(Site::health),
            "/metrics" => read_only(Site::metrics),
            "/badge.svg" => read_only(Site::badge),
            "/api/sync-now" => self.sync_now(request),
            "/api/transcriptions" => self.add_transcription(request),
            "/api/alerts" => cached(&ALERTS),
            "/api/alerts/silence" => self.silence_alerts(request),
            "/api/alerts/ack" => self.acknowledge_alert(request),
            "/health/cablecast" => read_only(|site, _| {
                Ok(alerts::health(
                    site.board.store(),
                    &CABLECAST_KINDS,
                    "Cablecast is reachable",
                    &site.zone,
                    &site.pulse()?,
                ))
            }),
            "/health/publishing" => read_only(|site, _| {
                Ok(alerts::health(
                    site.board.store(),
                    &PUBLISHING_KINDS,
                    "no VOD failed or stuck",
                    &site.zone,
                    &site.pulse()?,
                ))
            }),
            _ => Err(WebError::NotFound),
        }
    }

    /// A route's answer from the cache, rendered on a miss.
    fn cached(&self, route: &Route, query: &Query) -> Result<Reply, WebError> {
        let values: Vec<Option<&str>> = route.params.iter().map(|p| query.get(p)).collect();
        // JSON keeps values apart whatever they hold.
        let normalised = serde_json::to_string(&values).map_err(|e| {
            log::error!("writing a cache key: {e}");
            WebError::Internal
        })?;
        let rendered = self.answer_once(Key::new(route.key, normalised), route.ttl, || {
            (route.render)(self, query)
        })?;
        Ok(Reply::shared(rendered.content_type, &rendered.body))
    }

    /// The answer under `key` for the database as it is now: one
    /// `PRAGMA data_version`, and `build` only when the file changed (or the
    /// answer is older than `ttl`).
    fn answer_once<T: Weigh + Send + Sync + 'static>(
        &self,
        key: Key,
        ttl: Duration,
        build: impl FnOnce() -> Result<T, WebError>,
    ) -> Result<Arc<T>, WebError> {
        let version = self.probe.data_version()?;
        self.board.answers().get(key, version, ttl, build)
    }

    /// The cached figures, current with the database.
    fn facts(&self) -> Result<Arc<Facts>, WebError> {
        self.answer_once(Key::new("facts", ""), FACTS_TTL, || {
            Facts::read(&self.board, self.cycle_deadline)
        })
    }

    fn status(&self, _: &Query) -> Result<Reply, WebError> {
        Ok(Reply::shared(reply::JSON, &self.facts()?.status_json))
    }

    /// The figures' metrics and the alerts' together, rendered once per
    /// data version.
    fn metrics(&self, _: &Query) -> Result<Reply, WebError> {
        let rendered = self.answer_once(Key::new("/metrics", ""), FACTS_TTL, || {
            let mut body = self.facts()?.metrics.to_vec();
            body.extend_from_slice(alerts::metrics(self.board.store())?.as_bytes());
            Ok(Rendered::new(reply::PROMETHEUS, body))
        })?;
        Ok(Reply::shared(rendered.content_type, &rendered.body))
    }

    /// `GET /api/alerts`: firing alerts, active silences, recent history.
    fn alerts(&self, _: &Query) -> Result<Rendered, WebError> {
        Ok(Rendered::new(
            reply::JSON,
            alerts::api(self.board.store(), &self.pulse()?)?,
        ))
    }

    /// Whether the monitor runs, by its last cycle.
    fn pulse(&self) -> Result<Pulse, WebError> {
        let facts = self.facts()?;
        Ok(Pulse::of(
            facts.last_cycle_unix,
            clock::unix_now(),
            self.cycle_deadline,
        ))
    }

    fn badge(&self, _: &Query) -> Result<Reply, WebError> {
        Ok(Reply::shared(reply::SVG, &self.facts()?.badge))
    }

    fn health(&self, _: &Query) -> Result<Reply, WebError> {
        if let Some(damage) = self.board.store().damage() {
            return Ok(Reply::text(503, format!("unhealthy: {damage}")));
        }
        let facts = match self.facts() {
            Ok(facts) => facts,
            Err(e) => return Ok(Reply::text(503, format!("unhealthy: {e}"))),
        };
        let now = clock::unix_now();
        let deadline = self.cycle_deadline.as_secs() as i64;
        Ok(match facts.last_cycle_unix {
            None => Reply::text(503, "unhealthy: no monitoring cycle recorded yet".into()),
            Some(at) if now - at > deadline => Reply::text(
                503,
                format!(
                    "unhealthy: last monitoring cycle {} ago (expected within {})",
                    clock::humanize_secs(now - at),
                    clock::humanize_secs(deadline)
                ),
            ),
            Some(at) => {
                let cablecast = match &facts.report.last_cycle {
                    Some(c) if !c.cablecast_reachable => "; Cablecast not reachable",
                    _ => "",
                };
                Reply::text(
                    200,
                    format!(
                        "ok: last monitoring cycle {} ago{cablecast}",
                        clock::humanize_secs(now - at)
                    ),
                )
            }
        })
    }

    fn page(&self, _: &Query) -> Result<Rendered, WebError> {
        let facts = self.facts()?;
        let store = self.board.store();
        let overview = Overview {
            damage: store.damage().map(|d| d.to_string()),
            report: facts.report.clone(),
            in_flight: store.in_flight_entries(page::LIST_ROWS)?,
            failed: store.failed_entries(page::LIST_ROWS)?,
            histories: HistoryRange::ALL
                .iter()
                .map(|range| store.history(*range))
                .collect::<Result<_, _>>()?,
            now: clock::unix_now(),
            stuck_after: *self.board.stuck_after(),
            alerts: AlertsView::read(store, self.pulse()?)?,
            zone: self.zone.clone(),
        };
        Ok(Rendered::new(
            reply::HTML,
            page::render(&overview).into_bytes(),
        ))
    }

    /// `GET /api/vods`: the filters of `/vods` (`state`, `stuck`, `q`,
    /// `from`, `to`), paged by `limit` and `offset`.
    fn vods(&self, query: &Query) -> Result<Rendered, WebError> {
        let request = vod_pages::list_request(query, &self.zone)?;
        if let Some(reversed) = request.reversed_range() {
            return Err(WebError::BadQuery(reversed));
        }
        let limit = query.number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
        let offset = query.number("offset", 0, 0, i64::MAX as u64)?;
        let store = self.board.store();
        let thresholds = self.board.stuck_after();
        let now = clock::unix_now();
        let (total, rows) =
            store.search_vods(&request.filter, thresholds, now, limit as usize, offset)?;
        let mut out = Vec::with_capacity(256 + rows.len() * 200);
        out.extend_from_slice(
            format!(
                r#"{{"total":{total},"limit":{limit},"offset":{offset},"state":{},"stuck":{},"q":{},"vods":["#,
                json_string(request.filter.state.as_deref()),
                request.filter.stuck,
                json_string(Some(&request.q).filter(|q| !q.is_empty()).map(String::as_str)),
            )
            .as_bytes(),
        );
        for (i, entry) in rows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let stuck = page::is_stuck(entry, thresholds, now);
            serde_json::to_writer(&mut out, &ApiVod::new(entry, stuck)).map_err(|e| {
                log::error!("writing VODs as JSON: {e}");
                WebError::Internal
            })?;
        }
        out.extend_from_slice(b"]}");
        Ok(Rendered::new(reply::JSON, out))
    }

    /// `GET /vods`: the VOD list page.
    fn vod_list(&self, query: &Query) -> Result<Rendered, WebError> {
        let request = vod_pages::list_request(query, &self.zone)?;
        let thresholds = self.board.stuck_after();
        let now = clock::unix_now();
        let offset = (request.page - 1) * vod_pages::LIST_PAGE_ROWS as u64;
        let (total, rows) = self.board.store().search_vods(
            &request.filter,
            thresholds,
            now,
            vod_pages::LIST_PAGE_ROWS,
            offset,
        )?;
        let moment = Moment::new(now, &self.zone);
        let body = vod_pages::render_list(&request, total, &rows, thresholds, &moment);
        Ok(Rendered::new(reply::HTML, body.into_bytes()))
    }

    /// `GET /vods.csv`: every VOD the filter shows, as CSV, streamed from
    /// the cursor into the answer, saved by a browser as `vods.csv`.
    fn vod_csv(&self, query: &Query) -> Result<Reply, WebError> {
        let request = vod_pages::list_request(query, &self.zone)?;
        if let Some(reversed) = request.reversed_range() {
            return Err(WebError::BadQuery(reversed));
        }
        let thresholds = self.board.stuck_after();
        let now = clock::unix_now();
        let mut line = String::new();
        vod_pages::csv_header(&mut line);
        let mut out = line.clone().into_bytes();
        self.board
            .store()
            .each_found_vod(&request.filter, thresholds, now, None, |entry| {
                line.clear();
                vod_pages::csv_record(&mut line, entry, page::is_stuck(entry, thresholds, now));
                out.extend_from_slice(line.as_bytes());
            })?;
        let mut reply = Reply::new(200, reply::CSV, Body::Owned(out));
        reply.headers.push((
            "Content-Disposition",
            format!(r#"attachment; filename="{}""#, vod_pages::CSV_FILE_NAME),
        ));
        Ok(reply)
    }

    /// `/vods/{id}` and `GET /api/vods/{id}`.
    fn vod(&self, id: i64, json: bool) -> Result<Reply, WebError> {
        let route = if json { "/api/vods/{id}" } else { "/vods/{id}" };
        let rendered = self.answer_once(Key::new(route, id.to_string()), PAGE_TTL, || {
            let store = self.board.store();
            let vod = store.vod_entry(id)?.ok_or(WebError::NotFound)?;
            let show = match vod.show_cablecast_id {
                Some(show) => store.show_record(show)?,
                None => None,
            };
            let captions = match &show {
                Some(show) => store.show_captions(show.id)?,
                None => Vec::new(),
            };
            let now = clock::unix_now();
            let view = VodView {
                stuck: page::is_stuck(&vod, self.board.stuck_after(), now),
                events: store.vod_events(id)?,
                vod,
                show,
                captions,
            };
            if json {
                let body = vod_pages::vod_json(&view, self.links.as_ref()).map_err(|e| {
                    log::error!("writing a VOD as JSON: {e}");
                    WebError::Internal
                })?;
                Ok(Rendered::new(reply::JSON, body))
            } else {
                let moment = Moment::new(now, &self.zone);
                let body = vod_pages::render_vod(&view, self.links.as_ref(), &moment).into_bytes();
                Ok(Rendered::new(reply::HTML, body))
            }
        })?;
        Ok(Reply::shared(rendered.content_type, &rendered.body))
    }

    /// `/shows/{id}` (the show's Cablecast id).
    fn show(&self, cablecast_id: i64) -> Result<Reply, WebError> {
        let key = Key::new("/shows/{id}", cablecast_id.to_string());
        let rendered = self.answer_once(key, PAGE_TTL, || {
            let store = self.board.store();
            let show = store.show_record(cablecast_id)?.ok_or(WebError::NotFound)?;
            let view = ShowView {
                vods: store.show_vods(show.id)?,
                captions: store.show_captions(show.id)?,
                show,
            };
            let moment = Moment::new(clock::unix_now(), &self.zone);
            let body = vod_pages::render_show(
                &view,
                self.links.as_ref(),
                self.board.stuck_after(),
                &moment,
            );
            Ok(Rendered::new(reply::HTML, body.into_bytes()))
        })?;
        Ok(Reply::shared(rendered.content_type, &rendered.body))
    }

    fn history(&self, query: &Query) -> Result<Rendered, WebError> {
        let range = match query.get("range") {
            None => HistoryRange::Day,
            Some(text) => HistoryRange::parse(text)
                .ok_or_else(|| WebError::BadQuery("range must be 24h, 7d or 30d".into()))?,
        };
        let history = self.board.store().history(range)?;
        let samples: Vec<ApiSample<'_>> = history
            .samples
            .iter()
            .map(|s| ApiSample {
                at: &s.at,
                cycles: s.cycles,
                reachable_cycles: s.reachable_cycles,
                sync_percentage: round2(s.sync_avg),
                sync_min: s.sync_min,
                sync_max: s.sync_max,
            })
            .collect();
        let body = serde_json::to_vec(&ApiHistory {
            range: range.as_str(),
            since: &history.since,
            bucket_seconds: range.bucket_secs(),
            uptime_percentage: history.uptime_percentage(),
            samples,
        })
        .map_err(|e| {
            log::error!("writing the history as JSON: {e}");
            WebError::Internal
        })?;
        Ok(Rendered::new(reply::JSON, body))
    }

    /// `POST /api/sync-now`: asks the monitor to start a cycle now.
    fn sync_now(&self, request: &mut Request) -> Result<Reply, WebError> {
        admin::authorize(self.admin_token.as_ref(), header(request, "Authorization"))?;
        if *request.method() != Method::Post {
            return Err(WebError::MethodNotAllowed("POST"));
        }
        read_body(request)?;
        let Some(wake) = &self.sync_now else {
            return Err(WebError::NoMonitor);
        };
        match wake.try_send(SyncNow) {
            // Full: a wake-up is already waiting, which serves this one too.
            Ok(()) | Err(TrySendError::Full(_)) => {
                Ok(Reply::text(202, "a monitoring cycle starts now".into()))
            }
            Err(TrySendError::Disconnected(_)) => Err(WebError::NoMonitor),
        }
    }
}

impl Site {
    /// `POST /api/alerts/ack`: JSON `{"vod": 5012, "note"?: "...", "by"?: "..."}`.
    fn acknowledge_alert(&self, request: &mut Request) -> Result<Reply, WebError> {
        admin::authorize(self.admin_token.as_ref(), header(request, "Authorization"))?;
        if *request.method() != Method::Post {
            return Err(WebError::MethodNotAllowed("POST"));
        }
        let body = read_body(request)?;
        alerts::acknowledge(self.board.store(), &body)
    }

    /// `POST /api/alerts/silence`: JSON `{"for": "2h", "kind"?: "vod_failed"}`.
    fn silence_alerts(&self, request: &mut Request) -> Result<Reply, WebError> {
        admin::authorize(self.admin_token.as_ref(), header(request, "Authorization"))?;
        if *request.method() != Method::Post {
            return Err(WebError::MethodNotAllowed("POST"));
        }
        let body = read_body(request)?;
        alerts::silence(self.board.store(), &body)
    }

    /// `POST /api/transcriptions`: a transcription job reports a result
    /// (JSON `{"video", "output"?, "status"?, "error"?}`, absolute paths);
    /// the same validation and storage as `archivist transcriptions add`.
    fn add_transcription(&self, request: &mut Request) -> Result<Reply, WebError> {
        admin::authorize(self.admin_token.as_ref(), header(request, "Authorization"))?;
        if *request.method() != Method::Post {
            return Err(WebError::MethodNotAllowed("POST"));
        }
        let body = read_body(request)?;
        let report: TranscriptionReport = serde_json::from_slice(&body).map_err(|e| {
            WebError::BadQuery(format!("the body is not a transcription report: {e}"))
        })?;
        let id = transcription::record(self.board.store(), &report).map_err(|e| match e {
            RecordError::Store(store) => WebError::Store(store),
            invalid => WebError::BadReport(invalid),
        })?;
        self.board.invalidate();
        let body = serde_json::json!({ "id": id }).to_string();
        Ok(Reply::new(201, reply::JSON, Body::Owned(body.into_bytes())))
    }
}

fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Reads a request body of at most [`MAX_BODY_BYTES`] (for write endpoints).
pub fn read_body(request: &mut Request) -> Result<Vec<u8>, WebError> {
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(WebError::BodyTooLarge);
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| WebError::BadQuery(format!("reading the request body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(WebError::BodyTooLarge);
    }
    Ok(body)
}

fn json_string(text: Option<&str>) -> String {
    serde_json::to_string(&text).unwrap_or_else(|_| "null".into())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `/api/history`.
#[derive(Serialize)]
struct ApiHistory<'a> {
    range: &'a str,
    since: &'a str,
    bucket_seconds: i64,
    uptime_percentage: Option<f64>,
    samples: Vec<ApiSample<'a>>,
}

#[derive(Serialize)]
struct ApiSample<'a> {
    at: &'a str,
    cycles: i64,
    reachable_cycles: i64,
    sync_percentage: f64,
    sync_min: f64,
    sync_max: f64,
}
