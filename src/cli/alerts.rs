//! `archivist alerts list|silence|test`, and the alert setup the monitor
//! starts with.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::{AlertsAction, CliError};
use crate::alert::AlertSettings;
use crate::config::ConfigError;
use crate::store::{Access, Store};

use crate::alert::{self, AlertKind, AlertWatch};
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
pub(super) fn run(db: &Path, action: AlertsAction) -> Result<ExitCode, CliError> {
    match action {
        AlertsAction::List { json } => list(&Store::open(db, Access::ReadOnly)?, json),
        AlertsAction::Silence { length, kind } => {
            let store = Store::open(db, Access::ReadWrite)?;
            let silence = alert::silence(&store, kind, length)?;
            outln!("{silence}")?;
            Ok(ExitCode::SUCCESS)
        }
        AlertsAction::Test(settings) => test(&settings),
    }
}

fn list(store: &Store, json: bool) -> Result<ExitCode, CliError> {
    let firing = store.firing_alerts()?;
    let recent = store.recent_alerts(RECENT_SHOWN)?;
    let silences = store.active_silences(&crate::clock::now())?;
    if json {
        let value = serde_json::json!({
            "firing": firing,
            "recent": recent,
            "silences": silences,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let line = |a: &AlertRow| {
        let when = match &a.resolved_at {
            Some(end) => format!("{} to {end}", a.fired_at),
            None => format!("since {}", a.fired_at),
        };
        let detail = a
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let silenced = if a.silenced { " (silenced)" } else { "" };
        format!(
            "{:<9} {:<21} {when}  {}{detail}{silenced}",
            a.state, a.kind, a.title
        )
    };
    if firing.is_empty() {
        outln!("No alert is firing.")?;
    } else {
        outln!("Firing:")?;
        for a in &firing {
            outln!("  {}", line(a))?;
        }
    }
    for s in &silences {
        outln!(
            "Silence: {} until {}",
            s.kind.as_deref().unwrap_or("every alert"),
            s.ends_at
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
