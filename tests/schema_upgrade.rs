//! The schema is shipped: a database written by release 0.1.0 (the fixture
//! `tests/fixtures/archivist-0.1.0.db`, made by that release's binary with the
//! demo station, a linked caption and a failed transcription), one written
//! by schema version 2 (`tests/fixtures/archivist-schema2.db`: the demo
//! station monitored with a webhook, so alerts firing and resolved, delivered
//! and waiting messages, a silence and a queued change), and one written by
//! release 0.2.0 (`tests/fixtures/archivist-0.2.0.db`, schema version 4:
//! `demo-station --shows 60` monitored with `--interval 1` for some twenty
//! cycles against a webhook that took the first message and answered 503 to
//! the rest, a failed VOD acknowledged with `alerts ack`, `alerts silence
//! --for 1h`, a failed `transcriptions add`, then stopped with SIGTERM), open
//! with this binary, upgrade in place, keep every row and every value, and
//! end with the same tables, columns, indexes and triggers as a new file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{integrity, run_on, sqlite, stderr, stdout, Scratch};

/// A database an earlier release wrote, kept to prove it upgrades.
struct Fixture {
    name: &'static str,
    version: i64,
    /// The kinds of tables it holds rows in.
    tables: &'static [&'static str],
}

/// Every fixture, oldest first.
const FIXTURES: &[Fixture] = &[
    // Release 0.1.0 (schema version 1).
    Fixture {
        name: "archivist-0.1.0.db",
        version: 1,
        tables: &[
            "cablecast_show",
            "cablecast_vod",
            "transcription_result",
            "monitor_cycle",
            "monitor_hourly",
            "monitor_daily",
            "archivist_meta",
        ],
    },
    // Schema version 2, with alerts, their outbox and silences.
    Fixture {
        name: "archivist-schema2.db",
        version: 2,
        tables: &[
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
    },
    // Release 0.2.0 (schema version 4), with VOD events, destinations and
    // an acknowledged failure.
    Fixture {
        name: "archivist-0.2.0.db",
        version: 4,
        tables: &[
            "cablecast_show",
            "cablecast_vod",
            "vod_event",
            "transcription_result",
            "monitor_cycle",
            "monitor_hourly",
            "monitor_daily",
            "alert",
            "alert_message",
            "alert_message_alert",
            "alert_delivery",
            "alert_destination",
            "alert_silence",
            "archivist_meta",
        ],
    },
];

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
fn every_fixture_has_its_version_and_rows_in_every_kind_of_table_it_holds() {
    for fixture in FIXTURES {
        assert_fixture_has_rows(fixture);
    }
}

/// The 0.2.0 file holds what a station running that release gathers:
/// a delivered and a waiting message, an acknowledged failed VOD, a silence,
/// a failed transcription and a stuck VOD.
#[test]
fn the_0_2_0_fixture_has_deliveries_an_acknowledgement_and_a_failed_transcription() {
    let scratch = Scratch::new();
    let db = copy_of_fixture(&scratch, "archivist-0.2.0.db");
    let count = |sql: &str| -> i64 {
        sqlite(&db)
            .query_row(sql, [], |row| row.get(0))
            .expect("counts")
    };
    for sql in [
        "SELECT count(*) FROM alert_delivery WHERE delivered_at IS NOT NULL",
        "SELECT count(*) FROM alert_delivery WHERE delivered_at IS NULL AND attempts > 0",
        "SELECT count(*) FROM alert WHERE kind = 'vod_failed' AND acked_at IS NOT NULL",
        "SELECT count(*) FROM alert WHERE kind = 'vod_stuck'",
        "SELECT count(*) FROM transcription_result WHERE status = 'failed' AND error IS NOT NULL",
    ] {
        assert!(count(sql) > 0, "the fixture answers {sql}");
    }
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

fn assert_fixture_has_rows(fixture: &Fixture) {
    let Fixture {
        name,
        version,
        tables,
    } = fixture;
    let scratch = Scratch::new();
    let db = copy_of_fixture(&scratch, name);
    assert_eq!(user_version(&db), *version, "{name}'s schema version");
    let before = contents(&db);
    for &table in *tables {
        let (_, rows) = before
            .get(table)
            .unwrap_or_else(|| panic!("{table} in {name}"));
        assert!(!rows.is_empty(), "{name} has rows in {table}");
    }
}

#[test]
fn every_fixture_upgrades_in_place_and_keeps_every_row() {
    for fixture in FIXTURES {
        upgrades_in_place_and_keeps_every_row(fixture);
    }
}

fn upgrades_in_place_and_keeps_every_row(fixture: &Fixture) {
    let name = fixture.name;
    let scratch = Scratch::new();
    let db = copy_of_fixture(&scratch, name);
    let before = contents(&db);
    assert_eq!(
        has_index(&db, "idx_show_event_date"),
        fixture.version >= 4,
        "{name}: the event date index came with version 4"
    );

    let out = run_on(&db, &["init"]);
    assert!(out.status.success(), "{name} init: {}", stderr(&out));
    assert_eq!(user_version(&db), archivist::store::SCHEMA_VERSION);
    assert_eq!(integrity(&db), "ok");
    // Version 4: the shows that aired with no VOD are read by event date.
    assert!(has_index(&db, "idx_show_event_date"));

    let after = contents(&db);
    for (table, (columns, rows)) in &before {
        let (now_columns, now_rows) = after
            .get(table)
            .unwrap_or_else(|| panic!("{name}: table {table} survives the upgrade"));
        assert_eq!(
            &now_columns[..columns.len()],
            &columns[..],
            "{name}: {table} keeps its columns in place"
        );
        assert_eq!(
            now_rows.len(),
            rows.len(),
            "{name}: {table} keeps every row"
        );
        for (old, new) in rows.iter().zip(now_rows) {
            assert_eq!(
                &new[..old.len()],
                &old[..],
                "{name}: {table} keeps every value"
            );
        }
    }

    // The upgrade is done once: a second start changes nothing.
    let out = run_on(&db, &["init"]);
    assert!(out.status.success(), "{name} second init: {}", stderr(&out));
    assert_eq!(
        contents(&db),
        after,
        "{name}: a second start changes nothing"
    );

    // And the upgraded file answers as it did.
    let out = run_on(&db, &["status", "--json"]);
    assert!(out.status.success(), "{name} status: {}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("status JSON");
    let vods = before["cablecast_vod"].1.len() as u64;
    assert_eq!(
        status["total_vods"].as_u64(),
        Some(vods),
        "{name}: {status}"
    );
}

#[test]
fn every_upgraded_fixture_has_the_shape_of_a_new_file() {
    for fixture in FIXTURES {
        upgraded_has_the_shape_of_a_new_file(fixture.name);
    }
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
        "upgraded {name} differs from a new one:\n missing {missing:#?}\n extra {extra:#?}"
    );
}
