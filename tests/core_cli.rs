//! The command line: exit codes, one-line errors, the database file's schema
//! as engineers and other tools see it.

use std::time::Duration;

use crate::support::child::Running;
use crate::support::http::get;
use crate::support::run_on;
use crate::support::{self, archivist, sqlite, stderr, stdout, Scratch};

#[test]
fn version_names_the_sqlite_it_carries() {
    let out = archivist().arg("--version").output().expect("runs");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("archivist "), "{text}");
    assert!(text.contains("SQLite 3."), "{text}");
}

#[test]
fn unknown_command_is_a_usage_error() {
    let out = archivist().arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("frobnicate"), "{err}");
}

#[test]
fn monitor_without_cablecast_url_names_the_setting() {
    let scratch = Scratch::new();
    let out = run_on(&scratch.db(), &["monitor", "--single-run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CABLECAST_API_URL"), "{err}");
    assert!(
        !scratch.db().exists(),
        "a config error must not create the database"
    );
}

/// Every malformed setting is a unit test of `cli::parse`; this one proves
/// the binary keeps a secret in the URL out of its error.
#[test]
fn credentials_in_the_url_are_refused_without_echoing_them() {
    let out = archivist()
        .args(["monitor", "--single-run"])
        .env(
            "CABLECAST_API_URL",
            "https://station:secret@cc.example.org/v1",
        )
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("secret"));
}

#[test]
fn init_creates_the_documented_schema_idempotently() {
    let scratch = Scratch::new();
    for _ in 0..2 {
        let out = run_on(&scratch.db(), &["init"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let conn = sqlite(&scratch.db());
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, archivist::store::SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let index_columns = |index: &str| -> (String, Vec<String>) {
        let table: String = conn
            .query_row(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [index],
                |r| r.get(0),
            )
            .unwrap_or_else(|_| panic!("index {index} exists"));
        let mut info = conn
            .prepare(&format!("PRAGMA index_info({index})"))
            .expect("index_info");
        let columns = info
            .query_map([], |r| r.get::<_, String>(2))
            .expect("columns")
            .collect::<Result<Vec<_>, _>>()
            .expect("columns read");
        (table, columns)
    };
    assert_eq!(
        index_columns("idx_vod_state"),
        ("cablecast_vod".into(), vec!["vod_state".into()])
    );
    assert_eq!(
        index_columns("idx_transcription_completed"),
        ("transcription_result".into(), vec!["completed_at".into()])
    );
    assert_eq!(
        index_columns("idx_show_cablecast_id"),
        ("cablecast_show".into(), vec!["cablecast_id".into()])
    );
    let columns = |table: &str| -> Vec<(String, bool)> {
        let mut info = conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .expect("table_info");
        info.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, bool>(3)?)))
            .expect("columns")
            .collect::<Result<Vec<_>, _>>()
            .expect("columns read")
    };
    let required = |table: &str, names: &[&str], not_null: &[&str]| {
        let found = columns(table);
        for name in names {
            let column = found.iter().find(|(n, _)| n == name);
            let column = column.unwrap_or_else(|| panic!("{table}.{name} exists"));
            assert_eq!(
                column.1,
                not_null.contains(name),
                "{table}.{name} NOT NULL-ness"
            );
        }
    };
    required(
        "cablecast_show",
        &[
            "id",
            "cablecast_id",
            "location_id",
            "title",
            "event_date",
            "last_modified",
        ],
        &["cablecast_id", "title"],
    );
    required(
        "cablecast_vod",
        &[
            "id",
            "show_id",
            "vod_state",
            "percent_complete",
            "error_message",
            "url",
            "length",
            "state_changed_at",
        ],
        &["vod_state"],
    );
    required(
        "transcription_result",
        &[
            "id",
            "video_path",
            "output_path",
            "status",
            "completed_at",
            "error",
            "show_id",
        ],
        &["video_path", "status"],
    );
}

