//! [`AlertWatch`]: after each cycle, which alerts fire and resolve, recorded
//! with their messages in one transaction.
//!
//! Station-wide alerts (`cablecast_down`, `database`) are damped: they fire
//! after `fire_after` failing cycles in a row and resolve after
//! `resolve_after` good ones, so one dropped answer never pages anyone.
//! Alerts about one VOD or job fire once their failure has held for the
//! kind's hold (`ARCHIVIST_ALERT_HOLD`), so Cablecast's own quick retries
//! stay quiet; all those of one kind in one cycle make one message ("23 VODs
//! failed").
//!
//! The firing alerts live in memory between cycles (loaded once at start),
//! so an evaluation with nothing new reads four small indexed things: the
//! change queue, the stuck VODs, the silences and the shows with no VOD in
//! the `vod_missing` window.
//!
//! `vod_missing` fires for a show of a series (its title words, the date
//! taken out, as transcription linking reads names) that aired longer ago
//! than its threshold with no VOD, when at least [`SERIES_WITH_VOD`] of the
//! [`SERIES_EPISODES`] episodes before it (within `SERIES_WINDOW`) had one;
//! a one-off never fires. Shows with no VOD are grouped like failures.
//!
//! Alerts start on a database with the first catalogue pass that listed
//! everything it could read: the failures there are then fire at once, told
//! in one message per kind ("6 VODs had already failed when monitoring
//! began"); from then on every failure that begins and holds is notified.
//! Only the firing of a kind switched off is gated: what it left firing
//! resolves.
//!
//! The evaluation is split by job: [`AlertWatch::evaluate`] loads what it
//! needs, each `plan_*` step adds to one [`Plan`], and
//! [`AlertWatch::commit`] composes its messages and writes it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::settings::SERIES_WINDOW;
use super::{AlertKind, AlertSettings, AlertState};
use crate::cablecast::CablecastError;
use crate::clock;
use crate::notify::{AlertItem, Event, Notification, Notifier, PAYLOAD_VERSION};
use crate::store::alerts::{
    AlertChanges, AlertRow, FailureChange, HandledChange, QueuedMessage, Recipient,
};
use crate::store::missing::AiredShow;
use crate::store::{Store, StoreError};
use crate::transcription::title_words;

/// Change-queue entries read per cycle; more wait for the next cycle.
const CHANGES_PER_CYCLE: usize = 5_000;
/// Stuck VODs alerted on at most. Past it, no stuck alert is resolved by
/// absence (the list is incomplete), so none resolves wrongly.
const MAX_STUCK: usize = 5_000;
/// Failures taken in when alerts start; more come through the change queue.
const FOUND_AT_START: usize = 5_000;
/// Shows with no VOD in the `vod_missing` window read per cycle. Past it,
/// no `vod_missing` alert is resolved by absence (the list is incomplete).
const MAX_MISSING: usize = 2_000;
/// Earlier episodes read to judge new shows with no VOD (newest first):
/// about 150 a day over the series window, far beyond a station's output.
const MAX_EPISODES: usize = 20_000;
/// The series rule: of the [`SERIES_EPISODES`] episodes before a show (same
/// title words, within [`SERIES_WINDOW`]), at least [`SERIES_WITH_VOD`]
/// had a VOD.
pub const SERIES_EPISODES: usize = 3;
pub const SERIES_WITH_VOD: usize = 2;

/// What the alerts need to know of one monitoring cycle.
#[derive(Debug, Clone, Default)]
pub struct CycleOutcome {
    /// Why Cablecast could not be read, if it could not.
    pub cablecast_error: Option<CablecastError>,
    /// Why the database could not be written, if it could not.
    pub store_error: Option<StoreError>,
    /// Everything was read and written.
    pub current: bool,
    /// The cycle ran a catalogue pass to its end: it listed everything it
    /// could read, whether or not Cablecast's total proved it complete.
    pub catalog_listed: bool,
}

/// Consecutive failing and good cycles of one station-wide condition, and
/// when the failing run began.
#[derive(Debug, Default, Clone)]
struct Streak {
    bad: u32,
    good: u32,
    began: Option<String>,
}

impl Streak {
    fn note(&mut self, failing: bool, now: &str) {
        if failing {
            if self.bad == 0 {
                self.began = Some(now.to_string());
            }
            self.bad += 1;
            self.good = 0;
        } else {
            self.good += 1;
            self.bad = 0;
        }
    }
}

/// Whether alerts have started on this database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Started {
    /// Not read yet, or the read failed: asked again next evaluation.
    Unknown,
    No,
    Yes,
}

/// Why a firing alert ended; it says so in the resolved message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ending {
    /// Fixed: the VOD or job is no longer failing, Cablecast answers, ...
    Recovered,
    /// The VOD was disabled in Cablecast.
    Disabled,
    /// The VOD or result is gone.
    Removed,
    /// Its kind was switched off (`ARCHIVIST_ALERTS_OFF`).
    SwitchedOff,
    /// A show with no VOD left the `vod_missing` window (it aired before the
    /// lookback, or its event moved).
    OutOfWindow,
}

/// What a message says about its alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    /// They began now.
    Began,
    /// They were there when alerts started on the database.
    FoundAtStart,
    /// They still fire (a reminder), or a silence over them ended.
    StillFiring { reminder: bool },
    /// They ended.
    Ended(Ending),
}

impl Tone {
    fn event(self) -> Event {
        match self {
            Tone::Ended(_) => Event::Resolved,
            _ => Event::Firing,
        }
    }
}

/// A firing alert's key: its kind and subject.
type AlertKey = (AlertKind, String);

fn key_of(alert: &AlertRow) -> AlertKey {
    (alert.kind, alert.subject.clone())
}

/// What one evaluation decided, before it is written.
#[derive(Default)]
struct Plan {
    /// New alerts, with what their message says (`Began` or `FoundAtStart`).
    fired: Vec<(AlertRow, Tone)>,
    resolved: Vec<(AlertRow, Ending)>,
    /// Firing alerts to tell now: `true` for a reminder.
    notified: Vec<(AlertRow, bool)>,
    handled: Vec<HandledChange>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.fired.is_empty()
            && self.resolved.is_empty()
            && self.notified.is_empty()
            && self.handled.is_empty()
    }

    fn resolves(&self, alert: &AlertRow) -> bool {
        self.resolved
            .iter()
            .any(|(a, _)| a.alert_id == alert.alert_id)
    }
}

/// The moment of one evaluation.
struct Now {
    unix: i64,
    text: String,
}

impl Now {
    fn new() -> Now {
        let unix = clock::unix_now();
        Now {
            unix,
            text: clock::format_unix(unix),
        }
    }
}

/// The silences as last read: a failed read keeps the last known ones, so
/// a planned maintenance window never pages anyone because of an error.
#[derive(Debug, Clone, Default)]
struct Silences {
    /// `None` in the list: a silence of every kind.
    kinds: Vec<Option<AlertKind>>,
}

impl Silences {
    fn cover(&self, kind: AlertKind) -> bool {
        self.kinds.iter().any(|s| s.is_none_or(|k| k == kind))
    }
}

