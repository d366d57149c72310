//! Alerts on the status server: `GET /api/alerts`, the silence endpoint,
//! the two health endpoints a Kuma, Gatus or load balancer can watch, the
//! alert lines of `/metrics` and the page's alert section.
//!
//! `/health/cablecast` answers 503 while `cablecast_down` fires;
//! `/health/publishing` while any `vod_failed` or `vod_stuck` fires. Both
//! read the firing alerts' partial index and the silences, nothing else.
//! While every alert that makes one unhealthy is silenced (planned
//! maintenance), it answers 200 "silenced: ...". When no monitoring cycle
//! ran for two intervals (the monitor is stopped), both answer 503
//! "unknown: no monitoring cycle since ...": what they would say is not
//! known. Their times are in the station's zone.

use std::fmt::Write;
use std::time::Duration;

use serde::Deserialize;

use super::html::escape;
use super::page::Moment;
use super::reply::{self, Body, Reply};
use super::WebError;
use crate::alert::AlertShown;
use crate::alert::{self, AlertKind, AlertState, Pulse};
use crate::clock::{self, StationZone};
use crate::store::alerts::{AlertRow, FailingDestination, Silence};
use crate::store::Store;

/// Alerts the page and `/api/alerts` list besides the firing ones.
pub const RECENT_ROWS: usize = 20;

/// Longest silence the API accepts: a week of maintenance is plenty.
const MAX_SILENCE: Duration = Duration::from_secs(7 * 24 * 3600);

/// `GET /api/alerts`: whether the monitor runs, firing alerts, running
/// silences and recent alerts.
pub fn api(store: &Store, pulse: &Pulse) -> Result<Vec<u8>, WebError> {
    let body = serde_json::json!({
        "monitor": {
            "running": *pulse == Pulse::Running,
            "stopped": pulse.sentence(),
        },
        "firing": alert::with_deliveries(store, store.firing_alerts()?)?,
        "silences": store.active_silences(&clock::now())?,
        "recent": alert::with_deliveries(store, store.recent_alerts(RECENT_ROWS)?)?,
        "destinations": store.configured_destinations()?,
        "failing_destinations": store.failing_destinations(alert::FAILING_AFTER_ATTEMPTS)?,
    });
    Ok(body.to_string().into_bytes())
}

/// A health endpoint: 503 while an alert of `kinds` fires (200 "silenced"
/// while a silence covers every one of them), 503 "unknown" while the
/// monitor is stopped; times in the station's zone.
pub fn health(
    store: &Store,
    kinds: &[AlertKind],
    what: &str,
    zone: &StationZone,
    pulse: &Pulse,
) -> Reply {
    if let Some(stopped) = pulse.sentence() {
        return Reply::text(
            503,
            format!("unknown: {}", clock::stored_times_to_local(&stopped, zone)),
        );
    }
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let silenced = match store.active_silences(&clock::now()) {
        Ok(silences) => kinds.iter().all(|kind| {
            silences
                .iter()
                .any(|s| s.kind.as_deref().is_none_or(|k| k == kind.as_str()))
        }),
        Err(e) => return Reply::text(503, format!("unhealthy: {e}")),
    };
    match store.firing_of(&names) {
        Ok(None) => Reply::text(200, format!("ok: {what}")),
        Ok(Some((title, since, _))) if silenced => Reply::text(
            200,
            format!(
                "silenced: {title} (firing since {}; a silence covers it)",
                clock::stored_to_local(&since, zone)
            ),
        ),
        Ok(Some((title, since, count))) => Reply::text(
            503,
            format!(
                "unhealthy: {title}{} (firing since {})",
                if count > 1 {
                    format!(" and {} more", count - 1)
                } else {
                    String::new()
                },
                clock::stored_to_local(&since, zone)
            ),
        ),
        Err(e) => Reply::text(503, format!("unhealthy: {e}")),
    }
}

