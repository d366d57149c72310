//! Transcription results: the SQL behind `transcriptions scan`, `add`, `link`
//! and `list`, and the lists on the status report.
//!
//! What to write is decided by `transcription`; this file only runs the
//! statements. Every query over a time range reads `completed_at` through
//! `idx_transcription_completed` (a unit test below checks the plans).

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Store, StoreError};
use crate::clock;

/// A caption file as one scan found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedCaption {
    pub id: String,
    pub video_path: String,
    pub output_path: String,
    pub size: i64,
    /// Unix seconds.
    pub mtime: i64,
}

/// What saving a batch of scanned captions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanCounts {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// One reported transcription (`transcriptions add`, `POST /api/transcriptions`),
/// already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedTranscription {
    pub id: String,
    pub video_path: String,
    pub output_path: Option<String>,
    /// `completed` or `failed`.
    pub status: String,
    pub error: Option<String>,
}

/// One stored result, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionRow {
    pub id: String,
    pub video_path: String,
    pub output_path: Option<String>,
    pub status: String,
    pub completed_at: Option<String>,
    pub error: Option<String>,
    pub show_cablecast_id: Option<i64>,
    pub show_title: Option<String>,
    pub linked_by: Option<String>,
    pub removed_at: Option<String>,
}

/// A result no show is linked to yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlinkedCaption {
    pub id: String,
    pub video_path: String,
    pub output_path: Option<String>,
}

/// What linking needs to know about a show.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowToLink {
    /// Archivist's own id (`cablecast_show.id`).
    pub id: i64,
    pub cablecast_id: i64,
    pub title: String,
    pub cg_title: Option<String>,
    /// UTC, stored form.
    pub event_date: Option<String>,
    /// Seconds: the show's total run time, else its longest VOD.
    pub run_time: Option<i64>,
}

/// Shows by caption state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptionCounts {
    /// Published, with no captions in Cablecast and none of the station's.
    pub needs_captions: u64,
    /// Cablecast says it has captions (`hasCaptions`).
    pub captioned_by_cablecast: u64,
    /// A current, completed transcription of the station's is linked.
    pub captioned_by_transcriptions: u64,
}

/// A show whose VOD is published but which has no caption, in Cablecast or
/// linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowNeedingCaptions {
    pub cablecast_id: i64,
    pub title: String,
    pub event_date: Option<String>,
}

/// What a link by hand found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManualLinkOutcome {
    /// No show with that Cablecast id is in the catalogue.
    NoSuchShow,
    /// No current result has that video (or output) path.
    NoSuchVideo,
    /// Linked `rows` results; `other_videos` were already linked to the show.
    Linked {
        rows: usize,
        show_title: String,
        other_videos: Vec<String>,
    },
}

/// Filters of [`Store::transcriptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptionFilter {
    All,
    Failed,
    Unlinked,
}

const SELECT_SCANNED: &str =
    "SELECT file_size, file_mtime, video_path, removed_at, status FROM transcription_result WHERE id = ?1";

const INSERT_SCANNED: &str = "
INSERT INTO transcription_result (id, video_path, output_path, status, completed_at, source,
    file_size, file_mtime, seen_scan, created_at, updated_at)
VALUES (?1, ?2, ?3, 'completed', ?4, 'scan', ?5, ?6, ?7, ?8, ?8)";

/// A changed (or returned, or formerly reported) file: its time and size are
/// the file's, its status `completed` because the file is there.
const UPDATE_SCANNED: &str = "
UPDATE transcription_result SET video_path = ?2, output_path = ?3, status = 'completed',
    completed_at = ?4, error = NULL, source = 'scan', file_size = ?5, file_mtime = ?6,
    seen_scan = ?7, removed_at = NULL, updated_at = ?8
WHERE id = ?1";

const TOUCH_SCANNED: &str = "UPDATE transcription_result SET seen_scan = ?2 WHERE id = ?1";

/// Rows of earlier scans under `?1` (a directory with a trailing `/`) that
/// this scan did not see. `'/' + 1` is `'0'`, so the range is "starts with".
const UNSEEN_SCANNED: &str = "
SELECT id, output_path FROM transcription_result
WHERE source = 'scan' AND removed_at IS NULL AND coalesce(seen_scan, 0) <> ?2
  AND output_path >= ?1 AND output_path < substr(?1, 1, length(?1) - 1) || '0'";

