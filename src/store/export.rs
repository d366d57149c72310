//! The rows `archivist export` streams: one `SELECT` per table, read row by
//! row from the cursor and handed to the caller's sink, so memory stays flat
//! however many rows there are.
//!
//! What this is not: it does not format anything (see `export`), and it
//! never writes.

use std::borrow::Cow;

use rusqlite::types::ValueRef;

use super::{Store, StoreError};

/// The tables `export` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTable {
    Vods,
    Shows,
    Transcriptions,
}

/// One column value, borrowed from the row being read.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(Cow<'a, str>),
}

const VODS_SQL: &str = "
SELECT id, show_cablecast_id, vod_state, percent_complete, error_message, url, length,
    quality, file_name, is_watchable, disabled, state_changed_at, created_at, updated_at,
    status_message
FROM cablecast_vod";

const SHOWS_SQL: &str = "
SELECT cablecast_id, location_id, title, cg_title, event_date, last_modified, total_run_time,
    created_at, updated_at, has_captions, caption_provider
FROM cablecast_show";

const TRANSCRIPTIONS_SQL: &str = "
SELECT t.id, s.cablecast_id AS show_cablecast_id, t.video_path, t.output_path, t.status,
    t.completed_at, t.error, t.source, t.removed_at, t.created_at, t.updated_at
FROM transcription_result t LEFT JOIN cablecast_show s ON s.id = t.show_id";

impl ExportTable {
    /// The statement for this table, filtered by state when asked (VODs by
    /// `vod_state`, transcriptions by `status`; shows have no state).
    fn sql(self, with_state: bool) -> String {
        let (base, state_column, order) = match self {
            ExportTable::Vods => (VODS_SQL, Some("vod_state"), "id"),
            ExportTable::Shows => (SHOWS_SQL, None, "cablecast_id"),
            ExportTable::Transcriptions => (TRANSCRIPTIONS_SQL, Some("t.status"), "t.id"),
        };
        match (with_state, state_column) {
            (true, Some(column)) => format!("{base} WHERE {column} = ?1 ORDER BY {order}"),
            _ => format!("{base} ORDER BY {order}"),
        }
    }

    /// Whether `--state` means anything for this table.
    pub fn has_state(self) -> bool {
        self != ExportTable::Shows
    }
}

/// Where exported rows go: first the column names, then each row.
pub trait ExportSink {
    type Error;
    fn columns(&mut self, names: &[&str]) -> Result<(), Self::Error>;
    fn row(&mut self, fields: &[Field<'_>]) -> Result<(), Self::Error>;
}

/// Why an export stopped.
#[derive(Debug)]
pub enum ExportError<E> {
    Store(StoreError),
    /// The sink refused a row (for example, stdout was closed).
    Sink(E),
}

impl Store {
    /// Streams every row of `table` (only those in `state`, when given) to
    /// `sink`, straight from the cursor. Returns how many rows were sent.
    pub fn export_rows<S: ExportSink>(
        &self,
        table: ExportTable,
        state: Option<&str>,
        sink: &mut S,
    ) -> Result<u64, ExportError<S::Error>> {
        let sql = table.sql(state.is_some() && table.has_state());
        let mut sink_error = None;
        let outcome = self.read("exporting rows", |conn| {
            let mut select = conn.prepare(&sql)?;
            let names: Vec<String> = select
                .column_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            if let Err(e) = sink.columns(&names) {
                sink_error = Some(e);
                return Ok(0);
            }
            let mut rows = match (state, table.has_state()) {
                (Some(state), true) => select.query([state])?,
                _ => select.query([])?,
            };
            let mut sent = 0;
            while let Some(current) = rows.next()? {
                let mut fields = Vec::with_capacity(names.len());
                for i in 0..names.len() {
                    fields.push(match current.get_ref(i)? {
                        ValueRef::Null => Field::Null,
                        ValueRef::Integer(n) => Field::Integer(n),
                        ValueRef::Real(x) => Field::Real(x),
                        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                            Field::Text(String::from_utf8_lossy(bytes))
                        }
                    });
                }
                if let Err(e) = sink.row(&fields) {
                    sink_error = Some(e);
                    break;
                }
                sent += 1;
            }
            Ok(sent)
        });
        match (outcome, sink_error) {
            (_, Some(e)) => Err(ExportError::Sink(e)),
            (Ok(sent), None) => Ok(sent),
            (Err(e), None) => Err(ExportError::Store(e)),
        }
    }
}