/// The alert lines of `/metrics`.
pub fn metrics(store: &Store) -> Result<String, WebError> {
    let figures = store.alert_figures()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP archivist_alerts_firing Alerts firing now, by kind.\n# TYPE archivist_alerts_firing gauge"
    );
    for kind in AlertKind::ALL {
        let n = figures
            .firing
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or(0, |(_, n)| *n);
        let _ = writeln!(out, "archivist_alerts_firing{{kind=\"{kind}\"}} {n}");
    }
    for (name, kind, help, value) in [
        (
            "archivist_notification_failures_total",
            "counter",
            "Notification delivery attempts that failed.",
            figures.failed_deliveries,
        ),
        (
            "archivist_notifications_refused_total",
            "counter",
            "Notifications a destination refused for good (HTTP 4xx, SMTP 5xx); never retried.",
            figures.refused_deliveries,
        ),
        (
            "archivist_notifications_dropped_total",
            "counter",
            "Notifications dropped because a destination's queue was full.",
            figures.dropped_messages,
        ),
        (
            "archivist_notifications_pending",
            "gauge",
            "Notifications waiting for delivery, over all destinations.",
            figures.pending_deliveries,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    Ok(out)
}

/// The body of `POST /api/alerts/silence`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceRequest {
    /// "2h", "90m", ...
    #[serde(rename = "for")]
    length: Option<String>,
    /// `true`: the running silences (of `kind`) end now.
    #[serde(default)]
    end: bool,
    kind: Option<String>,
}

/// `POST /api/alerts/silence` (admin token checked by the caller):
/// `{"for": "2h", "kind"?: ...}` adds a silence, `{"end": true, "kind"?:
/// ...}` ends the running ones.
pub fn silence(store: &Store, body: &[u8]) -> Result<Reply, WebError> {
    let request: SilenceRequest = serde_json::from_slice(body).map_err(|e| {
        WebError::BadQuery(format!(
            "the body is not a silence ({{\"for\": \"2h\", \"kind\": \"vod_failed\"}} or {{\"end\": true}}): {e}"
        ))
    })?;
    let kind = silence_kind(request.kind.as_deref())?;
    let text = match (request.length.as_deref(), request.end) {
        (None, true) => {
            let sentence = alert::end_silences(store, kind)?;
            let body = serde_json::json!({ "ended": sentence }).to_string();
            return Ok(Reply::new(200, reply::JSON, Body::Owned(body.into_bytes())));
        }
        (Some(text), false) => text,
        _ => return Err(WebError::BadQuery("give either for or end: true".into())),
    };
    let length = crate::stuck::parse_duration(text)
        .map_err(|reason| WebError::BadQuery(format!("for: {reason}")))?;
    if length > MAX_SILENCE {
        return Err(WebError::BadQuery("for: at most 7d".into()));
    }
    let sentence = alert::silence(store, kind, length)?;
    let body = serde_json::json!({ "silenced": sentence }).to_string();
    Ok(Reply::new(201, reply::JSON, Body::Owned(body.into_bytes())))
}

/// The body of `POST /api/alerts/ack`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckRequest {
    vod: i64,
    note: Option<String>,
    by: Option<String>,
}

/// `POST /api/alerts/ack` (admin token checked by the caller):
/// `{"vod": 5012, "note"?: "...", "by"?: "..."}`.
pub fn acknowledge(store: &Store, body: &[u8]) -> Result<Reply, WebError> {
    let request: AckRequest = serde_json::from_slice(body).map_err(|e| {
        WebError::BadQuery(format!(
            "the body is not an acknowledgement ({{\"vod\": 5012, \"note\": \"...\"}}): {e}"
        ))
    })?;
    let by = request
        .by
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "the status server API".into());
    match alert::acknowledge(store, request.vod, &by, request.note.as_deref())? {
        Some(sentence) => {
            let body = serde_json::json!({ "acknowledged": sentence }).to_string();
            Ok(Reply::new(200, reply::JSON, Body::Owned(body.into_bytes())))
        }
        None => Err(WebError::BadQuery(format!(
            "vod: VOD {} has no firing vod_failed alert",
            request.vod
        ))),
    }
}

