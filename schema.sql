-- Archivist database schema.
--
-- This file is embedded in the binary and applied at every start (and by
-- `archivist init`). Every statement is idempotent. The schema version lives in
-- `PRAGMA user_version`; later changes go forward only, as numbered migrations
-- in src/store/schema.rs.
--
-- Timestamps are UTC text 'YYYY-MM-DDTHH:MM:SSZ' so that the file reads well in
-- the sqlite3 CLI and sorts as text. Nothing here needs an SQLite newer than
-- 3.40 (Debian 12), so engineers can open the file with the system's sqlite3.

-- One row per Cablecast show, keyed by Archivist's own id; `cablecast_id` is the
-- show's id on the Cablecast server.
CREATE TABLE IF NOT EXISTS cablecast_show (
    id             INTEGER PRIMARY KEY,
    cablecast_id   INTEGER NOT NULL UNIQUE,
    location_id    INTEGER,
    title          TEXT NOT NULL,
    cg_title       TEXT,
    event_date     TEXT,
    last_modified  TEXT,
    total_run_time INTEGER,
    -- The catalogue pass that last listed this show; a complete pass removes
    -- the shows it did not list.
    seen_pass      INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    -- Captions Cablecast already has (hasCaptions, captionProvider): such a
    -- show does not need captions from the station.
    has_captions     INTEGER NOT NULL DEFAULT 0,
    caption_provider TEXT
);
CREATE INDEX IF NOT EXISTS idx_show_cablecast_id ON cablecast_show(cablecast_id);
-- The `vod_missing` alert (src/store/missing.rs) reads only the shows whose
-- event falls in its window: a range of this index, never the catalogue.
CREATE INDEX IF NOT EXISTS idx_show_event_date ON cablecast_show(event_date);

-- One row per Cablecast VOD; `id` is the VOD's id on the Cablecast server.
-- `vod_state` is stored exactly as Cablecast sent it, even a value this
-- version does not know.
CREATE TABLE IF NOT EXISTS cablecast_vod (
    id                INTEGER PRIMARY KEY,
    show_id           INTEGER REFERENCES cablecast_show(id) ON DELETE SET NULL,
    show_cablecast_id INTEGER,
    vod_state         TEXT NOT NULL,
    percent_complete  REAL,
    error_message     TEXT,
    url               TEXT,
    length            INTEGER,
    quality           INTEGER,
    file_name         TEXT,
    is_watchable      INTEGER NOT NULL DEFAULT 0,
    disabled          INTEGER NOT NULL DEFAULT 0,
    -- Cablecast's stateChange when it sends one, otherwise when Archivist first
    -- saw the VOD in its current state.
    state_changed_at  TEXT,
    seen_pass         INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    -- Cablecast's reason for the current state (statusMessage), e.g. why a
    -- VOD is waiting.
    status_message    TEXT,
    -- Operator's view: where `state_changed_at` comes from: 'cablecast' (its
    -- stateChange) or 'observed' (the first cycle that saw the state, so the
    -- VOD has been in it at least that long).
    state_changed_source TEXT
);
CREATE INDEX IF NOT EXISTS idx_vod_state ON cablecast_vod(vod_state);
-- Stuck VODs (src/store/stuck.rs): one range per in-flight state of the VODs
-- that entered it before that state's threshold, and the oldest VOD in flight.
CREATE INDEX IF NOT EXISTS idx_vod_state_since ON cablecast_vod(vod_state, state_changed_at);
-- The in-flight selection (src/store/catalog.rs) reads only this: its WHERE
-- must stay word for word the same as that query's for SQLite to use it. Any
-- state not listed here, including ones Cablecast adds later, is in it.
CREATE INDEX IF NOT EXISTS idx_vod_in_flight ON cablecast_vod(id)
    WHERE vod_state NOT IN ('complete', 'error', 'permanentFailure', 'disabled');
-- Serves the foreign key when a show is removed, and "needs captions" (a
-- covering probe: does this show have a complete VOD?).
CREATE INDEX IF NOT EXISTS idx_vod_show ON cablecast_vod(show_id, vod_state);

