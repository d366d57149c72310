//! The VOD list staff search: by state, stuck, words of the show's title and
//! a range of state-change dates, paged; and one VOD, one show, with their
//! VODs and captions, for their own pages.
//!
//! Filters become one `WHERE` built from fixed SQL fragments and bound
//! parameters (never text from the request). A state filter is a range of
//! `idx_vod_state_since`, stuck one of its per-state ranges, and the list is
//! in id order (the primary key) so a page stops after its rows. A title
//! search reads the shows' titles (`LIKE` cannot use an index); the web layer
//! serves repeated searches from answers cached per data version.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::stuck::{cutoffs, stuck_where};
use super::transcriptions::{row_from as transcription_from_row, ROW_COLUMNS};
use super::vod_lists::{entry_from_row, ENTRY_SELECT};
use super::{Store, StoreError, TranscriptionRow, VodEntry};
use crate::stuck::StuckAfter;

/// Words of a title search at most: more narrows nothing in practice and
/// each is one more pass over the titles.
pub const MAX_WORDS: usize = 8;

/// What the VOD list is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VodFilter {
    /// A stored state, exactly (`processing`, `error`, ...).
    pub state: Option<String>,
    /// Only VODs stuck now.
    pub stuck: bool,
    /// Every word must appear in the show's public or internal title
    /// (case-insensitive for ASCII).
    pub words: Vec<String>,
    /// State changed at or after this stored timestamp.
    pub changed_from: Option<String>,
    /// State changed before this stored timestamp.
    pub changed_before: Option<String>,
}

/// A show as its page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowRecord {
    /// Archivist's own id (for its VODs and captions).
    pub id: i64,
    pub cablecast_id: i64,
    pub title: String,
    pub cg_title: Option<String>,
    pub event_date: Option<String>,
    pub location_id: Option<i64>,
    pub total_run_time: Option<i64>,
}

/// `LIKE` text matching `word` anywhere, its wildcards taken literally.
fn like_anywhere(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 2);
    pattern.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl VodFilter {
    /// The `WHERE` (possibly empty) and its parameters.
    fn condition(&self, thresholds: &StuckAfter, now_unix: i64) -> (String, Vec<Value>) {
        let mut terms: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        if self.stuck {
            // Numbered ?1..?5, so it comes first.
            let stuck = stuck_where();
            terms.push(format!("({})", stuck.trim_start_matches("WHERE ")));
            values.extend(cutoffs(thresholds, now_unix).into_iter().map(Value::Text));
        }
        let bind = |sql: &str, value: Value, values: &mut Vec<Value>| {
            values.push(value);
            sql.replace('?', &format!("?{}", values.len()))
        };
        if let Some(state) = &self.state {
            terms.push(bind(
                "v.vod_state = ?",
                Value::Text(state.clone()),
                &mut values,
            ));
        }
        // Every word in one pass over the titles: one subquery, run once
        // per statement.
        let words: Vec<String> = self
            .words
            .iter()
            .take(MAX_WORDS)
            .map(|word| {
                bind(
                    "(s2.title LIKE ? ESCAPE '\\' OR s2.cg_title LIKE ? ESCAPE '\\')",
                    Value::Text(like_anywhere(word)),
                    &mut values,
                )
            })
            .collect();
        if !words.is_empty() {
            terms.push(format!(
                "v.show_id IN (SELECT s2.id FROM cablecast_show s2 WHERE {})",
                words.join(" AND ")
            ));
        }
        if let Some(from) = &self.changed_from {
            terms.push(bind(
                "v.state_changed_at >= ?",
                Value::Text(from.clone()),
                &mut values,
            ));
        }
        if let Some(before) = &self.changed_before {
            terms.push(bind(
                "v.state_changed_at < ?",
                Value::Text(before.clone()),
                &mut values,
            ));
        }
        if terms.is_empty() {
            return (String::new(), values);
        }
        (format!(" WHERE {}", terms.join(" AND ")), values)
    }
}

