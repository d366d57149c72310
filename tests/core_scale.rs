//! Fewer, larger requests against a Cablecast-shaped server on loopback:
//! in-flight VODs read by id in groups, changed shows found by the saved
//! show search between full passes, and an older server (no `ids[]`, no
//! search) served exactly as before.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use archivist::config::MonitorSettings;
use archivist::demo::{DemoStation, Fault, StationOptions};
use archivist::monitor::{CycleReport, Monitor};
use archivist::status::StatusBoard;
use archivist::store::{Access, Store};

use crate::support::child::Running;
use crate::support::{self, served_vods, sqlite, stored_vods, Scratch};
use crate::web_support::monitor_settings;

const PATIENCE: Duration = Duration::from_secs(20);

fn monitor_with(db: &Path, settings: MonitorSettings) -> Monitor {
    let store = Arc::new(Store::open(db, Access::ReadWrite).expect("store opens"));
    Monitor::new(settings, Arc::new(StatusBoard::new(store)))
}

fn monitor(db: &Path, station: &DemoStation) -> Monitor {
    monitor_with(db, monitor_settings(&station.api_url()))
}

fn current(report: CycleReport) -> CycleReport {
    assert!(
        report.is_current(),
        "{:?} {:?}",
        report.cablecast_error,
        report.store_error
    );
    report
}

/// A station whose first `in_flight` VODs are processing, the rest complete.
fn station_in_flight(shows: usize, in_flight: usize) -> DemoStation {
    let station = support::station(shows);
    for (n, vod) in station.catalogue().vods.iter_mut().enumerate() {
        vod.state = if n < in_flight {
            "processing"
        } else {
            "complete"
        }
        .into();
        vod.percent = if n < in_flight { 0.1 } else { 1.0 };
    }
    station
}