const UPSERT_REPORTED: &str = "
INSERT INTO transcription_result (id, video_path, output_path, status, completed_at, error,
    source, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'report', ?5, ?5)
ON CONFLICT(id) DO UPDATE SET video_path = excluded.video_path,
    output_path = excluded.output_path, status = excluded.status,
    completed_at = excluded.completed_at, error = excluded.error, source = 'report',
    removed_at = NULL, updated_at = excluded.updated_at";

const UNLINKED: &str = "
SELECT id, video_path, output_path FROM transcription_result
WHERE show_id IS NULL AND removed_at IS NULL AND status = 'completed'
  AND coalesce(linked_by, 'auto') <> 'manual'
ORDER BY video_path, id";

const SHOWS_TO_LINK: &str = "
SELECT s.id, s.cablecast_id, s.title, s.cg_title, s.event_date,
    coalesce(s.total_run_time, (SELECT max(v.length) FROM cablecast_vod v WHERE v.show_id = s.id))
FROM cablecast_show s ORDER BY s.cablecast_id";

const LINKED_VIDEOS: &str = "
SELECT DISTINCT show_id, video_path FROM transcription_result
WHERE show_id IS NOT NULL AND removed_at IS NULL";

/// Links every current, unlinked result of one video; never touches a link
/// made by hand.
const LINK_AUTO: &str = "
UPDATE transcription_result SET show_id = ?2, linked_by = 'auto', link_score = ?3, updated_at = ?4
WHERE video_path = ?1 AND show_id IS NULL AND removed_at IS NULL
  AND coalesce(linked_by, 'auto') <> 'manual'";

/// The video a path names: itself, or the video of the caption file it is.
const VIDEO_OF: &str = "
SELECT video_path FROM transcription_result
WHERE (video_path = ?1 OR output_path = ?1) AND removed_at IS NULL
ORDER BY video_path = ?1 DESC LIMIT 1";

const LINK_MANUAL: &str = "
UPDATE transcription_result SET show_id = ?2, linked_by = 'manual', link_score = NULL, updated_at = ?3
WHERE video_path = ?1 AND removed_at IS NULL";

/// The result columns read back as a [`TranscriptionRow`], in this order.
pub(super) const ROW_COLUMNS: &str =
    "t.id, t.video_path, t.output_path, t.status, t.completed_at, t.error, \
     s.cablecast_id, s.title, t.linked_by, t.removed_at";

/// The most recent results: a backwards walk of `idx_transcription_completed`.
const RECENT: &str = "
SELECT t.id, t.video_path, t.output_path, t.status, t.completed_at, t.error,
    s.cablecast_id, s.title, t.linked_by, t.removed_at
FROM transcription_result t LEFT JOIN cablecast_show s ON s.id = t.show_id
WHERE t.completed_at IS NOT NULL AND t.removed_at IS NULL
ORDER BY t.completed_at DESC LIMIT ?1";

/// Results completed since `?1`, newest first (a range on
/// `idx_transcription_completed`).
const COMPLETED_SINCE: &str = "
SELECT t.id, t.video_path, t.output_path, t.status, t.completed_at, t.error,
    s.cablecast_id, s.title, t.linked_by, t.removed_at
FROM transcription_result t LEFT JOIN cablecast_show s ON s.id = t.show_id
WHERE t.completed_at >= ?1 AND t.removed_at IS NULL
ORDER BY t.completed_at DESC";

/// Shows with a `complete` VOD, no captions in Cablecast (`hasCaptions`) and
/// no current, completed caption of the station's own. Both probes are
/// covering: `idx_vod_show` is (show_id, vod_state) and
/// `idx_transcription_show` is (show_id, status, removed_at).
macro_rules! needing_captions_where {
    () => {
        "WHERE s.has_captions = 0
  AND EXISTS (SELECT 1 FROM cablecast_vod v WHERE v.show_id = s.id AND v.vod_state = 'complete')
  AND NOT EXISTS (SELECT 1 FROM transcription_result t
                  WHERE t.show_id = s.id AND t.status = 'completed' AND t.removed_at IS NULL)"
    };
}

const NEEDING_CAPTIONS: &str = concat!(
    "SELECT s.cablecast_id, s.title, s.event_date FROM cablecast_show s ",
    needing_captions_where!(),
    " ORDER BY s.event_date DESC, s.cablecast_id"
);

