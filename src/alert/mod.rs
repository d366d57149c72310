//! Alerts: what counts as publishing being broken, when it is fixed, and
//! the settings that tune both.
//!
//! [`AlertWatch`] runs after each monitoring cycle on the monitor thread. It
//! decides which alerts fire and resolve, records them and queues their
//! messages in one transaction (`store::alerts`), and wakes the senders
//! (`notify`). It reads only what changed: the change queue the schema's
//! triggers fill when a VOD or a transcription starts or stops failing, the
//! stuck VODs from their index, the shows with no VOD whose event falls in
//! the `vod_missing` window (from the event-date index), and the cycle's
//! own report.
//!
//! What this module is not: it does no network IO (`notify` does) and no
//! SQL (`store` does).

mod settings;
mod watch;

pub use settings::{AlertSettings, FailureHold, MissingVod, DEFAULT_VOD_FAILURE_HOLD};
pub use watch::{damaged_database_notification, test_notification, AlertWatch, CycleOutcome};

use std::time::Duration;

use crate::clock;
use crate::store::alerts::{AlertDelivery, AlertRow, Silence};
pub use crate::store::alerts::{AlertKind, AlertState};
use crate::store::{Store, StoreError};

/// The kinds a status endpoint answers 503 for.
pub const CABLECAST_KINDS: [AlertKind; 1] = [AlertKind::CablecastDown];
pub const PUBLISHING_KINDS: [AlertKind; 2] = [AlertKind::VodFailed, AlertKind::VodStuck];

/// The machine's hostname, for "which box sent this".
pub fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return "unknown host".into();
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Adds a silence from now for `length` (of one kind, or of every kind);
/// returns the sentence saying so. The CLI and the API share it.
pub fn silence(
    store: &Store,
    kind: Option<AlertKind>,
    length: Duration,
) -> Result<String, StoreError> {
    let now = clock::unix_now();
    let ends_at = clock::format_unix(now + length.as_secs() as i64);
    store.add_silence(
        kind.map(AlertKind::as_str),
        &clock::format_unix(now),
        &ends_at,
    )?;
    Ok(format!(
        "silenced {} until {ends_at} ({}); alerts are still recorded and shown",
        kind.map_or("every alert".to_string(), |k| k.as_str().to_string()),
        crate::stuck::format_duration(length)
    ))
}

/// Whether the monitor runs: its last cycle is within the deadline (two
/// intervals and a margin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulse {
    Running,
    /// No cycle since this time (`None`: no cycle ever recorded).
    Stopped {
        since: Option<String>,
    },
}

impl Pulse {
    /// From the monitor's last cycle and the longest a cycle may be away
    /// (`cycle_deadline`: two intervals and a minute).
    pub fn of(last_cycle_unix: Option<i64>, now: i64, deadline: Duration) -> Pulse {
        match last_cycle_unix {
            Some(at) if now - at <= deadline.as_secs() as i64 => Pulse::Running,
            Some(at) => Pulse::Stopped {
                since: Some(clock::format_unix(at)),
            },
            None => Pulse::Stopped { since: None },
        }
    }

    /// "no monitoring cycle since 2026-...Z" (or "yet").
    pub fn sentence(&self) -> Option<String> {
        match self {
            Pulse::Running => None,
            Pulse::Stopped { since: Some(at) } => Some(format!("no monitoring cycle since {at}")),
            Pulse::Stopped { since: None } => Some("no monitoring cycle recorded yet".into()),
        }
    }
}

/// The longest a running monitor's cycles are apart, judged from the
/// starts of its last cycles (newest first, Unix seconds) when its interval
/// is not known (a command run beside it): two of the longest recent gaps
/// and a minute. `None` with fewer than two cycles.
pub fn deadline_from_history(starts: &[i64]) -> Option<Duration> {
    let longest = starts.windows(2).map(|w| (w[0] - w[1]).max(0)).max()?;
    Some(Duration::from_secs(longest as u64 * 2 + 60))
}

/// Failed attempts on a destination's oldest waiting message after which
/// the page warns about that destination.
pub const FAILING_AFTER_ATTEMPTS: i64 = 3;

