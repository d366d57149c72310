//! What staff need to act, against the demo station with its faults: stuck
//! VODs with their real age, each VOD's history (page, API, log), the first
//! catalogue pass's progress and partial figures (also after a kill),
//! Cablecast down, a location filter that matches nothing, and the VOD list's
//! filters, paging and CSV.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use archivist::clock;
use archivist::demo::{DemoStation, StationOptions};
use archivist::status::StatusBoard;
use archivist::store::{Access, Store};
use archivist::stuck::StuckAfter;
use archivist::web::{CablecastLinks, StatusServer};

use crate::support::child::Running;
use crate::support::{self, run_on, single_run, stderr, stdout, Scratch};
use crate::web_support::{get, web_settings};

const DAY: i64 = 86_400;

/// The status server on `db`, as `archivist serve` runs it, linking into
/// the station at `api_url`.
fn serve(db: &Path, api_url: &str) -> StatusServer {
    let store = Arc::new(Store::open(db, Access::ReadOnly).expect("store opens"));
    let board = Arc::new(StatusBoard::new(store).with_stuck_after(StuckAfter::default()));
    let mut settings = web_settings();
    settings.cablecast_links = Some(CablecastLinks::from_api_url(api_url));
    StatusServer::start(settings, board, None).expect("server starts")
}