impl Store {
    /// How many VODs match `filter`, and the `limit` of them from `offset`
    /// (newest VOD first; stuck ones longest in their state first).
    pub fn search_vods(
        &self,
        filter: &VodFilter,
        thresholds: &StuckAfter,
        now_unix: i64,
        limit: usize,
        offset: u64,
    ) -> Result<(u64, Vec<VodEntry>), StoreError> {
        let mut rows = Vec::with_capacity(limit.min(1000));
        let total = self.count_found_vods(filter, thresholds, now_unix)?;
        self.each_found_vod(
            filter,
            thresholds,
            now_unix,
            Some((limit, offset)),
            |entry| rows.push(entry.clone()),
        )?;
        Ok((total, rows))
    }

    /// How many VODs match `filter`.
    pub fn count_found_vods(
        &self,
        filter: &VodFilter,
        thresholds: &StuckAfter,
        now_unix: i64,
    ) -> Result<u64, StoreError> {
        let (condition, values) = filter.condition(thresholds, now_unix);
        let sql = format!("SELECT count(*) FROM cablecast_vod v{condition}");
        self.read("counting the VODs found", |conn| {
            let n: i64 = conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(values), |row| row.get(0))?;
            Ok(n.max(0) as u64)
        })
    }

    /// Hands the VODs matching `filter` (one page of them, when `page` is
    /// `(limit, offset)`) to `each`, row by row as the cursor reads them.
    pub fn each_found_vod(
        &self,
        filter: &VodFilter,
        thresholds: &StuckAfter,
        now_unix: i64,
        page: Option<(usize, u64)>,
        mut each: impl FnMut(&VodEntry),
    ) -> Result<(), StoreError> {
        let (condition, values) = filter.condition(thresholds, now_unix);
        let order = if filter.stuck {
            " ORDER BY v.state_changed_at, v.id"
        } else {
            " ORDER BY v.id DESC"
        };
        let sql = match page {
            // The page's ids first, from the indexes alone; only its rows
            // are then read whole (ten times faster with thousands stuck).
            Some((limit, offset)) => format!(
                "{ENTRY_SELECT} WHERE v.id IN (SELECT v.id FROM cablecast_vod v{condition}{order} LIMIT {} OFFSET {}){order}",
                limit.min(i64::MAX as usize),
                offset.min(i64::MAX as u64)
            ),
            None => format!("{ENTRY_SELECT}{condition}{order}"),
        };
        self.read("listing the VODs found", |conn| {
            let mut select = conn.prepare_cached(&sql)?;
            let mut rows = select.query(params_from_iter(values))?;
            while let Some(row) = rows.next()? {
                each(&entry_from_row(row)?);
            }
            Ok(())
        })
    }

    /// One VOD, with its show's title.
    pub fn vod_entry(&self, id: i64) -> Result<Option<VodEntry>, StoreError> {
        let sql = format!("{ENTRY_SELECT} WHERE v.id = ?1");
        self.read("reading a VOD", |conn| {
            conn.prepare_cached(&sql)?
                .query_row([id], entry_from_row)
                .optional()
        })
    }

    /// One show by its Cablecast id.
    pub fn show_record(&self, cablecast_id: i64) -> Result<Option<ShowRecord>, StoreError> {
        self.read("reading a show", |conn| {
            conn.prepare_cached(
                "SELECT id, cablecast_id, title, cg_title, event_date, location_id, total_run_time
                 FROM cablecast_show WHERE cablecast_id = ?1",
            )?
            .query_row([cablecast_id], show_from_row)
            .optional()
        })
    }

    /// A show's VODs (by Archivist's show id), by VOD id.
    pub fn show_vods(&self, show_id: i64) -> Result<Vec<VodEntry>, StoreError> {
        let sql = format!("{ENTRY_SELECT} WHERE v.show_id = ?1 ORDER BY v.id");
        self.read("listing a show's VODs", |conn| {
            let mut select = conn.prepare_cached(&sql)?;
            let rows = select.query_map(params![show_id], entry_from_row)?;
            rows.collect()
        })
    }

    /// The caption files and transcription jobs linked to a show (by
    /// Archivist's show id), current ones first, newest first.
    pub fn show_captions(&self, show_id: i64) -> Result<Vec<TranscriptionRow>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM transcription_result t
             LEFT JOIN cablecast_show s ON s.id = t.show_id
             WHERE t.show_id = ?1
             ORDER BY t.removed_at IS NOT NULL, t.completed_at DESC, t.id"
        );
        self.read("listing a show's captions", |conn| {
            let mut select = conn.prepare_cached(&sql)?;
            let rows = select.query_map(params![show_id], transcription_from_row)?;
            rows.collect()
        })
    }
}