/// A silence's kind by name (none: every kind).
fn silence_kind(name: Option<&str>) -> Result<Option<AlertKind>, WebError> {
    let kind =
        match name {
            None | Some("") => None,
            Some(name) => Some(AlertKind::parse(name).ok_or_else(|| {
                WebError::BadQuery(format!("kind: {name:?} is not an alert kind"))
            })?),
        };
    Ok(kind)
}

/// What the page shows of the alerts.
pub struct AlertsView {
    pub firing: Vec<AlertShown>,
    pub recent: Vec<AlertShown>,
    pub silences: Vec<Silence>,
    pub failing: Vec<FailingDestination>,
    /// The destinations the monitor last started with.
    pub destinations: Vec<String>,
    pub pulse: Pulse,
}

impl AlertsView {
    pub fn read(store: &Store, pulse: Pulse) -> Result<AlertsView, WebError> {
        Ok(AlertsView {
            firing: alert::with_deliveries(store, store.firing_alerts()?)?,
            recent: alert::with_deliveries(store, store.recent_alerts(RECENT_ROWS)?)?,
            silences: store.active_silences(&clock::now())?,
            failing: store.failing_destinations(alert::FAILING_AFTER_ATTEMPTS)?,
            destinations: store.configured_destinations()?,
            pulse,
        })
    }
}

/// Firing alerts the page lists before folding the rest: enough to see
/// what is wrong, few enough to keep the sync figure's neighbours near.
const FIRING_SHOWN: usize = 5;

