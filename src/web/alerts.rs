//! Alerts on the status server: `GET /api/alerts`, the silence endpoint,
//! the two health endpoints a Kuma, Gatus or load balancer can watch, the
//! alert lines of `/metrics` and the page's alert section.
//!
//! `/health/cablecast` answers 503 while `cablecast_down` fires;
//! `/health/publishing` while any `vod_failed` or `vod_stuck` fires. Both
//! read the firing alerts' partial index, nothing else.

use std::fmt::Write;
use std::time::Duration;

use serde::Deserialize;

use super::html::escape;
use super::reply::{self, Body, Reply};
use super::WebError;
use crate::alert::{self, AlertKind};
use crate::clock;
use crate::store::alerts::AlertRow;
use crate::store::Store;

/// Alerts the page and `/api/alerts` list besides the firing ones.
pub const RECENT_ROWS: usize = 20;

/// Longest silence the API accepts: a week of maintenance is plenty.
const MAX_SILENCE: Duration = Duration::from_secs(7 * 24 * 3600);

/// `GET /api/alerts`: firing alerts, running silences and recent alerts.
pub fn api(store: &Store) -> Result<Vec<u8>, WebError> {
    let body = serde_json::json!({
        "firing": store.firing_alerts()?,
        "silences": store.active_silences(&clock::now())?,
        "recent": store.recent_alerts(RECENT_ROWS)?,
    });
    Ok(body.to_string().into_bytes())
}

/// A health endpoint: 503 while an alert of `kinds` fires.
pub fn health(store: &Store, kinds: &[&str], what: &str) -> Reply {
    match store.firing_of(kinds) {
        Ok(None) => Reply::text(200, format!("ok: {what}")),
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
    length: String,
    kind: Option<String>,
}

/// `POST /api/alerts/silence` (admin token checked by the caller).
pub fn silence(store: &Store, body: &[u8]) -> Result<Reply, WebError> {
    let request: SilenceRequest = serde_json::from_slice(body).map_err(|e| {
        WebError::BadQuery(format!(
            "the body is not a silence ({{\"for\": \"2h\", \"kind\": \"vod_failed\"}}): {e}"
        ))
    })?;
    let length = crate::stuck::parse_duration(&request.length)
        .map_err(|reason| WebError::BadQuery(format!("for: {reason}")))?;
    if length > MAX_SILENCE {
        return Err(WebError::BadQuery("for: at most 7d".into()));
    }
    let kind =
        match request.kind.as_deref() {
            None | Some("") => None,
            Some(name) => Some(AlertKind::parse(name).ok_or_else(|| {
                WebError::BadQuery(format!("kind: {name:?} is not an alert kind"))
            })?),
        };
    let sentence = alert::silence(store, kind, length)?;
    let body = serde_json::json!({ "silenced": sentence }).to_string();
    Ok(Reply::new(201, reply::JSON, Body::Owned(body.into_bytes())))
}

/// What the page shows of the alerts.
pub struct AlertsView {
    pub firing: Vec<AlertRow>,
    pub recent: Vec<AlertRow>,
}

impl AlertsView {
    pub fn read(store: &Store) -> Result<AlertsView, WebError> {
        Ok(AlertsView {
            firing: store.firing_alerts()?,
            recent: store.recent_alerts(RECENT_ROWS)?,
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
    if view.recent.is_empty() {
        html.push_str(r#"<p class="empty">No alerts yet.</p></section>"#);
        return;
    }
    html.push_str(r#"<div class="scroll"><table><thead><tr><th>State</th><th>Kind</th><th>Alert</th><th>Since</th><th>Resolved</th></tr></thead><tbody>"#);
    let mut rows: Vec<&AlertRow> = view.firing.iter().collect();
    rows.extend(view.recent.iter().filter(|a| a.state != "firing"));
    for a in rows {
        let class = if a.state == "firing" { "err" } else { "" };
        let _ = write!(
            html,
            r#"<tr><td class="{class}">{}{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&a.state),
            if a.silenced { " (silenced)" } else { "" },
            escape(&a.kind),
            escape(&a.title),
            a.detail
                .as_deref()
                .map(|d| format!(": {}", escape(d)))
                .unwrap_or_default(),
            escape(&a.fired_at),
            escape(a.resolved_at.as_deref().unwrap_or("")),
        );
    }
    html.push_str("</tbody></table></div></section>");
}
