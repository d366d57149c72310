//! [`AlertWatch`]: after each cycle, which alerts fire and resolve, recorded
//! with their messages in one transaction.
//!
//! Station-wide alerts (`cablecast_down`, `database`) are damped: they fire
//! after `fire_after` failing cycles in a row and resolve after
//! `resolve_after` good ones, so one dropped answer never pages anyone.
//! Alerts about one VOD or job fire at once, and all those of one kind in
//! one cycle make one message ("23 VODs failed").
//!
//! The firing alerts live in memory between cycles (loaded once at start),
//! so an evaluation with nothing new reads three small indexed things: the
//! change queue, the stuck VODs and the silences.
//!
//! Until the first complete catalogue pass on a database, the failures
//! found are taken as known (they are on the status page) instead of paging
//! about a catalogue's whole past; from then on every failure that begins
//! is notified.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{AlertKind, AlertSettings};
use crate::clock;
use crate::notify::{AlertItem, Event, Notification, Notifier, PAYLOAD_VERSION};
use crate::store::alerts::{AlertChanges, AlertRow, FailureChange, QueuedMessage, Recipient};
use crate::store::Store;

/// Change-queue entries read per cycle; more wait for the next cycle.
const CHANGES_PER_CYCLE: usize = 5_000;
/// Stuck VODs alerted on at most. Past it, no stuck alert is resolved by
/// absence (the list is incomplete), so none resolves wrongly.
const MAX_STUCK: usize = 5_000;

/// What the alerts need to know of one monitoring cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleOutcome {
    /// Why Cablecast could not be read, if it could not.
    pub cablecast_error: Option<String>,
    /// Why the database could not be written, if it could not.
    pub store_error: Option<String>,
    /// Everything was read and written.
    pub current: bool,
    /// The cycle ran a catalogue pass that listed everything Cablecast has.
    pub catalog_complete: bool,
}

/// Consecutive failing and good cycles of one station-wide condition.
#[derive(Debug, Default, Clone, Copy)]
struct Streak {
    bad: u32,
    good: u32,
}

impl Streak {
    fn note(&mut self, failing: bool) {
        if failing {
            self.bad += 1;
            self.good = 0;
        } else {
            self.good += 1;
            self.bad = 0;
        }
    }
}

/// What one evaluation decided, before it is written.
#[derive(Default)]
struct Plan {
    fired: Vec<AlertRow>,
    resolved: Vec<(AlertRow, String)>,
    notified: Vec<(AlertRow, bool)>,
    handled: Vec<(String, String)>,
}

/// The alert evaluation, owned by the monitor thread.
pub struct AlertWatch {
    store: Arc<Store>,
    settings: AlertSettings,
    notifier: Option<Notifier>,
    keys: Vec<Recipient>,
    /// Firing alerts by (kind, subject); `None` until loaded.
    firing: Option<HashMap<(String, String), AlertRow>>,
    cablecast: Streak,
    database: Streak,
    /// The database alert sent from memory while nothing could be written;
    /// recorded once the database takes writes again.
    unrecorded_database_alert: Option<AlertRow>,
    started: bool,
}

impl AlertWatch {
    /// A watch that queues messages for `notifier`'s destinations (none:
    /// alerts are recorded and shown only).
    pub fn new(
        store: Arc<Store>,
        settings: AlertSettings,
        notifier: Option<Notifier>,
    ) -> AlertWatch {
        let keys = notifier.as_ref().map(Notifier::keys).unwrap_or_default();
        AlertWatch {
            store,
            settings,
            notifier,
            keys,
            firing: None,
            cablecast: Streak::default(),
            database: Streak::default(),
            unrecorded_database_alert: None,
            started: false,
        }
    }

    /// Evaluates the alerts after one cycle.
    pub fn after_cycle(&mut self, report: &CycleOutcome) {
        let write_failed = self.evaluate(report);
        let trouble = report
            .store_error
            .clone()
            .or(write_failed.map(|e| e.to_string()));
        self.evaluate_database(trouble);
        if let Some(notifier) = &self.notifier {
            notifier.heartbeat(report.current);
        }
    }

