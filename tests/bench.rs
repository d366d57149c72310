//! `archivist bench`: a small run prints every section, in JSON and as a
//! table, cleans up after itself, and never changes a database it is given.
//! The figures themselves are measured, not checked here.

use archivist::store::{Access, Store};
use serde_json::Value;

use crate::support::{self, archivist, Scratch};

fn small_station(path: &std::path::Path, vods: u64) {
    let store = Store::open(path, Access::ReadWrite).expect("database opens");
    store.fill_station(vods, 7).expect("station fills");
}

#[test]
fn a_small_run_reports_every_section_as_json() {
    let scratch = Scratch::new();
    let output = archivist()
        .env("TMPDIR", scratch.dir.path())
        .args(["bench", "--vods", "300", "--runs", "1", "--json"])
        .output()
        .expect("archivist runs");
    assert!(output.status.success(), "{}", support::stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");

    assert_eq!(report["station"]["vods"], 300);
    assert!(report["station"]["shows"].as_u64().expect("shows") > 200);
    assert!(
        report["station"]["transcriptions"]
            .as_u64()
            .expect("transcriptions")
            > 0
    );
    for section in [
        "stats",
        "index",
        "in_flight",
        "connection_check",
        "connections",
    ] {
        let figures = report[section].as_array().expect(section);
        assert!(figures.len() >= 2, "{section}");
        for figure in figures {
            assert!(
                figure["median_us"].as_f64().expect("median") > 0.0,
                "{section}"
            );
        }
    }
    assert_eq!(report["stats"].as_array().expect("stats").len(), 5);
    let plan = report["aggregate_plan"].to_string();
    assert!(plan.contains("COVERING INDEX idx_vod_state"), "{plan}");
    let plan = report["in_flight_plan"].to_string();
    assert!(plan.contains("idx_vod_in_flight"), "{plan}");

    let writes = report["writes"].as_array().expect("writes");
    assert_eq!(writes.len(), 6);
    for level in ["NORMAL", "FULL"] {
        assert!(writes.iter().any(|w| w["synchronous"] == level));
    }
    assert!(writes.iter().all(|w| w["rows_per_s"].as_f64() > Some(0.0)));

    let cycle = &report["cycle"];
    let statements = cycle["sql_statements_besides_batch_writes"].as_f64();
    // The in-flight list, the figures and the cycle's record, the alert
    // evaluation's four indexed reads (silences, the change queue, the
    // stuck VODs' index, the shows with no VOD in the vod_missing window),
    // and the stored rows of the failed VODs whose alert fires (one group
    // checked per cycle).
    assert!(statements.expect("statements") <= 8.0, "{statements:?}");
    assert!(cycle["http_calls"].as_f64() > Some(0.0));
    assert!(cycle["peak_rss_kb"].as_i64() > Some(0));
    let refresh = &report["refresh"];
    assert_eq!(refresh["vods"], 30);
    assert_eq!(refresh["changed"], 30);
    assert_eq!(refresh["same_database"], true);
    // One read by id (and the look for changes) against one GET per VOD.
    assert!(refresh["http_calls"].as_i64() <= Some(3), "{refresh}");
    assert_eq!(refresh["single_http_calls"], 30);
    let changes = &report["changes"];
    assert_eq!(changes["shows_edited"], 20);
    assert!(changes["shows_saved"].as_u64() >= Some(20), "{changes}");
    assert!(changes["look_requests"].as_i64() <= Some(3), "{changes}");
    assert!(changes["pass_requests"].as_i64() >= Some(6), "{changes}");
    // Requests to Cablecast as it changes: the section is there, and its
    // figures are the targets'.
    let citizen = &report["citizen"];
    assert_eq!(citizen["quiet_searches"], 1, "{citizen}");
    assert_eq!(citizen["quiet_reads"], 0, "{citizen}");
    assert_eq!(citizen["after_bulk_reads"], 0, "{citizen}");
    assert!(citizen["new_vod_cycles"].as_u64() <= Some(2), "{citizen}");
    assert!(
        citizen["new_vod_extra_requests"].as_i64() <= Some(2),
        "{citizen}"
    );
    assert_eq!(citizen["after_outage_full_pass"], false, "{citizen}");
    assert!(citizen["flaky_reaching"].as_u64() >= Some(9), "{citizen}");
    assert!(citizen["flaky_errors"].as_u64() > Some(0), "{citizen}");

    let left: Vec<_> = std::fs::read_dir(scratch.dir.path())
        .expect("scratch lists")
        .collect();
    assert!(left.is_empty(), "the bench left files behind: {left:?}");
}

#[test]
fn a_given_database_is_measured_on_a_copy() {
    let scratch = Scratch::new();
    let db = scratch.db();
    small_station(&db, 200);
    let before = support::stored_vods(&db);
    let output = archivist()
        .env("TMPDIR", scratch.dir.path())
        .arg("--db")
        .arg(&db)
        .args(["bench", "--runs", "1"])
        .output()
        .expect("archivist runs");
    assert!(output.status.success(), "{}", support::stderr(&output));
    let table = support::stdout(&output);
    for heading in [
        "200 VODs",
        "copy of",
        "Sync figures",
        "idx_vod_state",
        "VOD state writes",
        "Connection check",
        "Database connections",
        "The in-flight selection",
        "Steady-state monitoring cycle",
        "Refresh of 20 in-flight VODs",
        "Requests to Cablecast as it changes",
    ] {
        assert!(table.contains(heading), "{heading} missing from\n{table}");
    }
    assert_eq!(support::stored_vods(&db), before);
}

#[test]
fn the_in_flight_selection_uses_its_index_and_keeps_unrecognised_states() {
    let scratch = Scratch::new();
    let db = scratch.db();
    small_station(&db, 500);
    support::sqlite(&db)
        .execute(
            "UPDATE cablecast_vod SET vod_state = 'transcoding' WHERE id = 1200",
            [],
        )
        .expect("state changes");
    let store = Store::open(&db, Access::ReadWrite).expect("database opens");
    let plan = store.in_flight_plan().expect("plan").join("; ");
    assert!(plan.contains("USING INDEX idx_vod_in_flight"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    let in_flight = store.in_flight_vods().expect("in flight");
    assert!(in_flight.iter().any(|v| v.id == 1200));
    let expected: Vec<i64> = support::stored_vods(&db)
        .into_iter()
        .filter(|(_, state, _)| {
            !matches!(
                state.as_str(),
                "complete" | "error" | "permanentFailure" | "disabled"
            )
        })
        .map(|(id, _, _)| id)
        .collect();
    let got: Vec<i64> = in_flight.iter().map(|v| v.id).collect();
    assert_eq!(got, expected);
}
