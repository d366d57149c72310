//! Cablecast misbehaving under a running monitor: HTML error pages, refused
//! credentials, broken JSON, connections reset mid-body, answers that never
//! come, bodies far too large, absurd values and a server that ignores
//! paging. The monitor must keep running, log each change of state once,
//! keep the last known state, say Cablecast is down in the database and
//! on `/healthz`, keep its rhythm, and come back to exactly what
//! the server says on the first full cycle after recovery.

use std::time::{Duration, Instant};

use archivist::demo::{DemoStation, Fault, StationOptions};

use crate::support::child::{Line, Running};
use crate::support::http;
use crate::support::raw::{RawMode, RawStation, Rewrite};
use crate::support::{
    self, cycles, last_reachable, number, served_vods, single_run, stderr, stored_vods,
    wait_for_cycles, wait_until, Scratch,
};

/// Time allowed for anything a 1 s monitor should do within a few cycles.
const PATIENCE: Duration = Duration::from_secs(20);

/// The longest gap allowed between two cycle lines of a `--interval 1`
/// monitor: the interval plus scheduling slack on a busy two-core machine,
/// well short of the 3.75 s that three 1 s tries with backoff would take.
const MAX_GAP: Duration = Duration::from_millis(2500);

/// Asserts the cycle log lines seen since `since` are never further apart
/// than `MAX_GAP`.
fn assert_rhythm(lines: &[Line], since: Instant, what: &str) {
    let starts: Vec<Instant> = lines
        .iter()
        .filter(|l| l.at >= since && l.text.contains(" INFO  cycle "))
        .map(|l| l.at)
        .collect();
    assert!(starts.len() >= 2, "{what}: fewer than two cycles seen");
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap <= MAX_GAP,
            "{what}: {gap:?} between two cycles of a 1 s monitor"
        );
    }
}

/// Holds one fault until the monitor has logged it and run three more
/// cycles; then checks it said so once, kept the last known state and kept
/// its rhythm.
fn ride_out(
    monitor: &mut Running,
    db: &std::path::Path,
    needle: &str,
    known: &[(i64, String, Option<f64>)],
) {
    monitor.wait_for(needle, 1, PATIENCE);
    let since = Instant::now();
    let before = cycles(db);
    assert!(
        wait_for_cycles(db, before, 3, PATIENCE),
        "{needle}: cycles stopped; log:\n{}",
        monitor.log()
    );
    assert!(monitor.is_running(), "{needle}: the monitor exited");
    assert_eq!(
        monitor.count(needle),
        1,
        "{needle}: logged more than once per change of state:\n{}",
        monitor.log()
    );
    assert_eq!(last_reachable(db), Some(false), "{needle}: not marked down");
    let (code, health) = http::get(monitor.status_addr(), "/healthz");
    assert!(
        code == 200 && health.contains("Cablecast not reachable"),
        "{needle}: /healthz does not say Cablecast is down: {health}"
    );
    assert_eq!(
        stored_vods(db),
        known,
        "{needle}: the last known state moved"
    );
    assert_rhythm(&monitor.lines(), since, needle);
}