    /// Everything but the database alert; returns the write error, if the
    /// alerts could not be recorded.
    fn evaluate(&mut self, report: &CycleOutcome) -> Option<crate::store::StoreError> {
        let starting = !self.started && report.catalog_complete;
        let now_unix = clock::unix_now();
        let now = clock::format_unix(now_unix);
        if self.firing.is_none() {
            match self.store.firing_alerts() {
                Ok(rows) => {
                    self.firing = Some(
                        rows.into_iter()
                            .map(|a| ((a.kind.clone(), a.subject.clone()), a))
                            .collect(),
                    )
                }
                Err(e) => {
                    log::warn!("alerts not evaluated: {e}");
                    return None;
                }
            }
            self.started = self.store.alerts_started().unwrap_or(false);
        }
        let silenced: Vec<Option<String>> = self
            .store
            .active_silences(&now)
            .map(|s| s.into_iter().map(|s| s.kind).collect())
            .unwrap_or_default();
        let is_silenced = |kind: &str| {
            silenced
                .iter()
                .any(|s| s.as_deref().is_none_or(|k| k == kind))
        };
        let mut plan = Plan::default();
        // reason: loaded (or returned early) just above.
        let firing = self.firing.as_ref().expect("loaded above");
        let open = |kind: AlertKind, subject: &str| {
            firing.get(&(kind.as_str().to_string(), subject.to_string()))
        };
        let new_alert =
            |kind: AlertKind, subject: &str, title: String, detail: Option<String>| AlertRow {
                alert_id: alert_id(kind, subject),
                kind: kind.as_str().into(),
                subject: subject.into(),
                state: "firing".into(),
                title,
                detail,
                fired_at: now.clone(),
                resolved_at: None,
                notified: !is_silenced(kind.as_str()),
                silenced: is_silenced(kind.as_str()),
                last_notified_at: (!is_silenced(kind.as_str())).then(|| now.clone()),
            };

        // Cablecast.
        self.cablecast.note(report.cablecast_error.is_some());
        if self.settings.is_on(AlertKind::CablecastDown) {
            let current = open(AlertKind::CablecastDown, "");
            match (&report.cablecast_error, current) {
                (Some(e), None) if self.cablecast.bad >= self.settings.fire_after => {
                    plan.fired.push(new_alert(
                        AlertKind::CablecastDown,
                        "",
                        "Cablecast is unreachable".into(),
                        Some(e.clone()),
                    ));
                }
                (None, Some(alert)) if self.cablecast.good >= self.settings.resolve_after => {
                    plan.resolved.push((alert.clone(), now.clone()));
                }
                _ => {}
            }
        }

        // Failures that began or ended (VODs and transcriptions).
        let changes = match self.store.failure_changes(CHANGES_PER_CYCLE) {
            Ok(changes) => changes,
            Err(e) => {
                log::warn!("alerts: {e}");
                Vec::new()
            }
        };
        for change in &changes {
            plan.handled
                .push((change.kind.clone(), change.subject.clone()));
            let Some(kind) = AlertKind::parse(&change.kind) else {
                continue;
            };
            if !self.started {
                continue;
            }
            // A kind switched off raises nothing new, but what it raised
            // still resolves.
            match (change.failing, open(kind, &change.subject)) {
                (true, None) if self.settings.is_on(kind) => {
                    let (title, detail) = describe_failure(kind, change);
                    plan.fired
                        .push(new_alert(kind, &change.subject, title, detail));
                }
                (false, Some(alert)) => plan.resolved.push((alert.clone(), now.clone())),
                _ => {}
            }
        }
        if !self.started && !changes.is_empty() {
            log::info!(
                "{} failures found before the first complete catalogue pass are shown on the status page, not notified",
                changes.len()
            );
        }

        // Stuck VODs.
        if self.settings.is_on(AlertKind::VodStuck) {
            match self
                .store
                .stuck_vods(&self.settings.stuck_after, now_unix, MAX_STUCK + 1)
            {
                Ok(stuck) => {
                    let complete = stuck.len() <= MAX_STUCK;
                    let stuck = &stuck[..stuck.len().min(MAX_STUCK)];
                    let new: HashSet<i64> = stuck
                        .iter()
                        .filter(|v| open(AlertKind::VodStuck, &v.id.to_string()).is_none())
                        .map(|v| v.id)
                        .collect();
                    // Titles only for the few newly stuck.
                    let titles: HashMap<i64, Option<String>> = if new.is_empty() {
                        HashMap::new()
                    } else {
                        self.store
                            .vod_titles(&new.iter().copied().collect::<Vec<_>>())
                            .map(|t| t.into_iter().collect())
                            .unwrap_or_default()
                    };
                    let mut seen = HashSet::new();
                    for vod in stuck {
                        let subject = vod.id.to_string();
                        if new.contains(&vod.id) {
                            let since = vod
                                .since
                                .as_deref()
                                .and_then(clock::parse_stored)
                                .map(|at| clock::humanize_secs(now_unix - at))
                                .unwrap_or_default();
                            let title = titles.get(&vod.id).cloned().flatten();
                            plan.fired.push(new_alert(
                                AlertKind::VodStuck,
                                &subject,
                                format!("{} (VOD {})", show_title(&title), vod.id),
                                Some(format!("in {} for {since}", vod.state)),
                            ));
                        }
                        seen.insert(subject);
                    }
                    if complete {
                        for ((kind, subject), alert) in firing {
                            if kind == AlertKind::VodStuck.as_str() && !seen.contains(subject) {
                                plan.resolved.push((alert.clone(), now.clone()));
                            }
                        }
                    }
                }
                Err(e) => log::warn!("alerts: {e}"),
            }
        }

        // Silences that ended, and reminders.
        let resolving: HashSet<&str> = plan
            .resolved
            .iter()
            .map(|(a, _)| a.alert_id.as_str())
            .collect();
        for alert in firing.values() {
            if resolving.contains(alert.alert_id.as_str()) || is_silenced(&alert.kind) {
                continue;
            }
            if !alert.notified {
                plan.notified.push((alert.clone(), false));
            } else if let Some(every) = self.settings.reminder {
                let last = alert
                    .last_notified_at
                    .as_deref()
                    .and_then(clock::parse_stored)
                    .unwrap_or(now_unix);
                if now_unix - last >= every.as_secs() as i64 {
                    plan.notified.push((alert.clone(), true));
                }
            }
        }
        self.commit(plan, &now, starting)
    }