-- One row per caption file (or reported transcription job). `id` is a stable
-- hash of `output_path` (of `video_path` when a job reported no output); see
-- src/transcription/mod.rs. `status` is 'completed' or 'failed'.
CREATE TABLE IF NOT EXISTS transcription_result (
    id           TEXT PRIMARY KEY,
    video_path   TEXT NOT NULL,
    output_path  TEXT,
    status       TEXT NOT NULL,
    completed_at TEXT,
    error        TEXT,
    show_id      INTEGER REFERENCES cablecast_show(id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    -- 'scan' (found on disk) or 'report' (`transcriptions add`, the HTTP API).
    source       TEXT NOT NULL DEFAULT 'report',
    -- The caption file's size and modification time (Unix seconds) when last
    -- scanned: a re-scan updates the row only when these change.
    file_size    INTEGER,
    file_mtime   INTEGER,
    -- The scan that last found the file, and when a later scan found it gone
    -- (the row stays, marked, so nothing vanishes silently).
    seen_scan    INTEGER,
    removed_at   TEXT,
    -- How `show_id` was set: 'manual' links are never changed by `link`.
    linked_by    TEXT CHECK (linked_by IN ('manual', 'auto')),
    link_score   REAL
);
CREATE INDEX IF NOT EXISTS idx_transcription_completed ON transcription_result(completed_at);
-- Serves the foreign key, "needs captions" (covering) and the show's captions.
CREATE INDEX IF NOT EXISTS idx_transcription_show ON transcription_result(show_id, status, removed_at);
-- Covers the transcription counts of the sync aggregate, so that one
-- statement never reads the wide rows (paths, errors).
CREATE INDEX IF NOT EXISTS idx_transcription_state ON transcription_result(status, show_id, removed_at);

-- One row per monitoring cycle: what the cycle did and cost, and the sync
-- figures it ended with. The status page's history charts read this table.
CREATE TABLE IF NOT EXISTS monitor_cycle (
    id                  INTEGER PRIMARY KEY,
    started_at          TEXT NOT NULL,
    finished_at         TEXT NOT NULL,
    duration_ms         INTEGER NOT NULL,
    cablecast_reachable INTEGER NOT NULL,
    cablecast_error     TEXT,
    catalog_synced      INTEGER NOT NULL DEFAULT 0,
    vods_refreshed      INTEGER NOT NULL DEFAULT 0,
    vods_changed        INTEGER NOT NULL DEFAULT 0,
    http_calls          INTEGER NOT NULL DEFAULT 0,
    sql_statements      INTEGER NOT NULL DEFAULT 0,
    -- Counters since the monitor process started.
    cache_hits          INTEGER NOT NULL DEFAULT 0,
    cache_misses        INTEGER NOT NULL DEFAULT 0,
    total_queries       INTEGER NOT NULL DEFAULT 0,
    total_query_ms      REAL NOT NULL DEFAULT 0,
    rss_kb              INTEGER,
    total_vods          INTEGER NOT NULL DEFAULT 0,
    completed_vods      INTEGER NOT NULL DEFAULT 0,
    sync_percentage     REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_cycle_finished ON monitor_cycle(finished_at);

-- Small named values Archivist keeps between runs (for example the last
-- catalogue pass number).
CREATE TABLE IF NOT EXISTS archivist_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- History for the status page's charts, rolled up so the file stays bounded.
-- Every monitor_cycle row also lands in one hourly and one daily row (the
-- trigger below, in the same transaction as the cycle's own row), and old
-- rows are pruned as new ones arrive: raw cycles after 48 hours, hourly rows
-- after 8 days, daily rows after 400 days. A year of five-minute cycles thus
-- holds at most 576 + 192 + 400 = 1,168 history rows (about 0.2 MB), however
-- long the monitor runs; a shorter --interval only grows the raw part
-- (48 h / interval rows).
-- Bucket starts are stored timestamps: 'YYYY-MM-DDTHH:00:00Z' for an hour,
-- 'YYYY-MM-DDT00:00:00Z' for a day (UTC).
CREATE TABLE IF NOT EXISTS monitor_hourly (
    bucket            TEXT PRIMARY KEY,
    cycles            INTEGER NOT NULL,
    reachable_cycles  INTEGER NOT NULL,
    sync_sum          REAL NOT NULL,
    sync_min          REAL NOT NULL,
    sync_max          REAL NOT NULL,
    last_reachable_at TEXT
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS monitor_daily (
    bucket            TEXT PRIMARY KEY,
    cycles            INTEGER NOT NULL,
    reachable_cycles  INTEGER NOT NULL,
    sync_sum          REAL NOT NULL,
    sync_min          REAL NOT NULL,
    sync_max          REAL NOT NULL,
    last_reachable_at TEXT
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS monitor_cycle_history AFTER INSERT ON monitor_cycle
BEGIN
    INSERT INTO monitor_hourly (bucket, cycles, reachable_cycles, sync_sum, sync_min,
        sync_max, last_reachable_at)
    VALUES (substr(NEW.finished_at, 1, 13) || ':00:00Z', 1, NEW.cablecast_reachable != 0,
        NEW.sync_percentage, NEW.sync_percentage, NEW.sync_percentage,
        CASE WHEN NEW.cablecast_reachable THEN NEW.finished_at END)
    ON CONFLICT(bucket) DO UPDATE SET
        cycles = cycles + 1,
        reachable_cycles = reachable_cycles + excluded.reachable_cycles,
        sync_sum = sync_sum + excluded.sync_sum,
        sync_min = min(sync_min, excluded.sync_min),
        sync_max = max(sync_max, excluded.sync_max),
        last_reachable_at = coalesce(excluded.last_reachable_at, last_reachable_at);
    INSERT INTO monitor_daily (bucket, cycles, reachable_cycles, sync_sum, sync_min,
        sync_max, last_reachable_at)
    VALUES (substr(NEW.finished_at, 1, 10) || 'T00:00:00Z', 1, NEW.cablecast_reachable != 0,
        NEW.sync_percentage, NEW.sync_percentage, NEW.sync_percentage,
        CASE WHEN NEW.cablecast_reachable THEN NEW.finished_at END)
    ON CONFLICT(bucket) DO UPDATE SET
        cycles = cycles + 1,
        reachable_cycles = reachable_cycles + excluded.reachable_cycles,
        sync_sum = sync_sum + excluded.sync_sum,
        sync_min = min(sync_min, excluded.sync_min),
        sync_max = max(sync_max, excluded.sync_max),
        last_reachable_at = coalesce(excluded.last_reachable_at, last_reachable_at);
    DELETE FROM monitor_cycle
        WHERE finished_at < strftime('%Y-%m-%dT%H:%M:%SZ', NEW.finished_at, '-48 hours');
    DELETE FROM monitor_hourly
        WHERE bucket < strftime('%Y-%m-%dT%H:%M:%SZ', NEW.finished_at, '-8 days');
    DELETE FROM monitor_daily
        WHERE bucket < strftime('%Y-%m-%dT%H:%M:%SZ', NEW.finished_at, '-400 days');
END;

-- Cycles recorded before the trigger existed (a file from an earlier
-- Archivist) are rolled up once; buckets that already exist are kept.
INSERT OR IGNORE INTO monitor_hourly (bucket, cycles, reachable_cycles, sync_sum, sync_min,
    sync_max, last_reachable_at)
SELECT substr(finished_at, 1, 13) || ':00:00Z', count(*), sum(cablecast_reachable != 0),
    sum(sync_percentage), min(sync_percentage), max(sync_percentage),
    max(CASE WHEN cablecast_reachable THEN finished_at END)
FROM monitor_cycle GROUP BY 1;
INSERT OR IGNORE INTO monitor_daily (bucket, cycles, reachable_cycles, sync_sum, sync_min,
    sync_max, last_reachable_at)
SELECT substr(finished_at, 1, 10) || 'T00:00:00Z', count(*), sum(cablecast_reachable != 0),
    sum(sync_percentage), min(sync_percentage), max(sync_percentage),
    max(CASE WHEN cablecast_reachable THEN finished_at END)
FROM monitor_cycle GROUP BY 1;

-- Operator's view: each VOD's history. Every observed change of a VOD's state
-- is one row, written by the trigger below inside the same transaction (the
-- same statement) that writes the VOD. `at` is when the VOD entered `to_state`
-- (Cablecast's stateChange, else the cycle that saw it); `observed_at` is when
-- Archivist saw it. First sight of a VOD is not a change and is not recorded.
-- Retention, enforced by the pruning trigger on every insert, each step one
-- indexed range: at most 20 events per VOD (the newest), none older than 400
-- days, and at most 200,000 in all (ids are allocated in order, so the newest
-- 200,000 are an id range). Bounded at about 30 MB however long the monitor
-- runs and however large the station.
CREATE TABLE IF NOT EXISTS vod_event (
    id             INTEGER PRIMARY KEY,
    vod_id         INTEGER NOT NULL,
    from_state     TEXT,
    to_state       TEXT NOT NULL,
    at             TEXT,
    at_source      TEXT,
    observed_at    TEXT NOT NULL,
    percent        REAL,
    error_message  TEXT,
    status_message TEXT
);
CREATE INDEX IF NOT EXISTS idx_vod_event_vod ON vod_event(vod_id, id);
CREATE INDEX IF NOT EXISTS idx_vod_event_observed ON vod_event(observed_at);

CREATE TRIGGER IF NOT EXISTS cablecast_vod_state_event AFTER UPDATE OF vod_state ON cablecast_vod
WHEN OLD.vod_state IS NOT NEW.vod_state
BEGIN
    INSERT INTO vod_event (vod_id, from_state, to_state, at, at_source, observed_at, percent,
        error_message, status_message)
    VALUES (NEW.id, OLD.vod_state, NEW.vod_state, NEW.state_changed_at, NEW.state_changed_source,
        NEW.updated_at, NEW.percent_complete, NEW.error_message, NEW.status_message);
END;

CREATE TRIGGER IF NOT EXISTS vod_event_retention AFTER INSERT ON vod_event
BEGIN
    DELETE FROM vod_event WHERE vod_id = NEW.vod_id AND id <= (
        SELECT id FROM vod_event WHERE vod_id = NEW.vod_id ORDER BY id DESC LIMIT 1 OFFSET 20);
    DELETE FROM vod_event
        WHERE observed_at < strftime('%Y-%m-%dT%H:%M:%SZ', NEW.observed_at, '-400 days');
    DELETE FROM vod_event WHERE id <= NEW.id - 200000;
END;

-- Alerts (src/alert, src/store/alerts.rs). One row per alert from firing to
-- resolved; `id` is the alert_id every message about it carries. At most one
-- alert per (kind, subject) fires at a time; `subject` is '' for
-- station-wide alerts, else the VOD or transcription it is about.
CREATE TABLE IF NOT EXISTS alert (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    title            TEXT NOT NULL,
    detail           TEXT,
    fired_at         TEXT NOT NULL,
    resolved_at      TEXT,
    -- A firing message was queued (0 while a silence held it back).
    notified         INTEGER NOT NULL DEFAULT 0,
    silenced         INTEGER NOT NULL DEFAULT 0,
    last_notified_at TEXT,
    -- When the trouble began (Cablecast's first failed cycle), if before fired_at.
    began_at         TEXT,
    -- A failed VOD acknowledged by staff: when, by whom and why.
    acked_at         TEXT,
    acked_by         TEXT,
    ack_note         TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_alert_firing ON alert(kind, subject) WHERE state = 'firing';
CREATE INDEX IF NOT EXISTS idx_alert_fired ON alert(fired_at);

-- The outbox: one row per message, queued in the same transaction as the
-- alert change that caused it, and one delivery row per destination.
-- `destination` is a hash of the destination's URL, never the URL (a secret).
CREATE TABLE IF NOT EXISTS alert_message (
    id         INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_delivery (
    destination     TEXT NOT NULL,
    message_id      INTEGER NOT NULL REFERENCES alert_message(id) ON DELETE CASCADE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT,
    -- Refused for good (HTTP 4xx but 408/429, SMTP 5xx): never retried.
    failed_at       TEXT,
    PRIMARY KEY (destination, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_delivery_pending ON alert_delivery(destination, message_id)
    WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_delivery_message ON alert_delivery(message_id);

-- Which alerts each message is about, so each alert shows what happened
-- to it per destination.
CREATE TABLE IF NOT EXISTS alert_message_alert (
    alert_id   TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES alert_message(id) ON DELETE CASCADE,
    PRIMARY KEY (alert_id, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_message_alert_message ON alert_message_alert(message_id);

-- The destinations by their outbox key, with the label they are shown by
-- ("webhook (host)": never the URL, a secret), as the monitor last started.
CREATE TABLE IF NOT EXISTS alert_destination (
    key        TEXT PRIMARY KEY,
    label      TEXT NOT NULL,
    configured INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

-- Silences: alerts of `kind` (NULL: every kind) fire while one lasts, are
-- recorded and shown, and send nothing.
CREATE TABLE IF NOT EXISTS alert_silence (
    id         INTEGER PRIMARY KEY,
    kind       TEXT,
    created_at TEXT NOT NULL,
    ends_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_silence_ends ON alert_silence(ends_at);

-- VODs and transcriptions whose failure may have begun or ended, noted by the
-- triggers below in the same transaction as the write that moved them, so
-- the alert evaluation reads only what changed, never the whole catalogue.
-- (The triggers test for an existing row rather than use INSERT OR IGNORE:
-- an outer statement's conflict handling, as the VOD upsert's, overrides a
-- trigger's own.) `seq` counts the flips: the evaluation deletes an entry
-- only if it still has the `seq` it read, so a flip in between is kept.
CREATE TABLE IF NOT EXISTS alert_change (
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    seq     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, subject)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS alert_vod_failure_added AFTER INSERT ON cablecast_vod
WHEN NEW.vod_state IN ('error', 'permanentFailure') AND NEW.disabled = 0
BEGIN
    UPDATE alert_change SET seq = seq + 1
        WHERE kind = 'vod_failed' AND subject = CAST(NEW.id AS TEXT);
    INSERT INTO alert_change (kind, subject) SELECT 'vod_failed', CAST(NEW.id AS TEXT)
        WHERE NOT EXISTS (SELECT 1 FROM alert_change
            WHERE kind = 'vod_failed' AND subject = CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER IF NOT EXISTS alert_vod_failure_moved AFTER UPDATE OF vod_state, disabled ON cablecast_vod
WHEN (OLD.vod_state IN ('error', 'permanentFailure') AND OLD.disabled = 0)
    IS NOT (NEW.vod_state IN ('error', 'permanentFailure') AND NEW.disabled = 0)
BEGIN
    UPDATE alert_change SET seq = seq + 1
        WHERE kind = 'vod_failed' AND subject = CAST(NEW.id AS TEXT);
    INSERT INTO alert_change (kind, subject) SELECT 'vod_failed', CAST(NEW.id AS TEXT)
        WHERE NOT EXISTS (SELECT 1 FROM alert_change
            WHERE kind = 'vod_failed' AND subject = CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER IF NOT EXISTS alert_vod_failure_removed AFTER DELETE ON cablecast_vod
WHEN OLD.vod_state IN ('error', 'permanentFailure') AND OLD.disabled = 0
BEGIN
    UPDATE alert_change SET seq = seq + 1
        WHERE kind = 'vod_failed' AND subject = CAST(OLD.id AS TEXT);
    INSERT INTO alert_change (kind, subject) SELECT 'vod_failed', CAST(OLD.id AS TEXT)
        WHERE NOT EXISTS (SELECT 1 FROM alert_change
            WHERE kind = 'vod_failed' AND subject = CAST(OLD.id AS TEXT));
END;
CREATE TRIGGER IF NOT EXISTS alert_transcription_failure_added AFTER INSERT ON transcription_result
WHEN NEW.status = 'failed' AND NEW.removed_at IS NULL
BEGIN
    UPDATE alert_change SET seq = seq + 1
        WHERE kind = 'transcription_failed' AND subject = CAST(NEW.id AS TEXT);
    INSERT INTO alert_change (kind, subject) SELECT 'transcription_failed', CAST(NEW.id AS TEXT)
        WHERE NOT EXISTS (SELECT 1 FROM alert_change
            WHERE kind = 'transcription_failed' AND subject = CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER IF NOT EXISTS alert_transcription_failure_moved AFTER UPDATE OF status, removed_at ON transcription_result
WHEN (OLD.status = 'failed' AND OLD.removed_at IS NULL)
    IS NOT (NEW.status = 'failed' AND NEW.removed_at IS NULL)
BEGIN
    UPDATE alert_change SET seq = seq + 1
        WHERE kind = 'transcription_failed' AND subject = CAST(NEW.id AS TEXT);
    INSERT INTO alert_change (kind, subject) SELECT 'transcription_failed', CAST(NEW.id AS TEXT)
        WHERE NOT EXISTS (SELECT 1 FROM alert_change
            WHERE kind = 'transcription_failed' AND subject = CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER IF NOT EXISTS alert_transcription_failure_removed AFTER DELETE ON transcription_result
WHEN OLD.status = 'failed' AND OLD.removed_at IS NULL
BEGIN
    UPDATE alert_change SET seq = seq + 1
        WHERE kind = 'transcription_failed' AND subject = CAST(OLD.id AS TEXT);
    INSERT INTO alert_change (kind, subject) SELECT 'transcription_failed', CAST(OLD.id AS TEXT)
        WHERE NOT EXISTS (SELECT 1 FROM alert_change
            WHERE kind = 'transcription_failed' AND subject = CAST(OLD.id AS TEXT));
END;
