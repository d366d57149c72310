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
use super::page::{self, Overview};
use super::query::Query;
use super::reply::{self, Body, Reply};
use super::snapshot::Snapshot;
use super::WebError;
use crate::alert::{CABLECAST_KINDS, PUBLISHING_KINDS};
use crate::clock;
use crate::monitor::SyncNow;
use crate::status::StatusBoard;
use crate::store::StoreError;
use crate::store::{HistoryRange, VersionProbe, VodEntry};
use crate::transcription::{self, RecordError, TranscriptionReport};
use crate::vod::VodState;

/// Largest request body accepted (write endpoints take small JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a rendered page lives without a database change: its "in this
/// state for ..." times move with the clock.
const PAGE_TTL: Duration = Duration::from_secs(15);
/// `/api/vods` page sizes.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

const READ_METHODS: &str = "GET, HEAD";

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
    facts: Snapshot<Facts>,
    page: Snapshot<Arc<[u8]>>,
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
            facts: Snapshot::new(FACTS_TTL),
            page: Snapshot::new(PAGE_TTL),
        })
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
        let read_only = |reply: fn(&Site, &Query) -> Result<Reply, WebError>| {
            if !matches!(method, Method::Get | Method::Head) {
                return Err(WebError::MethodNotAllowed(READ_METHODS));
            }
            reply(self, &Query::parse(query)?)
        };
        match path {
            "/" | "/index.html" => read_only(Site::page),
            "/api/status" => read_only(Site::status),
            "/api/vods" => read_only(Site::vods),
            "/api/history" => read_only(Site::history),
            "/healthz" => read_only(Site::health),
            "/metrics" => read_only(Site::metrics),
            "/badge.svg" => read_only(Site::badge),
            "/api/sync-now" => self.sync_now(request),
            "/api/transcriptions" => self.add_transcription(request),
            "/api/alerts" => read_only(|site, _| alerts::api(site.board.store())),
            "/api/alerts/silence" => self.silence_alerts(request),
            "/health/cablecast" => read_only(|site, _| {
                Ok(alerts::health(
                    site.board.store(),
                    &CABLECAST_KINDS,
                    "Cablecast is reachable",
                ))
            }),
            "/health/publishing" => read_only(|site, _| {
                Ok(alerts::health(
                    site.board.store(),
                    &PUBLISHING_KINDS,
                    "no VOD failed or stuck",
                ))
            }),
            _ => Err(WebError::NotFound),
        }
    }

    /// The cached figures, current with the database.
    fn facts(&self) -> Result<Arc<Facts>, WebError> {
        let version = self.probe.data_version()?;
        self.facts.get(version, || Facts::read(&self.board))
    }

    fn status(&self, _: &Query) -> Result<Reply, WebError> {
        Ok(Reply::shared(reply::JSON, &self.facts()?.status_json))
    }

    fn metrics(&self, _: &Query) -> Result<Reply, WebError> {
        let mut body = self.facts()?.metrics.to_vec();
        body.extend_from_slice(alerts::metrics(self.board.store())?.as_bytes());
        Ok(Reply::new(200, reply::PROMETHEUS, Body::Owned(body)))
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

    fn page(&self, _: &Query) -> Result<Reply, WebError> {
        let version = self.probe.data_version()?;
        let html = self.page.get(version, || {
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
                alerts: AlertsView::read(store)?,
            };
            Ok(page::render(&overview).into_bytes().into())
        })?;
        Ok(Reply::shared(reply::HTML, &html))
    }

    fn vods(&self, query: &Query) -> Result<Reply, WebError> {
        let state = match query.get("state") {
            None | Some("") => None,
            Some(text) => Some(
                VodState::KNOWN
                    .into_iter()
                    .find(|s| s.as_str() == text)
                    .ok_or_else(|| {
                        WebError::BadQuery(format!(
                            "state must be one of {}",
                            VodState::KNOWN.map(|s| s.as_str().to_string()).join(", ")
                        ))
                    })?,
            ),
        };
        let limit = query.number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
        let offset = query.number("offset", 0, 0, i64::MAX as u64)?;
        let store = self.board.store();
        let total = store.count_vods(state.as_ref())?;
        // Rows are written out as the cursor reads them.
        let mut out = Vec::with_capacity(256 + limit as usize * 160);
        out.extend_from_slice(
            format!(
                r#"{{"total":{total},"limit":{limit},"offset":{offset},"state":{},"vods":["#,
                json_string(state.as_ref().map(VodState::as_str))
            )
            .as_bytes(),
        );
        let mut first = true;
        let mut failed = None;
        store.each_vod(state.as_ref(), limit as usize, offset, |entry| {
            if !first {
                out.push(b',');
            }
            first = false;
            if let Err(e) = serde_json::to_writer(&mut out, &ApiVod::from(entry)) {
                failed.get_or_insert(e);
            }
        })?;
        if let Some(e) = failed {
            log::error!("writing VODs as JSON: {e}");
            return Err(WebError::Internal);
        }
        out.extend_from_slice(b"]}");
        Ok(Reply::new(200, reply::JSON, Body::Owned(out)))
    }

    fn history(&self, query: &Query) -> Result<Reply, WebError> {
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
        Ok(Reply::new(200, reply::JSON, Body::Owned(body)))
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
            invalid => WebError::BadQuery(invalid.to_string()),
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

/// One VOD in `/api/vods`.
#[derive(Serialize)]
struct ApiVod<'a> {
    id: i64,
    show_cablecast_id: Option<i64>,
    show_title: Option<&'a str>,
    state: &'a str,
    percent_complete: Option<f64>,
    error_message: Option<&'a str>,
    url: Option<&'a str>,
    length: Option<i64>,
    state_changed_at: Option<&'a str>,
    updated_at: &'a str,
}

impl<'a> From<&'a VodEntry> for ApiVod<'a> {
    fn from(v: &'a VodEntry) -> Self {
        ApiVod {
            id: v.id,
            show_cablecast_id: v.show_cablecast_id,
            show_title: v.show_title.as_deref(),
            state: &v.state,
            percent_complete: v.percent_complete,
            error_message: v.error_message.as_deref(),
            url: v.url.as_deref(),
            length: v.length,
            state_changed_at: v.state_changed_at.as_deref(),
            updated_at: &v.updated_at,
        }
    }
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