fn status_json(db: &Path) -> serde_json::Value {
    let out = run_on(db, &["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// A VOD of the station in `state`, and its show.
fn vod_in(station: &DemoStation, state: &str) -> (i64, i64) {
    station
        .catalogue()
        .vods
        .iter()
        .find(|v| v.state == state)
        .map(|v| (v.id, v.show))
        .unwrap_or_else(|| panic!("the demo has a VOD in {state}"))
}

#[test]
fn an_old_state_change_from_cablecast_is_the_real_age_and_the_vod_is_stuck() {
    let scratch = Scratch::new();
    let station = support::station(60);
    let (id, show) = vod_in(&station, "complete");
    let two_weeks_ago = clock::unix_now() - 14 * DAY;
    station
        .catalogue()
        .set_state(id, "processing", Some(two_weeks_ago));
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Right after install, the age is Cablecast's, not "13 s".
    let report = status_json(&scratch.db());
    assert!(
        report["stuck_vods"].as_u64().expect("stuck") >= 1,
        "{report}"
    );
    assert_eq!(report["catalogue_complete"], true);
    assert_eq!(
        report["oldest_in_flight_since"].as_str(),
        Some(clock::format_unix(two_weeks_ago).as_str())
    );
    let out = run_on(&scratch.db(), &["status", "--stuck", "--json"]);
    let stuck: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ours = stuck
        .as_array()
        .expect("a list")
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("VOD {id} listed as stuck: {stuck}"));
    assert_eq!(ours["state_changed_source"], "cablecast");
    assert!(ours["seconds_in_state"].as_i64().expect("age") >= 14 * DAY);
    let text = stdout(&run_on(&scratch.db(), &["status", "--stuck"]));
    assert!(
        text.contains(&format!("VOD {id}  processing for 14 d")),
        "{text}"
    );
    // A stuck threshold of a year leaves nothing stuck.
    let out = support::archivist()
        .arg("--db")
        .arg(scratch.db())
        .args(["status", "--json"])
        .env("ARCHIVIST_STUCK_AFTER", "366d")
        .output()
        .expect("runs");
    let relaxed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(relaxed["stuck_vods"], 0, "{relaxed}");
    let bad = support::archivist()
        .arg("--db")
        .arg(scratch.db())
        .arg("status")
        .env("ARCHIVIST_STUCK_AFTER", "soon")
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("ARCHIVIST_STUCK_AFTER"),
        "{}",
        stderr(&bad)
    );

    let server = serve(&scratch.db(), &station.api_url());
    let page = get(server.addr(), "/").text();
    assert!(
        page.contains(&format!(r#"data-vod="{id}" class="stuck""#)),
        "VOD {id} highlighted:\n{page}"
    );
    assert!(page.contains(r#"<span class="tag">stuck</span>"#));
    let metrics = get(server.addr(), "/metrics").text();
    let stuck_line = format!("archivist_vods_stuck {}", report["stuck_vods"]);
    assert!(metrics.contains(&stuck_line), "{metrics}");
    let oldest: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("archivist_oldest_in_flight_seconds "))
        .expect("oldest exported")
        .parse()
        .expect("a number");
    assert!(oldest >= (14 * DAY) as f64, "{oldest}");
    // The VOD's page links its show here and in Cablecast.
    let vod_page = get(server.addr(), &format!("/vods/{id}")).text();
    assert!(vod_page.contains(r#"id="vod-stuck""#), "{vod_page}");
    assert!(vod_page.contains(&format!(r#"href="/shows/{show}""#)));
    assert!(vod_page.contains(&format!("{}/shows/{show}", station.api_url())));
    let show_page = get(server.addr(), &format!("/shows/{show}"));
    assert_eq!(show_page.status, 200);
    assert!(show_page.text().contains(&format!(r#"data-vod="{id}""#)));
    assert_eq!(get(server.addr(), "/shows/1").status, 404);
    assert_eq!(get(server.addr(), "/vods/1").status, 404);
}

#[test]
fn a_state_change_is_in_the_history_the_api_and_the_log() {
    let scratch = Scratch::new();
    let station = support::station(40);
    let (id, _) = vod_in(&station, "processing");
    let monitor = Running::monitor(&scratch.db(), &station.api_url(), &[], &[]);
    let addr = monitor.status_addr();
    monitor.wait_for("cycle ", 1, Duration::from_secs(30));
    {
        let mut catalogue = station.catalogue();
        catalogue.set_state(id, "error", None);
        catalogue.vod_mut(id).expect("vod").error_message =
            Some("Upload to store-3 timed out".into());
    }
    monitor.wait_for(
        &format!("VOD {id} processing -> error: Upload to store-3 timed out"),
        1,
        Duration::from_secs(30),
    );
    let answer = get(addr, &format!("/api/vods/{id}"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let detail = answer.json();
    assert_eq!(detail["vod"]["state"], "error");
    assert!(detail["show"]["title"].is_string(), "{detail}");
    let events = detail["events"].as_array().expect("events");
    let last = events.last().expect("one event");
    assert_eq!(last["from"], "processing");
    assert_eq!(last["to"], "error");
    assert_eq!(last["error_message"], "Upload to store-3 timed out");
    assert_eq!(last["at_source"], "cablecast");
    assert!(last["at"].is_string());
    let page = get(addr, &format!("/vods/{id}")).text();
    assert!(page.contains(r#"id="history""#), "{page}");
    assert!(page.contains("Upload to store-3 timed out"));
}

#[test]
fn a_slow_first_pass_shows_progress_and_stays_partial_after_a_kill() {
    let scratch = Scratch::new();
    let station = DemoStation::start(StationOptions {
        shows: 2000,
        latency: Duration::from_millis(250),
        ..StationOptions::default()
    })
    .expect("station starts");
    let mut monitor = Running::monitor(&scratch.db(), &station.api_url(), &[], &[]);
    let addr = monitor.status_addr();
    monitor.wait_for(
        "first catalogue pass on this database",
        1,
        Duration::from_secs(20),
    );
    // The database holds the pass's progress at once: every surface says
    // the figures are partial.
    assert!(support::wait_until(Duration::from_secs(20), || {
        support::number(
            &scratch.db(),
            "SELECT count(*) FROM archivist_meta WHERE key = 'catalogue_progress'",
        ) == 1
    }));
    let report = status_json(&scratch.db());
    assert_eq!(report["catalogue_complete"], false, "{report}");
    assert!(report["catalogue"]["progress"]["pages_done"].as_u64() >= Some(1));
    assert!(report["warnings"][0]
        .as_str()
        .expect("a warning")
        .contains("only part of the station"));
    let page = get(addr, "/").text();
    assert!(page.contains(r#"id="catalogue-banner""#), "{page}");
    assert!(page.contains("First catalogue pass: "), "{page}");
    // At most one progress line every few seconds, with pages and time left.
    monitor.wait_for("first catalogue pass: ", 1, Duration::from_secs(30));
    let line = monitor
        .lines()
        .into_iter()
        .find(|l| l.text.contains("first catalogue pass: "))
        .expect("seen");
    assert!(line.text.contains(" of "), "{}", line.text);

    // A kill mid-pass: the figures stay marked partial.
    monitor.kill();
    let report = status_json(&scratch.db());
    assert_eq!(report["catalogue_complete"], false, "{report}");
    let out = support::archivist()
        .arg("--db")
        .arg(scratch.db())
        .arg("status")
        .env("TZ", "UTC")
        .output()
        .expect("archivist runs");
    let text = stdout(&out);
    assert!(
        text.starts_with("WARNING: no complete catalogue pass"),
        "{text}"
    );

    // The next run's pass completes, and the warning goes.
    station.set_latency(Duration::ZERO);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = status_json(&scratch.db());
    assert_eq!(report["catalogue_complete"], true, "{report}");
    assert!(report["catalogue"]["progress"].is_null());
    assert_eq!(report["warnings"].as_array().map(Vec::len), Some(0));
}

#[test]
fn cablecast_down_says_since_when_and_as_of_when() {
    let scratch = Scratch::new();
    let station = support::station(30);
    let api_url = station.api_url();
    let out = single_run(&scratch.db(), &api_url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(station);
    let out = single_run(&scratch.db(), &api_url, &[]);
    assert!(!out.status.success());
    let report = status_json(&scratch.db());
    let outage = &report["outage"];
    let since = outage["unreachable_since"].as_str().expect("since");
    let as_of = outage["figures_as_of"].as_str().expect("as of");
    assert!(as_of <= since, "{outage}");
    assert!(report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("Cablecast unreachable since"))));
    // The text says when in the station's time, as every time people read.
    let out = support::archivist()
        .arg("--db")
        .arg(scratch.db())
        .arg("status")
        .env("TZ", "UTC")
        .output()
        .expect("archivist runs");
    let text = stdout(&out);
    let local = |stored: &str| {
        clock::stored_to_local(stored, &clock::StationZone::of_this_box(Some("UTC")))
    };
    assert!(
        text.contains(&format!("Cablecast unreachable since {}", local(since))),
        "{text}"
    );
    assert!(!text.contains(since), "{text}");
    let server = serve(&scratch.db(), &api_url);
    let page = get(server.addr(), "/").text();
    assert!(page.contains(r#"id="stale-banner""#), "{page}");
    assert!(page.contains("figures are as of the last good cycle"));
}

#[test]
fn a_location_that_matches_no_show_is_a_warning_everywhere() {
    let scratch = Scratch::new();
    let station = support::station(20);
    let out = single_run(
        &scratch.db(),
        &station.api_url(),
        &[("CABLECAST_LOCATION_ID", "77")],
    );
    assert!(
        stderr(&out).contains("CABLECAST_LOCATION_ID 77 matches none of the 20 shows"),
        "{}",
        stderr(&out)
    );
    let report = status_json(&scratch.db());
    assert!(report["catalogue"]["location_warning"]
        .as_str()
        .is_some_and(|w| w.contains("matches none")));
    let out = support::archivist()
        .arg("--db")
        .arg(scratch.db())
        .arg("status")
        .env("TZ", "UTC")
        .output()
        .expect("archivist runs");
    let text = stdout(&out);
    assert!(text.contains("WARNING: CABLECAST_LOCATION_ID 77"), "{text}");
    let server = serve(&scratch.db(), &station.api_url());
    assert!(get(server.addr(), "/")
        .text()
        .contains(r#"id="location-warning""#));
    // The right location clears it.
    let out = single_run(
        &scratch.db(),
        &station.api_url(),
        &[("CABLECAST_LOCATION_ID", "1")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(status_json(&scratch.db())["catalogue"]["location_warning"].is_null());
}

#[test]
fn the_vod_list_filters_pages_and_downloads_what_it_shows() {
    let scratch = Scratch::new();
    let station = support::station(300);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let total = support::number(&scratch.db(), "SELECT count(*) FROM cablecast_vod");
    let errors = support::number(
        &scratch.db(),
        "SELECT count(*) FROM cablecast_vod WHERE vod_state = 'error'",
    );
    let council = support::number(
        &scratch.db(),
        "SELECT count(*) FROM cablecast_vod v JOIN cablecast_show s ON s.id = v.show_id \
         WHERE (s.title LIKE '%council%' OR s.cg_title LIKE '%council%') \
           AND (s.title LIKE '%work%' OR s.cg_title LIKE '%work%')",
    );
    assert!(errors > 0 && council > 0 && total > 100);
    let server = serve(&scratch.db(), &station.api_url());
    let addr = server.addr();

    let first = get(addr, "/vods").text();
    assert!(first.contains(&format!(r#"<span id="found-count">{total}</span>"#)));
    assert_eq!(first.matches("<tr data-vod=").count(), 50);
    assert!(
        first.contains(r#"id="next-page" href="/vods?page=2""#),
        "{first}"
    );
    let last_page = (total as u64).div_ceil(50);
    let last = get(addr, &format!("/vods?page={last_page}")).text();
    assert_eq!(
        last.matches("<tr data-vod=").count() as i64,
        total - (last_page as i64 - 1) * 50
    );
    assert!(!last.contains(r#"id="next-page""#));

    let api = get(addr, "/api/vods?state=error&limit=1000").json();
    assert_eq!(api["total"], errors);
    assert!(api["vods"]
        .as_array()
        .expect("vods")
        .iter()
        .all(|v| v["state"] == "error"));
    let words = get(addr, "/api/vods?q=Council+WORK&limit=1000").json();
    assert_eq!(words["total"], council, "{words}");
    let page = get(addr, "/vods?q=council+work").text();
    assert!(page.contains(&format!(r#"<span id="found-count">{council}</span>"#)));
    assert!(
        page.contains(r#"href="/vods.csv?q=council%20work""#),
        "{page}"
    );
    let csv = get(addr, "/vods.csv?q=council%20work").text();
    assert_eq!(csv.lines().count() as i64, council + 1, "{csv}");
    assert!(csv.starts_with("id,show_cablecast_id,show_title,state,stuck"));
    // A date range in the future finds nothing; today finds the VODs whose
    // state changed today.
    let future = get(addr, "/api/vods?from=2099-01-01").json();
    assert_eq!(future["total"], 0);
    let stuck = get(addr, "/api/vods?stuck=1").json();
    let stuck_total = status_json(&scratch.db())["stuck_vods"].clone();
    assert_eq!(stuck["total"], stuck_total);
    for bad in [
        "/vods?state=done",
        "/api/vods?from=yesterday",
        "/vods?stuck=maybe",
        "/vods?page=0",
    ] {
        assert_eq!(get(addr, bad).status, 400, "{bad}");
    }
}

#[test]
fn the_vod_list_says_what_it_cannot_show_and_names_its_download() {
    let scratch = Scratch::new();
    let station = support::station(120);
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let total = support::number(&scratch.db(), "SELECT count(*) FROM cablecast_vod");
    let one = support::number(&scratch.db(), "SELECT min(id) FROM cablecast_vod");
    support::sqlite(&scratch.db())
        .execute(
            "UPDATE cablecast_vod SET state_changed_at = '2001-01-01T12:00:00Z' WHERE id = ?1",
            [one],
        )
        .expect("update");
    let server = serve(&scratch.db(), &station.api_url());
    let addr = server.addr();

    // One VOD is one VOD, and its CSV link says so.
    let single = get(addr, "/vods?from=2001-01-01&to=2001-01-01").text();
    assert!(
        single.contains(r#"<span id="found-count">1</span> VOD ("#),
        "{single}"
    );
    assert!(single.contains("CSV of this one"), "{single}");

    // Past the last page: said, with the way back, and no "shown" range.
    let pages = (total as u64).div_ceil(50);
    let past = get(addr, &format!("/vods?page={}", pages + 1)).text();
    assert!(past.contains(r#"id="past-the-end""#), "{past}");
    assert!(
        past.contains(&format!(r#"href="/vods?page={pages}">Go to the last page"#)),
        "{past}"
    );
    assert!(!past.contains(" shown"), "{past}");
    assert!(!past.contains(&format!("page {} of", pages + 1)), "{past}");

    // A reversed range is said on the page, and refused by the API and CSV.
    let reversed = get(addr, "/vods?from=2026-03-09&to=2026-03-07").text();
    assert!(reversed.contains(r#"id="reversed-range""#), "{reversed}");
    assert!(
        reversed.contains("from 2026-03-09 is after to 2026-03-07"),
        "{reversed}"
    );
    for path in [
        "/api/vods?from=2026-03-09&to=2026-03-07",
        "/vods.csv?from=2026-03-09&to=2026-03-07",
    ] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 400, "{path}");
        assert!(answer.text().contains("reversed"), "{}", answer.text());
    }
    // The same day on both ends is a range, not a reversed one.
    assert_eq!(
        get(addr, "/api/vods?from=2001-01-01&to=2001-01-01").json()["total"],
        1
    );

    // The CSV is saved under a name, not as "vods" or a random one.
    let csv = get(addr, "/vods.csv?state=error");
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.header("Content-Disposition"),
        Some(r#"attachment; filename="vods.csv""#)
    );
}

#[test]
fn a_failed_vods_page_says_what_to_do_next_and_links_into_cablecast() {
    let scratch = Scratch::new();
    let station = support::station(60);
    let (failed, show) = vod_in(&station, "error");
    let (permanent, _) = vod_in(&station, "permanentFailure");
    let (complete, _) = vod_in(&station, "complete");
    let out = single_run(&scratch.db(), &station.api_url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let server = serve(&scratch.db(), &station.api_url());
    let addr = server.addr();

    let page = get(addr, &format!("/vods/{failed}")).text();
    assert!(page.contains(r#"id="vod-hint""#), "{page}");
    assert!(page.contains("re-encode"), "{page}");
    assert!(
        page.contains(&format!(
            r#"id="cablecast-vod-link" href="{}/vods/{failed}""#,
            station.api_url()
        )),
        "{page}"
    );
    // A failed VOD's progress says nothing: not shown as "0 %".
    assert!(!page.contains("<dt>Progress</dt>"), "{page}");
    let permanent_page = get(addr, &format!("/vods/{permanent}")).text();
    assert!(
        permanent_page.contains("will not try again by itself"),
        "{permanent_page}"
    );
    let fine = get(addr, &format!("/vods/{complete}")).text();
    assert!(!fine.contains(r#"id="vod-hint""#));
    assert!(fine.contains("<dt>Progress</dt><dd>100 %</dd>"), "{fine}");

    // In the lists too, a failed VOD's progress is a dash.
    let list = get(addr, "/vods?state=error").text();
    let row = list
        .split("<tr data-vod=")
        .find(|r| r.starts_with(&format!("\"{failed}\"")))
        .expect("the failed VOD is listed");
    assert!(
        row.contains(r#"data-label="Progress" class="n">—<"#),
        "{row}"
    );

    // A show's page lists its VODs without repeating its title a row.
    let show_page = get(addr, &format!("/shows/{show}")).text();
    let vods = &show_page[show_page.find(r#"id="show-vods""#).expect("VODs listed")..];
    assert!(!vods.contains("<th>Show</th>"), "{vods}");
    assert!(
        !vods.contains(&format!(r#"href="/shows/{show}""#)),
        "{vods}"
    );
}
