//! `archivist alerts list|silence|test`, and the alert setup the monitor
//! starts with.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::{AlertsAction, CliError};
use crate::alert::AlertSettings;
use crate::clock::{self, StationZone};
use crate::config::ConfigError;
use crate::store::{Access, Store};

use crate::alert::{self, AlertKind, AlertWatch, Pulse};
use crate::notify::{self, Notifier};
use crate::store::alerts::AlertRow;

/// Recent alerts `alerts list` shows besides the firing ones.
const RECENT_SHOWN: usize = 20;

/// The monitor's alert evaluation, with its senders started.
pub(super) fn watch(store: Arc<Store>, settings: AlertSettings) -> AlertWatch {
    let notifier = Notifier::start(
        Some(Arc::clone(&store)),
        settings.destinations.clone(),
        settings.heartbeat.clone(),
    );
    if notifier.has_destinations() {
        let labels: Vec<&str> = settings.destinations.iter().map(|d| d.label()).collect();
        log::info!("alerts go to {}", labels.join(", "));
    } else {
        log::info!(
            "alerts are recorded and shown but sent nowhere: no destination is configured (e.g. ARCHIVIST_NOTIFY_URLS=ntfys://ntfy.sh/your-topic)"
        );
    }
    AlertWatch::new(store, settings, Some(notifier))
}

/// A database that failed its integrity check: its alert goes out from
/// memory. The senders live as long as the returned notifier.
pub(super) fn database_damaged(settings: &AlertSettings, detail: &str) -> Option<Notifier> {
    if !settings.is_on(AlertKind::Database) || settings.destinations.is_empty() {
        return None;
    }
    let notifier = Notifier::start(None, settings.destinations.clone(), None);
    notifier.send_from_memory(alert::damaged_database_notification(settings, detail));
    Some(notifier)
}

/// `archivist alerts ...`.
pub(super) fn run(
    db: &Path,
    action: AlertsAction,
    zone: &StationZone,
) -> Result<ExitCode, CliError> {
    match action {
        AlertsAction::List { json } => list(&Store::open(db, Access::ReadOnly)?, json, zone),
        AlertsAction::Silence { length, kind } => {
            let store = Store::open(db, Access::ReadWrite)?;
            let silence = alert::silence(&store, kind, length)?;
            outln!("{}", clock::stored_times_to_local(&silence, zone))?;
            Ok(ExitCode::SUCCESS)
        }
        AlertsAction::Ack { vod, note, by } => {
            let store = Store::open(db, Access::ReadWrite)?;
            match alert::acknowledge(&store, vod, &by, note.as_deref())? {
                Some(sentence) => {
                    outln!("{sentence}")?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(CliError::Usage(format!(
                    "VOD {vod} has no firing vod_failed alert to acknowledge"
                ))),
            }
        }
        AlertsAction::EndSilence { kind } => {
            let store = Store::open(db, Access::ReadWrite)?;
            outln!("{}", alert::end_silences(&store, kind)?)?;
            Ok(ExitCode::SUCCESS)
        }
        AlertsAction::Test(settings) => test(&settings),
    }
}

/// `alerts list`: JSON in UTC, the text in the station's zone.
fn list(store: &Store, json: bool, zone: &StationZone) -> Result<ExitCode, CliError> {
    let firing = alert::with_deliveries(store, store.firing_alerts()?)?;
    let recent = store.recent_alerts(RECENT_SHOWN)?;
    let silences = store.active_silences(&crate::clock::now())?;
    let destinations = store.configured_destinations()?;
    if json {
        let value = serde_json::json!({
            "firing": firing,
            "recent": recent,
            "silences": silences,
            "destinations": destinations,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let local = |at: &str| clock::stored_to_local(at, zone);
    let line = |a: &AlertRow| {
        let when = match &a.resolved_at {
            Some(end) => format!("{} to {}", local(&a.fired_at), local(end)),
            None => format!("since {}", local(&a.fired_at)),
        };
        let detail = a
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let acked = match (&a.acked_at, &a.acked_by) {
            (Some(at), by) => format!(
                " (acknowledged by {} at {}{})",
                by.as_deref().unwrap_or("someone"),
                local(at),
                a.ack_note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
            _ => String::new(),
        };
        let silenced = if alert::held_by_silence(a, &silences) {
            " (silenced)"
        } else {
            ""
        };
        format!(
            "{:<9} {:<21} {when}  {}{detail}{silenced}{acked}",
            a.state.as_str(),
            a.kind.as_str(),
            a.title
        )
    };
    if let Some(stopped) = monitor_pulse(store)?.and_then(|p| p.sentence()) {
        outln!(
            "The monitor is not running: {}; no alert is raised meanwhile.",
            clock::stored_times_to_local(&stopped, zone)
        )?;
    }
    if firing.is_empty() {
        outln!("No alert is firing.")?;
    } else {
        outln!("Firing:")?;
        for shown in &firing {
            outln!("  {}", line(&shown.alert))?;
            for d in &shown.deliveries {
                outln!("      {}: {}", d.destination, alert::delivery_words(d))?;
            }
            if shown.deliveries.is_empty() && shown.alert.notified && destinations.is_empty() {
                outln!("      sent nowhere: no destination is configured")?;
            }
        }
    }
    for s in &silences {
        outln!(
            "Silence: {} until {}",
            s.kind.as_deref().unwrap_or("every alert"),
            local(&s.ends_at)
        )?;
    }
    if !recent.is_empty() {
        outln!("Recent:")?;
        for a in &recent {
            outln!("  {}", line(a))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Cycles whose gaps tell a running monitor's interval.
const CYCLES_JUDGED: usize = 6;

/// Whether the monitor runs, judged from the rhythm of its own cycles (a
/// command run beside it does not know the interval); `None` with fewer
/// than two cycles recorded. `alerts list` and `status` share it.
pub(super) fn monitor_pulse(store: &Store) -> Result<Option<Pulse>, CliError> {
    let starts: Vec<i64> = store
        .recent_cycle_starts(CYCLES_JUDGED)?
        .iter()
        .filter_map(|s| crate::clock::parse_stored(s))
        .collect();
    let last = store
        .last_cycle()?
        .and_then(|c| crate::clock::parse_stored(&c.finished_at));
    Ok(alert::deadline_from_history(&starts)
        .map(|deadline| Pulse::of(last, crate::clock::unix_now(), deadline)))
}

fn test(settings: &AlertSettings) -> Result<ExitCode, CliError> {
    if settings.destinations.is_empty() {
        return Err(CliError::Config(ConfigError::new(
            "ARCHIVIST_NOTIFY_URLS",
            "not set; nothing to test",
        )));
    }
    let message = alert::test_notification(settings);
    let outcomes = notify::deliver_to_all(&settings.destinations, &message);
    let mut all = true;
    for (destination, outcome) in settings.destinations.iter().zip(outcomes) {
        match outcome {
            Ok(()) => outln!("delivered  {}", destination.label())?,
            Err(reason) => {
                all = false;
                outln!("FAILED     {}: {reason}", destination.label())?;
            }
        }
    }
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