#[test]
fn a_running_monitor_logs_each_outage_once_and_recovers_to_the_server() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(120);
    let mut monitor = Running::monitor(&db, &station.api_url(), &[], &[]);
    assert!(
        wait_until(PATIENCE, || last_reachable(&db) == Some(true)),
        "{}",
        monitor.log()
    );
    assert_eq!(stored_vods(&db), served_vods(&station));
    let known = stored_vods(&db);

    station.set_fault(Fault::Status(500));
    monitor.wait_for("HTTP 500", 1, PATIENCE);
    // Cablecast moves on while Archivist cannot see it: states change, a
    // finished VOD is deleted, an in-flight one too, a meeting is added.
    let finished = {
        let mut catalogue = station.catalogue();
        catalogue.advance();
        let finished = catalogue
            .vods
            .iter()
            .find(|v| v.state == "complete")
            .map(|v| v.id)
            .expect("a complete VOD");
        assert!(catalogue.remove_vod(finished));
        let moving = catalogue
            .vods
            .iter()
            .find(|v| v.state == "processing" || v.state == "queued")
            .map(|v| v.id)
            .expect("an in-flight VOD");
        assert!(catalogue.remove_vod(moving));
        catalogue.add_show(archivist::clock::unix_now());
        finished
    };
    ride_out(&mut monitor, &db, "HTTP 500", &known);
    station.set_fault(Fault::Status(401));
    ride_out(&mut monitor, &db, "HTTP 401", &known);
    station.set_fault(Fault::TruncatedJson);
    ride_out(&mut monitor, &db, "malformed answer", &known);

    station.set_fault(Fault::None);
    monitor.wait_for("Cablecast is reachable again", 1, PATIENCE);
    // The recovery line ends the first full cycle after recovery. A short
    // outage is covered by the look for changes, the in-flight refresh and
    // the probe for new VODs, without a full pass: the database is equal to
    // the server but for the finished VOD deleted upstream, which only a
    // full pass removes.
    let mut expected = served_vods(&station);
    expected.extend(known.iter().filter(|v| v.0 == finished).cloned());
    expected.sort_by_key(|v| v.0);
    assert_eq!(stored_vods(&db), expected, "{}", monitor.log());
    assert_eq!(
        number(
            &db,
            "SELECT count(*) FROM monitor_cycle WHERE catalog_synced = 1"
        ),
        1,
        "a full pass ran after a short outage"
    );
    assert_eq!(
        number(&db, "SELECT count(*) FROM cablecast_show") as usize,
        station.catalogue().shows.len()
    );
    assert_eq!(last_reachable(&db), Some(true));
    let (_, health) = http::get(monitor.status_addr(), "/healthz");
    assert!(!health.contains("not reachable"), "{health}");
    let before = cycles(&db);
    assert!(wait_for_cycles(&db, before, 2, PATIENCE));
    assert_eq!(monitor.count("Cablecast is reachable again"), 1);
    assert!(!monitor.log().contains("panicked"), "{}", monitor.log());
}

#[test]
fn resets_silence_and_huge_answers_are_ridden_out() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(60);
    let raw = RawStation::start(RawMode::Forward(station.addr(), None));
    let mut monitor = Running::monitor(&db, &raw.api_url(), &[], &[]);
    assert!(
        wait_until(PATIENCE, || last_reachable(&db) == Some(true)),
        "{}",
        monitor.log()
    );
    let known = stored_vods(&db);
    assert_eq!(known, served_vods(&station));

    raw.set_mode(RawMode::ResetMidBody);
    ride_out(&mut monitor, &db, "unreachable", &known);
    raw.set_mode(RawMode::Silent);
    ride_out(&mut monitor, &db, "no answer from Cablecast", &known);
    raw.set_mode(RawMode::Huge(10 * 1024 * 1024));
    ride_out(&mut monitor, &db, "larger than 8 MiB", &known);

    station.catalogue().advance();
    raw.set_mode(RawMode::Forward(station.addr(), None));
    monitor.wait_for("Cablecast is reachable again", 1, PATIENCE);
    // This proxy passes no search for changes, so the outage is followed
    // by a full pass, once the first cycle back finds the look missing.
    assert!(
        wait_until(PATIENCE, || stored_vods(&db) == served_vods(&station)),
        "{}",
        monitor.log()
    );
    // Reading (and refusing) 10 MB answers every second leaves no growth
    // behind: the body is capped while it is read.
    let rss = number(&db, "SELECT max(rss_kb) FROM monitor_cycle");
    assert!(rss < 200 * 1024, "monitor RSS reached {rss} KiB");
    eprintln!("resets, silence, 10 MB answers: peak monitor RSS {rss} KiB");
}