/// Firing alerts, one compact line each: what, since when, and what became
/// of its message at each destination.
fn firing_list(
    html: &mut String,
    alerts: &[AlertShown],
    view: &AlertsView,
    moment: &Moment<'_>,
    id: &str,
) {
    let _ = write!(html, r#"<ul class="firing"{id}>"#);
    for shown in alerts {
        let a = &shown.alert;
        let silenced = alert::held_by_silence(a, &view.silences);
        let sent = sent_words(shown, view.destinations.is_empty());
        let _ = write!(
            html,
            r#"<li{class}><b>{title}</b>{detail} <span class="sub">· since {since} · {kind}{silenced}{sent}</span>{acked}</li>"#,
            class = if silenced { r#" class="silenced""# } else { "" },
            title = alert_title(a),
            detail = a
                .detail
                .as_deref()
                .map(|d| format!(": {}", escape(d)))
                .unwrap_or_default(),
            since = moment.stored(&a.fired_at),
            kind = a.kind.as_str(),
            silenced = if silenced { " · silenced" } else { "" },
            sent = if sent.is_empty() {
                String::new()
            } else {
                format!(" · {sent}")
            },
            acked = acknowledged(a, moment),
        );
    }
    html.push_str("</ul>");
}

/// "Acknowledged by NAME at TIME: NOTE", on its own line, when it was.
fn acknowledged(a: &AlertRow, moment: &Moment<'_>) -> String {
    match (&a.acked_at, &a.acked_by) {
        (Some(at), Some(by)) => format!(
            r#"<br><span class="sub acked">Acknowledged by {} at {}{}</span>"#,
            escape(by),
            moment.stored(at),
            a.ack_note
                .as_deref()
                .map(|n| format!(": {}", escape(n)))
                .unwrap_or_default()
        ),
        _ => String::new(),
    }
}

/// The page's alert section: whether the monitor runs and which
/// destinations fail, then the firing alerts, one compact line each (past
/// [`FIRING_SHOWN`], the rest folded); the resolved history folded in a
/// `<details>` (no JavaScript).
pub fn section(html: &mut String, view: &AlertsView, moment: &Moment<'_>) {
    let _ = write!(
        html,
        r#"<section class="wide" id="alerts"><h2>Alerts: <span id="alerts-firing">{}</span> firing</h2>"#,
        view.firing.len()
    );
    if let Some(stopped) = view.pulse.sentence() {
        let _ = write!(
            html,
            r#"<p class="err" id="monitor-stopped">The monitor is not running: {}. What is shown may be out of date, and no alert is raised.</p>"#,
            escape(&clock::stored_times_to_local(&stopped, moment.zone))
        );
    }
    for failing in &view.failing {
        let _ = write!(
            html,
            r#"<p class="err failing-destination">Notifications to {} are failing: {} waiting, {} attempts; last: {}.</p>"#,
            escape(&failing.destination),
            failing.waiting,
            failing.attempts,
            escape(failing.last_error.as_deref().unwrap_or("no answer")),
        );
    }
    let resolved: Vec<&AlertShown> = view
        .recent
        .iter()
        .filter(|a| a.alert.state != AlertState::Firing)
        .collect();
    if view.firing.is_empty() && resolved.is_empty() {
        html.push_str(r#"<p class="empty">No alerts yet.</p></section>"#);
        return;
    }
    if view.firing.is_empty() {
        html.push_str(r#"<p class="empty">No alert is firing.</p>"#);
    } else {
        let (first, more) = view.firing.split_at(view.firing.len().min(FIRING_SHOWN));
        firing_list(html, first, view, moment, r#" id="alerts-firing-list""#);
        if !more.is_empty() {
            let _ = write!(
                html,
                r#"<details id="alerts-firing-more"><summary>{} more firing</summary>"#,
                more.len()
            );
            firing_list(html, more, view, moment, "");
            html.push_str("</details>");
        }
    }
    if !resolved.is_empty() {
        history(html, &resolved, view, moment);
    }
    html.push_str("</section>");
}

/// The resolved alerts, folded.
fn history(html: &mut String, resolved: &[&AlertShown], view: &AlertsView, moment: &Moment<'_>) {
    let _ = write!(
        html,
        r#"<details id="alerts-history"><summary>Recent history: {} resolved</summary><div class="scroll"><table class="cards"><thead><tr><th>Kind</th><th>Alert</th><th>Fired</th><th>Resolved</th><th>Sent</th></tr></thead><tbody>"#,
        resolved.len()
    );
    for shown in resolved {
        let a = &shown.alert;
        let _ = write!(
            html,
            r#"<tr><td data-label="Kind">{}</td><td data-label="Alert">{}{}</td><td data-label="Fired">{}</td><td data-label="Resolved">{}</td><td data-label="Sent">{}</td></tr>"#,
            a.kind.as_str(),
            alert_title(a),
            a.detail
                .as_deref()
                .map(|d| format!(": {}", escape(d)))
                .unwrap_or_default(),
            moment.stored(&a.fired_at),
            a.resolved_at
                .as_deref()
                .map(|at| moment.stored(at))
                .unwrap_or_default(),
            sent_words(shown, view.destinations.is_empty()),
        );
    }
    html.push_str("</tbody></table></div></details>");
}

/// Per destination, what became of the alert's last message.
fn sent_words(shown: &AlertShown, no_destination: bool) -> String {
    if shown.deliveries.is_empty() {
        return if shown.alert.notified && no_destination {
            "sent nowhere: no destination is configured".into()
        } else {
            String::new()
        };
    }
    shown
        .deliveries
        .iter()
        .map(|d| {
            format!(
                "{}: {}",
                escape(&d.destination),
                escape(&alert::delivery_words(d))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An alert's title, linked to its VOD's page for a VOD alert, to its
/// show's page for a show with no VOD.
fn alert_title(alert: &AlertRow) -> String {
    let page = match alert.kind {
        AlertKind::VodFailed | AlertKind::VodStuck => "vods",
        AlertKind::VodMissing => "shows",
        _ => return escape(&alert.title).to_string(),
    };
    match alert.subject.parse::<i64>() {
        Ok(id) => format!(r#"<a href="/{page}/{id}">{}</a>"#, escape(&alert.title)),
        _ => escape(&alert.title).to_string(),
    }
}