    /// Writes a plan with its messages; on success updates the firing set
    /// and wakes the senders.
    fn commit(
        &mut self,
        plan: Plan,
        now: &str,
        starting: bool,
    ) -> Option<crate::store::StoreError> {
        if plan.fired.is_empty()
            && plan.resolved.is_empty()
            && plan.notified.is_empty()
            && plan.handled.is_empty()
            && !starting
        {
            return None;
        }
        let mut messages = Vec::new();
        // Fired, grouped by kind.
        for (kind, alerts) in group(plan.fired.iter().filter(|a| a.notified)) {
            messages.push(self.message(Event::Firing, kind, &alerts, false, now));
        }
        for (kind, alerts) in group(plan.notified.iter().filter(|(_, r)| !r).map(|(a, _)| a)) {
            messages.push(self.message(Event::Firing, kind, &alerts, false, now));
        }
        for (kind, alerts) in group(plan.notified.iter().filter(|(_, r)| *r).map(|(a, _)| a)) {
            messages.push(self.message(Event::Firing, kind, &alerts, true, now));
        }
        if self.settings.send_resolved {
            for (kind, alerts) in group(plan.resolved.iter().map(|(a, _)| a).filter(|a| a.notified))
            {
                messages.push(self.message(Event::Resolved, kind, &alerts, false, now));
            }
        }
        let changes = AlertChanges {
            fired: plan.fired.clone(),
            resolved: plan
                .resolved
                .iter()
                .map(|(a, at)| (a.alert_id.clone(), at.clone()))
                .collect(),
            notified: plan
                .notified
                .iter()
                .map(|(a, _)| (a.alert_id.clone(), now.to_string()))
                .collect(),
            handled: plan.handled.clone(),
            messages: queued(&messages),
            start: starting,
        };
        match self.store.apply_alerts(&changes, &self.keys, now) {
            Ok(dropped) => {
                if dropped > 0 {
                    log::warn!(
                        "{dropped} waiting messages dropped: a destination's queue is full ({} messages)",
                        crate::store::alerts::MAX_PENDING_PER_DESTINATION
                    );
                }
                self.started |= starting;
                // One log line per kind, however many alerts: the journal
                // must not flood either. Cablecast's and the database's own
                // troubles are logged by the monitor; the line names the
                // alert only.
                for (kind, alerts) in group(plan.fired.iter()) {
                    let silenced = alerts.iter().filter(|a| a.silenced).count();
                    let what = if kind.is_per_item() {
                        format!(": {}", wording(kind, Event::Firing, &alerts).0)
                    } else {
                        String::new()
                    };
                    log::warn!(
                        "alert {kind} fired{what}{}",
                        if silenced > 0 {
                            format!(" ({silenced} silenced)")
                        } else {
                            String::new()
                        }
                    );
                }
                for (kind, alerts) in group(plan.resolved.iter().map(|(a, _)| a)) {
                    log::info!("alert {kind} resolved ({})", alerts.len());
                }
                let firing = self.firing.get_or_insert_with(HashMap::new);
                for alert in plan.fired {
                    firing.insert((alert.kind.clone(), alert.subject.clone()), alert);
                }
                for (alert, _) in plan.resolved {
                    firing.remove(&(alert.kind, alert.subject));
                }
                for (alert, _) in plan.notified {
                    if let Some(a) = firing.get_mut(&(alert.kind, alert.subject)) {
                        a.notified = true;
                        a.last_notified_at = Some(now.to_string());
                    }
                }
                if !messages.is_empty() {
                    if let Some(notifier) = &self.notifier {
                        notifier.wake();
                    }
                }
                None
            }
            Err(e) => {
                // The monitor logs the database's trouble once; this would
                // say it again every cycle.
                log::debug!(
                    "alerts could not be recorded: {e}; they are evaluated again next cycle"
                );
                Some(e)
            }
        }
    }

