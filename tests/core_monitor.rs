//! The monitoring cycle against a Cablecast-shaped server on loopback: the
//! database ends equal to what the server says, VOD for VOD, through state
//! changes, removals and every kind of server failure.

use std::sync::Arc;
use std::time::Duration;

use archivist::demo::{DemoStation, Fault, StationOptions};
use archivist::monitor::Monitor;
use archivist::status::StatusBoard;
use archivist::store::{Access, Store};

use crate::support::child::Running;
use crate::support::run_on;
use crate::support::{
    self, archivist, counts_by_state, served_vods, single_run, sqlite, stderr, stored_vods, Scratch,
};
use crate::web_support::monitor_settings;

fn monitor(db: &std::path::Path, api_url: &str) -> (Monitor, Arc<StatusBoard>) {
    let store = Arc::new(Store::open(db, Access::ReadWrite).expect("store opens"));
    let board = Arc::new(StatusBoard::new(store));
    (
        Monitor::new(monitor_settings(api_url), Arc::clone(&board)),
        board,
    )
}

#[test]
fn single_run_makes_the_database_equal_to_the_server() {
    let scratch = Scratch::new();
    let station = support::station(250);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    let shows: i64 = sqlite(&scratch.db())
        .query_row("SELECT count(*) FROM cablecast_show", [], |r| r.get(0))
        .expect("count");
    assert_eq!(shows as usize, station.catalogue().shows.len());
    // Every VOD points at its show row.
    let orphans: i64 = sqlite(&scratch.db())
        .query_row(
            "SELECT count(*) FROM cablecast_vod v LEFT JOIN cablecast_show s ON s.id = v.show_id
             WHERE s.cablecast_id IS NOT v.show_cablecast_id",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(orphans, 0);

    // `status --json` counts equal the GROUP BY an engineer would run.
    let out = run_on(&scratch.db(), &["status", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut total = 0;
    for (state, n) in counts_by_state(&scratch.db()) {
        assert_eq!(report["by_state"][&state], n, "{state}");
        total += n;
    }
    assert_eq!(report["total_vods"], total);
    let complete = report["by_state"]["complete"].as_i64().expect("complete");
    // Disabled VODs are left out: they are never meant to publish.
    let disabled = report["by_state"]["disabled"].as_i64().expect("disabled");
    assert_eq!(report["disabled_vods"], disabled);
    let expected = (complete as f64 * 10_000.0 / (total - disabled) as f64).round() / 100.0;
    assert_eq!(report["sync_percentage"].as_f64(), Some(expected));
    assert_eq!(report["last_cycle"]["cablecast_reachable"], true);
}

#[test]
fn state_changes_between_cycles_are_written_in_steady_state() {
    let scratch = Scratch::new();
    let station = support::station(120);
    let (mut monitor, board) = monitor(&scratch.db(), &station.api_url());
    let first = monitor.cycle();
    assert!(first.is_current(), "{:?}", first.cablecast_error);
    assert!(first.catalog.is_some());

    // Move a few in-flight VODs on, as the station's encoder would.
    let moved: Vec<i64> = {
        let mut catalogue = station.catalogue();
        let ids: Vec<i64> = catalogue
            .vods
            .iter()
            .filter(|v| v.state == "processing" || v.state == "queued")
            .take(3)
            .map(|v| v.id)
            .collect();
        for id in &ids {
            let vod = catalogue.vod_mut(*id).expect("vod");
            vod.state = "complete".into();
            vod.percent = 1.0;
        }
        ids
    };
    assert!(!moved.is_empty());
    let stats_before = board.sync_stats().expect("stats");
    let second = monitor.cycle();
    assert!(second.is_current());
    assert!(
        second.catalog.is_none(),
        "no catalogue pass within the catalogue interval"
    );
    assert_eq!(second.refresh.changed, moved.len());
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    let stats_after = board.sync_stats().expect("stats");
    assert_eq!(
        stats_after.completed_vods,
        stats_before.completed_vods + moved.len() as u64
    );
    // Steady state: the in-flight list, the figures, the cycle record.
    assert!(
        second.reads_and_records <= 3,
        "{} statements",
        second.reads_and_records
    );
    // HTTP: the in-flight VODs in one read by id (fewer than 100 of them),
    // the search for changed shows and the read of the few it names; the
    // connection check came from the cache.
    assert!(second.refresh.checked < 100);
    assert!(second.changes.is_some());
    assert_eq!(second.record.http_calls, 3);

    // Nothing moved: nothing is written, and the figures come from the cache.
    let third = monitor.cycle();
    assert_eq!(third.refresh.changed, 0);
    assert_eq!(third.batch_write_statements, 0);
    assert!(third.reads_and_records <= 3);
}

#[test]
fn changes_by_another_process_are_never_served_stale() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let (mut monitor, board) = monitor(&scratch.db(), &station.api_url());
    monitor.cycle();
    let before = board.sync_stats().expect("stats");
    assert_eq!(board.sync_stats().expect("cached"), before);
    // An engineer fixes a row by hand in sqlite3.
    sqlite(&scratch.db())
        .execute("UPDATE cablecast_vod SET vod_state = 'complete' WHERE vod_state <> 'complete' AND id = (SELECT min(id) FROM cablecast_vod WHERE vod_state <> 'complete')", [])
        .expect("update");
    let after = board.sync_stats().expect("stats");
    assert_eq!(after.completed_vods, before.completed_vods + 1);
}

#[test]
fn unrecognised_states_are_stored_as_sent_and_counted_as_unknown() {
    let scratch = Scratch::new();
    let station = support::station(20);
    let id = {
        let mut catalogue = station.catalogue();
        let vod = &mut catalogue.vods[0];
        vod.state = "transcoding".into();
        vod.id
    };
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stored: String = sqlite(&scratch.db())
        .query_row(
            "SELECT vod_state FROM cablecast_vod WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("row");
    assert_eq!(stored, "transcoding");
    assert!(
        stderr(&out).contains("transcoding"),
        "a warning names the value"
    );
    let out = run_on(&scratch.db(), &["status", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let unknown_in_db: i64 = sqlite(&scratch.db())
        .query_row(
            "SELECT count(*) FROM cablecast_vod WHERE vod_state IN ('unknown', 'transcoding')",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(report["by_state"]["unknown"], unknown_in_db);
    assert!(report["by_state"].get("transcoding").is_none());
}

#[test]
fn removals_wait_for_a_complete_pass() {
    let scratch = Scratch::new();
    let station = support::station(60);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success());
    let (gone_show, gone_vod) = {
        let mut catalogue = station.catalogue();
        let show = catalogue.shows[5].id;
        // A published VOD: the refresh does not ask about it, so only the
        // catalogue pass can notice it is gone.
        let vod = catalogue
            .vods
            .iter()
            .find(|v| v.state == "complete" && v.show != show)
            .expect("a complete VOD")
            .id;
        assert!(catalogue.remove_show(show));
        assert!(catalogue.remove_vod(vod));
        (show, vod)
    };
    // A pass whose listing comes up short removes nothing.
    station.set_fault(Fault::CountTooLarge);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(stderr(&out).contains("listed only"), "{}", stderr(&out));
    let present: i64 = sqlite(&scratch.db())
        .query_row(
            "SELECT count(*) FROM cablecast_vod WHERE id = ?1",
            [gone_vod],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(present, 1, "a partial pass removed a VOD");
    // A complete pass removes them.
    station.set_fault(Fault::None);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    let shows: i64 = sqlite(&scratch.db())
        .query_row(
            "SELECT count(*) FROM cablecast_show WHERE cablecast_id = ?1",
            [gone_show],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(shows, 0);
}

#[test]
fn a_vod_deleted_upstream_is_removed_on_refresh() {
    let scratch = Scratch::new();
    let station = support::station(50);
    let (mut monitor, _) = monitor(&scratch.db(), &station.api_url());
    monitor.cycle();
    let id = {
        let mut catalogue = station.catalogue();
        let id = catalogue
            .vods
            .iter()
            .find(|v| v.state == "processing")
            .expect("processing vod")
            .id;
        catalogue.remove_vod(id);
        id
    };
    let report = monitor.cycle();
    assert_eq!(report.refresh.removed, 1);
    assert!(report.is_current());
    assert_eq!(
        stored_vods(&scratch.db())
            .iter()
            .filter(|v| v.0 == id)
            .count(),
        0
    );
}

/// Every failure keeps the last known state exactly and exits 1.
#[test]
fn server_failures_keep_the_last_known_state() {
    let scratch = Scratch::new();
    let station = support::station(80);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success());
    let known = stored_vods(&scratch.db());
    let updated_at = |db: &std::path::Path| -> Vec<String> {
        let conn = sqlite(db);
        let mut select = conn
            .prepare("SELECT updated_at FROM cablecast_vod ORDER BY id")
            .expect("prepare");
        let rows = select.query_map([], |r| r.get(0)).expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    };
    let stamps = updated_at(&scratch.db());
    // The server now reports everything complete, but answers badly.
    for vod in station.catalogue().vods.iter_mut() {
        vod.state = "complete".into();
        vod.percent = 1.0;
    }
    for fault in [
        Fault::Status(500),
        Fault::Status(503),
        Fault::TruncatedJson,
        Fault::NotJson,
        Fault::WrongShape,
    ] {
        station.set_fault(fault.clone());
        let out = single_run(&scratch.db(), &station.api_url(), &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{fault:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("archivist:")).count(),
            1,
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            stored_vods(&scratch.db()),
            known,
            "{fault:?} changed the database"
        );
        assert_eq!(
            updated_at(&scratch.db()),
            stamps,
            "{fault:?} touched updated_at"
        );
        let reachable: bool = sqlite(&scratch.db())
            .query_row(
                "SELECT cablecast_reachable FROM monitor_cycle ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("cycle");
        assert!(!reachable, "{fault:?}");
    }
    // Recovery: the first complete cycle brings the database back to the server.
    station.set_fault(Fault::None);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn a_refresh_that_cannot_read_answers_writes_nothing() {
    let scratch = Scratch::new();
    let station = support::station(80);
    // No look for changed shows: it reads VODs beside their shows, which
    // this fault leaves readable.
    let store = Arc::new(Store::open(&scratch.db(), Access::ReadWrite).expect("store opens"));
    let settings = archivist::config::MonitorSettings {
        changes_interval: Duration::from_secs(86_400),
        ..monitor_settings(&station.api_url())
    };
    let mut monitor = Monitor::new(settings, Arc::new(StatusBoard::new(store)));
    assert!(monitor.cycle().is_current());
    let stamps = |db: &std::path::Path| -> Vec<(i64, String, String)> {
        let conn = sqlite(db);
        let mut select = conn
            .prepare("SELECT id, vod_state, updated_at FROM cablecast_vod ORDER BY id")
            .expect("prepare");
        let rows = select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    };
    let before = stamps(&scratch.db());
    // The in-flight VODs finish; terminal ones wait for the next catalogue
    // pass by design.
    for vod in station.catalogue().vods.iter_mut() {
        if !matches!(
            vod.state.as_str(),
            "complete" | "error" | "permanentFailure" | "disabled"
        ) {
            vod.state = "complete".into();
            vod.percent = 1.0;
        }
    }
    station.set_fault(Fault::VodStatus(502));
    let report = monitor.cycle();
    assert!(!report.is_current());
    assert!(report.refresh.failed > 0);
    assert!(!report.record.cablecast_reachable);
    assert_eq!(stamps(&scratch.db()), before, "a failed refresh wrote rows");
    station.set_fault(Fault::None);
    let report = monitor.cycle();
    assert!(report.is_current(), "{:?}", report.cablecast_error);
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn unreachable_servers_and_ones_silent_past_the_request_timeout_fail() {
    let scratch = Scratch::new();
    // Nothing listens on a port that was just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = single_run(
        &scratch.db(),
        &format!("http://127.0.0.1:{port}/CablecastAPI/v1"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unreachable"), "{}", stderr(&out));

    let station = DemoStation::start(StationOptions {
        shows: 5,
        latency: Duration::from_secs(5),
        ..StationOptions::default()
    })
    .expect("station");
    let out = archivist()
        .arg("--db")
        .arg(scratch.db())
        .args(["monitor", "--single-run", "--http-timeout", "1"])
        .env("CABLECAST_API_URL", station.api_url())
        .output()
        .expect("runs");
    // The server would answer after 5 s: failing with "no answer" shows the
    // 1 s request timeout cut every try short.
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no answer"), "{}", stderr(&out));
}

#[test]
fn refused_credentials_are_a_config_error_and_the_password_stays_secret() {
    let scratch = Scratch::new();
    let station = DemoStation::start(StationOptions {
        shows: 10,
        credentials: Some(("station".into(), "right-password".into())),
        ..StationOptions::default()
    })
    .expect("station");
    let out = single_run(
        &scratch.db(),
        &station.api_url(),
        &[
            ("CABLECAST_USER_ID", "station"),
            ("CABLECAST_PASSWORD", "wrong-pa55word"),
            ("ARCHIVIST_LOG_LEVEL", "trace"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("CABLECAST_USER_ID"), "{err}");
    assert!(!err.contains("wrong-pa55word"), "{err}");
    assert!(
        !err.contains("c3RhdGlvbjp3cm9uZy1wYTU1d29yZA"),
        "the Basic header leaked: {err}"
    );
    let out = single_run(
        &scratch.db(),
        &station.api_url(),
        &[
            ("CABLECAST_USER_ID", "station"),
            ("CABLECAST_PASSWORD", "right-password"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn a_location_keeps_only_its_own_shows() {
    let scratch = Scratch::new();
    let station = support::station(40);
    let (other_show, other_vods) = {
        let mut catalogue = station.catalogue();
        let show = &mut catalogue.shows[3];
        show.location = 2;
        (show.id, show.vods.clone())
    };
    let out = single_run(
        &scratch.db(),
        &station.api_url(),
        &[("CABLECAST_LOCATION_ID", "1")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = sqlite(&scratch.db());
    let shows: i64 = conn
        .query_row(
            "SELECT count(*) FROM cablecast_show WHERE cablecast_id = ?1",
            [other_show],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(shows, 0);
    for vod in other_vods {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM cablecast_vod WHERE id = ?1",
                [vod],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(n, 0, "VOD {vod} of another location was kept");
    }
}

#[test]
fn a_write_lock_held_by_another_process_delays_but_loses_nothing() {
    let scratch = Scratch::new();
    let station = support::station(40);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success());
    for vod in station.catalogue().vods.iter_mut() {
        vod.state = "complete".into();
        vod.percent = 1.0;
    }
    // An engineer's sqlite3 session holds the write lock ...
    let locker = sqlite(&scratch.db());
    locker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let mut command = support::archivist();
    command
        .arg("--db")
        .arg(scratch.db())
        .args(["monitor", "--single-run", "--http-timeout", "2"])
        .env("CABLECAST_API_URL", station.api_url());
    let mut monitor = Running::start(command);
    // ... past one busy timeout: the monitor says so when its first wait
    // for the lock ran out (a state, not a guess at how long that takes).
    monitor.wait_for("locked by another process", 1, Duration::from_secs(60));
    locker.execute_batch("COMMIT").expect("unlock");
    let status = monitor.finish(Duration::from_secs(60));
    assert!(status.success(), "{}", monitor.log());
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn a_deletion_while_a_pass_pages_never_removes_a_vod_the_server_still_has() {
    let scratch = Scratch::new();
    // Three pages of VODs.
    let station = support::station(250);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The VOD that sits on the first page boundary: when an earlier one is
    // deleted mid-pass, it slides from the second page onto the first.
    let boundary = station.catalogue().vods[archivist::cablecast::PAGE_SIZE].id;
    station.set_fault(Fault::DeleteWhileListing);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("changed while it was being read"),
        "{}",
        stderr(&out)
    );
    assert!(
        stored_vods(&scratch.db()).iter().any(|v| v.0 == boundary),
        "VOD {boundary} is still on the server but was removed"
    );
    // The next complete pass makes the database equal to the server.
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

/// A monitor that evaluates alerts after each cycle (recorded, sent
/// nowhere), as a station runs it.
fn watched(db: &std::path::Path, api_url: &str) -> Monitor {
    use archivist::alert::{AlertSettings, AlertWatch};
    let store = Arc::new(Store::open(db, Access::ReadWrite).expect("store opens"));
    let alerts = AlertWatch::new(Arc::clone(&store), AlertSettings::default(), None);
    Monitor::new(monitor_settings(api_url), Arc::new(StatusBoard::new(store))).with_alerts(alerts)
}

/// Fails `n` VODs of the station that are not disabled; returns their ids.
fn fail_vods(station: &DemoStation, n: usize) -> Vec<i64> {
    let mut catalogue = station.catalogue();
    let mut failed = Vec::new();
    for vod in catalogue.vods.iter_mut() {
        if vod.state == "disabled" {
            continue;
        }
        if failed.len() < n {
            vod.state = "error".into();
            failed.push(vod.id);
        } else if matches!(vod.state.as_str(), "error" | "permanentFailure") {
            vod.state = "complete".into();
        }
    }
    failed
}

#[test]
fn failed_vods_with_a_firing_alert_cost_one_request_a_cycle_however_many() {
    let plain_db = Scratch::new();
    let watched_db = Scratch::new();
    let station = support::station(300);
    // More failures than one read by id holds.
    let failed = fail_vods(&station, 250);
    assert_eq!(failed.len(), 250);
    let (mut plain, _) = monitor(&plain_db.db(), &station.api_url());
    let mut watched = watched(&watched_db.db(), &station.api_url());
    assert!(plain.cycle().is_current());
    assert!(watched.cycle().is_current());
    assert_eq!(
        support::number(
            &watched_db.db(),
            "SELECT count(*) FROM alert WHERE kind = 'vod_failed' AND state = 'firing'"
        ),
        250
    );
    // The same station and the same cycles: the failed VODs are checked one
    // group of ids (one request) per cycle, in turn, never all at once.
    let mut checked = 0;
    for _ in 0..3 {
        let without = plain.cycle();
        let with = watched.cycle();
        assert!(with.is_current(), "{:?}", with.cablecast_error);
        assert_eq!(with.record.http_calls, without.record.http_calls + 1);
        assert_eq!(
            with.refresh.checked - without.refresh.checked,
            with.refresh.failed_checked
        );
        checked += with.refresh.failed_checked;
    }
    // Three cycles went round all 250 (groups of 100, 100 and 50).
    assert_eq!(checked, 250);
}

#[test]
fn a_failed_vod_deleted_in_cablecast_resolves_as_removed_within_two_cycles() {
    let scratch = Scratch::new();
    let station = support::station(40);
    let failed = fail_vods(&station, 3);
    let hook = crate::support::receiver::Receiver::start();
    let monitor = Running::monitor(
        &scratch.db(),
        &station.api_url(),
        &[],
        &[
            ("ARCHIVIST_NOTIFY_URLS", &hook.url("http", "/hook")),
            ("ARCHIVIST_ALERTS_OFF", "vod_stuck"),
        ],
    );
    let found = hook.wait_for(1, Duration::from_secs(90));
    assert_eq!(found[0].json()["count"], 3, "{:?}", found[0].json());
    // Staff delete one failed VOD in Cablecast; no catalogue pass is due
    // for a day.
    assert!(station.catalogue().remove_vod(failed[1]));
    let cycle = "INFO  cycle ";
    let removed_at = monitor.count(cycle);
    monitor.wait_for(cycle, removed_at + 2, Duration::from_secs(90));
    let firing = support::number(
        &scratch.db(),
        "SELECT count(*) FROM alert WHERE kind = 'vod_failed' AND state = 'firing'",
    );
    assert_eq!(firing, 2, "the deleted VOD's alert still fires");
    assert_eq!(
        support::number(
            &scratch.db(),
            &format!(
                "SELECT count(*) FROM cablecast_vod WHERE id = {}",
                failed[1]
            )
        ),
        0
    );
    let got = hook.wait_for(2, Duration::from_secs(30));
    let resolved = got[1].json();
    assert_eq!(resolved["event"], "resolved", "{resolved}");
    assert!(
        resolved["title"]
            .as_str()
            .is_some_and(|t| t.contains("removed")),
        "{resolved}"
    );
    assert_eq!(resolved["alert_ids"].as_array().map(Vec::len), Some(1));
}