/// The caption figures of the status report: shows needing captions, shows
/// Cablecast says are captioned, and shows captioned by the station's own
/// transcriptions (a show can be both).
const CAPTION_COUNTS: &str = concat!(
    "SELECT (SELECT count(*) FROM cablecast_show s ",
    needing_captions_where!(),
    "), (SELECT count(*) FROM cablecast_show WHERE has_captions <> 0), \
     (SELECT count(DISTINCT show_id) FROM transcription_result \
      WHERE show_id IS NOT NULL AND status = 'completed' AND removed_at IS NULL)"
);

/// The queries over time ranges, for the plan check.
#[cfg(test)]
pub(super) const TIME_RANGE_QUERIES: [(&str, &str); 2] =
    [("recent", RECENT), ("completed since", COMPLETED_SINCE)];

pub(super) fn row_from(row: &Row<'_>) -> rusqlite::Result<TranscriptionRow> {
    Ok(TranscriptionRow {
        id: row.get(0)?,
        video_path: row.get(1)?,
        output_path: row.get(2)?,
        status: row.get(3)?,
        completed_at: row.get(4)?,
        error: row.get(5)?,
        show_cablecast_id: row.get(6)?,
        show_title: row.get(7)?,
        linked_by: row.get(8)?,
        removed_at: row.get(9)?,
    })
}