    /// The database alert: sent from memory when it cannot be recorded, and
    /// recorded (with its resolution) once writes work again.
    fn evaluate_database(&mut self, trouble: Option<String>) {
        self.database.note(trouble.is_some());
        if !self.settings.is_on(AlertKind::Database) {
            return;
        }
        let now = clock::now();
        let recorded = self
            .firing
            .as_ref()
            .and_then(|f| f.get(&(AlertKind::Database.as_str().to_string(), String::new())))
            .cloned();
        let firing = recorded.is_some() || self.unrecorded_database_alert.is_some();
        match trouble {
            Some(detail) if !firing && self.database.bad >= self.settings.fire_after => {
                let alert = database_alert(detail, &now);
                let plan = Plan {
                    fired: vec![alert.clone()],
                    ..Plan::default()
                };
                if self.commit(plan, &now, false).is_some() {
                    // Not recorded: the message goes straight from memory.
                    log::warn!("alert database fired (sent from memory: it cannot be recorded)");
                    let message =
                        self.message(Event::Firing, AlertKind::Database, &[&alert], false, &now);
                    if let Some(notifier) = &self.notifier {
                        notifier.send_from_memory(message);
                    }
                    self.unrecorded_database_alert = Some(alert);
                }
            }
            None if firing && self.database.good >= self.settings.resolve_after => {
                // An alert sent only from memory is recorded now, with its end.
                let (fired, alert) = match (recorded, self.unrecorded_database_alert.clone()) {
                    (Some(alert), _) => (Vec::new(), alert),
                    (None, Some(alert)) => (vec![alert.clone()], alert),
                    (None, None) => return,
                };
                if self.record_database_resolution(fired, alert, &now) {
                    self.unrecorded_database_alert = None;
                }
            }
            _ => {}
        }
    }

