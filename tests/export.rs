//! `archivist export`: CSV and JSON lines that read back exactly as the
//! database holds them, titles with quotes, commas and line breaks included.

use archivist::store::{Access, Store};
use serde_json::Value;

use crate::support::{self, archivist, Scratch};

/// A station whose titles need quoting, and a VOD in a state Cablecast may
/// add later.
fn station(db: &std::path::Path) {
    let store = Store::open(db, Access::ReadWrite).expect("database opens");
    store.fill_station(120, 11).expect("station fills");
    drop(store);
    let conn = support::sqlite(db);
    conn.execute_batch(
        "UPDATE cablecast_show SET title = 'Budget \"Q&A\", part 1' || char(10) || 'Live'
             WHERE cablecast_id = 801;
         UPDATE cablecast_show SET cg_title = NULL WHERE cablecast_id = 802;
         UPDATE cablecast_show SET title = ' leading space, trailing comma,'
             WHERE cablecast_id = 803;
         UPDATE cablecast_vod SET vod_state = 'transcoding', error_message = 'a' || char(13, 10) || 'b'
             WHERE id = 1201;",
    )
    .expect("edits apply");
}

/// Reads RFC 4180 CSV: quoted fields may hold commas, quotes and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                was_quoted = true;
            }
            ',' => {
                record.push(finish(&mut field, &mut was_quoted));
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(finish(&mut field, &mut was_quoted));
                records.push(std::mem::take(&mut record));
            }
            other => field.push(other),
        }
    }
    assert!(record.is_empty() && field.is_empty(), "CSV ends mid-record");
    records
}

/// An empty unquoted field is NULL; anything else is text.
fn finish(field: &mut String, was_quoted: &mut bool) -> Option<String> {
    let text = std::mem::take(field);
    let quoted = std::mem::replace(was_quoted, false);
    (quoted || !text.is_empty()).then_some(text)
}

/// The table as the database holds it, every value as text (NULL as None).
fn rows(db: &std::path::Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let conn = support::sqlite(db);
    let mut select = conn.prepare(sql).expect("query prepares");
    let columns = select.column_count();
    let rows = select
        .query_map([], |row| {
            (0..columns)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                        rusqlite::types::ValueRef::Real(x) => Some(x.to_string()),
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .expect("query runs");
    rows.collect::<Result<_, _>>().expect("rows read")
}

fn export(db: &std::path::Path, args: &[&str]) -> String {
    let output = archivist()
        .arg("--db")
        .arg(db)
        .arg("export")
        .args(args)
        .output()
        .expect("archivist runs");
    assert!(output.status.success(), "{}", support::stderr(&output));
    support::stdout(&output)
}

const SHOWS: &str = "SELECT cablecast_id, location_id, title, cg_title, event_date, \
     last_modified, total_run_time, created_at, updated_at, has_captions, caption_provider \
     FROM cablecast_show ORDER BY cablecast_id";

#[test]
fn shows_round_trip_through_csv() {
    let scratch = Scratch::new();
    station(&scratch.db());
    let text = export(&scratch.db(), &["shows"]);
    let mut records = parse_csv(&text);
    let header = records.remove(0);
    assert_eq!(header[0].as_deref(), Some("cablecast_id"));
    assert_eq!(header[2].as_deref(), Some("title"));
    let expected = rows(&scratch.db(), SHOWS);
    assert_eq!(records.len(), expected.len());
    assert_eq!(records, expected);
    assert!(text.contains("\"Budget \"\"Q&A\"\", part 1\nLive\""));
}

#[test]
fn vods_round_trip_through_json_lines_and_filter_by_state() {
    let scratch = Scratch::new();
    station(&scratch.db());
    let text = export(&scratch.db(), &["vods", "--format", "jsonl"]);
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let expected = rows(
        &scratch.db(),
        "SELECT id, vod_state, error_message, percent_complete FROM cablecast_vod ORDER BY id",
    );
    assert_eq!(lines.len(), expected.len());
    for (line, row) in lines.iter().zip(&expected) {
        assert_eq!(line["id"].to_string(), row[0].clone().expect("id"));
        assert_eq!(line["vod_state"].as_str(), row[1].as_deref());
        assert_eq!(line["error_message"].as_str(), row[2].as_deref());
        assert_eq!(
            line["percent_complete"].as_f64().map(|x| x.to_string()),
            row[3]
        );
    }
    assert!(lines.iter().any(|l| l["vod_state"] == "transcoding"));

    let processing = export(
        &scratch.db(),
        &["vods", "--state", "processing", "--format", "jsonl"],
    );
    let expected = support::counts_by_state(&scratch.db())
        .into_iter()
        .find(|(state, _)| state == "processing")
        .map_or(0, |(_, n)| n);
    assert!(expected > 0);
    assert_eq!(processing.lines().count() as i64, expected);
    assert!(processing
        .lines()
        .all(|l| l.contains("\"vod_state\":\"processing\"")));
}

#[test]
fn transcriptions_name_their_show_and_bad_requests_are_refused() {
    let scratch = Scratch::new();
    station(&scratch.db());
    let mut records = parse_csv(&export(&scratch.db(), &["transcriptions"]));
    let header = records.remove(0);
    assert_eq!(header[1].as_deref(), Some("show_cablecast_id"));
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r[1].is_some()));

    for args in [
        &["shows", "--state", "complete"][..],
        &["everything"][..],
        &["vods", "--format", "xml"][..],
        &[][..],
    ] {
        let output = archivist()
            .arg("--db")
            .arg(scratch.db())
            .arg("export")
            .args(args)
            .output()
            .expect("archivist runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