fn save_scanned(
    conn: &Connection,
    caption: &ScannedCaption,
    scan: i64,
    now: &str,
) -> rusqlite::Result<ScanCounts> {
    type Known = (Option<i64>, Option<i64>, String, Option<String>, String);
    let known: Option<Known> = conn
        .prepare_cached(SELECT_SCANNED)?
        .query_row([&caption.id], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()?;
    let completed_at = clock::format_unix(caption.mtime);
    let values = params![
        caption.id,
        caption.video_path,
        caption.output_path,
        completed_at,
        caption.size,
        caption.mtime,
        scan,
        now
    ];
    let mut counts = ScanCounts::default();
    match known {
        None => {
            conn.prepare_cached(INSERT_SCANNED)?.execute(values)?;
            counts.added = 1;
        }
        Some((size, mtime, video, removed, status))
            if size == Some(caption.size)
                && mtime == Some(caption.mtime)
                && video == caption.video_path
                && removed.is_none()
                && status == "completed" =>
        {
            conn.prepare_cached(TOUCH_SCANNED)?
                .execute(params![caption.id, scan])?;
            counts.unchanged = 1;
        }
        Some(_) => {
            conn.prepare_cached(UPDATE_SCANNED)?.execute(values)?;
            counts.updated = 1;
        }
    }
    Ok(counts)
}

impl Store {
    /// Starts a caption scan and returns its number (kept in `archivist_meta`).
    pub fn begin_caption_scan(&self) -> Result<i64, StoreError> {
        self.write("starting a caption scan", |conn| {
            conn.execute(
                "INSERT INTO archivist_meta (key, value) VALUES ('caption_scan', '1')
                 ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                [],
            )?;
            conn.query_row(
                "SELECT CAST(value AS INTEGER) FROM archivist_meta WHERE key = 'caption_scan'",
                [],
                |row| row.get(0),
            )
        })
    }

    /// Saves one batch of scanned captions in one transaction: new files are
    /// added, changed ones (size, time, video) updated, the rest only marked
    /// as seen by `scan`.
    pub fn save_scanned_captions(
        &self,
        batch: &[ScannedCaption],
        scan: i64,
    ) -> Result<ScanCounts, StoreError> {
        let now = clock::now();
        self.write("saving scanned caption files", |conn| {
            let mut total = ScanCounts::default();
            for caption in batch {
                let counts = save_scanned(conn, caption, scan, &now)?;
                total.added += counts.added;
                total.updated += counts.updated;
                total.unchanged += counts.unchanged;
            }
            Ok(total)
        })
    }

    /// Scanned captions under `dir` (absolute, as scanned) that scan `scan`
    /// did not see, as (id, output path).
    pub fn unseen_scanned_captions(
        &self,
        dir: &str,
        scan: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = if dir.ends_with('/') {
            dir.to_string()
        } else {
            format!("{dir}/")
        };
        self.read("listing caption files a scan did not find", |conn| {
            let mut select = conn.prepare_cached(UNSEEN_SCANNED)?;
            let rows =
                select.query_map(params![prefix, scan], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
    }

    /// Marks results whose file is gone; the rows stay. Returns how many.
    pub fn mark_captions_removed(&self, ids: &[String]) -> Result<usize, StoreError> {
        let now = clock::now();
        self.write("marking removed caption files", |conn| {
            let mut mark = conn.prepare_cached(
                "UPDATE transcription_result SET removed_at = ?2, updated_at = ?2
                 WHERE id = ?1 AND removed_at IS NULL",
            )?;
            let mut marked = 0;
            for id in ids {
                marked += mark.execute(params![id, now])?;
            }
            Ok(marked)
        })
    }

    /// Inserts or replaces one reported result (a link to a show stays).
    pub fn save_reported_transcription(
        &self,
        report: &ReportedTranscription,
    ) -> Result<(), StoreError> {
        let now = clock::now();
        self.write_single("saving a reported transcription", |conn| {
            conn.prepare_cached(UPSERT_REPORTED)?.execute(params![
                report.id,
                report.video_path,
                report.output_path,
                report.status,
                now,
                report.error,
            ])
        })
        .map(|_| ())
    }

    /// Current, completed results that no show is linked to and that no one
    /// linked by hand, ordered by video.
    pub fn unlinked_transcriptions(&self) -> Result<Vec<UnlinkedCaption>, StoreError> {
        self.read("listing unlinked transcriptions", |conn| {
            let mut select = conn.prepare_cached(UNLINKED)?;
            let rows = select.query_map([], |row| {
                Ok(UnlinkedCaption {
                    id: row.get(0)?,
                    video_path: row.get(1)?,
                    output_path: row.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Every show in the catalogue, with what linking compares.
    pub fn shows_to_link(&self) -> Result<Vec<ShowToLink>, StoreError> {
        self.read("listing shows to link captions to", |conn| {
            let mut select = conn.prepare_cached(SHOWS_TO_LINK)?;
            let rows = select.query_map([], |row| {
                Ok(ShowToLink {
                    id: row.get(0)?,
                    cablecast_id: row.get(1)?,
                    title: row.get(2)?,
                    cg_title: row.get(3)?,
                    event_date: row.get(4)?,
                    run_time: row.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Videos already linked, as show id (Archivist's) -> video paths.
    pub fn linked_videos(&self) -> Result<HashMap<i64, Vec<String>>, StoreError> {
        self.read("listing linked videos", |conn| {
            let mut select = conn.prepare_cached(LINKED_VIDEOS)?;
            let mut rows = select.query([])?;
            let mut linked: HashMap<i64, Vec<String>> = HashMap::new();
            while let Some(row) = rows.next()? {
                linked.entry(row.get(0)?).or_default().push(row.get(1)?);
            }
            Ok(linked)
        })
    }

    /// Links videos to shows automatically, as (video path, show id, score;
    /// no score when the video follows an earlier link of its own),
    /// in one transaction; returns how many results were linked.
    pub fn link_videos(&self, links: &[(String, i64, Option<f64>)]) -> Result<usize, StoreError> {
        let now = clock::now();
        self.write("linking captions to shows", |conn| {
            let mut link = conn.prepare_cached(LINK_AUTO)?;
            let mut linked = 0;
            for (video, show, score) in links {
                linked += link.execute(params![video, show, score, now])?;
            }
            Ok(linked)
        })
    }

    /// Links every current result of `video` (a video path, or a caption
    /// path standing for its video) to the show with this Cablecast id, by
    /// hand: such a link is never changed
    /// by automatic linking.
    pub fn link_video_by_hand(
        &self,
        cablecast_id: i64,
        video: &str,
    ) -> Result<ManualLinkOutcome, StoreError> {
        let now = clock::now();
        self.write("linking a video to a show by hand", |conn| {
            let show: Option<(i64, String)> = conn
                .query_row(
                    "SELECT id, title FROM cablecast_show WHERE cablecast_id = ?1",
                    [cablecast_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((show_id, show_title)) = show else {
                return Ok(ManualLinkOutcome::NoSuchShow);
            };
            let video: Option<String> = conn
                .query_row(VIDEO_OF, [video], |row| row.get(0))
                .optional()?;
            let Some(video) = video else {
                return Ok(ManualLinkOutcome::NoSuchVideo);
            };
            let rows = conn.execute(LINK_MANUAL, params![video, show_id, now])?;
            let mut others = conn.prepare(
                "SELECT DISTINCT video_path FROM transcription_result
                 WHERE show_id = ?1 AND removed_at IS NULL AND video_path <> ?2
                 ORDER BY video_path",
            )?;
            let other_videos = others
                .query_map(params![show_id, video], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(ManualLinkOutcome::Linked {
                rows,
                show_title,
                other_videos,
            })
        })
    }

    /// The `limit` most recently completed (or failed) current results.
    pub fn recent_transcriptions(&self, limit: u32) -> Result<Vec<TranscriptionRow>, StoreError> {
        self.read("listing recent transcriptions", |conn| {
            let mut select = conn.prepare_cached(RECENT)?;
            let rows = select.query_map([limit], row_from)?;
            rows.collect()
        })
    }

    /// Current results finished at or after `since` (stored form), newest first.
    pub fn transcriptions_since(&self, since: &str) -> Result<Vec<TranscriptionRow>, StoreError> {
        self.read("listing transcriptions by time", |conn| {
            let mut select = conn.prepare_cached(COMPLETED_SINCE)?;
            let rows = select.query_map([since], row_from)?;
            rows.collect()
        })
    }

    /// Stored results (current and removed), newest first.
    pub fn transcriptions(
        &self,
        filter: TranscriptionFilter,
    ) -> Result<Vec<TranscriptionRow>, StoreError> {
        let condition = match filter {
            TranscriptionFilter::All => "1",
            TranscriptionFilter::Failed => "t.status = 'failed' AND t.removed_at IS NULL",
            TranscriptionFilter::Unlinked => "t.show_id IS NULL AND t.removed_at IS NULL",
        };
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM transcription_result t
             LEFT JOIN cablecast_show s ON s.id = t.show_id
             WHERE {condition} ORDER BY t.completed_at DESC, t.id"
        );
        self.read("listing transcriptions", |conn| {
            let mut select = conn.prepare(&sql)?;
            let rows = select.query_map([], row_from)?;
            rows.collect()
        })
    }

    /// Shows with a `complete` VOD but no current, completed caption linked.
    pub fn shows_needing_captions(&self) -> Result<Vec<ShowNeedingCaptions>, StoreError> {
        self.read("listing shows that need captions", |conn| {
            let mut select = conn.prepare_cached(NEEDING_CAPTIONS)?;
            let rows = select.query_map([], |row| {
                Ok(ShowNeedingCaptions {
                    cablecast_id: row.get(0)?,
                    title: row.get(1)?,
                    event_date: row.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// How many shows need captions (see [`Store::shows_needing_captions`])
    /// and how many are captioned, by Cablecast and by the station. Not part
    /// of the sync aggregate: it visits every show, so the status report
    /// computes it only when the database changed.
    pub fn caption_counts(&self) -> Result<CaptionCounts, StoreError> {
        self.read("counting shows that need captions", |conn| {
            conn.prepare_cached(CAPTION_COUNTS)?.query_row([], |row| {
                let count = |i| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
                Ok(CaptionCounts {
                    needs_captions: count(0)?,
                    captioned_by_cablecast: count(1)?,
                    captioned_by_transcriptions: count(2)?,
                })
            })
        })
    }

    /// `EXPLAIN QUERY PLAN` of `sql`, one detail line per step (read only).
    pub(crate) fn query_plan(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        self.read("explaining a query", |conn| {
            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            // Parameters stay unbound (NULL): the plan does not depend on them.
            let mut rows = explain.raw_query();
            let mut plan = Vec::new();
            while let Some(row) = rows.next()? {
                plan.push(row.get(3)?);
            }
            Ok(plan)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Access;

    /// Every query over a time range must use `idx_transcription_completed`,
    /// not scan the table: stations keep years of results.
    #[test]
    fn time_ranges_use_the_completed_index() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("plan.db"), Access::ReadWrite).expect("opens");
        let mut checked = Vec::new();
        for (name, sql) in TIME_RANGE_QUERIES {
            checked.push((name, store.query_plan(sql).expect("plan")));
        }
        checked.push((
            "sync stats",
            store
                .query_plan(crate::store::stats::SYNC_STATS_SQL)
                .expect("plan"),
        ));
        for (name, plan) in checked {
            let text = plan.join("\n");
            assert!(
                text.contains("idx_transcription_completed"),
                "{name} does not use idx_transcription_completed:\n{text}"
            );
            assert!(
                !text.contains("SCAN t\n") && !text.ends_with("SCAN t"),
                "{name} scans the results table:\n{text}"
            );
        }
    }
}
