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
use super::page::Moment;
use super::reply::{self, Body, Reply};
use super::WebError;
use crate::alert::{self, AlertKind};
use crate::clock::{self, StationZone};
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

/// A health endpoint: 503 while an alert of `kinds` fires (its start in the
/// station's zone).
pub fn health(store: &Store, kinds: &[&str], what: &str, zone: &StationZone) -> Reply {
    match store.firing_of(kinds) {
        Ok(None) => Reply::text(200, format!("ok: {what}")),
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

/// Firing alerts the page lists before folding the rest: enough to see
/// what is wrong, few enough to keep the sync figure's neighbours near.
const FIRING_SHOWN: usize = 5;

/// Firing alerts, one compact line each.
fn firing_list(html: &mut String, alerts: &[AlertRow], moment: &Moment<'_>, id: &str) {
    let _ = write!(html, r#"<ul class="firing"{id}>"#);
    for a in alerts {
        let _ = write!(
            html,
            r#"<li{class}><b>{title}</b>{detail} <span class="sub">· since {since} · {kind}{silenced}</span></li>"#,
            class = if a.silenced {
                r#" class="silenced""#
            } else {
                ""
            },
            title = escape(&a.title),
            detail = a
                .detail
                .as_deref()
                .map(|d| format!(": {}", escape(d)))
                .unwrap_or_default(),
            since = moment.stored(&a.fired_at),
            kind = escape(&a.kind),
            silenced = if a.silenced { " · silenced" } else { "" },
        );
    }
    html.push_str("</ul>");
}

/// The page's alert section: the firing alerts first, one compact line
/// each (past [`FIRING_SHOWN`], the rest folded); the resolved history
/// folded in a `<details>` (no JavaScript).
pub fn section(html: &mut String, view: &AlertsView, moment: &Moment<'_>) {
    let _ = write!(
        html,
        r#"<section class="wide" id="alerts"><h2>Alerts: <span id="alerts-firing">{}</span> firing</h2>"#,
        view.firing.len()
    );
    let resolved: Vec<&AlertRow> = view.recent.iter().filter(|a| a.state != "firing").collect();
    if view.firing.is_empty() && resolved.is_empty() {
        html.push_str(r#"<p class="empty">No alerts yet.</p></section>"#);
        return;
    }
    if view.firing.is_empty() {
        html.push_str(r#"<p class="empty">No alert is firing.</p>"#);
    } else {
        let (first, more) = view.firing.split_at(view.firing.len().min(FIRING_SHOWN));
        firing_list(html, first, moment, r#" id="alerts-firing-list""#);
        if !more.is_empty() {
            let _ = write!(
                html,
                r#"<details id="alerts-firing-more"><summary>{} more firing</summary>"#,
                more.len()
            );
            firing_list(html, more, moment, "");
            html.push_str("</details>");
        }
    }
    if !resolved.is_empty() {
        let _ = write!(
            html,
            r#"<details id="alerts-history"><summary>Recent history: {} resolved</summary><div class="scroll"><table class="cards"><thead><tr><th>Kind</th><th>Alert</th><th>Fired</th><th>Resolved</th></tr></thead><tbody>"#,
            resolved.len()
        );
        for a in resolved {
            let _ = write!(
                html,
                r#"<tr><td data-label="Kind">{}</td><td data-label="Alert">{}{}</td><td data-label="Fired">{}</td><td data-label="Resolved">{}</td></tr>"#,
                escape(&a.kind),
                escape(&a.title),
                a.detail
                    .as_deref()
                    .map(|d| format!(": {}", escape(d)))
                    .unwrap_or_default(),
                moment.stored(&a.fired_at),
                a.resolved_at
                    .as_deref()
                    .map(|at| moment.stored(at))
                    .unwrap_or_default(),
            );
        }
        html.push_str("</tbody></table></div></details>");
    }
    html.push_str("</section>");
}