/// An alert as the page, `/api/alerts` and `alerts list` show it: with
/// what became of its last message at each destination (none: it was
/// sent nowhere).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertShown {
    #[serde(flatten)]
    pub alert: AlertRow,
    pub deliveries: Vec<AlertDelivery>,
}

/// `alerts` with their deliveries, in one read.
pub fn with_deliveries(
    store: &Store,
    alerts: Vec<AlertRow>,
) -> Result<Vec<AlertShown>, StoreError> {
    let ids: Vec<String> = alerts.iter().map(|a| a.alert_id.clone()).collect();
    let deliveries = store.deliveries_of(&ids)?;
    Ok(alerts
        .into_iter()
        .map(|alert| {
            let deliveries = deliveries
                .iter()
                .filter(|d| d.alert_id == alert.alert_id)
                .cloned()
                .collect();
            AlertShown { alert, deliveries }
        })
        .collect())
}

/// "delivered", "waiting (3 attempts; last: HTTP 500)", "failed for good:
/// HTTP 400: refused": one destination's outcome in words.
pub fn delivery_words(delivery: &AlertDelivery) -> String {
    let error = delivery.last_error.as_deref().unwrap_or("no answer yet");
    match delivery.state {
        "delivered" => "delivered".to_string(),
        "failed" => format!("failed for good: {error}"),
        _ if delivery.attempts == 0 => "waiting".to_string(),
        _ => format!("waiting ({} attempts; last: {error})", delivery.attempts),
    }
}

/// Whether a running silence holds `alert` back now: it fires and one of
/// `silences` (those running) covers its kind. An alert whose silence
/// ended is not "silenced", whatever it was when it fired.
pub fn held_by_silence(alert: &AlertRow, silences: &[Silence]) -> bool {
    alert.state == AlertState::Firing
        && silences
            .iter()
            .any(|s| s.kind.as_deref().is_none_or(|k| k == alert.kind.as_str()))
}

/// Longest acknowledgement note kept.
const MAX_NOTE: usize = 500;

/// Acknowledges the firing `vod_failed` alert of VOD `vod`: it stops
/// counting against `/health/publishing` and stops reminders, and stays
/// listed as acknowledged. `None` when that VOD has no such alert. The CLI
/// and the API share it.
pub fn acknowledge(
    store: &Store,
    vod: i64,
    by: &str,
    note: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let by: String = by.trim().chars().take(100).collect();
    let note: Option<String> = note.map(|n| n.trim().chars().take(MAX_NOTE).collect());
    let now = clock::now();
    let acked = store.acknowledge(
        AlertKind::VodFailed,
        &vod.to_string(),
        &by,
        note.as_deref(),
        &now,
    )?;
    Ok(acked.then(|| format!("VOD {vod}'s failure acknowledged by {by} at {now}")))
}

/// Ends the running silences now (of one kind, or every silence); returns
/// the sentence saying so. The CLI and the API share it.
pub fn end_silences(store: &Store, kind: Option<AlertKind>) -> Result<String, StoreError> {
    let ended = store.end_silences(kind.map(AlertKind::as_str), &clock::now())?;
    Ok(match (ended, kind) {
        (0, Some(kind)) => format!("no silence of {kind} was running"),
        (0, None) => "no silence was running".to_string(),
        (n, _) => format!(
            "ended {n} silence{}; alerts are sent again",
            if n == 1 { "" } else { "s" }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_is_stopped_past_its_deadline_and_says_since_when() {
        let deadline = Duration::from_secs(660);
        assert_eq!(Pulse::of(Some(1_000), 1_600, deadline), Pulse::Running);
        let stopped = Pulse::of(Some(1_000), 1_700, deadline);
        assert_eq!(
            stopped.sentence().as_deref(),
            Some("no monitoring cycle since 1970-01-01T00:16:40Z")
        );
        assert!(Pulse::of(None, 0, deadline).sentence().is_some());
        // Judged from the cycles' own rhythm: 300 s apart, one sync-now.
        assert_eq!(
            deadline_from_history(&[2_000, 1_700, 1_650, 1_350]),
            Some(Duration::from_secs(660))
        );
        assert_eq!(deadline_from_history(&[2_000]), None);
    }
}