fn show_from_row(row: &Row<'_>) -> rusqlite::Result<ShowRecord> {
    Ok(ShowRecord {
        id: row.get(0)?,
        cablecast_id: row.get(1)?,
        title: row.get(2)?,
        cg_title: row.get(3)?,
        event_date: row.get(4)?,
        location_id: row.get(5)?,
        total_run_time: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::store::Access;

    const NOW: i64 = 1_790_000_000;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("s.db"), Access::ReadWrite).expect("opens");
        store
            .write("adding a station", |conn| {
                conn.execute(
                    "INSERT INTO cablecast_show (id, cablecast_id, title, cg_title) VALUES
                     (1, 801, 'City Council Regular meeting', NULL),
                     (2, 802, 'School Board 50% budget', 'School Board')",
                    [],
                )?;
                for (id, show, state, hours) in [
                    (10, 1, "processing", 10),
                    (11, 1, "complete", 100),
                    (12, 2, "processing", 1),
                    (13, 2, "error", 30),
                    (14, 2, "queued", 3),
                ] {
                    conn.execute(
                        "INSERT INTO cablecast_vod (id, show_id, vod_state, state_changed_at) VALUES (?1, ?2, ?3, ?4)",
                        params![id, show, state, clock::format_unix(NOW - hours * 3600)],
                    )?;
                }
                Ok(())
            })
            .expect("written");
        (dir, store)
    }

    fn ids(store: &Store, filter: &VodFilter) -> Vec<i64> {
        let (total, rows) = store
            .search_vods(filter, &StuckAfter::default(), NOW, 100, 0)
            .expect("search");
        assert_eq!(total as usize, rows.len());
        rows.iter().map(|e| e.id).collect()
    }

    #[test]
    fn filters_combine() {
        let (_dir, store) = store();
        assert_eq!(ids(&store, &VodFilter::default()), vec![14, 13, 12, 11, 10]);
        let state = VodFilter {
            state: Some("processing".into()),
            ..VodFilter::default()
        };
        assert_eq!(ids(&store, &state), vec![12, 10]);
        let stuck = VodFilter {
            stuck: true,
            ..VodFilter::default()
        };
        assert_eq!(ids(&store, &stuck), vec![10, 14]);
        let words = VodFilter {
            words: vec!["council".into()],
            stuck: true,
            ..VodFilter::default()
        };
        assert_eq!(ids(&store, &words), vec![10]);
        // Wildcards in a search are literal.
        let percent = VodFilter {
            words: vec!["50%".into()],
            ..VodFilter::default()
        };
        assert_eq!(ids(&store, &percent), vec![14, 13, 12]);
        let nothing = VodFilter {
            words: vec!["%".into(), "council".into()],
            ..VodFilter::default()
        };
        assert!(ids(&store, &nothing).is_empty());
        let range = VodFilter {
            changed_from: Some(clock::format_unix(NOW - 40 * 3600)),
            changed_before: Some(clock::format_unix(NOW - 2 * 3600)),
            ..VodFilter::default()
        };
        assert_eq!(ids(&store, &range), vec![14, 13, 10]);
        let (total, page) = store
            .search_vods(&VodFilter::default(), &StuckAfter::default(), NOW, 2, 2)
            .expect("page");
        assert_eq!(total, 5);
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![12, 11]);
    }

    #[test]
    fn a_state_or_stuck_filter_reads_an_index() {
        let (_dir, store) = store();
        let filter = VodFilter {
            state: Some("error".into()),
            ..VodFilter::default()
        };
        let (condition, _) = filter.condition(&StuckAfter::default(), NOW);
        let plan = store
            .query_plan(&format!("SELECT count(*) FROM cablecast_vod v{condition}"))
            .expect("plan")
            .join("\n");
        assert!(plan.contains("USING COVERING INDEX"), "{plan}");
    }
}
