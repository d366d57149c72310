//! The schema is shipped: a database written by release 0.1.0 (the fixture
//! `tests/fixtures/archivist-0.1.0.db`, made by that release's binary with the
//! demo station, a linked caption and a failed transcription), and one written
//! by schema version 2 (`tests/fixtures/archivist-schema2.db`: the demo
//! station monitored with a webhook, so alerts firing and resolved, delivered
//! and waiting messages, a silence and a queued change), open with this
//! binary, upgrade in place, keep every row and every value, and end with the
//! same tables, columns, indexes and triggers as a new file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{integrity, run_on, sqlite, stderr, stdout, Scratch};

/// The database release 0.1.0 wrote (schema version 1).
const RELEASE_0_1_0: &str = "archivist-0.1.0.db";
/// A database schema version 2 wrote, with alerts, their outbox and silences.
const SCHEMA_2: &str = "archivist-schema2.db";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of a fixture to upgrade; the fixture itself is never opened for
/// writing.
fn copy_of_fixture(scratch: &Scratch, name: &str) -> PathBuf {
    let db = scratch.db();
    std::fs::copy(fixture(name), &db).expect("fixture copies");
    db
}

/// Every table's rows, each as its column values rendered as SQL literals,
/// in column order: (table -> (columns, rows)).
type Contents = BTreeMap<String, (Vec<String>, Vec<Vec<String>>)>;