#[test]
fn one_shot_faults_fail_cleanly_without_touching_the_database() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(40);
    let raw = RawStation::start(RawMode::Forward(station.addr(), None));
    let out = single_run(&db, &raw.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let known = stored_vods(&db);
    for (mode, needle) in [
        (RawMode::ResetMidBody, "unreachable"),
        (RawMode::Huge(10 * 1024 * 1024), "larger than 8 MiB"),
        (
            RawMode::Answer(502, "<html><body>Bad Gateway</body></html>".into()),
            "HTTP 502",
        ),
        (RawMode::Answer(200, "{\"shows\": 7}".into()), "malformed"),
        (RawMode::Trickle, "no answer from Cablecast"),
    ] {
        raw.set_mode(mode);
        let out = single_run(&db, &raw.api_url(), &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{needle}: {err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("archivist:") && last.contains(needle),
            "{needle}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(stored_vods(&db), known, "{needle} changed the database");
    }
}

/// Sets every `key` in a JSON answer to `value`, wherever it appears.
fn set_everywhere(body: &mut serde_json::Value, key: &str, value: &serde_json::Value) {
    match body {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == key {
                    *v = value.clone();
                } else {
                    set_everywhere(v, key, value);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                set_everywhere(item, key, value);
            }
        }
        _ => {}
    }
}

#[test]
fn absurd_values_are_tamed_not_stored() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(30);
    let absurd: Rewrite = std::sync::Arc::new(|_path: &str, body: String| {
        let Ok(mut json) = serde_json::from_str::<serde_json::Value>(&body) else {
            return body;
        };
        set_everywhere(&mut json, "percentComplete", &serde_json::json!(-5.0));
        set_everywhere(&mut json, "length", &serde_json::json!(-1));
        set_everywhere(&mut json, "totalRunTime", &serde_json::json!(1e300));
        set_everywhere(&mut json, "stateChange", &serde_json::json!("not a date"));
        set_everywhere(
            &mut json,
            "errorMessage",
            &serde_json::json!("x".repeat(100_000)),
        );
        json.to_string()
    });
    let raw = RawStation::start(RawMode::Forward(station.addr(), Some(absurd)));
    let out = single_run(&db, &raw.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        number(&db, "SELECT count(*) FROM cablecast_vod") as usize,
        station.catalogue().vods.len()
    );
    assert_eq!(
        number(
            &db,
            "SELECT count(*) FROM cablecast_vod WHERE percent_complete <> 0.0 OR length IS NOT NULL"
        ),
        0
    );
    assert!(number(&db, "SELECT max(length(error_message)) FROM cablecast_vod") <= 4096);
    assert_eq!(
        number(
            &db,
            "SELECT count(*) FROM cablecast_show WHERE total_run_time IS NOT NULL"
        ),
        0
    );
    assert_eq!(support::integrity(&db), "ok");
}

#[test]
fn a_server_that_ignores_paging_cannot_keep_a_pass_going() {
    let scratch = Scratch::new();
    let db = scratch.db();
    // The same page whatever the offset, claiming a million VODs.
    let page = serde_json::json!({
        "shows": [{"id": 800, "title": "Council", "location": 1}],
        "vods": [{"id": 1200, "show": 800, "vodState": "complete", "percentComplete": 1.0},
                 {"id": 1201, "show": 800, "vodState": "complete", "percentComplete": 1.0}],
        "meta": {"offset": 0, "pageSize": 100, "count": 1_000_000}
    });
    let raw = RawStation::start(RawMode::Answer(200, page.to_string()));
    let out = single_run(&db, &raw.api_url(), &[]);
    let err = stderr(&out);
    assert!(raw.requests() < 100, "{} requests", raw.requests());
    assert!(err.contains("ignores paging"), "{err}");
    assert_eq!(number(&db, "SELECT count(*) FROM cablecast_vod"), 2);
}

#[test]
fn a_running_monitor_keeps_its_rhythm_when_answers_never_come() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let station = DemoStation::start(StationOptions {
        shows: 20,
        ..StationOptions::default()
    })
    .expect("station");
    let raw = RawStation::start(RawMode::Silent);
    let monitor = Running::monitor(&db, &raw.api_url(), &[], &[]);
    monitor.wait_for("no answer from Cablecast", 1, PATIENCE);
    let since = Instant::now();
    let before = cycles(&db);
    assert!(
        wait_for_cycles(&db, before, 4, PATIENCE),
        "{}",
        monitor.log()
    );
    assert_rhythm(&monitor.lines(), since, "silent server");
    // A server that was never reachable, once it answers, is synced whole.
    raw.set_mode(RawMode::Forward(station.addr(), None));
    monitor.wait_for("Cablecast is reachable again", 1, PATIENCE);
    assert_eq!(stored_vods(&db), served_vods(&station));
}

