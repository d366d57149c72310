//! Alerts, their outbox and silences: the rows behind `src/alert` and
//! `src/notify`.
//!
//! An alert change and the messages it causes are written in one
//! transaction ([`Store::apply_alerts`]), so a message is never lost nor
//! queued for a change that did not happen. Each message gets one delivery
//! row per destination; a destination's sender takes its oldest pending
//! delivery ([`Store::next_delivery`]) and marks it delivered or retried.
//! At most [`MAX_PENDING_PER_DESTINATION`] deliveries wait per destination.
//!
//! Every statement here reads an index: the firing alerts (a partial index),
//! the change queue the triggers in schema.sql fill, the pending deliveries
//! (a partial index) and the silences by end time. None reads the VODs
//! beyond the few the change queue names.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};
use serde::Serialize;

use super::stuck::{cutoffs, stuck_where};
use super::{Store, StoreError};
use crate::stuck::StuckAfter;

/// Messages that may wait for one destination. A destination down for days
/// at one message a minute stays under it; past it, the oldest waiting
/// messages are dropped (and counted) so the file stays bounded.
pub const MAX_PENDING_PER_DESTINATION: i64 = 1_000;

/// Delivered messages kept for the record (the newest ones).
const DELIVERED_KEPT: i64 = 2_000;

/// Resolved alerts and ended silences are kept this long, then pruned.
const HISTORY_DAYS: i64 = 90;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// Cablecast unreachable, refusing the login or answering garbage.
    CablecastDown,
    /// A VOD in `error` or `permanentFailure`.
    VodFailed,
    /// A VOD longer in one in-flight state than its stuck threshold.
    VodStuck,
    /// A show of a series aired longer ago than its threshold with no VOD.
    VodMissing,
    /// A transcription job reported `failed`.
    TranscriptionFailed,
    /// The database cannot be written.
    Database,
    /// `archivist alerts test`.
    Test,
}

impl AlertKind {
    /// Every kind that fires on its own (not `test`).
    pub const ALL: [AlertKind; 6] = [
        AlertKind::CablecastDown,
        AlertKind::VodFailed,
        AlertKind::VodStuck,
        AlertKind::VodMissing,
        AlertKind::TranscriptionFailed,
        AlertKind::Database,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CablecastDown => "cablecast_down",
            AlertKind::VodFailed => "vod_failed",
            AlertKind::VodStuck => "vod_stuck",
            AlertKind::VodMissing => "vod_missing",
            AlertKind::TranscriptionFailed => "transcription_failed",
            AlertKind::Database => "database",
            AlertKind::Test => "test",
        }
    }

    /// A kind by name (not `test`).
    pub fn parse(text: &str) -> Option<AlertKind> {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
    }

    /// A kind as stored (`test` too).
    fn stored(text: &str) -> Option<AlertKind> {
        match text {
            "test" => Some(AlertKind::Test),
            other => AlertKind::parse(other),
        }
    }

    /// Alerts about one VOD or job, grouped into one message per cycle.
    pub fn is_per_item(self) -> bool {
        matches!(
            self,
            AlertKind::VodFailed
                | AlertKind::VodStuck
                | AlertKind::VodMissing
                | AlertKind::TranscriptionFailed
        )
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AlertKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl ToSql for AlertKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for AlertKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<AlertKind> {
        let text = value.as_str()?;
        AlertKind::stored(text)
            .ok_or_else(|| FromSqlError::Other(format!("{text:?} is not an alert kind").into()))
    }
}

/// Whether an alert fires or has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

impl ToSql for AlertState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for AlertState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<AlertState> {
        match value.as_str()? {
            "firing" => Ok(AlertState::Firing),
            "resolved" => Ok(AlertState::Resolved),
            other => Err(FromSqlError::Other(
                format!("{other:?} is not an alert state").into(),
            )),
        }
    }
}

/// One alert as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRow {
    pub alert_id: String,
    pub kind: AlertKind,
    pub subject: String,
    pub state: AlertState,
    pub title: String,
    pub detail: Option<String>,
    pub fired_at: String,
    pub resolved_at: Option<String>,
    pub notified: bool,
    pub silenced: bool,
    pub last_notified_at: Option<String>,
    /// When the trouble began, when before `fired_at` (Cablecast's first
    /// failed cycle).
    pub began_at: Option<String>,
    /// Acknowledged by staff: when, by whom and why.
    pub acked_at: Option<String>,
    pub acked_by: Option<String>,
    pub ack_note: Option<String>,
}

const ALERT_COLUMNS: &str = "id, kind, subject, state, title, detail, fired_at, resolved_at, \
     notified, silenced, last_notified_at, began_at, acked_at, acked_by, ack_note";

fn alert_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        alert_id: row.get(0)?,
        kind: row.get(1)?,
        subject: row.get(2)?,
        state: row.get(3)?,
        title: row.get(4)?,
        detail: row.get(5)?,
        fired_at: row.get(6)?,
        resolved_at: row.get(7)?,
        notified: row.get(8)?,
        silenced: row.get(9)?,
        last_notified_at: row.get(10)?,
        began_at: row.get(11)?,
        acked_at: row.get(12)?,
        acked_by: row.get(13)?,
        ack_note: row.get(14)?,
    })
}