fn contents(db: &Path) -> Contents {
    let conn = sqlite(db);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut all = Contents::new();
    for table in tables {
        let columns = column_names(&conn, &table);
        let list = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(", ");
        // Some tables have no rowid: order by every column, first to last.
        let order = (1..=columns.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut select = conn
            .prepare(&format!("SELECT {list} FROM \"{table}\" ORDER BY {order}"))
            .expect("prepare");
        let rows = select
            .query_map([], |row| {
                (0..columns.len())
                    .map(|i| row.get::<_, String>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        all.insert(table, (columns, rows));
    }
    all
}

fn column_names(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    conn.prepare(&format!(
        "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
    ))
    .expect("prepare")
    .query_map([], |row| row.get(0))
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

/// The shape of a file: every table's columns (name, type, not null,
/// default, key; in name order, since a migration appends what a new file
/// declares in place), every index's table, columns and condition, every
/// trigger and view by name and table.
fn shape(db: &Path) -> Vec<String> {
    let conn = sqlite(db);
    let mut shape = Vec::new();
    let objects: Vec<(String, String, String)> = conn
        .prepare(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .expect("prepare")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (kind, name, table) in objects {
        match kind.as_str() {
            "table" => {
                let mut columns: Vec<String> = conn
                    .prepare(&format!(
                        "SELECT name, type, \"notnull\", coalesce(dflt_value, ''), pk FROM pragma_table_info('{name}')"
                    ))
                    .expect("prepare")
                    .query_map([], |row| {
                        Ok(format!(
                            "{}:{}:{}:{}:{}",
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, i64>(4)?
                        ))
                    })
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows");
                columns.sort();
                shape.push(format!("table {name}: {}", columns.join(", ")));
            }
            "index" => {
                let columns: Vec<String> = conn
                    .prepare(&format!(
                        "SELECT coalesce(name, '<expr>') FROM pragma_index_xinfo('{name}') WHERE key = 1 ORDER BY seqno"
                    ))
                    .expect("prepare")
                    .query_map([], |row| row.get(0))
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows");
                let partial: String = conn
                    .query_row(
                        "SELECT coalesce(partial, 0) || ':' || \"unique\" FROM pragma_index_list(?1) WHERE name = ?2",
                        [&table, &name],
                        |row| row.get(0),
                    )
                    .expect("index listed");
                shape.push(format!(
                    "index {name} on {table}({}) {partial}",
                    columns.join(", ")
                ));
            }
            _ => shape.push(format!("{kind} {name} on {table}")),
        }
    }
    shape
}

fn user_version(db: &Path) -> i64 {
    sqlite(db)
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("version")
}

#[test]
fn the_fixture_is_a_version_1_file_with_rows_in_every_kind_of_table() {
    assert_fixture_has_rows(
        RELEASE_0_1_0,
        1,
        &[
            "cablecast_show",
            "cablecast_vod",
            "transcription_result",
            "monitor_cycle",
            "monitor_hourly",
            "monitor_daily",
            "archivist_meta",
        ],
    );
}

#[test]
fn the_schema_2_fixture_has_alerts_messages_silences_and_queued_changes() {
    assert_fixture_has_rows(
        SCHEMA_2,
        2,
        &[
            "cablecast_show",
            "cablecast_vod",
            "transcription_result",
            "alert",
            "alert_message",
            "alert_delivery",
            "alert_silence",
            "alert_change",
            "archivist_meta",
        ],
    );
}

fn has_index(db: &Path, name: &str) -> bool {
    sqlite(db)
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |row| row.get::<_, i64>(0),
        )
        .expect("reads")
        == 1
}

fn assert_fixture_has_rows(name: &str, version: i64, tables: &[&str]) {
    let scratch = Scratch::new();
    let db = copy_of_fixture(&scratch, name);
    assert_eq!(user_version(&db), version);
    let before = contents(&db);
    for &table in tables {
        let (_, rows) = before
            .get(table)
            .unwrap_or_else(|| panic!("{table} in {name}"));
        assert!(!rows.is_empty(), "the fixture has rows in {table}");
    }
}

#[test]
fn a_0_1_0_database_upgrades_in_place_and_keeps_every_row() {
    upgrades_in_place_and_keeps_every_row(RELEASE_0_1_0);
}

#[test]
fn a_schema_2_database_upgrades_in_place_and_keeps_every_row() {
    upgrades_in_place_and_keeps_every_row(SCHEMA_2);
}

fn upgrades_in_place_and_keeps_every_row(name: &str) {
    let scratch = Scratch::new();
    let db = copy_of_fixture(&scratch, name);
    let before = contents(&db);
    assert!(!has_index(&db, "idx_show_event_date"));

    let out = run_on(&db, &["init"]);
    assert!(out.status.success(), "init: {}", stderr(&out));
    assert_eq!(user_version(&db), archivist::store::SCHEMA_VERSION);
    assert_eq!(integrity(&db), "ok");
    // Version 4: the shows that aired with no VOD are read by event date.
    assert!(has_index(&db, "idx_show_event_date"));

    let after = contents(&db);
    for (table, (columns, rows)) in &before {
        let (now_columns, now_rows) = after
            .get(table)
            .unwrap_or_else(|| panic!("table {table} survives the upgrade"));
        assert_eq!(
            &now_columns[..columns.len()],
            &columns[..],
            "{table} keeps its columns in place"
        );
        assert_eq!(now_rows.len(), rows.len(), "{table} keeps every row");
        for (old, new) in rows.iter().zip(now_rows) {
            assert_eq!(&new[..old.len()], &old[..], "{table} keeps every value");
        }
    }

    // The upgrade is done once: a second start changes nothing.
    let out = run_on(&db, &["init"]);
    assert!(out.status.success(), "second init: {}", stderr(&out));
    assert_eq!(contents(&db), after);

    // And the upgraded file answers as it did.
    let out = run_on(&db, &["status", "--json"]);
    assert!(out.status.success(), "status: {}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("status JSON");
    let vods = before["cablecast_vod"].1.len() as u64;
    assert_eq!(status["total_vods"].as_u64(), Some(vods), "{status}");
}

#[test]
fn an_upgraded_file_has_the_shape_of_a_new_one() {
    upgraded_has_the_shape_of_a_new_file(RELEASE_0_1_0);
}

#[test]
fn an_upgraded_schema_2_file_has_the_shape_of_a_new_one() {
    upgraded_has_the_shape_of_a_new_file(SCHEMA_2);
}

fn upgraded_has_the_shape_of_a_new_file(name: &str) {
    let scratch = Scratch::new();
    let upgraded = copy_of_fixture(&scratch, name);
    let out = run_on(&upgraded, &["init"]);
    assert!(out.status.success(), "init: {}", stderr(&out));
    let fresh = scratch.path("fresh.db");
    let out = run_on(&fresh, &["init"]);
    assert!(out.status.success(), "init: {}", stderr(&out));
    let (upgraded, fresh) = (shape(&upgraded), shape(&fresh));
    let missing: Vec<_> = fresh.iter().filter(|s| !upgraded.contains(s)).collect();
    let extra: Vec<_> = upgraded.iter().filter(|s| !fresh.contains(s)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "upgraded file differs from a new one:\n missing {missing:#?}\n extra {extra:#?}"
    );
}