/// The stored rows of the VODs `ids`, all columns the refresh writes,
/// sorted by id.
fn vod_rows(db: &Path, ids: &[i64]) -> Vec<String> {
    let conn = sqlite(db);
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let mut select = conn
        .prepare(&format!(
            "SELECT id, show_cablecast_id, vod_state, percent_complete, error_message, url,
                    length, quality, file_name, is_watchable, disabled
             FROM cablecast_vod WHERE id IN ({}) ORDER BY id",
            list.join(",")
        ))
        .expect("prepare");
    let rows = select
        .query_map([], |r| {
            Ok(format!(
                "{:?}",
                (
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, bool>(9)?,
                    r.get::<_, bool>(10)?,
                )
            ))
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// The encoder's work on in-flight VODs, the same for the same round:
/// some finish, some fail, the rest move on, one is deleted.
fn move_in_flight(station: &DemoStation, round: usize) {
    let mut catalogue = station.catalogue();
    let mut deleted = None;
    for (n, vod) in catalogue.vods.iter_mut().enumerate() {
        if vod.state != "processing" {
            continue;
        }
        match (n + round) % 11 {
            0..=2 => {
                vod.state = "complete".into();
                vod.percent = 1.0;
            }
            3 => {
                vod.state = "error".into();
                vod.error_message = Some(format!("Transcode failed in round {round}"));
            }
            4 if deleted.is_none() => deleted = Some(vod.id),
            _ => vod.percent = (vod.percent + 0.2).min(0.9),
        }
    }
    if let Some(id) = deleted {
        assert!(catalogue.remove_vod(id));
    }
}

#[test]
fn reads_by_id_write_what_single_reads_write() {
    let scratch = Scratch::new();
    let (batched_db, single_db) = (scratch.path("batched.db"), scratch.path("single.db"));
    // Two stations from one seed: one answers reads by id, the other is an
    // older server read one VOD at a time.
    let batched = station_in_flight(260, 250);
    let single = station_in_flight(260, 250);
    single.set_fault(Fault::OlderServer);
    let mut batched_monitor = monitor(&batched_db, &batched);
    let mut single_monitor = monitor(&single_db, &single);
    current(batched_monitor.cycle());
    current(single_monitor.cycle());
    let ids: Vec<i64> = stored_vods(&single_db).iter().map(|v| v.0).collect();
    for round in 0..3 {
        move_in_flight(&batched, round);
        move_in_flight(&single, round);
        let by_id = current(batched_monitor.cycle());
        let one_by_one = current(single_monitor.cycle());
        assert_eq!(
            vod_rows(&batched_db, &ids),
            vod_rows(&single_db, &ids),
            "round {round}"
        );
        assert_eq!(stored_vods(&batched_db), served_vods(&batched));
        assert_eq!(stored_vods(&single_db), served_vods(&single));
        assert_eq!(by_id.refresh.checked, one_by_one.refresh.checked);
        assert!(by_id.refresh.checked > 150, "{}", by_id.refresh.checked);
        assert_eq!(by_id.refresh.removed, 1);
        // Groups of 100, the deleted VOD read alone (its 404 removes it),
        // and the look for changes, against one GET per VOD.
        let groups = by_id.refresh.checked.div_ceil(100) as i64;
        assert!(
            by_id.record.http_calls <= groups + 1 + 2,
            "{} HTTP calls for {} VODs",
            by_id.record.http_calls,
            by_id.refresh.checked
        );
        // The older server: one GET per VOD (and, once, the since filter
        // it ignores and the search it lacks).
        let search = 2 * usize::from(round == 0);
        assert_eq!(
            one_by_one.record.http_calls as usize,
            one_by_one.refresh.checked + search
        );
        // The cycle's statement guarantee holds with the looks for changes.
        assert!(by_id.reads_and_records <= 3, "{}", by_id.reads_and_records);
    }
}

#[test]
fn a_server_that_ignores_ids_is_noticed_once_and_the_database_still_catches_up() {
    let scratch = Scratch::new();
    let station = station_in_flight(150, 120);
    station.set_fault(Fault::OlderServer);
    let mut running =
        Running::monitor(&scratch.db(), &station.api_url(), &["--interval", "1"], &[]);
    running.wait_for("does not honour ids[]", 1, PATIENCE);
    running.wait_for("no saved show search", 1, PATIENCE);
    // Cycles go on: every in-flight VOD finishes upstream, and the
    // database follows, one GET each.
    for vod in station.catalogue().vods.iter_mut() {
        vod.state = "complete".into();
        vod.percent = 1.0;
    }
    assert!(
        support::wait_until(PATIENCE, || stored_vods(&scratch.db())
            == served_vods(&station)),
        "the database never caught up"
    );
    let cycles = support::cycles(&scratch.db());
    assert!(support::wait_for_cycles(&scratch.db(), cycles, 2, PATIENCE));
    running.kill();
    assert_eq!(
        running.count("does not honour ids[]"),
        1,
        "{}",
        running.log()
    );
    assert_eq!(
        running.count("no saved show search"),
        1,
        "{}",
        running.log()
    );
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn an_older_server_costs_what_it_did() {
    let scratch = Scratch::new();
    let station = station_in_flight(90, 60);
    station.set_fault(Fault::OlderServer);
    let mut monitor = monitor(&scratch.db(), &station);
    // The first cycle learns it lacks reads by id: one read, answered with
    // other VODs, then one GET per VOD ...
    let first = current(monitor.cycle());
    let pages = 2 + 2; // shows and VODs, 100 a page, with a connection check
    assert!(
        first.record.http_calls as usize <= pages + 1 + first.refresh.checked,
        "{}",
        first.record.http_calls
    );
    // ... and the second that it has no look for changes: the listing's
    // since filter, ignored, and one POST, answered 405.
    let learning = current(monitor.cycle());
    assert_eq!(
        learning.record.http_calls as usize,
        learning.refresh.checked + 2
    );
    assert!(learning.changes.is_none());
    for _ in 0..2 {
        station.catalogue().advance();
        let steady = current(monitor.cycle());
        assert_eq!(steady.record.http_calls as usize, steady.refresh.checked);
        assert!(steady.changes.is_none());
        assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    }
}

#[test]
fn a_vod_missing_from_a_read_by_id_is_read_alone_before_anything_is_removed() {
    let scratch = Scratch::new();
    let station = station_in_flight(40, 30);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    let (kept, gone) = {
        let catalogue = station.catalogue();
        (catalogue.vods[3].id, catalogue.vods[7].id)
    };
    // One VOD moves on but is left out of reads by id; another is deleted.
    {
        let mut catalogue = station.catalogue();
        let vod = catalogue.vod_mut(kept).expect("vod");
        vod.state = "complete".into();
        vod.percent = 1.0;
        assert!(catalogue.remove_vod(gone));
    }
    station.set_fault(Fault::OmittedFromIds(kept));
    let report = current(monitor.cycle());
    assert_eq!(report.refresh.removed, 1);
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    let state = |id: i64| {
        sqlite(&scratch.db())
            .query_row(
                "SELECT vod_state FROM cablecast_vod WHERE id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )
            .ok()
    };
    assert_eq!(state(kept).as_deref(), Some("complete"));
    assert_eq!(state(gone), None);
    // The group, then the two VODs missing from it on their own (one
    // answered, one 404), then the look for changes.
    assert!(
        report.record.http_calls <= 5,
        "{}",
        report.record.http_calls
    );
}

#[test]
fn a_show_added_upstream_appears_without_a_full_pass() {
    let scratch = Scratch::new();
    let station = support::station(200);
    let mut monitor = monitor(&scratch.db(), &station);
    assert!(current(monitor.cycle()).catalog.is_some());
    let shows_before = support::number(&scratch.db(), "SELECT count(*) FROM cablecast_show");
    let (added, touched) = {
        let mut catalogue = station.catalogue();
        let added = catalogue.add_show(archivist::clock::unix_now());
        let touched = catalogue.shows[10].id;
        catalogue.shows[10].title = "Planning Commission (rescheduled)".into();
        catalogue.touch_show(touched);
        (added, touched)
    };
    let vods_of_added: Vec<i64> = station
        .catalogue()
        .shows
        .iter()
        .find(|s| s.id == added)
        .expect("added")
        .vods
        .clone();
    let mut seen = false;
    for _ in 0..2 {
        let report = current(monitor.cycle());
        assert!(report.catalog.is_none(), "a full pass ran");
        assert!(
            report.reads_and_records <= 3,
            "{}",
            report.reads_and_records
        );
        let stored = support::number(
            &scratch.db(),
            &format!("SELECT count(*) FROM cablecast_show WHERE cablecast_id = {added}"),
        );
        if stored == 1 {
            seen = true;
            break;
        }
    }
    assert!(seen, "the added show did not appear within two cycles");
    assert_eq!(
        support::number(&scratch.db(), "SELECT count(*) FROM cablecast_show"),
        shows_before + 1
    );
    let title: String = sqlite(&scratch.db())
        .query_row(
            "SELECT title FROM cablecast_show WHERE cablecast_id = ?1",
            [touched],
            |r| r.get(0),
        )
        .expect("touched show");
    assert_eq!(title, "Planning Commission (rescheduled)");
    for vod in vods_of_added {
        let show: i64 = sqlite(&scratch.db())
            .query_row(
                "SELECT s.cablecast_id FROM cablecast_vod v JOIN cablecast_show s ON s.id = v.show_id
                 WHERE v.id = ?1",
                [vod],
                |r| r.get(0),
            )
            .expect("the new show's VOD, with its show");
        assert_eq!(show, added);
    }
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    // Nothing changed since: the next look writes nothing.
    let quiet = current(monitor.cycle());
    assert_eq!(quiet.changes.map(|c| c.shows), Some(0));
    assert_eq!(quiet.batch_write_statements, 0);
}

#[test]
fn a_server_without_the_search_is_left_to_full_passes() {
    let scratch = Scratch::new();
    let station = support::station(60);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    station.set_fault(Fault::OlderServer);
    let added = station.catalogue().add_show(archivist::clock::unix_now());
    let stored = |db: &Path| {
        support::number(
            db,
            &format!("SELECT count(*) FROM cablecast_show WHERE cablecast_id = {added}"),
        )
    };
    // Within the catalogue interval the search is tried, is missing, and
    // the show waits; the cycle itself stays current.
    for _ in 0..2 {
        let report = current(monitor.cycle());
        assert!(report.catalog.is_none());
        assert!(report.changes.is_none());
        assert_eq!(stored(&scratch.db()), 0);
    }
    // The next full pass (here: a new process's first cycle) brings it.
    let mut restarted = self::monitor(&scratch.db(), &station);
    assert!(current(restarted.cycle())
        .catalog
        .is_some_and(|c| c.complete));
    assert_eq!(stored(&scratch.db()), 1);
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn the_demo_station_keeps_moving_on_its_own() {
    let station = DemoStation::start(StationOptions {
        shows: 50,
        moves_every: Some(Duration::from_millis(10)),
        ..StationOptions::default()
    })
    .expect("demo station starts");
    let first = served_vods(&station);
    assert!(
        support::wait_until(PATIENCE, || served_vods(&station) != first),
        "the station never moved"
    );
    let shows = station.catalogue().shows.len();
    assert!(shows <= 50, "{shows} shows");
}

/// Whether the database holds VOD `id`.
fn has_vod(db: &Path, id: i64) -> bool {
    support::number(
        db,
        &format!("SELECT count(*) FROM cablecast_vod WHERE id = {id}"),
    ) == 1
}

/// Staff stamp the first `shows` shows at once (a bulk edit, an import).
fn bulk_edit(station: &DemoStation, shows: usize) {
    let mut catalogue = station.catalogue();
    let ids: Vec<i64> = catalogue.shows.iter().take(shows).map(|s| s.id).collect();
    for id in ids {
        catalogue.touch_show(id);
    }
}

#[test]
fn a_quiet_look_costs_the_search_and_no_read() {
    let scratch = Scratch::new();
    let station = station_in_flight(150, 0);
    let mut monitor = monitor(&scratch.db(), &station);
    assert!(current(monitor.cycle()).catalog.is_some());
    // A few edits, read once; the shows stay within the margin of the
    // newest change, where every look used to read them again.
    bulk_edit(&station, 5);
    let edits = current(monitor.cycle());
    assert_eq!(edits.changes.map(|c| (c.read, c.shows)), Some((5, 5)));
    // The look after a change also asks for the margin before the newest
    // change (a change saved in the same second): known shows, none read.
    let margin = current(monitor.cycle());
    assert_eq!(margin.changes.map(|c| (c.searches, c.read)), Some((2, 0)));
    assert_eq!(margin.batch_write_statements, 0);
    for _ in 0..3 {
        let before = station.requests();
        let quiet = current(monitor.cycle());
        let look = quiet.changes.expect("a look ran");
        assert_eq!((look.searches, look.read, look.shows), (1, 0, 0));
        // The search and the probe for new VODs, nothing else: no show is
        // read, and nothing is written.
        assert_eq!(quiet.record.http_calls, 2);
        assert_eq!(station.requests() - before, 2);
        assert_eq!(quiet.batch_write_statements, 0);
    }
}

/// A bulk edit of 300 shows read once by a look that costs `bulk_look`
/// requests, and the margin after it `margin` more, then never again, on a
/// station misbehaving as `fault` says.
fn bulk_edit_read_once(fault: Fault, bulk_look: i64, margin: i64) {
    let scratch = Scratch::new();
    let station = station_in_flight(400, 0);
    station.set_fault(fault);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    // A quiet look learns which way this server is asked.
    current(monitor.cycle());
    bulk_edit(&station, 300);
    let bulk = current(monitor.cycle());
    let look = bulk.changes.expect("a look ran");
    assert_eq!((look.read, look.shows), (300, 300));
    assert_eq!(bulk.record.http_calls, bulk_look);
    let after = current(monitor.cycle());
    assert_eq!(after.changes.map(|c| (c.read, c.shows)), Some((0, 0)));
    assert_eq!(after.record.http_calls, 2 + margin);
    assert_eq!(after.batch_write_statements, 0);
    for _ in 0..3 {
        let after = current(monitor.cycle());
        assert_eq!(after.changes.map(|c| (c.read, c.shows)), Some((0, 0)));
        assert_eq!(after.record.http_calls, 2);
        assert_eq!(after.batch_write_statements, 0);
    }
}

#[test]
fn shows_saved_with_one_last_modified_are_read_once_and_never_again() {
    // Three pages of changed shows with their VODs (GET /shows?since), and
    // the probe for new VODs; the margin after it lists them again (three
    // pages), reading none.
    bulk_edit_read_once(Fault::None, 3 + 1, 3);
    // Where listings ignore since: the search, three groups of 100 by id,
    // the probe; the margin after it is one more search, naming only
    // shows known.
    bulk_edit_read_once(Fault::IgnoresSince, 1 + 3 + 1, 1);
}

#[test]
fn a_look_naming_more_than_a_few_groups_leaves_them_to_a_full_pass() {
    let scratch = Scratch::new();
    let station = station_in_flight(700, 0);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    bulk_edit(&station, 600);
    station.catalogue().shows[0].title = "Renamed in the bulk edit".into();
    let look = current(monitor.cycle());
    let changes = look.changes.expect("a look ran");
    assert!(changes.full_pass_wanted);
    assert_eq!(changes.read, 0, "the shows were read by id");
    let pass = current(monitor.cycle());
    assert!(pass.catalog.is_some_and(|c| c.complete), "no full pass");
    let title: String = sqlite(&scratch.db())
        .query_row(
            "SELECT title FROM cablecast_show WHERE cablecast_id = ?1",
            [station.catalogue().shows[0].id],
            |r| r.get(0),
        )
        .expect("show");
    assert_eq!(title, "Renamed in the bulk edit");
    // The pass read them: the looks after it read none of them again.
    for _ in 0..2 {
        let after = current(monitor.cycle());
        assert!(after.catalog.is_none());
        assert_eq!(after.changes.map(|c| c.read), Some(0));
        assert_eq!(after.record.http_calls, 2);
    }
}

#[test]
fn a_vod_added_without_its_show_moving_is_saved_within_two_cycles() {
    let scratch = Scratch::new();
    let station = station_in_flight(120, 20);
    station.catalogue().vods_leave_shows_alone(true);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    let steady = current(monitor.cycle()).record.http_calls;
    let show = station.catalogue().shows[5].id;
    let added = station
        .catalogue()
        .add_vod(show, "processing")
        .expect("the show exists");
    let mut saved_in = None;
    for cycle in 1..=2 {
        let report = current(monitor.cycle());
        // The show's lastModified did not move: the search names nothing.
        assert_eq!(report.changes.map(|c| c.read), Some(0));
        assert!(
            report.record.http_calls <= steady + 2,
            "{} requests against {steady} in a steady cycle",
            report.record.http_calls
        );
        if has_vod(&scratch.db(), added) {
            saved_in = Some(cycle);
            break;
        }
    }
    assert!(saved_in.is_some(), "the new VOD was not saved in 2 cycles");
    let show_of: i64 = sqlite(&scratch.db())
        .query_row(
            "SELECT s.cablecast_id FROM cablecast_vod v JOIN cablecast_show s ON s.id = v.show_id
             WHERE v.id = ?1",
            [added],
            |r| r.get(0),
        )
        .expect("the VOD, with its show");
    assert_eq!(show_of, show);
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    // From now on it is in flight, refreshed like any other.
    station.catalogue().vod_mut(added).expect("vod").state = "complete".into();
    current(monitor.cycle());
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn a_vod_of_a_show_not_stored_comes_with_its_show() {
    let scratch = Scratch::new();
    let station = station_in_flight(60, 0);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    // A server without the search: the probe alone finds new records.
    station.set_fault(Fault::NoSearch);
    current(monitor.cycle());
    let added = station.catalogue().add_show(archivist::clock::unix_now());
    let report = current(monitor.cycle());
    assert!(
        report.changes.is_none(),
        "the look is off until a full pass"
    );
    assert!(
        report.probe.vods >= 1 && report.probe.shows >= 1,
        "{:?}",
        report.probe
    );
    assert_eq!(
        support::number(
            &scratch.db(),
            &format!("SELECT count(*) FROM cablecast_show WHERE cablecast_id = {added}")
        ),
        1
    );
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
}

#[test]
fn after_a_one_cycle_outage_the_next_cycle_costs_a_steady_one() {
    let scratch = Scratch::new();
    let station = station_in_flight(150, 30);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    let steady = current(monitor.cycle()).record.http_calls;
    station.set_fault(Fault::Status(503));
    let down = monitor.cycle();
    assert!(!down.record.cablecast_reachable);
    station.set_fault(Fault::None);
    {
        let mut catalogue = station.catalogue();
        let edited = catalogue.shows[7].id;
        catalogue.shows[7].title = "Edited during the outage".into();
        catalogue.touch_show(edited);
    }
    let back = current(monitor.cycle());
    assert!(
        back.catalog.is_none(),
        "a full pass after a one-cycle outage"
    );
    assert_eq!(back.changes.map(|c| c.shows), Some(1));
    // A steady cycle, the connection check the outage made stale, and the
    // read of the show edited meanwhile.
    assert!(
        back.record.http_calls <= steady + 2,
        "{} requests against {steady} in a steady cycle",
        back.record.http_calls
    );
    assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
    // Back-to-back blips: none costs a full pass.
    for _ in 0..3 {
        station.set_fault(Fault::Status(503));
        assert!(!monitor.cycle().record.cablecast_reachable);
        station.set_fault(Fault::None);
        assert!(current(monitor.cycle()).catalog.is_none());
    }
}

#[test]
fn a_server_that_keeps_every_search_is_searched_every_15_minutes() {
    let scratch = Scratch::new();
    let station = station_in_flight(60, 0);
    station.set_fault(Fault::KeepsSearches);
    station.catalogue().vods_leave_shows_alone(true);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    // Three searches with growing ids, then no more within 15 minutes.
    for _ in 0..3 {
        assert!(current(monitor.cycle()).changes.is_some());
    }
    for _ in 0..3 {
        let spaced = current(monitor.cycle());
        assert!(spaced.changes.is_none(), "searched again");
        assert_eq!(spaced.record.http_calls, 1, "only the probe");
    }
    // New VODs are still found every cycle.
    let show = station.catalogue().shows[3].id;
    let added = station.catalogue().add_vod(show, "queued").expect("show");
    current(monitor.cycle());
    assert!(has_vod(&scratch.db(), added));
}

#[test]
fn a_look_through_since_sends_the_server_no_search_to_keep() {
    for (fault, way, posts) in [
        (Fault::None, "GET /shows?since", false),
        (Fault::IgnoresSince, "saved show search", true),
    ] {
        let scratch = Scratch::new();
        let station = station_in_flight(80, 0);
        station.set_fault(fault.clone());
        let mut monitor = monitor(&scratch.db(), &station);
        current(monitor.cycle());
        for n in 0..3 {
            bulk_edit(&station, 2 + n);
            let report = current(monitor.cycle());
            assert!(
                report.changes.is_some_and(|c| c.shows > 0),
                "{fault:?} {n}: {:?}",
                report.changes
            );
        }
        assert_eq!(station.searches_posted() > 0, posts, "{fault:?}");
        assert_eq!(stored_vods(&scratch.db()), served_vods(&station));
        // The status report (the page, `status`, /api/status) says which
        // way.
        let store = Store::open(&scratch.db(), Access::ReadOnly).expect("store opens");
        let report = StatusBoard::new(Arc::new(store)).report().expect("report");
        let look = report.catalogue.change_look.clone().expect("noted");
        assert!(look.contains(way), "{fault:?}: {look}");
    }
}

#[test]
fn the_first_look_after_a_full_pass_saves_nothing_unchanged() {
    let scratch = Scratch::new();
    let station = station_in_flight(100, 0);
    let mut monitor = monitor(&scratch.db(), &station);
    current(monitor.cycle());
    bulk_edit(&station, 5);
    assert_eq!(current(monitor.cycle()).changes.map(|c| c.shows), Some(5));
    // A restart: its first cycle is a full pass, which knows the shows
    // within the margin of the newest change as it listed them.
    let mut restarted = self::monitor(&scratch.db(), &station);
    assert!(current(restarted.cycle())
        .catalog
        .is_some_and(|c| c.complete));
    for _ in 0..2 {
        let look = current(restarted.cycle());
        assert_eq!(look.changes.map(|c| (c.read, c.shows)), Some((0, 0)));
    }
}

#[test]
fn a_server_keeping_every_search_is_told_once_in_the_log() {
    let scratch = Scratch::new();
    let station = station_in_flight(60, 0);
    station.set_fault(Fault::KeepsSearches);
    let mut running =
        Running::monitor(&scratch.db(), &station.api_url(), &["--interval", "1"], &[]);
    let told = "keeps a saved search for every search";
    running.wait_for(told, 1, PATIENCE);
    let posted = station.searches_posted();
    let cycles = support::cycles(&scratch.db());
    assert!(support::wait_for_cycles(&scratch.db(), cycles, 3, PATIENCE));
    running.kill();
    assert_eq!(running.count(told), 1, "{}", running.log());
    // Looks are spaced out from then on: no search in the cycles since.
    assert_eq!(station.searches_posted(), posted);
}