/// The alert evaluation, owned by the monitor thread.
pub struct AlertWatch {
    store: Arc<Store>,
    settings: AlertSettings,
    notifier: Option<Notifier>,
    keys: Vec<Recipient>,
    /// Firing alerts by kind and subject, once `loaded`.
    firing: HashMap<AlertKey, AlertRow>,
    loaded: bool,
    cablecast: Streak,
    database: Streak,
    /// Cycles for the heartbeat: damped as `cablecast_down` is.
    cycles: Streak,
    /// What the heartbeat said last (a cycle is good until proved bad).
    heartbeat_ok: bool,
    /// The database alert sent from memory while nothing could be written;
    /// recorded once the database takes writes again.
    unrecorded_database_alert: Option<AlertRow>,
    started: Started,
    /// `None` until read once.
    silences: Option<Silences>,
    /// Failures seen but not yet held long enough, with when they began.
    holding: HashMap<AlertKey, i64>,
    /// A warning about alerts held back was logged.
    warned_held_back: bool,
    /// Firing alerts staff acknowledged (in any process), as last read.
    acknowledged: HashSet<String>,
    /// Shows with no VOD judged not part of a series (Cablecast ids), so
    /// each is judged once while it stays in the window.
    one_offs: HashSet<i64>,
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
            firing: HashMap::new(),
            loaded: false,
            cablecast: Streak::default(),
            database: Streak::default(),
            cycles: Streak::default(),
            heartbeat_ok: true,
            unrecorded_database_alert: None,
            started: Started::Unknown,
            silences: None,
            holding: HashMap::new(),
            warned_held_back: false,
            acknowledged: HashSet::new(),
            one_offs: HashSet::new(),
        }
    }

    /// Evaluates the alerts after one cycle.
    pub fn after_cycle(&mut self, report: &CycleOutcome) {
        let write_failed = self.evaluate(report);
        let trouble = report
            .store_error
            .as_ref()
            .or(write_failed.as_ref())
            .map(ToString::to_string);
        self.evaluate_database(trouble);
        self.ping_heartbeat(report);
    }

    /// The VODs whose `vod_failed` alert fires, by id: the monitor checks
    /// they are still in Cablecast, so one deleted there resolves.
    pub fn failed_vods_firing(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .firing
            .keys()
            .filter(|(kind, _)| *kind == AlertKind::VodFailed)
            .filter_map(|(_, subject)| subject.parse().ok())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Pings the heartbeat with the same damping as `cablecast_down`: it
    /// says "failed" after `fire_after` failing cycles in a row and "good"
    /// again after `resolve_after` good ones. While a silence covers
    /// `cablecast_down`, Cablecast's own trouble does not fail it.
    fn ping_heartbeat(&mut self, report: &CycleOutcome) {
        let silenced_outage = report.cablecast_error.is_some()
            && report.store_error.is_none()
            && self.silenced(AlertKind::CablecastDown);
        let failing = !report.current && !silenced_outage;
        let now = clock::now();
        self.cycles.note(failing, &now);
        if self.cycles.bad >= self.settings.fire_after {
            self.heartbeat_ok = false;
        } else if self.cycles.good >= self.settings.resolve_after {
            self.heartbeat_ok = true;
        }
        if let Some(notifier) = &self.notifier {
            notifier.heartbeat(self.heartbeat_ok);
        }
    }

    fn silenced(&self, kind: AlertKind) -> bool {
        self.silences.as_ref().is_some_and(|s| s.cover(kind))
    }

    /// Everything but the database alert; returns the write error, if the
    /// alerts could not be recorded.
    fn evaluate(&mut self, report: &CycleOutcome) -> Option<StoreError> {
        let now = Now::new();
        self.cablecast
            .note(report.cablecast_error.is_some(), &now.text);
        if !self.load(&now) {
            return None;
        }
        let starting = self.started == Started::No && report.catalog_listed;
        let mut plan = Plan::default();
        self.plan_cablecast(report, &now, &mut plan);
        match self.started {
            Started::Yes => self.plan_failure_changes(&now, &mut plan),
            _ if starting => self.plan_found_at_start(&now, &mut plan),
            _ => self.warn_held_back(),
        }
        self.plan_stuck(&now, &mut plan);
        if self.started == Started::Yes || starting {
            self.plan_missing(&now, &mut plan);
        }
        self.plan_switched_off(&mut plan);
        self.plan_notices(&now, &mut plan);
        if plan.is_empty() && !starting {
            return None;
        }
        self.commit(plan, &now.text, starting)
    }

    /// Loads the firing alerts (once), whether alerts started (until known)
    /// and the silences (every time; a failed read keeps the last known).
    /// False when the evaluation cannot be made this cycle.
    fn load(&mut self, now: &Now) -> bool {
        if !self.loaded {
            match self.store.firing_alerts() {
                Ok(rows) => {
                    self.firing = rows.into_iter().map(|a| (key_of(&a), a)).collect();
                    self.loaded = true;
                }
                Err(e) => {
                    log::warn!("alerts not evaluated: {e}");
                    return false;
                }
            }
        }
        if self.started == Started::Unknown {
            match self.store.alerts_started() {
                Ok(true) => self.started = Started::Yes,
                Ok(false) => self.started = Started::No,
                Err(e) => log::warn!("alerts: {e}; asking again next cycle"),
            }
        }
        match self.store.active_silences(&now.text) {
            Ok(rows) => {
                self.silences = Some(Silences {
                    kinds: rows
                        .iter()
                        .map(|s| s.kind.as_deref().and_then(AlertKind::parse))
                        .collect(),
                })
            }
            Err(e) if self.silences.is_some() => {
                log::warn!("alerts: {e}; keeping the silences last read")
            }
            Err(e) => {
                log::warn!("alerts not evaluated: {e}; the silences are read again next cycle");
                return false;
            }
        }
        true
    }

    fn open(&self, kind: AlertKind, subject: &str) -> Option<&AlertRow> {
        self.firing.get(&(kind, subject.to_string()))
    }

    /// A new firing alert, silenced or not.
    fn new_alert(
        &self,
        kind: AlertKind,
        subject: &str,
        title: String,
        detail: Option<String>,
        now: &str,
    ) -> AlertRow {
        let silenced = self.silenced(kind);
        AlertRow {
            alert_id: alert_id(kind, subject),
            kind,
            subject: subject.into(),
            state: AlertState::Firing,
            title,
            detail,
            fired_at: now.to_string(),
            resolved_at: None,
            notified: !silenced,
            silenced,
            last_notified_at: (!silenced).then(|| now.to_string()),
            began_at: None,
            acked_at: None,
            acked_by: None,
            ack_note: None,
        }
    }

    /// `cablecast_down`: fires after `fire_after` failing cycles, resolves
    /// after `resolve_after` good ones (whether its kind is on or not).
    fn plan_cablecast(&self, report: &CycleOutcome, now: &Now, plan: &mut Plan) {
        let current = self.open(AlertKind::CablecastDown, "");
        match (&report.cablecast_error, current) {
            (Some(e), None)
                if self.cablecast.bad >= self.settings.fire_after
                    && self.settings.is_on(AlertKind::CablecastDown) =>
            {
                let mut alert = self.new_alert(
                    AlertKind::CablecastDown,
                    "",
                    "Cablecast is unreachable".into(),
                    Some(e.to_string()),
                    &now.text,
                );
                alert.began_at = self.cablecast.began.clone();
                plan.fired.push((alert, Tone::Began));
            }
            (None, Some(alert)) if self.cablecast.good >= self.settings.resolve_after => {
                plan.resolved.push((alert.clone(), Ending::Recovered));
            }
            _ => {}
        }
    }

    /// Failures that began or ended (VODs and transcriptions), from the
    /// change queue. A failure fires once it has held for its kind's hold;
    /// until then its entry stays queued.
    fn plan_failure_changes(&mut self, now: &Now, plan: &mut Plan) {
        let changes = match self.store.failure_changes(CHANGES_PER_CYCLE) {
            Ok(changes) => changes,
            Err(e) => {
                log::warn!("alerts: {e}");
                return;
            }
        };
        for change in &changes {
            let Some(kind) = AlertKind::parse(&change.kind) else {
                plan.handled.push(change.into());
                continue;
            };
            let key = (kind, change.subject.clone());
            if !change.failing {
                self.holding.remove(&key);
                if let Some(alert) = self.open(kind, &change.subject) {
                    plan.resolved.push((alert.clone(), ending_of(change)));
                }
                plan.handled.push(change.into());
                continue;
            }
            if self.open(kind, &change.subject).is_some() || !self.settings.is_on(kind) {
                self.holding.remove(&key);
                plan.handled.push(change.into());
                continue;
            }
            let began = change
                .since
                .as_deref()
                .and_then(clock::parse_stored)
                .map_or(now.unix, |since| since.min(now.unix));
            let began = *self.holding.entry(key.clone()).or_insert(began);
            let hold = self.settings.failure_hold.of(kind).as_secs() as i64;
            if now.unix - began >= hold {
                self.holding.remove(&key);
                let (title, detail) = describe_failure(kind, change);
                let alert = self.new_alert(kind, &change.subject, title, detail, &now.text);
                plan.fired.push((alert, Tone::Began));
                plan.handled.push(change.into());
            }
        }
    }

    /// Alerts start on this database: every failure there is now fires at
    /// once, told as found at start; the queue read so far is handled.
    fn plan_found_at_start(&mut self, now: &Now, plan: &mut Plan) {
        let (queued, failing) = match (
            self.store.failure_changes(CHANGES_PER_CYCLE),
            self.store.failures_now(FOUND_AT_START),
        ) {
            (Ok(queued), Ok(failing)) => (queued, failing),
            (Err(e), _) | (_, Err(e)) => {
                log::warn!("alerts: {e}; starting them next cycle");
                return;
            }
        };
        plan.handled.extend(queued.iter().map(HandledChange::from));
        for change in &failing {
            let Some(kind) = AlertKind::parse(&change.kind) else {
                continue;
            };
            if !self.settings.is_on(kind) || self.open(kind, &change.subject).is_some() {
                continue;
            }
            let (title, detail) = describe_failure(kind, change);
            let alert = self.new_alert(kind, &change.subject, title, detail, &now.text);
            plan.fired.push((alert, Tone::FoundAtStart));
        }
    }

    /// Before the first catalogue pass, per-item alerts wait: said once,
    /// as a warning.
    fn warn_held_back(&mut self) {
        if !self.warned_held_back {
            log::warn!(
                "VOD and transcription alerts are held back until the first catalogue pass has listed what Cablecast has; failures found then are told at once"
            );
            self.warned_held_back = true;
        }
    }

    /// Stuck VODs: new ones fire; those no longer stuck resolve (only when
    /// the list was complete).
    fn plan_stuck(&self, now: &Now, plan: &mut Plan) {
        if !self.settings.is_on(AlertKind::VodStuck) {
            return;
        }
        let stuck = match self
            .store
            .stuck_vods(&self.settings.stuck_after, now.unix, MAX_STUCK + 1)
        {
            Ok(stuck) => stuck,
            Err(e) => {
                log::warn!("alerts: {e}");
                return;
            }
        };
        let complete = stuck.len() <= MAX_STUCK;
        let stuck = &stuck[..stuck.len().min(MAX_STUCK)];
        let new: Vec<i64> = stuck
            .iter()
            .filter(|v| self.open(AlertKind::VodStuck, &v.id.to_string()).is_none())
            .map(|v| v.id)
            .collect();
        // Titles only for the few newly stuck.
        let titles: HashMap<i64, Option<String>> = if new.is_empty() {
            HashMap::new()
        } else {
            self.store
                .vod_titles(&new)
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
                    .map(|at| clock::humanize_secs(now.unix - at))
                    .unwrap_or_default();
                let title = titles.get(&vod.id).cloned().flatten();
                let alert = self.new_alert(
                    AlertKind::VodStuck,
                    &subject,
                    format!("{} (VOD {})", show_title(&title), vod.id),
                    Some(format!("in {} for {since}", vod.state)),
                    &now.text,
                );
                plan.fired.push((alert, Tone::Began));
            }
            seen.insert(subject);
        }
        if complete {
            for ((kind, subject), alert) in &self.firing {
                if *kind == AlertKind::VodStuck && !seen.contains(subject) {
                    plan.resolved.push((alert.clone(), Ending::Recovered));
                }
            }
        }
    }

    /// Shows of a series that aired with no VOD (`vod_missing`): new ones
    /// fire, those that got a VOD, are gone or left the window resolve.
    ///
    /// Cost per cycle: one range of `idx_show_event_date` over the window
    /// (the lookback up to the threshold: a few hundred shows at most),
    /// returning only the shows with no VOD. Earlier episodes are read only
    /// when a show with no VOD is seen for the first time (one range over
    /// the series window), and the firing ones by id only when they left
    /// that list.
    fn plan_missing(&mut self, now: &Now, plan: &mut Plan) {
        if !self.settings.is_on(AlertKind::VodMissing) {
            return;
        }
        let rule = self.settings.missing_vod;
        let from = clock::format_unix(now.unix - rule.lookback.as_secs() as i64);
        let until = clock::format_unix(now.unix - rule.after.as_secs() as i64);
        let mut shows = match self.store.aired_without_vod(&from, &until, MAX_MISSING + 1) {
            Ok(shows) => shows,
            Err(e) => {
                log::warn!("alerts: {e}");
                return;
            }
        };
        let complete = shows.len() <= MAX_MISSING;
        shows.truncate(MAX_MISSING);
        let listed: HashSet<i64> = shows.iter().map(|s| s.cablecast_id).collect();
        self.one_offs.retain(|id| listed.contains(id));
        let unjudged: Vec<&AiredShow> = shows
            .iter()
            .filter(|s| {
                !self.one_offs.contains(&s.cablecast_id)
                    && self
                        .open(AlertKind::VodMissing, &s.cablecast_id.to_string())
                        .is_none()
            })
            .collect();
        if !unjudged.is_empty() {
            let Some(episodes) = self.earlier_episodes(&unjudged) else {
                return;
            };
            for show in unjudged {
                match series_verdict(show, &episodes) {
                    Some(detail) => {
                        let alert = self.new_alert(
                            AlertKind::VodMissing,
                            &show.cablecast_id.to_string(),
                            show_label(show),
                            Some(detail),
                            &now.text,
                        );
                        plan.fired.push((alert, Tone::Began));
                    }
                    None => {
                        self.one_offs.insert(show.cablecast_id);
                    }
                }
            }
        }
        if complete {
            self.plan_missing_resolved(&listed, plan);
        }
    }

    /// The episodes aired in the series window before the earliest of
    /// `shows` and up to the latest, with their title words; `None` (logged)
    /// when they cannot be read.
    fn earlier_episodes(&self, shows: &[&AiredShow]) -> Option<Vec<(Vec<String>, AiredShow)>> {
        let dates = shows
            .iter()
            .filter_map(|s| clock::parse_stored(&s.event_date));
        let (first, last) = (dates.clone().min()?, dates.max()?);
        let from = clock::format_unix(first - SERIES_WINDOW.as_secs() as i64);
        match self
            .store
            .aired_between(&from, &clock::format_unix(last), MAX_EPISODES)
        {
            Ok(episodes) => Some(
                episodes
                    .into_iter()
                    .map(|e| (title_words(&e.title), e))
                    .collect(),
            ),
            Err(e) => {
                log::warn!("alerts: {e}");
                None
            }
        }
    }

    /// Firing `vod_missing` alerts whose show is no longer listed (the list
    /// was complete): it got a VOD, is gone, or left the window.
    fn plan_missing_resolved(&self, listed: &HashSet<i64>, plan: &mut Plan) {
        let left: Vec<(i64, &AlertRow)> = self
            .firing
            .iter()
            .filter(|((kind, _), _)| *kind == AlertKind::VodMissing)
            .filter_map(|((_, subject), alert)| Some((subject.parse::<i64>().ok()?, alert)))
            .filter(|(id, _)| !listed.contains(id))
            .collect();
        if left.is_empty() {
            return;
        }
        let ids: Vec<i64> = left.iter().map(|(id, _)| *id).collect();
        let now = match self.store.aired_shows(&ids) {
            Ok(shows) => shows,
            Err(e) => {
                log::warn!("alerts: {e}");
                return;
            }
        };
        for (id, alert) in left {
            let ending = match now.iter().find(|s| s.cablecast_id == id) {
                None => Ending::Removed,
                Some(show) if show.has_vod => Ending::Recovered,
                Some(_) => Ending::OutOfWindow,
            };
            plan.resolved.push((alert.clone(), ending));
        }
    }

    /// What a kind switched off left firing resolves: only firing is gated.
    fn plan_switched_off(&self, plan: &mut Plan) {
        for ((kind, _), alert) in &self.firing {
            if *kind != AlertKind::Database && !self.settings.is_on(*kind) && !plan.resolves(alert)
            {
                plan.resolved.push((alert.clone(), Ending::SwitchedOff));
            }
        }
    }

    /// Firing alerts to tell now: a silence over them ended, or a reminder
    /// is due.
    /// Acknowledged alerts are never told again. The acknowledgements
    /// (made by any process) are read only when something is to be told.
    fn plan_notices(&mut self, now: &Now, plan: &mut Plan) {
        let mut due = Vec::new();
        for ((kind, _), alert) in &self.firing {
            if plan.resolves(alert) || self.silenced(*kind) {
                continue;
            }
            if !alert.notified {
                due.push((alert.clone(), false));
            } else if let Some(every) = self.settings.reminder {
                let last = alert
                    .last_notified_at
                    .as_deref()
                    .and_then(clock::parse_stored)
                    .unwrap_or(now.unix);
                if now.unix - last >= every.as_secs() as i64 {
                    due.push((alert.clone(), true));
                }
            }
        }
        if due.is_empty() {
            return;
        }
        match self.store.acknowledged_alerts() {
            Ok(ids) => self.acknowledged = ids.into_iter().collect(),
            Err(e) => log::warn!("alerts: {e}; keeping the acknowledgements last read"),
        }
        plan.notified.extend(
            due.into_iter()
                .filter(|(alert, _)| !self.acknowledged.contains(&alert.alert_id)),
        );
    }

    /// The messages a plan causes: fired, told again, reminded, resolved;
    /// each group one message per kind.
    fn messages(&self, plan: &Plan, now: &str) -> Vec<Notification> {
        let mut messages = Vec::new();
        for tone in [Tone::FoundAtStart, Tone::Began] {
            let alerts = plan
                .fired
                .iter()
                .filter(|(a, t)| a.notified && *t == tone)
                .map(|(a, _)| a);
            for (kind, alerts) in group(alerts) {
                messages.push(self.message(tone, kind, &alerts, now));
            }
        }
        for reminder in [false, true] {
            let alerts = plan
                .notified
                .iter()
                .filter(|(_, r)| *r == reminder)
                .map(|(a, _)| a);
            for (kind, alerts) in group(alerts) {
                let tone = Tone::StillFiring { reminder };
                messages.push(self.message(tone, kind, &alerts, now));
            }
        }
        if self.settings.send_resolved {
            for ending in [
                Ending::Recovered,
                Ending::Disabled,
                Ending::Removed,
                Ending::SwitchedOff,
                Ending::OutOfWindow,
            ] {
                let alerts = plan
                    .resolved
                    .iter()
                    .filter(|(a, e)| a.notified && *e == ending)
                    .map(|(a, _)| a);
                for (kind, alerts) in group(alerts) {
                    messages.push(self.message(Tone::Ended(ending), kind, &alerts, now));
                }
            }
        }
        messages
    }

    /// Writes a plan with its messages; on success updates the firing set
    /// and wakes the senders.
    fn commit(&mut self, plan: Plan, now: &str, starting: bool) -> Option<StoreError> {
        let messages = self.messages(&plan, now);
        let bodies = match encode(&messages) {
            Ok(bodies) => bodies,
            Err(e) => {
                // Nothing is written: an empty message is never queued.
                log::error!("alerts not recorded: a message could not be encoded ({e}); evaluated again next cycle");
                return None;
            }
        };
        let changes = AlertChanges {
            fired: plan.fired.iter().map(|(a, _)| a.clone()).collect(),
            resolved: plan
                .resolved
                .iter()
                .map(|(a, _)| (a.alert_id.clone(), now.to_string()))
                .collect(),
            notified: plan
                .notified
                .iter()
                .map(|(a, _)| (a.alert_id.clone(), now.to_string()))
                .collect(),
            handled: plan.handled.clone(),
            messages: bodies,
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
                if starting {
                    self.started = Started::Yes;
                    log_start(&plan);
                }
                log_changes(&plan);
                self.remember(plan, now);
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

    /// The firing set after a plan was written.
    fn remember(&mut self, plan: Plan, now: &str) {
        let firing = &mut self.firing;
        for (alert, _) in plan.fired {
            firing.insert(key_of(&alert), alert);
        }
        for (alert, _) in plan.resolved {
            firing.remove(&key_of(&alert));
        }
        for (alert, _) in plan.notified {
            if let Some(a) = firing.get_mut(&key_of(&alert)) {
                a.notified = true;
                a.last_notified_at = Some(now.to_string());
            }
        }
    }

    /// The database alert: sent from memory when it cannot be recorded, and
    /// recorded (with its resolution) once writes work again.
    fn evaluate_database(&mut self, trouble: Option<String>) {
        let now = clock::now();
        self.database.note(trouble.is_some(), &now);
        let recorded = self.open(AlertKind::Database, "").cloned();
        let firing = recorded.is_some() || self.unrecorded_database_alert.is_some();
        // Switched off, what it left firing resolves (if it can be recorded).
        let trouble = trouble.filter(|_| self.settings.is_on(AlertKind::Database));
        match trouble {
            Some(detail) if !firing && self.database.bad >= self.settings.fire_after => {
                let mut alert = database_alert(detail, &now);
                alert.began_at = self.database.began.clone();
                let plan = Plan {
                    fired: vec![(alert.clone(), Tone::Began)],
                    ..Plan::default()
                };
                if self.commit(plan, &now, false).is_some() {
                    // Not recorded: the message goes straight from memory.
                    log::warn!("alert database fired (sent from memory: it cannot be recorded)");
                    let message = self.message(Tone::Began, AlertKind::Database, &[&alert], &now);
                    if let Some(notifier) = &self.notifier {
                        notifier.send_from_memory(message);
                    }
                    self.unrecorded_database_alert = Some(alert);
                }
            }
            None if firing
                && (self.database.good >= self.settings.resolve_after
                    || !self.settings.is_on(AlertKind::Database)) =>
            {
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
            vec![self.message(
                Tone::Ended(Ending::Recovered),
                AlertKind::Database,
                &[&alert],
                now,
            )]
        } else {
            Vec::new()
        };
        let Ok(bodies) = encode(&messages) else {
            return false;
        };
        let changes = AlertChanges {
            fired,
            resolved: vec![(alert.alert_id.clone(), now.to_string())],
            messages: bodies,
            ..AlertChanges::default()
        };
        match self.store.apply_alerts(&changes, &self.keys, now) {
            Ok(_) => {
                log::info!("alert database resolved (1)");
                self.firing.remove(&(AlertKind::Database, String::new()));
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
        tone: Tone,
        kind: AlertKind,
        alerts: &[&AlertRow],
        now: &str,
    ) -> Notification {
        compose(&self.settings, tone, kind, alerts, now)
    }
}

/// The outbox rows of `messages`; an error, never an empty body.
fn encode(messages: &[Notification]) -> Result<Vec<QueuedMessage>, serde_json::Error> {
    messages
        .iter()
        .map(|m| {
            Ok(QueuedMessage {
                kind: m.kind.clone(),
                body: serde_json::to_string(m)?,
                alert_ids: m.alert_ids.clone(),
            })
        })
        .collect()
}

/// How a failure that ended ended.
fn ending_of(change: &FailureChange) -> Ending {
    let kind = AlertKind::parse(&change.kind);
    match kind {
        Some(AlertKind::VodFailed) if change.state.is_none() => Ending::Removed,
        Some(AlertKind::VodFailed) if change.disabled => Ending::Disabled,
        Some(AlertKind::TranscriptionFailed) if change.title.is_none() => Ending::Removed,
        _ => Ending::Recovered,
    }
}

/// One line per kind when alerts start on a database.
fn log_start(plan: &Plan) {
    let found = plan
        .fired
        .iter()
        .filter(|(_, t)| *t == Tone::FoundAtStart)
        .count();
    log::info!("alerts started on this database; {found} failures found at start are firing");
}

/// One log line per kind, however many alerts: the journal must not flood
/// either. Cablecast's and the database's own troubles are logged by the
/// monitor; the line names the alert only.
fn log_changes(plan: &Plan) {
    for (kind, alerts) in group(plan.fired.iter().map(|(a, _)| a)) {
        let silenced = alerts.iter().filter(|a| a.silenced).count();
        let what = if kind.is_per_item() {
            format!(": {}", wording(kind, Tone::Began, &alerts, None).0)
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
}

/// One message about `alerts` (all of `kind`).
fn compose(
    settings: &AlertSettings,
    tone: Tone,
    kind: AlertKind,
    alerts: &[&AlertRow],
    now: &str,
) -> Notification {
    let (title, message) = wording(kind, tone, alerts, settings.public_url.as_deref());
    Notification {
        version: PAYLOAD_VERSION,
        event: tone.event(),
        kind: kind.as_str().into(),
        alert_id: alerts
            .first()
            .map(|a| a.alert_id.clone())
            .unwrap_or_default(),
        alert_ids: alerts.iter().map(|a| a.alert_id.clone()).collect(),
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
        reminder: matches!(tone, Tone::StillFiring { reminder: true }),
    }
}

/// The `database` alert for a file that failed its integrity check at
/// start: nothing can be recorded, so it is sent from memory.
pub fn damaged_database_notification(settings: &AlertSettings, detail: &str) -> Notification {
    let now = clock::now();
    let alert = database_alert(detail.to_string(), &now);
    compose(settings, Tone::Began, AlertKind::Database, &[&alert], &now)
}

fn database_alert(detail: String, now: &str) -> AlertRow {
    AlertRow {
        alert_id: alert_id(AlertKind::Database, ""),
        kind: AlertKind::Database,
        subject: String::new(),
        state: AlertState::Firing,
        title: "The database cannot be written".into(),
        detail: Some(detail),
        fired_at: now.to_string(),
        resolved_at: None,
        notified: true,
        silenced: false,
        last_notified_at: Some(now.to_string()),
        began_at: None,
        acked_at: None,
        acked_by: None,
        ack_note: None,
    }
}

/// The message for `archivist alerts test`.
pub fn test_notification(settings: &AlertSettings) -> Notification {
    let now = clock::now();
    let id = alert_id(AlertKind::Test, "");
    Notification {
        version: PAYLOAD_VERSION,
        event: Event::Firing,
        kind: AlertKind::Test.as_str().into(),
        alert_id: id.clone(),
        alert_ids: vec![id],
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

/// "City Council Regular meeting 12/05/26 (show 812)".
fn show_label(show: &AiredShow) -> String {
    format!(
        "{} (show {})",
        show.cg_title.as_deref().unwrap_or(&show.title),
        show.cablecast_id
    )
}

/// Whether `show` (with no VOD) is an episode of a series whose earlier
/// episodes got VODs: of the [`SERIES_EPISODES`] episodes with the same
/// title words (the date taken out, as transcription linking reads names)
/// that aired in the [`SERIES_WINDOW`] before it, at least
/// [`SERIES_WITH_VOD`] have a VOD. `episodes` are newest first. The alert's
/// detail when it is, `None` when it is not.
fn series_verdict(show: &AiredShow, episodes: &[(Vec<String>, AiredShow)]) -> Option<String> {
    let words = title_words(&show.title);
    let aired = clock::parse_stored(&show.event_date)?;
    let since = clock::format_unix(aired - SERIES_WINDOW.as_secs() as i64);
    if words.is_empty() {
        return None;
    }
    let earlier: Vec<&AiredShow> = episodes
        .iter()
        .filter(|(w, e)| {
            *w == words
                && e.event_date < show.event_date
                && e.event_date >= since
                && e.cablecast_id != show.cablecast_id
        })
        .map(|(_, e)| e)
        .take(SERIES_EPISODES)
        .collect();
    let with_vod = earlier.iter().filter(|e| e.has_vod).count();
    (with_vod >= SERIES_WITH_VOD).then(|| {
        format!(
            "no VOD; {with_vod} of the {} episodes before it had one",
            earlier.len()
        )
    })
}

/// An alert's title and detail for a failure.
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
        let kind = alert.kind;
        match groups.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, list)) => list.push(alert),
            None => groups.push((kind, vec![alert])),
        }
    }
    groups
}

/// A VOD alert's page on the status page (`ARCHIVIST_PUBLIC_URL` +
/// `/vods/ID`), when the address is known.
fn vod_page(public_url: Option<&str>, alert: &AlertRow) -> Option<String> {
    let page = match alert.kind {
        AlertKind::VodFailed | AlertKind::VodStuck => "vods",
        AlertKind::VodMissing => "shows",
        _ => return None,
    };
    let id: i64 = alert.subject.parse().ok()?;
    Some(format!("{}/{page}/{id}", public_url?.trim_end_matches('/')))
}

/// `text`, with the VOD's page on the next line when there is one.
fn with_link(text: String, public_url: Option<&str>, alert: &AlertRow) -> String {
    match vod_page(public_url, alert) {
        Some(link) => format!("{text}\n  {link}"),
        None => text,
    }
}

/// A message's title and text; each VOD listed links to its page when
/// `public_url` is known.
fn wording(
    kind: AlertKind,
    tone: Tone,
    alerts: &[&AlertRow],
    public_url: Option<&str>,
) -> (String, String) {
    let n = alerts.len();
    let first = alerts.first();
    if !kind.is_per_item() {
        return station_wide_wording(kind, tone, first.copied());
    }
    let listed: Vec<String> = alerts
        .iter()
        .take(crate::notify::format::LISTED_IN_TEXT)
        .map(|a| {
            let line = match (&a.detail, tone.event()) {
                (Some(d), Event::Firing) => format!("- {}: {d}", a.title),
                _ => format!("- {}", a.title),
            };
            with_link(line, public_url, a)
        })
        .collect();
    let more = n.saturating_sub(crate::notify::format::LISTED_IN_TEXT);
    if let Tone::FoundAtStart = tone {
        let (one, many) = noun_words(kind);
        let title = if n == 1 {
            format!("{one} had already failed when monitoring began")
        } else {
            format!("{n} {many} had already failed when monitoring began")
        };
        let mut lines = listed;
        if more > 0 {
            lines.push(format!("and {more} more (see the status page)"));
        }
        return (title, lines.join("\n"));
    }
    if n == 1 {
        // reason: n == 1 above.
        let alert = first.expect("one alert");
        let detail = alert.detail.clone().unwrap_or_default();
        let title = format!("{}: {}", noun(kind, 1, tone), alert.title);
        let message = match tone.event() {
            Event::Firing if !detail.is_empty() => format!("{}: {detail}", alert.title),
            Event::Firing => alert.title.clone(),
            Event::Resolved => format!("{}: {}", alert.title, ended_how(tone)),
        };
        return (title, with_link(message, public_url, alert));
    }
    let mut lines = listed;
    if more > 0 {
        lines.push(format!("and {more} more (see the status page)"));
    }
    (format!("{n} {}", noun(kind, n, tone)), lines.join("\n"))
}

/// The words for `cablecast_down` and `database`.
fn station_wide_wording(kind: AlertKind, tone: Tone, alert: Option<&AlertRow>) -> (String, String) {
    let alert_title = alert.map(|a| a.title.clone()).unwrap_or_default();
    let detail = alert.and_then(|a| a.detail.clone()).unwrap_or_default();
    let began = alert
        .map(|a| a.began_at.clone().unwrap_or_else(|| a.fired_at.clone()))
        .unwrap_or_default();
    match (kind, tone.event()) {
        (AlertKind::CablecastDown, Event::Firing) => (
            alert_title,
            format!("Archivist cannot reach Cablecast: {detail}. VOD states shown are the last known ones."),
        ),
        (AlertKind::CablecastDown, Event::Resolved) => (
            "Cablecast is reachable again".into(),
            format!("Cablecast answers again (unreachable since {began})."),
        ),
        (AlertKind::Database, Event::Firing) => (
            alert_title,
            format!("Archivist cannot write its database: {detail}. VOD states are not being saved."),
        ),
        (AlertKind::Database, Event::Resolved) => (
            "The database takes writes again".into(),
            "Archivist's database writes work again.".into(),
        ),
        (_, Event::Firing) => (alert_title.clone(), alert_title),
        (_, Event::Resolved) => (alert_title.clone(), format!("{alert_title}: resolved")),
    }
}

/// "resolved", "disabled in Cablecast", ...
fn ended_how(tone: Tone) -> &'static str {
    match tone {
        Tone::Ended(Ending::Disabled) => "disabled in Cablecast",
        Tone::Ended(Ending::Removed) => "removed",
        Tone::Ended(Ending::SwitchedOff) => "no longer watched (its kind is switched off)",
        Tone::Ended(Ending::OutOfWindow) => "no longer watched (outside the lookback)",
        _ => "resolved",
    }
}

/// "VOD", "VODs"; "Transcription", "transcriptions".
fn noun_words(kind: AlertKind) -> (&'static str, &'static str) {
    match kind {
        AlertKind::VodFailed | AlertKind::VodStuck => ("VOD", "VODs"),
        AlertKind::TranscriptionFailed => ("Transcription", "transcriptions"),
        AlertKind::VodMissing => ("Show", "shows"),
        _ => ("Alert", "alerts"),
    }
}

/// "VOD failed", "VODs failed", "VODs recovered", "VOD disabled in
/// Cablecast", ...
fn noun(kind: AlertKind, n: usize, tone: Tone) -> String {
    let (one, many) = noun_words(kind);
    let word = if n == 1 { one } else { many };
    let what = match (kind, tone) {
        (AlertKind::VodStuck, Tone::Ended(Ending::Recovered)) => "moving again",
        (AlertKind::VodMissing, Tone::Ended(Ending::Recovered)) => "got a VOD",
        (_, Tone::Ended(Ending::Recovered)) => "recovered",
        (_, Tone::Ended(ending)) => ended_how(Tone::Ended(ending)),
        (AlertKind::VodStuck, _) => "stuck",
        (AlertKind::VodMissing, _) => "aired with no VOD",
        (AlertKind::VodFailed | AlertKind::TranscriptionFailed, _) => "failed",
        _ => "firing",
    };
    format!("{word} {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Access;
    use std::time::Duration;

    const OUTBOX: &str = "test-destination";

    /// A watch whose failures fire at once (no hold), as most tests want.
    fn setup() -> (tempfile::TempDir, Arc<Store>, AlertWatch) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store =
            Arc::new(Store::open(&dir.path().join("watch.db"), Access::ReadWrite).expect("opens"));
        let mut settings = AlertSettings::default();
        settings.failure_hold = crate::alert::settings::FailureHold {
            vod_failed: Duration::ZERO,
            transcription_failed: Duration::ZERO,
        };
        let mut watch = AlertWatch::new(Arc::clone(&store), settings, None);
        watch.keys = vec![Recipient::every_kind(OUTBOX)];
        (dir, store, watch)
    }

    fn good() -> CycleOutcome {
        CycleOutcome {
            current: true,
            catalog_listed: true,
            ..CycleOutcome::default()
        }
    }

    fn down() -> CycleOutcome {
        CycleOutcome {
            cablecast_error: Some(CablecastError::Status {
                what: "checking the connection".into(),
                code: 503,
            }),
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

    const COUNCIL: &str =
        "INSERT INTO cablecast_show (id, cablecast_id, title) VALUES (1, 10, 'Council');";

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
        assert!(fired[0].message.contains("503"), "{}", fired[0].message);
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
    fn the_outage_is_said_to_begin_with_its_first_failed_cycle() {
        let (_dir, store, mut watch) = setup();
        watch.after_cycle(&down());
        assert!(
            watch.cablecast.began.is_some(),
            "noted at the first failed cycle"
        );
        // Say the first failed cycle was long ago; the second one fires.
        watch.cablecast.began = Some("2026-01-01T00:00:00Z".into());
        watch.after_cycle(&down());
        let fired = drain(&store);
        assert_eq!(fired.len(), 1);
        watch.after_cycle(&good());
        let resolved = drain(&store);
        assert!(
            resolved[0]
                .message
                .contains("unreachable since 2026-01-01T00:00:00Z"),
            "{}",
            resolved[0].message
        );
    }

    #[test]
    fn failures_there_at_start_fire_in_one_message_and_new_ones_group_into_one() {
        let (_dir, store, mut watch) = setup();
        sql(
            &store,
            &format!(
                "{COUNCIL}
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (1, 1, 'error');
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (5, 1, 'permanentFailure');
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (2, 1, 'processing');"
            ),
        );
        // Before any catalogue pass: held back, nothing fires yet.
        watch.after_cycle(&CycleOutcome {
            current: true,
            ..CycleOutcome::default()
        });
        assert!(drain(&store).is_empty());
        watch.after_cycle(&good());
        let found = drain(&store);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].title,
            "2 VODs had already failed when monitoring began"
        );
        assert_eq!(found[0].alert_ids.len(), 2);
        assert_eq!(store.firing_alerts().expect("reads").len(), 2);
        assert!(store.failure_changes(10).expect("queue").is_empty());
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
    }

    #[test]
    fn a_disabled_vod_is_said_disabled_and_a_grouped_resolution_carries_every_id() {
        let (_dir, store, mut watch) = setup();
        watch.after_cycle(&good());
        sql(
            &store,
            &format!(
                "{COUNCIL}
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (3, 1, 'error');
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (4, 1, 'error');
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (6, 1, 'error');
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (7, 1, 'error');"
            ),
        );
        watch.after_cycle(&good());
        let fired = drain(&store);
        assert_eq!(fired[0].alert_ids.len(), 4);
        sql(
            &store,
            "UPDATE cablecast_vod SET disabled = 1 WHERE id = 4;
             UPDATE cablecast_vod SET vod_state = 'complete' WHERE id IN (6, 7);",
        );
        watch.after_cycle(&good());
        let resolved = drain(&store);
        let disabled = resolved
            .iter()
            .find(|m| m.title.contains("disabled"))
            .expect("a message about the disabled VOD");
        assert_eq!(disabled.title, "VOD disabled in Cablecast: Council (VOD 4)");
        assert!(!disabled.message.contains("recovered"));
        let recovered = resolved
            .iter()
            .find(|m| m.title == "2 VODs recovered")
            .expect("the recovered ones grouped");
        assert_eq!(recovered.alert_ids.len(), 2);
        assert!(recovered.alert_ids.contains(&recovered.alert_id));
        assert_ne!(recovered.alert_ids[0], recovered.alert_ids[1]);
        assert_eq!(store.firing_alerts().expect("reads").len(), 1);
    }

    #[test]
    fn every_vod_in_a_message_links_to_its_page_on_the_status_page() {
        let (_dir, store, mut watch) = setup();
        watch.settings.public_url = Some("https://archivist.example.org/".into());
        watch.after_cycle(&good());
        sql(
            &store,
            &format!(
                "{COUNCIL}
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (8, 1, 'error');"
            ),
        );
        watch.after_cycle(&good());
        let one = drain(&store);
        assert!(
            one[0]
                .message
                .ends_with("\n  https://archivist.example.org/vods/8"),
            "{}",
            one[0].message
        );
        sql(
            &store,
            "INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (9, 1, 'error');
             INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (10, 1, 'error');",
        );
        watch.after_cycle(&good());
        let two = drain(&store);
        for id in [9, 10] {
            assert!(
                two[0]
                    .message
                    .contains(&format!("https://archivist.example.org/vods/{id}")),
                "{}",
                two[0].message
            );
        }
    }

    #[test]
    fn a_failure_fires_only_once_it_held_and_a_blip_sends_nothing() {
        let (_dir, store, mut watch) = setup();
        watch.settings.failure_hold.vod_failed = Duration::from_secs(3600);
        watch.after_cycle(&good());
        // A blip: failed and retried before the hold ran out.
        sql(
            &store,
            &format!(
                "{COUNCIL}
                 INSERT INTO cablecast_vod (id, show_id, vod_state, state_changed_at)
                    VALUES (1, 1, 'error', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));"
            ),
        );
        watch.after_cycle(&good());
        assert!(drain(&store).is_empty(), "held");
        assert_eq!(
            store.failure_changes(10).expect("queue").len(),
            1,
            "the entry waits in the queue"
        );
        sql(
            &store,
            "UPDATE cablecast_vod SET vod_state = 'processing' WHERE id = 1;",
        );
        watch.after_cycle(&good());
        assert!(drain(&store).is_empty(), "a blip sends nothing");
        assert!(store.firing_alerts().expect("reads").is_empty());
        // A failure older than the hold (by Cablecast's state change) fires at once.
        sql(
            &store,
            "UPDATE cablecast_vod SET vod_state = 'error',
                state_changed_at = '2000-01-01T00:00:00Z' WHERE id = 1;",
        );
        watch.after_cycle(&good());
        let fired = drain(&store);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].kind, "vod_failed");
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
        crate::alert::end_silences(&store, Some(AlertKind::CablecastDown)).expect("ended");
        watch.after_cycle(&down());
        let sent = drain(&store);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].alert_id, firing[0].alert_id);
    }

    #[test]
    fn silences_that_cannot_be_read_are_the_last_known_ones_not_none() {
        let (_dir, store, mut watch) = setup();
        watch.settings.fire_after = 1;
        crate::alert::silence(&store, None, Duration::from_secs(3600)).expect("silenced");
        watch.after_cycle(&good());
        // The silences become unreadable.
        sql(&store, "DROP TABLE alert_silence;");
        watch.after_cycle(&down());
        assert!(
            drain(&store).is_empty(),
            "a planned maintenance window pages nobody because of a read error"
        );
        assert_eq!(store.firing_alerts().expect("reads").len(), 1);
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

    #[test]
    fn what_a_kind_switched_off_left_firing_resolves_and_is_never_reminded() {
        let (_dir, store, mut watch) = setup();
        watch.settings.fire_after = 1;
        watch.settings.reminder = Some(Duration::from_secs(1));
        watch.after_cycle(&down());
        assert_eq!(drain(&store).len(), 1);
        // Restarted with the kind switched off, Cablecast still down.
        let mut settings = watch.settings.clone();
        settings.off = vec![AlertKind::CablecastDown];
        let mut later = AlertWatch::new(Arc::clone(&store), settings, None);
        later.keys = vec![Recipient::every_kind(OUTBOX)];
        later.after_cycle(&down());
        let sent = drain(&store);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].event, Event::Resolved);
        assert!(!sent[0].reminder);
        assert!(store.firing_alerts().expect("reads").is_empty());
        later.after_cycle(&down());
        assert!(drain(&store).is_empty(), "nothing more: no [STILL FIRING]");
    }

    #[test]
    fn an_acknowledged_failure_is_not_reminded_and_a_new_failure_fires_again() {
        let (_dir, store, mut watch) = setup();
        watch.settings.reminder = Some(Duration::from_secs(1));
        watch.after_cycle(&good());
        sql(
            &store,
            &format!(
                "{COUNCIL}
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (8, 1, 'error');"
            ),
        );
        watch.after_cycle(&good());
        assert_eq!(drain(&store).len(), 1);
        let said = crate::alert::acknowledge(&store, 8, "Dana", Some("re-encoding by hand"))
            .expect("written")
            .expect("a firing alert");
        assert!(said.contains("acknowledged by Dana"), "{said}");
        assert_eq!(
            crate::alert::acknowledge(&store, 9, "Dana", None).expect("read"),
            None
        );
        sql(
            &store,
            "UPDATE alert SET last_notified_at = '2000-01-01T00:00:00Z';",
        );
        watch.after_cycle(&good());
        assert!(drain(&store).is_empty(), "no reminder once acknowledged");
        let firing = store.firing_alerts().expect("reads");
        assert_eq!(firing[0].acked_by.as_deref(), Some("Dana"));
        assert_eq!(firing[0].ack_note.as_deref(), Some("re-encoding by hand"));
        assert_eq!(
            store.firing_of(&["vod_failed"]).expect("reads"),
            None,
            "no longer counts against publishing"
        );
        // It recovers, then fails again: a new alert, told again.
        sql(
            &store,
            "UPDATE cablecast_vod SET vod_state = 'complete' WHERE id = 8;",
        );
        watch.after_cycle(&good());
        assert_eq!(drain(&store)[0].event, Event::Resolved);
        sql(
            &store,
            "UPDATE cablecast_vod SET vod_state = 'error' WHERE id = 8;",
        );
        watch.after_cycle(&good());
        let again = drain(&store);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].event, Event::Firing);
        assert!(store.firing_of(&["vod_failed"]).expect("reads").is_some());
    }

    #[test]
    fn a_failed_read_of_whether_alerts_started_is_asked_again_not_taken_as_off() {
        let (_dir, store, mut watch) = setup();
        watch.after_cycle(&good());
        // Restarted; the first read fails; no catalogue pass for a while.
        let mut later = AlertWatch::new(Arc::clone(&store), watch.settings.clone(), None);
        later.keys = vec![Recipient::every_kind(OUTBOX)];
        let quiet = CycleOutcome {
            current: true,
            ..CycleOutcome::default()
        };
        sql(&store, "ALTER TABLE archivist_meta RENAME TO meta_aside;");
        later.after_cycle(&quiet);
        sql(&store, "ALTER TABLE meta_aside RENAME TO archivist_meta;");
        sql(
            &store,
            &format!(
                "{COUNCIL}
                 INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (8, 1, 'error');"
            ),
        );
        later.after_cycle(&quiet);
        let fired = drain(&store);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].title, "VOD failed: Council (VOD 8)");
    }

    /// A show `days_ago` days before now (Cablecast id `id`), with a VOD
    /// (id `id + 1000`) when `vod`.
    fn aired(id: i64, title: &str, days_ago: f64, vod: bool) -> String {
        let secs = (days_ago * 86_400.0) as i64;
        let mut rows = format!(
            "INSERT INTO cablecast_show (id, cablecast_id, title, event_date) VALUES
                ({id}, {id}, '{title}', strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-{secs} seconds'));"
        );
        if vod {
            rows.push_str(&format!(
                "INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES ({}, {id}, 'complete');",
                id + 1000
            ));
        }
        rows
    }

    #[test]
    fn a_series_episode_with_no_vod_fires_grouped_a_one_off_never_and_a_vod_resolves() {
        let (_dir, store, mut watch) = setup();
        let mut rows = String::new();
        // Two series whose last three episodes had VODs, each missing its
        // latest episode (aired a day ago: past the 6 h threshold).
        for (n, body) in ["City Council Regular meeting", "School Board"]
            .iter()
            .enumerate()
        {
            let base = 100 * (n as i64 + 1);
            for week in 1..=3 {
                let day = 1.0 + 7.0 * week as f64;
                rows.push_str(&aired(
                    base + week,
                    &format!("{body} - {week}/1/2026"),
                    day,
                    true,
                ));
            }
            rows.push_str(&aired(
                base + 9,
                &format!("{body} - 12/1/2026 6:30 PM"),
                1.0,
                false,
            ));
        }
        // A one-off with no VOD, a series that never had VODs, an episode
        // within the threshold, one aired before the lookback.
        rows.push_str(&aired(301, "Ribbon cutting at the library", 1.0, false));
        for week in 0..4 {
            rows.push_str(&aired(
                401 + week,
                "Senior Center Exercise",
                week as f64 * 7.0 + 1.0,
                false,
            ));
        }
        rows.push_str(&aired(
            108,
            "City Council Regular meeting - 12/2/2026",
            0.1,
            false,
        ));
        rows.push_str(&aired(
            107,
            "City Council Regular meeting - 11/1/2026",
            20.0,
            false,
        ));
        sql(&store, &rows);
        watch.after_cycle(&good());
        let fired = drain(&store);
        assert_eq!(fired.len(), 1, "one message for the kind: {fired:?}");
        assert_eq!(fired[0].kind, "vod_missing");
        assert_eq!(fired[0].title, "2 shows aired with no VOD");
        assert_eq!(fired[0].count, 2);
        let mut subjects: Vec<String> = store
            .firing_alerts()
            .expect("reads")
            .into_iter()
            .filter(|a| a.kind == AlertKind::VodMissing)
            .map(|a| a.subject)
            .collect();
        subjects.sort();
        assert_eq!(subjects, ["109", "209"]);
        assert!(
            fired[0]
                .message
                .contains("3 of the 3 episodes before it had one"),
            "{}",
            fired[0].message
        );
        // Nothing more while nothing changes; the one-offs are judged once.
        watch.after_cycle(&good());
        assert!(drain(&store).is_empty());
        assert!(watch.one_offs.contains(&301) && watch.one_offs.contains(&401));
        // The council's VOD appears: that alert resolves, the other fires on.
        sql(
            &store,
            "INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (5109, 109, 'processing');",
        );
        watch.after_cycle(&good());
        let resolved = drain(&store);
        assert_eq!(resolved.len(), 1, "{resolved:?}");
        assert_eq!(resolved[0].event, Event::Resolved);
        assert_eq!(
            resolved[0].title,
            "Show got a VOD: City Council Regular meeting - 12/1/2026 6:30 PM (show 109)"
        );
        assert_eq!(
            store
                .firing_of(&["vod_missing"])
                .expect("reads")
                .map(|f| f.2),
            Some(1)
        );
        // The show is removed from Cablecast: said removed.
        sql(&store, "DELETE FROM cablecast_show WHERE id = 209;");
        watch.after_cycle(&good());
        let removed = drain(&store);
        assert_eq!(
            removed[0].title,
            "Show removed: School Board - 12/1/2026 6:30 PM (show 209)"
        );
        assert!(store.firing_of(&["vod_missing"]).expect("reads").is_none());
    }

    #[test]
    fn vod_missing_switched_off_fires_nothing_and_two_of_three_is_a_series() {
        let (_dir, store, mut watch) = setup();
        let mut rows = String::new();
        // Two of the last three episodes had VODs; an older one, outside
        // the last three, did not matter.
        rows.push_str(&aired(1, "Planning Commission - 9/1/2026", 30.0, false));
        rows.push_str(&aired(2, "Planning Commission - 9/8/2026", 22.0, true));
        rows.push_str(&aired(3, "Planning Commission - 9/15/2026", 15.0, false));
        rows.push_str(&aired(4, "Planning Commission - 9/22/2026", 8.0, true));
        rows.push_str(&aired(5, "Planning Commission - 9/29/2026", 1.0, false));
        // One of three is not.
        rows.push_str(&aired(11, "Zoning Board - 9/8/2026", 22.0, false));
        rows.push_str(&aired(12, "Zoning Board - 9/15/2026", 15.0, false));
        rows.push_str(&aired(13, "Zoning Board - 9/22/2026", 8.0, true));
        rows.push_str(&aired(14, "Zoning Board - 9/29/2026", 1.0, false));
        sql(&store, &rows);
        let mut off = AlertWatch::new(
            Arc::clone(&store),
            AlertSettings {
                off: vec![AlertKind::VodMissing],
                ..watch.settings.clone()
            },
            None,
        );
        off.keys = vec![Recipient::every_kind(OUTBOX)];
        off.after_cycle(&good());
        assert!(drain(&store).is_empty(), "switched off");
        assert!(store.firing_alerts().expect("reads").is_empty());
        watch.after_cycle(&good());
        let fired = drain(&store);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(
            fired[0].title,
            "Show aired with no VOD: Planning Commission - 9/29/2026 (show 5)"
        );
        // Switched off later, what it left firing resolves.
        let mut later = AlertWatch::new(
            Arc::clone(&store),
            AlertSettings {
                off: vec![AlertKind::VodMissing],
                ..watch.settings.clone()
            },
            None,
        );
        later.keys = vec![Recipient::every_kind(OUTBOX)];
        later.after_cycle(&good());
        assert_eq!(drain(&store)[0].event, Event::Resolved);
        assert!(store.firing_alerts().expect("reads").is_empty());
    }

    #[test]
    fn the_heartbeat_is_damped_as_cablecast_down_is() {
        let (_dir, _store, mut watch) = setup();
        let said: Vec<bool> = [good(), down(), good(), down(), down(), down(), good()]
            .iter()
            .map(|outcome| {
                watch.after_cycle(outcome);
                watch.heartbeat_ok
            })
            .collect();
        assert_eq!(said, [true, true, true, true, false, false, true]);
        // While a silence covers cablecast_down, its outage is no failure.
        let (_dir, store, mut watch) = setup();
        crate::alert::silence(
            &store,
            Some(AlertKind::CablecastDown),
            Duration::from_secs(3600),
        )
        .expect("silenced");
        for _ in 0..3 {
            watch.after_cycle(&down());
        }
        assert!(watch.heartbeat_ok);
    }
}
