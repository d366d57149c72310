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
//! known.

use std::fmt::Write;
use std::time::Duration;

use serde::Deserialize;

use super::html::escape;
use super::reply::{self, Body, Reply};
use super::WebError;
use crate::alert::AlertShown;
use crate::alert::{self, AlertKind, AlertState, Pulse};
use crate::clock;
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
/// monitor is stopped.
pub fn health(store: &Store, kinds: &[AlertKind], what: &str, pulse: &Pulse) -> Reply {
    if let Some(stopped) = pulse.sentence() {
        return Reply::text(503, format!("unknown: {stopped}"));
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
            format!("silenced: {title} (firing since {since}; a silence covers it)"),
        ),
        Ok(Some((title, since, count))) => Reply::text(
            503,
            format!(
                "unhealthy: {title}{} (firing since {since})",
                if count > 1 {
                    format!(" and {} more", count - 1)
                } else {
                    String::new()
                }
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

/// The page's alert section.
pub fn section(html: &mut String, view: &AlertsView) {
    let _ = write!(
        html,
        r#"<section class="wide" id="alerts"><h2>Alerts: <span id="alerts-firing">{}</span> firing</h2>"#,
        view.firing.len()
    );
    if let Some(stopped) = view.pulse.sentence() {
        let _ = write!(
            html,
            r#"<p class="err" id="monitor-stopped">The monitor is not running: {}. What is shown may be out of date, and no alert is raised.</p>"#,
            escape(&stopped)
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
    if view.recent.is_empty() {
        html.push_str(r#"<p class="empty">No alerts yet.</p></section>"#);
        return;
    }
    html.push_str(r#"<div class="scroll"><table><thead><tr><th>State</th><th>Kind</th><th>Alert</th><th>Since</th><th>Resolved</th><th>Sent</th></tr></thead><tbody>"#);
    let mut rows: Vec<&AlertShown> = view.firing.iter().collect();
    rows.extend(
        view.recent
            .iter()
            .filter(|a| a.alert.state != AlertState::Firing),
    );
    for shown in rows {
        let a = &shown.alert;
        let class = if a.state == AlertState::Firing {
            "err"
        } else {
            ""
        };
        let _ = write!(
            html,
            r#"<tr><td class="{class}">{}{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            a.state.as_str(),
            if alert::held_by_silence(a, &view.silences) {
                " (silenced)"
            } else {
                ""
            },
            a.kind.as_str(),
            alert_title(a),
            a.detail
                .as_deref()
                .map(|d| format!(": {}", escape(d)))
                .unwrap_or_default(),
            escape(&a.fired_at),
            escape(a.resolved_at.as_deref().unwrap_or("")),
            sent_cell(shown, view.destinations.is_empty()),
        );
        if let (Some(at), Some(by)) = (&a.acked_at, &a.acked_by) {
            let _ = write!(
                html,
                r#"<tr class="acked"><td></td><td colspan="5">Acknowledged by {} at {}{}</td></tr>"#,
                escape(by),
                escape(at),
                a.ack_note
                    .as_deref()
                    .map(|n| format!(": {}", escape(n)))
                    .unwrap_or_default()
            );
        }
    }
    html.push_str("</tbody></table></div></section>");
}

/// Per destination, what became of the alert's last message.
fn sent_cell(shown: &AlertShown, no_destination: bool) -> String {
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
        .join("<br>")
}

/// An alert's title, linked to its VOD's page for a VOD alert.
fn alert_title(alert: &AlertRow) -> String {
    let vod = matches!(alert.kind, AlertKind::VodFailed | AlertKind::VodStuck);
    match alert.subject.parse::<i64>() {
        Ok(id) if vod => format!(r#"<a href="/vods/{id}">{}</a>"#, escape(&alert.title)),
        _ => escape(&alert.title).to_string(),
    }
}