#[test]
fn a_pass_stopped_by_a_failed_page_goes_on_from_that_page() {
    use archivist::monitor::Monitor;
    use archivist::status::StatusBoard;
    use archivist::store::{Access, Store};
    use std::sync::Arc;

    let scratch = Scratch::new();
    let db = scratch.db();
    let station = support::station(500);
    for vod in station.catalogue().vods.iter_mut() {
        vod.state = "complete".into();
        vod.percent = 1.0;
    }
    station.set_fault(Fault::VodPagesFailFrom(300));
    let store = Arc::new(Store::open(&db, Access::ReadWrite).expect("store opens"));
    let settings = crate::web_support::monitor_settings(&station.api_url());
    let mut monitor = Monitor::new(settings, Arc::new(StatusBoard::new(store)));
    let stopped = monitor.cycle();
    assert!(stopped.catalog.is_none());
    // Cablecast answered: an error on some requests is not an outage.
    assert!(stopped.record.cablecast_reachable);
    assert!(stopped.answered_error.is_some());
    assert!(stopped.cablecast_error.is_none());
    let saved = number(&db, "SELECT count(*) FROM cablecast_vod");
    assert_eq!(saved, 400, "the pages before the failed one are kept");
    station.set_fault(Fault::None);
    let resumed = monitor.cycle();
    assert!(resumed.is_current(), "{:?}", resumed.answered_error);
    assert!(resumed.catalog.is_some_and(|c| c.complete));
    // The two VOD pages left: not the five pages of shows and six of VODs
    // of a pass started over.
    assert_eq!(resumed.record.http_calls, 2);
    assert_eq!(stored_vods(&db), served_vods(&station));
}

#[test]
fn two_percent_of_answers_500_neither_stop_passes_nor_read_as_an_outage() {
    use archivist::alert::{AlertSettings, AlertWatch};
    use archivist::monitor::Monitor;
    use archivist::status::StatusBoard;
    use archivist::store::{Access, Store};
    use std::sync::Arc;

    let scratch = Scratch::new();
    let db = scratch.db();
    // 2,000 shows and 2,200 VODs: a full pass is 45 pages.
    let station = support::station(2_000);
    station.set_fault(Fault::ErrorEvery(50));
    let store = Arc::new(Store::open(&db, Access::ReadWrite).expect("store opens"));
    let settings = archivist::config::MonitorSettings {
        // Every cycle runs a full pass (or goes on with one), at 1 s.
        catalog_interval: Duration::ZERO,
        ..crate::web_support::monitor_settings(&station.api_url())
    };
    let alerts = AlertWatch::new(Arc::clone(&store), AlertSettings::default(), None);
    let mut monitor = Monitor::new(settings, Arc::new(StatusBoard::new(store))).with_alerts(alerts);
    let cycles: Vec<_> = (0..10).map(|_| monitor.cycle()).collect();
    let reaching = cycles
        .iter()
        .filter(|c| c.record.cablecast_reachable)
        .count();
    let passes = cycles
        .iter()
        .filter(|c| c.catalog.is_some_and(|p| p.complete))
        .count();
    let errors: u64 = cycles.iter().map(|c| c.answered_errors).sum();
    assert!(errors > 0, "the fault never answered a 500");
    assert!(reaching >= 9, "{reaching} of 10 cycles reached Cablecast");
    assert!(passes >= 5, "{passes} of 10 full passes completed");
    assert_eq!(
        number(
            &db,
            "SELECT count(*) FROM alert WHERE kind = 'cablecast_down'"
        ),
        0,
        "cablecast_down fired on a flaky server"
    );
}