/// A VOD or transcription whose failure may have begun or ended, with what
/// the alert needs to say about it. `failing` is its state now (false when
/// it is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureChange {
    pub kind: String,
    pub subject: String,
    pub failing: bool,
    /// The show's title (a VOD's), or the video path (a transcription's).
    pub title: Option<String>,
    /// Cablecast's `errorMessage`, or the job's error.
    pub error: Option<String>,
    /// The VOD's state as Cablecast sent it.
    pub state: Option<String>,
    /// The VOD is disabled in Cablecast.
    pub disabled: bool,
    /// The entry's flip count when read: it is deleted only if unchanged.
    pub seq: i64,
    /// Since when it is in its state, as far as known (a VOD's state
    /// change, a transcription's last report).
    pub since: Option<String>,
}

/// A change-queue entry handled: deleted only if no flip came since it was
/// read (its `seq` is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandledChange {
    pub kind: String,
    pub subject: String,
    pub seq: i64,
}

impl From<&FailureChange> for HandledChange {
    fn from(change: &FailureChange) -> HandledChange {
        HandledChange {
            kind: change.kind.clone(),
            subject: change.subject.clone(),
            seq: change.seq,
        }
    }
}

/// A stuck VOD as the alert evaluation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckVod {
    pub id: i64,
    pub state: String,
    pub since: Option<String>,
}

/// What one evaluation changes, written in one transaction.
#[derive(Debug, Default, Clone)]
pub struct AlertChanges {
    /// New firing alerts (`state` 'firing').
    pub fired: Vec<AlertRow>,
    /// Alerts that resolved: id and when.
    pub resolved: Vec<(String, String)>,
    /// Firing alerts now notified (a silence ended, or a reminder): id and when.
    pub notified: Vec<(String, String)>,
    /// Change-queue entries handled.
    pub handled: Vec<HandledChange>,
    /// Messages to queue, each for every destination that takes its kind.
    pub messages: Vec<QueuedMessage>,
    /// Marks the database as one alerts have started on.
    pub start: bool,
}

/// A message to queue: its alert kind (for routing), its stored body and
/// the alerts it is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueuedMessage {
    pub kind: String,
    pub body: String,
    pub alert_ids: Vec<String>,
}

/// A destination's outbox as the store knows it: its key, and the alert
/// kinds it takes (`None`: every kind). A message of another kind gets no
/// delivery row there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub key: String,
    pub kinds: Option<Vec<String>>,
}

impl Recipient {
    /// A destination that takes every kind.
    pub fn every_kind(key: &str) -> Recipient {
        Recipient {
            key: key.to_string(),
            kinds: None,
        }
    }

    /// Whether a message of `kind` goes to this destination (`test`, from
    /// `archivist alerts test`, goes everywhere).
    pub fn takes(&self, kind: &str) -> bool {
        kind == "test"
            || self
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.iter().any(|k| k == kind))
    }
}

/// What happened to the last message about an alert at one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertDelivery {
    #[serde(skip)]
    pub alert_id: String,
    /// How the destination is shown: "webhook (host)".
    pub destination: String,
    /// `delivered`, `waiting` or `failed` (refused for good).
    pub state: &'static str,
    pub attempts: i64,
    /// When delivered, or refused; the next attempt while waiting.
    pub at: Option<String>,
    pub last_error: Option<String>,
}

/// A destination whose oldest waiting message failed several attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailingDestination {
    pub destination: String,
    pub waiting: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A message waiting for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    pub message_id: i64,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at: String,
}

/// A silence as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    pub id: i64,
    /// `None`: every kind.
    pub kind: Option<String>,
    pub created_at: String,
    pub ends_at: String,
}

/// The figures `/metrics` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFigures {
    /// Firing alerts per kind.
    pub firing: Vec<(String, i64)>,
    /// Delivery attempts that failed, ever.
    pub failed_deliveries: i64,
    /// Messages dropped because a destination's queue was full, ever.
    pub dropped_messages: i64,
    /// Messages a destination refused for good (never retried), ever.
    pub refused_deliveries: i64,
    /// Deliveries waiting.
    pub pending_deliveries: i64,
}

/// `archivist_meta` key: alerts have started on this database.
const STARTED_KEY: &str = "alerts_started";
const FAILED_DELIVERIES_KEY: &str = "notify_failed_deliveries";
const DROPPED_MESSAGES_KEY: &str = "notify_dropped_messages";
const REFUSED_DELIVERIES_KEY: &str = "notify_refused_deliveries";

fn add_to_meta(conn: &Connection, key: &str, n: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO archivist_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
    )?
    .execute(params![key, n])?;
    Ok(())
}