    /// Records a database alert's end (and its start, when that was only
    /// sent from memory) with its resolved message.
    fn record_database_resolution(
        &mut self,
        fired: Vec<AlertRow>,
        alert: AlertRow,
        now: &str,
    ) -> bool {
        let messages = if self.settings.send_resolved {
            vec![self.message(Event::Resolved, AlertKind::Database, &[&alert], false, now)]
        } else {
            Vec::new()
        };
        let changes = AlertChanges {
            fired,
            resolved: vec![(alert.alert_id.clone(), now.to_string())],
            messages: queued(&messages),
            ..AlertChanges::default()
        };
        match self.store.apply_alerts(&changes, &self.keys, now) {
            Ok(_) => {
                log::info!("alert database resolved (1)");
                if let Some(firing) = &mut self.firing {
                    firing.remove(&(alert.kind, alert.subject));
                }
                if let Some(notifier) = &self.notifier {
                    notifier.wake();
                }
                true
            }
            Err(_) => false,
        }
    }

    /// One message about `alerts` (all of `kind`).
    fn message(
        &self,
        event: Event,
        kind: AlertKind,
        alerts: &[&AlertRow],
        reminder: bool,
        now: &str,
    ) -> Notification {
        compose(&self.settings, event, kind, alerts, reminder, now)
    }
}

/// One message about `alerts` (all of `kind`).
fn compose(
    settings: &AlertSettings,
    event: Event,
    kind: AlertKind,
    alerts: &[&AlertRow],
    reminder: bool,
    now: &str,
) -> Notification {
    let (title, message) = wording(kind, event, alerts);
    Notification {
        version: PAYLOAD_VERSION,
        event,
        kind: kind.as_str().into(),
        alert_id: alerts
            .first()
            .map(|a| a.alert_id.clone())
            .unwrap_or_default(),
        title,
        message,
        at: now.to_string(),
        station: settings.station.clone(),
        host: settings.host.clone(),
        status_url: settings.public_url.clone(),
        count: alerts.len(),
        alerts: alerts
            .iter()
            .take(crate::notify::format::MAX_ITEMS)
            .map(|a| AlertItem {
                alert_id: a.alert_id.clone(),
                title: a.title.clone(),
                detail: a.detail.clone(),
            })
            .collect(),
        reminder,
    }
}

/// The `database` alert for a file that failed its integrity check at
/// start: nothing can be recorded, so it is sent from memory.
pub fn damaged_database_notification(settings: &AlertSettings, detail: &str) -> Notification {
    let now = clock::now();
    let alert = database_alert(detail.to_string(), &now);
    compose(
        settings,
        Event::Firing,
        AlertKind::Database,
        &[&alert],
        false,
        &now,
    )
}

fn database_alert(detail: String, now: &str) -> AlertRow {
    AlertRow {
        alert_id: alert_id(AlertKind::Database, ""),
        kind: AlertKind::Database.as_str().into(),
        subject: String::new(),
        state: "firing".into(),
        title: "The database cannot be written".into(),
        detail: Some(detail),
        fired_at: now.to_string(),
        resolved_at: None,
        notified: true,
        silenced: false,
        last_notified_at: Some(now.to_string()),
    }
}

