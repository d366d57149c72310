//! `archivist export`: the station's VODs, shows or transcriptions as CSV or
//! JSON lines on stdout, for spreadsheets and other tools.
//!
//! Rows stream from a database cursor through a buffered writer, one at a
//! time, so memory stays flat however large the table. CSV follows RFC 4180
//! (a header row; fields with commas, quotes or line breaks are quoted, and
//! quotes doubled). What this is not: an import format or a backup (copy the
//! SQLite file for that).

use std::fmt;
use std::io::{self, Write};

use crate::store::export::{ExportError, ExportSink, ExportTable, Field};
use crate::store::{Store, StoreError};

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    JsonLines,
}

/// What went wrong with an export.
#[derive(Debug)]
pub enum ExportFailure {
    Store(StoreError),
    /// Writing to the output failed.
    Output(io::Error),
}

impl fmt::Display for ExportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportFailure::Store(e) => e.fmt(f),
            ExportFailure::Output(e) => write!(f, "writing the export: {e}"),
        }
    }
}

impl std::error::Error for ExportFailure {}

/// Writes every row of `table` (in `state`, when given) to `out`; returns
/// how many rows were written. A reader that goes away (`| head`) ends the
/// export quietly.
pub fn export(
    store: &Store,
    table: ExportTable,
    format: ExportFormat,
    state: Option<&str>,
    out: impl Write,
) -> Result<u64, ExportFailure> {
    let mut sink = Output {
        out: io::BufWriter::new(out),
        format,
        names: Vec::new(),
        line: String::new(),
    };
    let finished = match store.export_rows(table, state, &mut sink) {
        Ok(rows) => sink.out.flush().map(|()| rows),
        Err(ExportError::Sink(e)) => Err(e),
        Err(ExportError::Store(e)) => return Err(ExportFailure::Store(e)),
    };
    match finished {
        Ok(rows) => Ok(rows),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(ExportFailure::Output(e)),
    }
}

/// The formatter between the cursor and the output.
struct Output<W: Write> {
    out: io::BufWriter<W>,
    format: ExportFormat,
    names: Vec<String>,
    /// One line, reused for every row.
    line: String,
}

impl<W: Write> ExportSink for Output<W> {
    type Error = io::Error;

    fn columns(&mut self, names: &[&str]) -> io::Result<()> {
        self.names = names.iter().map(|n| n.to_string()).collect();
        if self.format == ExportFormat::Csv {
            self.line.clear();
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    self.line.push(',');
                }
                push_csv_text(&mut self.line, name);
            }
            self.line.push_str("\r\n");
            self.out.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    fn row(&mut self, fields: &[Field<'_>]) -> io::Result<()> {
        self.line.clear();
        match self.format {
            ExportFormat::Csv => csv_line(&mut self.line, fields),
            ExportFormat::JsonLines => json_line(&mut self.line, &self.names, fields),
        }
        self.out.write_all(self.line.as_bytes())
    }
}

/// One CSV record, CRLF-terminated as RFC 4180 has it.
pub(crate) fn csv_line(line: &mut String, fields: &[Field<'_>]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        match field {
            Field::Null => {}
            Field::Integer(n) => line.push_str(&n.to_string()),
            Field::Real(x) => line.push_str(&x.to_string()),
            Field::Text(text) => push_csv_text(line, text),
        }
    }
    line.push_str("\r\n");
}

/// A text field. One that a spreadsheet would run as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`,
/// as OWASP advises, so a show titled `=HYPERLINK(...)` opens as text.
fn push_csv_text(line: &mut String, text: &str) {
    let guard = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        "'"
    } else {
        ""
    };
    if text.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(guard);
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(guard);
        line.push_str(text);
    }
}

/// One JSON object per line, keys in column order.
fn json_line(line: &mut String, names: &[String], fields: &[Field<'_>]) {
    line.push('{');
    for (i, (name, field)) in names.iter().zip(fields).enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&serde_json::Value::from(name.as_str()).to_string());
        line.push(':');
        let value = match field {
            Field::Null => serde_json::Value::Null,
            Field::Integer(n) => (*n).into(),
            Field::Real(x) => serde_json::Number::from_f64(*x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Field::Text(text) => text.as_ref().into(),
        };
        line.push_str(&value.to_string());
    }
    line.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut line = String::new();
        csv_line(
            &mut line,
            &[
                Field::Integer(7),
                Field::Null,
                Field::Text("plain".into()),
                Field::Text("Parks, \"Summer\"\nSeries".into()),
                Field::Real(0.5),
            ],
        );
        assert_eq!(line, "7,,plain,\"Parks, \"\"Summer\"\"\nSeries\",0.5\r\n");
    }

    #[test]
    fn csv_text_never_opens_as_a_formula() {
        let mut line = String::new();
        csv_line(
            &mut line,
            &[
                Field::Text("=HYPERLINK(\"http://x\",\"y\")".into()),
                Field::Text("+1".into()),
                Field::Text("-2, said".into()),
                Field::Text("@SUM(A1)".into()),
                Field::Text("Council - 11/4".into()),
                Field::Integer(-3),
            ],
        );
        assert_eq!(
            line,
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+1,\"'-2, said\",'@SUM(A1),Council - 11/4,-3\r\n"
        );
    }

    #[test]
    fn json_lines_keep_types() {
        let mut line = String::new();
        let names = vec!["id".to_string(), "title".to_string(), "url".to_string()];
        json_line(
            &mut line,
            &names,
            &[
                Field::Integer(1),
                Field::Text("a \"b\"".into()),
                Field::Null,
            ],
        );
        assert_eq!(line, "{\"id\":1,\"title\":\"a \\\"b\\\"\",\"url\":null}\n");
    }
}