fn meta_number(conn: &Connection, key: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT CAST(value AS INTEGER) FROM archivist_meta WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

impl Store {
    /// Every firing alert.
    pub fn firing_alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        self.read("reading firing alerts", firing_alerts)
    }

    /// The newest `limit` alerts, firing or resolved, newest first.
    pub fn recent_alerts(&self, limit: usize) -> Result<Vec<AlertRow>, StoreError> {
        self.read("reading recent alerts", |conn| {
            let mut select = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alert ORDER BY fired_at DESC, id DESC LIMIT ?1"
            ))?;
            let rows = select.query_map([limit as i64], alert_from_row)?;
            rows.collect()
        })
    }

    /// Up to `limit` stuck VODs, longest stuck first, read from
    /// `idx_vod_state_since` alone (it covers the id, state and time), so
    /// even thousands of stuck VODs cost no table reads.
    pub fn stuck_vods(
        &self,
        thresholds: &StuckAfter,
        now_unix: i64,
        limit: usize,
    ) -> Result<Vec<StuckVod>, StoreError> {
        let sql = format!(
            "SELECT v.id, v.vod_state, v.state_changed_at FROM cablecast_vod v {}
             ORDER BY v.state_changed_at, v.id LIMIT {limit}",
            stuck_where()
        );
        let cutoffs = cutoffs(thresholds, now_unix);
        self.read("listing stuck VODs for alerts", |conn| {
            let mut select = conn.prepare_cached(&sql)?;
            let rows = select.query_map(params_from_iter(&cutoffs), |row| {
                Ok(StuckVod {
                    id: row.get(0)?,
                    state: row.get(1)?,
                    since: row.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The show titles of these VODs (public title first), by VOD id.
    pub fn vod_titles(&self, ids: &[i64]) -> Result<Vec<(i64, Option<String>)>, StoreError> {
        // One statement for all of them: the ids as a JSON array.
        let ids = serde_json::Value::from(ids).to_string();
        self.read("reading VOD titles", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT v.id, coalesce(s.cg_title, s.title) FROM cablecast_vod v
                 LEFT JOIN cablecast_show s ON s.id = v.show_id
                 WHERE v.id IN (SELECT value FROM json_each(?1))",
            )?;
            let rows = select.query_map([ids], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
    }

    /// Whether alerts have started on this database (see `alert`).
    pub fn alerts_started(&self) -> Result<bool, StoreError> {
        self.read("reading whether alerts started", |conn| {
            conn.prepare_cached("SELECT 1 FROM archivist_meta WHERE key = ?1")?
                .query_row([STARTED_KEY], |_| Ok(()))
                .optional()
                .map(|found| found.is_some())
        })
    }

    /// Up to `limit` entries of the change queue, with the VOD's or the
    /// transcription's state now.
    pub fn failure_changes(&self, limit: usize) -> Result<Vec<FailureChange>, StoreError> {
        self.read("reading failures that began or ended", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT c.kind, c.subject,
                    CASE c.kind
                        WHEN 'vod_failed' THEN v.vod_state IN ('error', 'permanentFailure')
                            AND v.disabled = 0
                        ELSE t.status = 'failed' AND t.removed_at IS NULL END,
                    CASE c.kind WHEN 'vod_failed' THEN coalesce(s.cg_title, s.title)
                        ELSE t.video_path END,
                    CASE c.kind WHEN 'vod_failed' THEN v.error_message ELSE t.error END,
                    v.vod_state, coalesce(v.disabled, 0), c.seq,
                    CASE c.kind WHEN 'vod_failed' THEN v.state_changed_at ELSE t.updated_at END
                 FROM alert_change c
                 LEFT JOIN cablecast_vod v
                    ON c.kind = 'vod_failed' AND v.id = CAST(c.subject AS INTEGER)
                 LEFT JOIN cablecast_show s ON s.id = v.show_id
                 LEFT JOIN transcription_result t
                    ON c.kind = 'transcription_failed' AND t.id = c.subject
                 ORDER BY c.kind, c.subject LIMIT ?1",
            )?;
            let rows = select.query_map([limit as i64], |row| {
                Ok(FailureChange {
                    kind: row.get(0)?,
                    subject: row.get(1)?,
                    failing: row.get::<_, Option<bool>>(2)?.unwrap_or(false),
                    title: row.get(3)?,
                    error: row.get(4)?,
                    state: row.get(5)?,
                    disabled: row.get(6)?,
                    seq: row.get(7)?,
                    since: row.get(8)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Up to `limit` VODs failing now (not disabled) and transcriptions
    /// failed now (not removed), whether queued as changes or not: what
    /// alerts find when they start on a database.
    pub fn failures_now(&self, limit: usize) -> Result<Vec<FailureChange>, StoreError> {
        self.read("reading the failures there are now", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT 'vod_failed', CAST(v.id AS TEXT), coalesce(s.cg_title, s.title),
                    v.error_message, v.vod_state, v.state_changed_at
                 FROM cablecast_vod v LEFT JOIN cablecast_show s ON s.id = v.show_id
                 WHERE v.vod_state IN ('error', 'permanentFailure') AND v.disabled = 0
                 UNION ALL
                 SELECT 'transcription_failed', t.id, t.video_path, t.error, NULL, t.updated_at
                 FROM transcription_result t
                 WHERE t.status = 'failed' AND t.removed_at IS NULL
                 LIMIT ?1",
            )?;
            let rows = select.query_map([limit as i64], |row| {
                Ok(FailureChange {
                    kind: row.get(0)?,
                    subject: row.get(1)?,
                    failing: true,
                    title: row.get(2)?,
                    error: row.get(3)?,
                    state: row.get(4)?,
                    disabled: false,
                    seq: 0,
                    since: row.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Writes one evaluation's alert changes and queues its messages for
    /// every destination in `destinations` that takes the message's kind, in
    /// one transaction. Returns how many waiting messages were dropped to
    /// keep each queue bounded.
    pub fn apply_alerts(
        &self,
        changes: &AlertChanges,
        destinations: &[Recipient],
        now: &str,
    ) -> Result<i64, StoreError> {
        self.write("recording alerts", |conn| {
            insert_fired(conn, &changes.fired)?;
            mark_resolved(conn, &changes.resolved)?;
            mark_notified(conn, &changes.notified)?;
            delete_handled(conn, &changes.handled)?;
            if !changes.resolved.is_empty() {
                prune_history(conn, now)?;
            }
            if changes.start {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO archivist_meta (key, value) VALUES (?1, ?2)",
                )?
                .execute(params![STARTED_KEY, now])?;
            }
            if changes.messages.is_empty() || destinations.is_empty() {
                return Ok(0);
            }
            queue_messages(conn, &changes.messages, destinations, now)?;
            let dropped = bound_queues(conn, destinations)?;
            prune_messages(conn)?;
            Ok(dropped)
        })
    }

    /// The oldest message waiting for `destination`, due or not.
    pub fn next_delivery(&self, destination: &str) -> Result<Option<PendingDelivery>, StoreError> {
        self.read("reading the next message to deliver", |conn| {
            conn.prepare_cached(
                "SELECT d.message_id, m.body, d.attempts, d.next_attempt_at
                 FROM alert_delivery d INDEXED BY idx_delivery_pending
                 JOIN alert_message m ON m.id = d.message_id
                 WHERE d.destination = ?1 AND d.delivered_at IS NULL AND d.failed_at IS NULL
                 ORDER BY d.message_id LIMIT 1",
            )?
            .query_row([destination], |row| {
                Ok(PendingDelivery {
                    message_id: row.get(0)?,
                    body: row.get(1)?,
                    attempts: row.get(2)?,
                    next_attempt_at: row.get(3)?,
                })
            })
            .optional()
        })
    }

    /// Marks a delivery done.
    pub fn delivered(
        &self,
        destination: &str,
        message_id: i64,
        at: &str,
    ) -> Result<(), StoreError> {
        self.write_single("recording a delivered message", |conn| {
            conn.prepare_cached(
                "UPDATE alert_delivery SET delivered_at = ?3, attempts = attempts + 1,
                    last_error = NULL WHERE destination = ?1 AND message_id = ?2",
            )?
            .execute(params![destination, message_id, at])
        })
        .map(|_| ())
    }

    /// Records a failed attempt and when to try again. `error` must already
    /// be free of secrets.
    pub fn delivery_failed(
        &self,
        destination: &str,
        message_id: i64,
        next_attempt_at: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        self.write("recording a failed delivery", |conn| {
            conn.prepare_cached(
                "UPDATE alert_delivery SET attempts = attempts + 1, next_attempt_at = ?3,
                    last_error = ?4 WHERE destination = ?1 AND message_id = ?2",
            )?
            .execute(params![destination, message_id, next_attempt_at, error])?;
            add_to_meta(conn, FAILED_DELIVERIES_KEY, 1)
        })
    }

    /// Records a delivery the destination refused for good (`error`, free of
    /// secrets, says its answer): it is never tried again, and the queue
    /// moves on.
    pub fn delivery_refused(
        &self,
        destination: &str,
        message_id: i64,
        at: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        self.write("recording a refused delivery", |conn| {
            conn.prepare_cached(
                "UPDATE alert_delivery SET attempts = attempts + 1, failed_at = ?3,
                    last_error = ?4 WHERE destination = ?1 AND message_id = ?2",
            )?
            .execute(params![destination, message_id, at, error])?;
            add_to_meta(conn, FAILED_DELIVERIES_KEY, 1)?;
            add_to_meta(conn, REFUSED_DELIVERIES_KEY, 1)
        })
    }

    /// Drops the waiting deliveries of destinations no longer configured;
    /// returns how many.
    pub fn forget_destinations_except(&self, keep: &[String]) -> Result<usize, StoreError> {
        let list = keep
            .iter()
            .map(|k| format!("'{}'", k.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(", ");
        self.write_single("dropping messages for removed destinations", |conn| {
            conn.execute(
                &format!(
                    "DELETE FROM alert_delivery WHERE delivered_at IS NULL
                        AND destination NOT IN ({list})"
                ),
                [],
            )
        })
    }

    /// Records the destinations the monitor sends to (outbox key and
    /// label); the others are kept, marked no longer configured.
    pub fn record_destinations(&self, destinations: &[(String, String)]) -> Result<(), StoreError> {
        self.write("recording the alert destinations", |conn| {
            conn.prepare_cached("UPDATE alert_destination SET configured = 0")?
                .execute([])?;
            let mut upsert = conn.prepare_cached(
                "INSERT INTO alert_destination (key, label, configured) VALUES (?1, ?2, 1)
                 ON CONFLICT(key) DO UPDATE SET label = excluded.label, configured = 1",
            )?;
            for (key, label) in destinations {
                upsert.execute(params![key, label])?;
            }
            Ok(())
        })
    }

    /// The labels of the destinations the monitor last started with.
    pub fn configured_destinations(&self) -> Result<Vec<String>, StoreError> {
        self.read("reading the alert destinations", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT label FROM alert_destination WHERE configured = 1 ORDER BY label",
            )?;
            let rows = select.query_map([], |row| row.get(0))?;
            rows.collect()
        })
    }

    /// Per alert of `alert_ids` and destination, what happened to the last
    /// message about it.
    pub fn deliveries_of(&self, alert_ids: &[String]) -> Result<Vec<AlertDelivery>, StoreError> {
        let ids = serde_json::Value::from(alert_ids).to_string();
        self.read("reading what became of alert messages", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT l.alert_id, coalesce(dest.label, 'a destination no longer configured'),
                    d.delivered_at, d.failed_at, d.next_attempt_at, d.attempts, d.last_error
                 FROM alert_message_alert l
                 JOIN alert_delivery d ON d.message_id = l.message_id
                 LEFT JOIN alert_destination dest ON dest.key = d.destination
                 WHERE l.alert_id IN (SELECT value FROM json_each(?1))
                    AND l.message_id = (SELECT max(l2.message_id) FROM alert_message_alert l2
                        JOIN alert_delivery d2 ON d2.message_id = l2.message_id
                        WHERE l2.alert_id = l.alert_id AND d2.destination = d.destination)
                 ORDER BY l.alert_id, 2",
            )?;
            let rows = select.query_map([ids], |row| {
                let delivered: Option<String> = row.get(2)?;
                let failed: Option<String> = row.get(3)?;
                let (state, at) = match (delivered, failed) {
                    (Some(at), _) => ("delivered", Some(at)),
                    (None, Some(at)) => ("failed", Some(at)),
                    (None, None) => ("waiting", row.get(4)?),
                };
                Ok(AlertDelivery {
                    alert_id: row.get(0)?,
                    destination: row.get(1)?,
                    state,
                    attempts: row.get(5)?,
                    at,
                    last_error: row.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Destinations whose oldest waiting message failed at least `attempts`
    /// times.
    pub fn failing_destinations(
        &self,
        attempts: i64,
    ) -> Result<Vec<FailingDestination>, StoreError> {
        self.read("reading failing destinations", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT coalesce(dest.label, 'a destination no longer configured'),
                    count(*), max(d.attempts),
                    (SELECT d2.last_error FROM alert_delivery d2
                        WHERE d2.destination = d.destination AND d2.delivered_at IS NULL
                            AND d2.failed_at IS NULL AND d2.last_error IS NOT NULL
                        ORDER BY d2.message_id LIMIT 1)
                 FROM alert_delivery d
                 LEFT JOIN alert_destination dest ON dest.key = d.destination
                 WHERE d.delivered_at IS NULL AND d.failed_at IS NULL
                 GROUP BY d.destination HAVING max(d.attempts) >= ?1
                 ORDER BY 1",
            )?;
            let rows = select.query_map([attempts], |row| {
                Ok(FailingDestination {
                    destination: row.get(0)?,
                    waiting: row.get(1)?,
                    attempts: row.get(2)?,
                    last_error: row.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Adds a silence; returns its id.
    pub fn add_silence(
        &self,
        kind: Option<&str>,
        now: &str,
        ends_at: &str,
    ) -> Result<i64, StoreError> {
        self.write("adding a silence", |conn| {
            conn.prepare_cached(
                "INSERT INTO alert_silence (kind, created_at, ends_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![kind, now, ends_at])?;
            Ok(conn.last_insert_rowid())
        })
    }

    /// Acknowledges the firing alert of `kind` about `subject`; false when
    /// none fires.
    pub fn acknowledge(
        &self,
        kind: AlertKind,
        subject: &str,
        by: &str,
        note: Option<&str>,
        now: &str,
    ) -> Result<bool, StoreError> {
        self.write_single("acknowledging an alert", |conn| {
            conn.prepare_cached(
                "UPDATE alert SET acked_at = ?3, acked_by = ?4, ack_note = ?5
                    WHERE kind = ?1 AND subject = ?2 AND state = 'firing'",
            )?
            .execute(params![kind, subject, now, by, note])
        })
        .map(|n| n > 0)
    }

    /// The ids of the firing alerts acknowledged (by any process).
    pub fn acknowledged_alerts(&self) -> Result<Vec<String>, StoreError> {
        self.read("reading acknowledged alerts", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT id FROM alert WHERE state = 'firing' AND acked_at IS NOT NULL",
            )?;
            let rows = select.query_map([], |row| row.get(0))?;
            rows.collect()
        })
    }

    /// Ends the silences running at `now` (of one kind, or all of them):
    /// they end now. Returns how many.
    pub fn end_silences(&self, kind: Option<&str>, now: &str) -> Result<usize, StoreError> {
        self.write_single("ending silences", |conn| {
            conn.prepare_cached(
                "UPDATE alert_silence SET ends_at = ?1
                    WHERE ends_at > ?1 AND (?2 IS NULL OR kind IS ?2)",
            )?
            .execute(params![now, kind])
        })
    }

    /// Silences still running at `now`.
    pub fn active_silences(&self, now: &str) -> Result<Vec<Silence>, StoreError> {
        self.read("reading silences", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT id, kind, created_at, ends_at FROM alert_silence
                 WHERE ends_at > ?1 ORDER BY ends_at",
            )?;
            let rows = select.query_map([now], |row| {
                Ok(Silence {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    created_at: row.get(2)?,
                    ends_at: row.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Firing alerts per kind and the delivery counters.
    pub fn alert_figures(&self) -> Result<AlertFigures, StoreError> {
        self.read("counting alerts", |conn| {
            let mut select = conn.prepare_cached(
                "SELECT kind, count(*) FROM alert WHERE state = 'firing' GROUP BY kind",
            )?;
            let firing = select
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let pending = conn
                .prepare_cached(
                    "SELECT count(*) FROM alert_delivery
                        WHERE delivered_at IS NULL AND failed_at IS NULL",
                )?
                .query_row([], |row| row.get(0))?;
            Ok(AlertFigures {
                firing,
                failed_deliveries: meta_number(conn, FAILED_DELIVERIES_KEY)?,
                dropped_messages: meta_number(conn, DROPPED_MESSAGES_KEY)?,
                refused_deliveries: meta_number(conn, REFUSED_DELIVERIES_KEY)?,
                pending_deliveries: pending,
            })
        })
    }

    /// Whether an alert of one of `kinds` fires, and the oldest one's title
    /// and start if so.
    pub fn firing_of(&self, kinds: &[&str]) -> Result<Option<(String, String, i64)>, StoreError> {
        let list = kinds
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        // An acknowledged alert no longer counts: staff know.
        let sql = format!(
            "SELECT title, fired_at, (SELECT count(*) FROM alert
                WHERE state = 'firing' AND kind IN ({list}) AND acked_at IS NULL)
             FROM alert WHERE state = 'firing' AND kind IN ({list}) AND acked_at IS NULL
             ORDER BY fired_at LIMIT 1"
        );
        self.read("reading firing alerts", |conn| {
            conn.prepare_cached(&sql)?
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()
        })
    }
}

fn insert_fired(conn: &Connection, fired: &[AlertRow]) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO alert (id, kind, subject, state, title, detail, fired_at,
            resolved_at, notified, silenced, last_notified_at, began_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for a in fired {
        insert.execute(params![
            a.alert_id,
            a.kind,
            a.subject,
            a.state,
            a.title,
            a.detail,
            a.fired_at,
            a.resolved_at,
            a.notified,
            a.silenced,
            a.last_notified_at,
            a.began_at
        ])?;
    }
    Ok(())
}

fn mark_resolved(conn: &Connection, resolved: &[(String, String)]) -> rusqlite::Result<()> {
    let mut resolve =
        conn.prepare_cached("UPDATE alert SET state = 'resolved', resolved_at = ?2 WHERE id = ?1")?;
    for (id, at) in resolved {
        resolve.execute(params![id, at])?;
    }
    Ok(())
}

/// Firing alerts told now: no longer held by a silence.
fn mark_notified(conn: &Connection, notified: &[(String, String)]) -> rusqlite::Result<()> {
    let mut update = conn.prepare_cached(
        "UPDATE alert SET notified = 1, silenced = 0, last_notified_at = ?2 WHERE id = ?1",
    )?;
    for (id, at) in notified {
        update.execute(params![id, at])?;
    }
    Ok(())
}

/// An entry flipped again since it was read has a new `seq` and stays for
/// the next evaluation.
fn delete_handled(conn: &Connection, handled: &[HandledChange]) -> rusqlite::Result<()> {
    let mut delete = conn
        .prepare_cached("DELETE FROM alert_change WHERE kind = ?1 AND subject = ?2 AND seq = ?3")?;
    for change in handled {
        delete.execute(params![change.kind, change.subject, change.seq])?;
    }
    Ok(())
}

/// History stays bounded: old resolved alerts and silences go.
fn prune_history(conn: &Connection, now: &str) -> rusqlite::Result<()> {
    let cut = format!("-{HISTORY_DAYS} days");
    conn.prepare_cached(
        "DELETE FROM alert WHERE fired_at < strftime('%Y-%m-%dT%H:%M:%SZ', ?1, ?2)
            AND state = 'resolved'",
    )?
    .execute(params![now, cut])?;
    conn.prepare_cached(
        "DELETE FROM alert_silence WHERE ends_at < strftime('%Y-%m-%dT%H:%M:%SZ', ?1, ?2)",
    )?
    .execute(params![now, cut])?;
    Ok(())
}

/// Each message once, a delivery row per destination, and the alerts it
/// is about.
fn queue_messages(
    conn: &Connection,
    messages: &[QueuedMessage],
    destinations: &[Recipient],
    now: &str,
) -> rusqlite::Result<()> {
    let mut message =
        conn.prepare_cached("INSERT INTO alert_message (created_at, body) VALUES (?1, ?2)")?;
    let mut delivery = conn.prepare_cached(
        "INSERT INTO alert_delivery (destination, message_id, next_attempt_at) VALUES (?1, ?2, ?3)",
    )?;
    let mut about = conn.prepare_cached(
        "INSERT OR IGNORE INTO alert_message_alert (alert_id, message_id) VALUES (?1, ?2)",
    )?;
    for queued in messages {
        message.execute(params![now, queued.body])?;
        let id = conn.last_insert_rowid();
        for destination in destinations.iter().filter(|d| d.takes(&queued.kind)) {
            delivery.execute(params![destination.key, id, now])?;
        }
        for alert_id in &queued.alert_ids {
            about.execute(params![alert_id, id])?;
        }
    }
    Ok(())
}

/// Drops the oldest waiting messages past each destination's bound;
/// returns how many (also counted in `archivist_meta`).
fn bound_queues(conn: &Connection, destinations: &[Recipient]) -> rusqlite::Result<i64> {
    let mut dropped = 0;
    for destination in destinations.iter().map(|d| &d.key) {
        dropped += conn
            .prepare_cached(
                "DELETE FROM alert_delivery WHERE destination = ?1
                    AND delivered_at IS NULL AND failed_at IS NULL AND message_id <= (
                    SELECT message_id FROM alert_delivery
                    WHERE destination = ?1 AND delivered_at IS NULL AND failed_at IS NULL
                    ORDER BY message_id DESC LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![destination, MAX_PENDING_PER_DESTINATION])? as i64;
    }
    if dropped > 0 {
        add_to_meta(conn, DROPPED_MESSAGES_KEY, dropped)?;
    }
    Ok(dropped)
}

/// Old messages every destination has done with go.
fn prune_messages(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM alert_message WHERE id <= (SELECT max(id) FROM alert_message) - ?1
            AND NOT EXISTS (SELECT 1 FROM alert_delivery d
                WHERE d.message_id = alert_message.id AND d.delivered_at IS NULL
                    AND d.failed_at IS NULL)",
    )?
    .execute([DELIVERED_KEPT])?;
    Ok(())
}

fn firing_alerts(conn: &Connection) -> rusqlite::Result<Vec<AlertRow>> {
    let mut select = conn.prepare_cached(&format!(
        "SELECT {ALERT_COLUMNS} FROM alert WHERE state = 'firing' ORDER BY fired_at, id"
    ))?;
    let rows = select.query_map([], alert_from_row)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Access;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("alerts.db"), Access::ReadWrite).expect("opens");
        (dir, store)
    }

    #[test]
    fn failures_that_begin_or_end_are_queued_by_the_triggers() {
        let (_dir, store) = store();
        store
            .write("VODs", |conn| {
                conn.execute_batch(
                    "INSERT INTO cablecast_show (id, cablecast_id, title) VALUES (1, 10, 'Council');
                     INSERT INTO cablecast_vod (id, show_id, vod_state) VALUES (1, 1, 'processing');
                     INSERT INTO cablecast_vod (id, show_id, vod_state, error_message)
                        VALUES (2, 1, 'error', 'disk full');
                     UPDATE cablecast_vod SET vod_state = 'permanentFailure' WHERE id = 1;
                     UPDATE cablecast_vod SET percent_complete = 0.5 WHERE id = 1;",
                )
            })
            .expect("written");
        // A VOD that moves again before the queue is read, through an upsert
        // (whose conflict handling would override a trigger's OR IGNORE).
        store
            .write("VODs", |conn| {
                conn.execute_batch(
                    "INSERT INTO cablecast_vod (id, vod_state) VALUES (2, 'complete')
                        ON CONFLICT(id) DO UPDATE SET vod_state = excluded.vod_state;
                     INSERT INTO cablecast_vod (id, vod_state) VALUES (2, 'error')
                        ON CONFLICT(id) DO UPDATE SET vod_state = excluded.vod_state;",
                )
            })
            .expect("moved twice");
        let changes = store.failure_changes(10).expect("changes");
        let subjects: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| (c.subject.as_str(), c.failing))
            .collect();
        assert_eq!(subjects, vec![("1", true), ("2", true)]);
        assert_eq!(changes[1].error.as_deref(), Some("disk full"));
        assert_eq!(changes[1].title.as_deref(), Some("Council"));
        let handled = AlertChanges {
            handled: changes.iter().map(HandledChange::from).collect(),
            ..AlertChanges::default()
        };
        store.apply_alerts(&handled, &[], "now").expect("applied");
        assert!(store.failure_changes(10).expect("changes").is_empty());
        store
            .write("VODs", |conn| {
                conn.execute_batch(
                    "UPDATE cablecast_vod SET disabled = 1 WHERE id = 1;
                     DELETE FROM cablecast_vod WHERE id = 2;",
                )
            })
            .expect("written");
        let changes = store.failure_changes(10).expect("changes");
        assert!(changes.iter().all(|c| !c.failing), "{changes:?}");
        assert_eq!(changes.len(), 2);
    }

    #[test]
    fn a_flip_between_reading_the_queue_and_applying_it_is_kept() {
        let (_dir, store) = store();
        let vods = |sql: &'static str| {
            store
                .write("VODs", move |conn| conn.execute_batch(sql))
                .expect("written")
        };
        vods("INSERT INTO cablecast_vod (id, vod_state) VALUES (1, 'error');");
        let read = store.failure_changes(10).expect("changes");
        assert!(read[0].failing);
        // Another writer flips it back before the evaluation is applied.
        vods("UPDATE cablecast_vod SET vod_state = 'complete' WHERE id = 1;");
        let handled = AlertChanges {
            handled: read.iter().map(HandledChange::from).collect(),
            ..AlertChanges::default()
        };
        store.apply_alerts(&handled, &[], "now").expect("applied");
        let left = store.failure_changes(10).expect("changes");
        assert_eq!(left.len(), 1, "the flip is not swallowed");
        assert!(!left[0].failing);
        // Applied with what was read now, it goes.
        let handled = AlertChanges {
            handled: left.iter().map(HandledChange::from).collect(),
            ..AlertChanges::default()
        };
        store.apply_alerts(&handled, &[], "now").expect("applied");
        assert!(store.failure_changes(10).expect("changes").is_empty());
    }

    #[test]
    fn a_refused_delivery_is_never_tried_again_and_the_queue_moves_on() {
        let (_dir, store) = store();
        let changes = AlertChanges {
            messages: ["{\"n\":1}", "{\"n\":2}"]
                .map(|body| QueuedMessage {
                    kind: "vod_failed".into(),
                    body: body.into(),
                    alert_ids: vec!["a1".into()],
                })
                .to_vec(),
            ..AlertChanges::default()
        };
        store
            .apply_alerts(
                &changes,
                &[Recipient::every_kind("a")],
                "2026-01-01T00:00:00Z",
            )
            .expect("queued");
        let first = store.next_delivery("a").expect("read").expect("pending");
        store
            .delivery_refused("a", first.message_id, "2026-01-01T00:00:01Z", "HTTP 400")
            .expect("recorded");
        let next = store.next_delivery("a").expect("read").expect("pending");
        assert_eq!(next.body, "{\"n\":2}");
        // Shown per alert: the last message about it waits.
        store
            .record_destinations(&[("a".into(), "webhook (host)".into())])
            .expect("recorded");
        let shown = store.deliveries_of(&["a1".into()]).expect("read");
        assert_eq!(shown.len(), 1);
        assert_eq!(
            (shown[0].state, shown[0].destination.as_str()),
            ("waiting", "webhook (host)")
        );
        store
            .delivery_refused(
                "a",
                next.message_id,
                "2026-01-01T00:00:02Z",
                "HTTP 410: refused",
            )
            .expect("recorded");
        let shown = store.deliveries_of(&["a1".into()]).expect("read");
        assert_eq!(shown[0].state, "failed");
        assert_eq!(shown[0].last_error.as_deref(), Some("HTTP 410: refused"));
        let figures = store.alert_figures().expect("figures");
        assert_eq!(
            (figures.refused_deliveries, figures.pending_deliveries),
            (2, 0)
        );
    }

    #[test]
    fn each_destination_keeps_a_bounded_queue() {
        let (_dir, store) = store();
        let destinations = vec![Recipient::every_kind("a"), Recipient::every_kind("b")];
        let messages: Vec<QueuedMessage> = (0..MAX_PENDING_PER_DESTINATION + 5)
            .map(|n| QueuedMessage {
                kind: "vod_failed".into(),
                body: format!("{{\"n\":{n}}}"),
                alert_ids: Vec::new(),
            })
            .collect();
        let changes = AlertChanges {
            messages,
            ..AlertChanges::default()
        };
        let dropped = store
            .apply_alerts(&changes, &destinations, "2026-01-01T00:00:00Z")
            .expect("queued");
        assert_eq!(dropped, 10);
        let first = store.next_delivery("a").expect("read").expect("pending");
        assert_eq!(first.body, "{\"n\":5}");
        store
            .delivered("a", first.message_id, "2026-01-01T00:00:01Z")
            .expect("marked");
        let next = store.next_delivery("a").expect("read").expect("pending");
        assert_eq!(next.body, "{\"n\":6}");
        // The other destination's queue is its own.
        assert_eq!(
            store
                .next_delivery("b")
                .expect("read")
                .expect("pending")
                .body,
            "{\"n\":5}"
        );
        assert_eq!(store.alert_figures().expect("figures").dropped_messages, 10);
    }

    #[test]
    fn alert_reads_use_indexes() {
        let (_dir, store) = store();
        for (sql, index) in [
            (
                format!("SELECT {ALERT_COLUMNS} FROM alert WHERE state = 'firing' ORDER BY fired_at, id"),
                "idx_alert_firing",
            ),
            (
                "SELECT d.message_id FROM alert_delivery d INDEXED BY idx_delivery_pending WHERE d.destination = 'x' \
                 AND d.delivered_at IS NULL ORDER BY d.message_id LIMIT 1"
                    .to_string(),
                "idx_delivery_pending",
            ),
            (
                format!(
                    "SELECT v.id, v.vod_state, v.state_changed_at FROM cablecast_vod v {}",
                    stuck_where()
                ),
                "COVERING INDEX idx_vod_state_since",
            ),
        ] {
            let plan = store.query_plan(&sql).expect("plan").join("\n");
            assert!(plan.contains(index), "{sql}\n{plan}");
        }
    }
}