/// The message for `archivist alerts test`.
pub fn test_notification(settings: &AlertSettings) -> Notification {
    let now = clock::now();
    Notification {
        version: PAYLOAD_VERSION,
        event: Event::Firing,
        kind: AlertKind::Test.as_str().into(),
        alert_id: alert_id(AlertKind::Test, ""),
        title: "Test message from Archivist".into(),
        message: "If you can read this, Archivist's alerts reach this destination.".into(),
        at: now,
        station: settings.station.clone(),
        host: settings.host.clone(),
        status_url: settings.public_url.clone(),
        count: 1,
        alerts: Vec::new(),
        reminder: false,
    }
}

/// Messages as the outbox stores them, each with its kind for routing.
fn queued(messages: &[Notification]) -> Vec<QueuedMessage> {
    messages
        .iter()
        .map(|m| QueuedMessage {
            kind: m.kind.clone(),
            body: serde_json::to_string(m).unwrap_or_default(),
        })
        .collect()
}

/// A new alert's id: kind, subject and the moment, unique in one database.
fn alert_id(kind: AlertKind, subject: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    if subject.is_empty() {
        format!("{kind}-{millis}")
    } else {
        format!("{kind}-{subject}-{millis}")
    }
}

fn show_title(title: &Option<String>) -> &str {
    title.as_deref().unwrap_or("(untitled show)")
}

/// An alert's title and detail for a failure that began.
fn describe_failure(kind: AlertKind, change: &FailureChange) -> (String, Option<String>) {
    match kind {
        AlertKind::TranscriptionFailed => {
            let video = change.title.clone().unwrap_or_default();
            let name = video.rsplit('/').next().unwrap_or(&video).to_string();
            (name, change.error.clone())
        }
        _ => {
            let state = change.state.clone().unwrap_or_else(|| "error".into());
            let detail = match &change.error {
                Some(e) if !e.trim().is_empty() => format!("{state}: {}", e.trim()),
                _ => state,
            };
            (
                format!("{} (VOD {})", show_title(&change.title), change.subject),
                Some(detail),
            )
        }
    }
}

/// Alerts by kind, kinds in a fixed order.
fn group<'a>(alerts: impl Iterator<Item = &'a AlertRow>) -> Vec<(AlertKind, Vec<&'a AlertRow>)> {
    let mut groups: Vec<(AlertKind, Vec<&AlertRow>)> = Vec::new();
    for alert in alerts {
        let Some(kind) = AlertKind::parse(&alert.kind) else {
            continue;
        };
        match groups.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, list)) => list.push(alert),
            None => groups.push((kind, vec![alert])),
        }
    }
    groups
}

/// A message's title and text.
fn wording(kind: AlertKind, event: Event, alerts: &[&AlertRow]) -> (String, String) {
    let n = alerts.len();
    let first = alerts.first();
    if !kind.is_per_item() || n == 1 {
        let alert_title = first.map(|a| a.title.clone()).unwrap_or_default();
        let detail = first.and_then(|a| a.detail.clone()).unwrap_or_default();
        return match (kind, event) {
            (AlertKind::CablecastDown, Event::Firing) => (
                alert_title,
                format!("Archivist cannot reach Cablecast: {detail}. VOD states shown are the last known ones."),
            ),
            (AlertKind::CablecastDown, Event::Resolved) => (
                "Cablecast is reachable again".into(),
                format!(
                    "Cablecast answers again (unreachable since {}).",
                    first.map(|a| a.fired_at.as_str()).unwrap_or_default()
                ),
            ),
            (AlertKind::Database, Event::Firing) => (
                alert_title,
                format!("Archivist cannot write its database: {detail}. VOD states are not being saved."),
            ),
            (AlertKind::Database, Event::Resolved) => (
                "The database takes writes again".into(),
                "Archivist's database writes work again.".into(),
            ),
            (_, Event::Firing) => (
                format!("{}: {alert_title}", noun(kind, 1, event)),
                if detail.is_empty() { alert_title } else { format!("{alert_title}: {detail}") },
            ),
            (_, Event::Resolved) => (
                format!("{}: {alert_title}", noun(kind, 1, event)),
                format!("{alert_title}: resolved"),
            ),
        };
    }
    let mut lines: Vec<String> = alerts
        .iter()
        .take(crate::notify::format::LISTED_IN_TEXT)
        .map(|a| match (&a.detail, event) {
            (Some(d), Event::Firing) => format!("- {}: {d}", a.title),
            _ => format!("- {}", a.title),
        })
        .collect();
    if n > crate::notify::format::LISTED_IN_TEXT {
        lines.push(format!(
            "and {} more (see the status page)",
            n - crate::notify::format::LISTED_IN_TEXT
        ));
    }
    (format!("{n} {}", noun(kind, n, event)), lines.join("\n"))
}