#[test]
fn newer_foreign_and_broken_files_are_refused_untouched() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let out = run_on(&db, &["init"]);
    assert!(out.status.success());
    sqlite(&db)
        .execute_batch("PRAGMA user_version = 99")
        .expect("bump version");
    let out = run_on(&db, &["init"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("newer") && err.contains(&db.display().to_string()),
        "{err}"
    );
    let status = run_on(&db, &["status"]);
    assert_eq!(status.status.code(), Some(1));

    let foreign = scratch.path("other.db");
    sqlite(&foreign)
        .execute_batch("CREATE TABLE invoices (id INTEGER)")
        .expect("foreign db");
    let out = run_on(&foreign, &["init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("another program"), "{}", stderr(&out));
    let tables: i64 = sqlite(&foreign)
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .expect("tables");
    assert_eq!(tables, 1, "the foreign file was written into");

    let text = scratch.path("notes.txt");
    std::fs::write(&text, "meeting notes, not a database\n".repeat(200)).expect("write");
    let out = run_on(&text, &["init"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("not a database") && err.contains("notes.txt"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn status_reads_the_database_alone() {
    let scratch = Scratch::new();
    let missing = run_on(&scratch.db(), &["status"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("archivist init"));

    let station = support::station(40);
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(station);
    let out = run_on(&scratch.db(), &["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for key in [
        "total_vods",
        "total_shows",
        "by_state",
        "completed_vods",
        "pending_vods",
        "failed_vods",
        "sync_percentage",
        "transcriptions",
        "last_cycle",
        "performance",
    ] {
        assert!(report.get(key).is_some(), "missing {key}: {report}");
    }
    assert_eq!(report["by_state"].as_object().expect("map").len(), 9);
    for key in ["at", "cablecast_reachable", "http_calls", "sql_statements"] {
        assert!(report["last_cycle"].get(key).is_some(), "last_cycle.{key}");
    }
    for key in [
        "cache_hits",
        "cache_misses",
        "cache_hit_rate",
        "total_queries",
        "avg_query_ms",
    ] {
        assert!(
            report["performance"].get(key).is_some(),
            "performance.{key}"
        );
    }
    for key in ["total", "last_24h", "linked_to_show"] {
        assert!(
            report["transcriptions"].get(key).is_some(),
            "transcriptions.{key}"
        );
    }
    let text = run_on(&scratch.db(), &["status"]);
    assert!(stdout(&text).contains("VODs:"));
}

#[test]
fn shared_options_go_anywhere_and_values_keep_their_dashes() {
    let scratch = Scratch::new();
    let out = archivist()
        .args(["init", "--db"])
        .arg(scratch.db())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let video = scratch.path("council.mp4");
    let out = archivist()
        .arg(format!("--db={}", scratch.db().display()))
        .args(["transcriptions", "add", "--video"])
        .arg(&video)
        .args([
            "--status",
            "failed",
            "--error",
            "-5 dB audio: no speech found",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let error: String = sqlite(&scratch.db())
        .query_row("SELECT error FROM transcription_result", [], |r| r.get(0))
        .expect("row");
    assert_eq!(error, "-5 dB audio: no speech found");
    let out = archivist()
        .args(["--frobnicate", "status"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// The file as engineers open it: the system's sqlite3 CLI (Debian 12 ships
/// 3.40) reads it, checks it and can write to it (the history trigger runs).
#[test]
#[ignore = "needs the sqlite3 CLI; .ci/run runs it"]
fn the_system_sqlite3_cli_reads_checks_and_writes_the_file() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let out = support::single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cli = |sql: &str| {
        let out = std::process::Command::new("sqlite3")
            .arg(scratch.db())
            .arg(sql)
            .output()
            .expect("the sqlite3 CLI runs (.ci/run installs it)");
        assert!(out.status.success(), "sqlite3 {sql}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    assert_eq!(cli("PRAGMA integrity_check"), "ok");
    let by_state = cli("SELECT vod_state || '=' || count(*) FROM cablecast_vod GROUP BY vod_state ORDER BY vod_state");
    let expected: Vec<String> = support::counts_by_state(&scratch.db())
        .into_iter()
        .map(|(state, n)| format!("{state}={n}"))
        .collect();
    assert_eq!(by_state, expected.join("\n"));
    cli(
        "INSERT INTO monitor_cycle (started_at, finished_at, duration_ms, cablecast_reachable) \
         VALUES ('2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 1000, 1)",
    );
    assert_eq!(
        cli("SELECT cycles FROM monitor_daily WHERE bucket = '2026-01-01T00:00:00Z'"),
        "1"
    );
    // And the service still opens it afterwards.
    let status = run_on(&scratch.db(), &["status", "--json"]);
    assert!(status.status.success(), "{}", stderr(&status));
}

/// `archivist serve` on `db` (a status server with no monitor), and its
/// address.
fn serve(db: &std::path::Path, env: &[(&str, &str)]) -> (Running, std::net::SocketAddr) {
    let mut command = archivist();
    command
        .arg("--db")
        .arg(db)
        .args(["serve", "--listen", "127.0.0.1:0", "--interval", "300"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let serve = Running::start(command);
    serve.wait_for(" on http://", 1, Duration::from_secs(30));
    let log = serve.log();
    let addr = log
        .split(" on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {log}"));
    (serve, addr)
}

fn status_json(db: &std::path::Path, env: &[(&str, &str)]) -> serde_json::Value {
    let mut command = archivist();
    command.arg("--db").arg(db).args(["status", "--json"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn status_text(db: &std::path::Path, env: &[(&str, &str)]) -> String {
    let mut command = archivist();
    command.arg("--db").arg(db).arg("status");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_stopped_monitor_is_said_on_status_and_the_page_a_running_one_is_not() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(20);
    let zone = [("ARCHIVIST_TIMEZONE", "America/New_York")];
    let monitor = Running::monitor(&db, &station.api_url(), &[], &zone);
    let addr = monitor.status_addr();
    monitor.wait_for("INFO  cycle ", 3, Duration::from_secs(60));

    // Running: every surface says so, and none says stopped.
    let report = status_json(&db, &zone);
    assert_eq!(report["monitor"]["running"], true, "{report}");
    assert_eq!(report["monitor"]["last_cycle"], report["last_cycle"]["at"]);
    let text = status_text(&db, &zone);
    assert!(!text.contains("not running"), "{text}");
    let (_, api) = get(addr, "/api/status");
    assert!(api.contains(r#""monitor":{"running":true"#), "{api}");
    let (_, page) = get(addr, "/");
    assert!(
        page.contains(r#"class="pill up">Cablecast reachable<"#),
        "{page}"
    );
    assert!(!page.contains("not running"), "{page}");
    drop(monitor);

    // Stopped: its last two cycles, five minutes apart, long ago.
    sqlite(&db)
        .execute_batch(
            "DELETE FROM monitor_cycle WHERE id < (SELECT max(id) - 1 FROM monitor_cycle);
             UPDATE monitor_cycle SET started_at = '2026-01-05T10:00:00Z',
                 finished_at = '2026-01-05T10:00:01Z' WHERE id < (SELECT max(id) FROM monitor_cycle);
             UPDATE monitor_cycle SET started_at = '2026-01-05T10:05:00Z',
                 finished_at = '2026-01-05T10:05:01Z' WHERE id = (SELECT max(id) FROM monitor_cycle);",
        )
        .expect("aged");
    let since = "no monitoring cycle since 2026-01-05 05:05 EST";
    let text = status_text(&db, &zone);
    assert!(
        text.starts_with(&format!("WARNING: the monitor is not running: {since}")),
        "{text}"
    );
    let report = status_json(&db, &zone);
    assert_eq!(report["monitor"]["running"], false, "{report}");
    assert_eq!(report["monitor"]["last_cycle"], "2026-01-05T10:05:01Z");
    assert!(
        report["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("no monitoring cycle since 2026-01-05T10:05:01Z")),
        "{report}"
    );

    let (serve, addr) = serve(&db, &zone);
    let (_, page) = get(addr, "/");
    assert!(
        page.contains(r#"class="pill down">monitor not running since 2026-01-05 05:05 EST<"#),
        "{page}"
    );
    assert!(!page.contains("Cablecast reachable"), "{page}");
    let (_, api) = get(addr, "/api/status");
    assert!(api.contains(r#""monitor":{"running":false"#), "{api}");
    drop(serve);
}