/// "VOD failed", "VODs failed", "VODs no longer failed", ...
fn noun(kind: AlertKind, n: usize, event: Event) -> String {
    let (one, many, what, undone) = match kind {
        AlertKind::VodFailed => ("VOD", "VODs", "failed", "recovered"),
        AlertKind::VodStuck => ("VOD", "VODs", "stuck", "moving again"),
        AlertKind::TranscriptionFailed => {
            ("Transcription", "transcriptions", "failed", "recovered")
        }
        _ => ("Alert", "alerts", "firing", "resolved"),
    };
    let word = if n == 1 { one } else { many };
    match event {
        Event::Firing => format!("{word} {what}"),
        Event::Resolved => format!("{word} {undone}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Access;
    use std::time::Duration;

    const OUTBOX: &str = "test-destination";

    fn setup() -> (tempfile::TempDir, Arc<Store>, AlertWatch) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store =
            Arc::new(Store::open(&dir.path().join("watch.db"), Access::ReadWrite).expect("opens"));
        let mut watch = AlertWatch::new(Arc::clone(&store), AlertSettings::default(), None);
        watch.keys = vec![Recipient::every_kind(OUTBOX)];
        (dir, store, watch)
    }

    fn good() -> CycleOutcome {
        CycleOutcome {
            current: true,
            catalog_complete: true,
            ..CycleOutcome::default()
        }
    }

    fn down() -> CycleOutcome {
        CycleOutcome {
            cablecast_error: Some("Cablecast answered HTTP 503".into()),
            ..CycleOutcome::default()
        }
    }

    /// Every queued message, oldest first (marking them delivered).
    fn drain(store: &Store) -> Vec<Notification> {
        let mut out = Vec::new();
        while let Some(pending) = store.next_delivery(OUTBOX).expect("reads") {
            out.push(serde_json::from_str(&pending.body).expect("a notification"));
            store
                .delivered(OUTBOX, pending.message_id, "2026-01-01T00:00:00Z")
                .expect("marked");
        }
        out
    }

    fn sql(store: &Store, text: &str) {
        store.write_rows_for_tests(text).expect("written");
    }

    #[test]
    fn cablecast_down_fires_after_the_damping_and_resolves_once() {
        let (_dir, store, mut watch) = setup();
        for outcome in [good(), down(), good(), down()] {
            watch.after_cycle(&outcome);
        }
        assert!(
            drain(&store).is_empty(),
            "one failing cycle at a time is a blip"
        );
        watch.after_cycle(&down());
        let fired = drain(&store);
        assert_eq!(fired.len(), 1);
        assert_eq!(
            (fired[0].event, fired[0].kind.as_str()),
            (Event::Firing, "cablecast_down")
        );
        assert!(
            fired[0].message.contains("HTTP 503"),
            "{}",
            fired[0].message
        );
        watch.after_cycle(&down());
        assert!(drain(&store).is_empty(), "no repeat while it fires");
        watch.after_cycle(&good());
        let resolved = drain(&store);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].event, Event::Resolved);
        assert_eq!(resolved[0].alert_id, fired[0].alert_id);
        assert!(store.firing_alerts().expect("reads").is_empty());
    }

    #[test]
    fn failures_already_there_are_known_and_new_ones_group_into_one_message() {
        let (_dir, store, mut watch) = setup();
        sql(
            &store,
            "INSERT INTO cablecast_show (id, cablecast_id, title) VALUES (1, 10, 'Council');
             INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (1, 1, 'error');
             INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (2, 1, 'processing');",
        );
        watch.after_cycle(&good());
        assert!(
            drain(&store).is_empty(),
            "the failure from before alerts started"
        );
        sql(
            &store,
            "UPDATE cablecast_vod SET vod_state = 'permanentFailure', error_message = 'bad source'
                WHERE id = 2;
             INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (3, 1, 'error');
             INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (4, 1, 'error');",
        );
        watch.after_cycle(&good());
        let fired = drain(&store);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].count, 3);
        assert_eq!(fired[0].title, "3 VODs failed");
        assert!(fired[0]
            .message
            .contains("Council (VOD 2): permanentFailure: bad source"));
        sql(
            &store,
            "UPDATE cablecast_vod SET vod_state = 'complete' WHERE id = 2;",
        );
        watch.after_cycle(&good());
        let resolved = drain(&store);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].title, "VOD recovered: Council (VOD 2)");
        assert_eq!(store.firing_alerts().expect("reads").len(), 2);
        // Removed and disabled VODs resolve too.
        sql(
            &store,
            "DELETE FROM cablecast_vod WHERE id = 3; UPDATE cablecast_vod SET disabled = 1 WHERE id = 4;",
        );
        watch.after_cycle(&good());
        assert_eq!(drain(&store)[0].count, 2);
        assert!(store.firing_alerts().expect("reads").is_empty());
    }

    #[test]
    fn a_silenced_alert_is_recorded_and_sent_only_when_the_silence_ends() {
        let (_dir, store, mut watch) = setup();
        watch.settings.fire_after = 1;
        crate::alert::silence(
            &store,
            Some(AlertKind::CablecastDown),
            Duration::from_secs(3600),
        )
        .expect("silenced");
        watch.after_cycle(&down());
        assert!(drain(&store).is_empty());
        let firing = store.firing_alerts().expect("reads");
        assert_eq!(firing.len(), 1);
        assert!(firing[0].silenced && !firing[0].notified);
        sql(
            &store,
            "UPDATE alert_silence SET ends_at = '2000-01-01T00:00:00Z';",
        );
        watch.after_cycle(&down());
        let sent = drain(&store);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].alert_id, firing[0].alert_id);
    }

    #[test]
    fn reminders_repeat_a_firing_alert_and_a_kind_switched_off_raises_nothing() {
        let (_dir, store, mut watch) = setup();
        watch.settings.fire_after = 1;
        watch.settings.reminder = Some(Duration::from_secs(3600));
        watch.after_cycle(&down());
        assert_eq!(drain(&store).len(), 1);
        watch.after_cycle(&down());
        assert!(drain(&store).is_empty(), "not yet an hour");
        sql(
            &store,
            "UPDATE alert SET last_notified_at = '2000-01-01T00:00:00Z';",
        );
        // The watch keeps the firing alerts in memory: a new one sees the row.
        let mut later = AlertWatch::new(Arc::clone(&store), watch.settings.clone(), None);
        later.keys = vec![Recipient::every_kind(OUTBOX)];
        later.after_cycle(&down());
        let reminder = drain(&store);
        assert_eq!(reminder.len(), 1);
        assert!(reminder[0].reminder);
        assert!(reminder[0].headline().starts_with("[STILL FIRING]"));

        let (_dir, store, mut watch) = setup();
        watch.settings.fire_after = 1;
        watch.settings.off = vec![AlertKind::CablecastDown];
        watch.after_cycle(&down());
        assert!(drain(&store).is_empty());
        assert!(store.firing_alerts().expect("reads").is_empty());
    }
}
